#pragma once

#include "net/websocketgate.h"
#include "ops/serverconfig.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonObject>
#include <QtCore/QObject>
#include <QtCore/QTimer>
#include <QtCore/QUrl>

#include <map>
#include <memory>
#include <vector>

namespace Confab::Server {

class ChatRoutes;
class ChatService;
class DiscoveryBeacon;
class HttpServer;
class Hub;
class IpLimits;
class JwtVerifier;
class Lingerer;
class Listener;
class MessageStore;
class Metrics;
class NativeCodec;
class Policy;
class RestApi;
class Session;

//! \brief The Confab server: one engine (hub, chat service, policy, store) and its doors (native
//! WebSocket sessions, HTTP REST and chat fallback) on one port.
//!
//! Tests and the `confab-server` executable both use this class: create, start(), and later
//! shutdown() (graceful: close code 1001 to every client, then stopped()). Destroying it at any
//! point (running, shutting down, stopped) tears down in one written order; see the members.
class Server : public QObject
{
    Q_OBJECT
public:
    explicit Server(ServerConfig config, QObject *parent = nullptr);
    ~Server() override;

    //! \brief Builds the verifier and the store and listens. Returns false and sets \a error on
    //! failure (bad auth configuration, port in use, …).
    [[nodiscard]] bool start(QString *error = nullptr);

    //! \brief Stops accepting, answers waiting long-polls, closes every WebSocket with 1001 and
    //! emits stopped() once they are closed or \a grace has passed. Safe to call more than once.
    void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(3));

    //! \brief Fault injection for tests: aborts every WebSocket's TCP connection at once, with
    //! no close frame (clients see an abnormal closure, 1006). Sessions then finish as for any
    //! lost connection; the server keeps listening.
    void dropConnections();

    [[nodiscard]] quint16 port() const; //!< the real port, also when configured as 0
    [[nodiscard]] quint16 metricsPort() const; //!< the metrics address's real port; 0 when none
    [[nodiscard]] QUrl webSocketUrl() const; //!< ws://host:port/ on the bound (or loopback) address
    [[nodiscard]] QUrl httpUrl() const;      //!< http://host:port
    [[nodiscard]] const ServerConfig &config() const { return m_config; }
    [[nodiscard]] Hub &hub() const { return *m_hub; }
    [[nodiscard]] Metrics &metrics() const { return *m_metrics; }
    [[nodiscard]] const JwtVerifier *verifier() const { return m_verifier.get(); }
    //! \brief How clients sign in, as `GET /`, `/health` and the LAN beacon say it: "open" (no
    //! auth), "password" (a join password: `POST /api/session`) or "token" (JWT from an admin).
    [[nodiscard]] QString authMode() const;
    //! \brief The chat store; valid after a successful start().
    [[nodiscard]] MessageStore &store() const { return *m_store; }
    //! \brief Open WebSocket sessions (finished ones waiting for deletion not counted).
    [[nodiscard]] int connectionCount() const { return int(m_sessions.size()); }
    //! \brief Sessions that finished and are not deleted yet (for teardown tests).
    [[nodiscard]] int finishedSessionCount() const { return int(m_finishedSessions.size()); }
    [[nodiscard]] int httpConnectionCount() const;
    [[nodiscard]] double uptimeSeconds() const { return double(m_uptime.elapsed()) / 1000.0; }
    //! \brief Current values for /metrics and /api/stats.
    [[nodiscard]] QJsonObject stats() const;
    [[nodiscard]] QByteArray prometheusMetrics() const;

Q_SIGNALS:
    void sessionOpened(const QString &clientId);
    void sessionClosed(const QString &clientId);
    void stopped();

private:
    void openSession(WebSocketGate::Upgraded upgraded);
    void onSessionFinished(Session *session);
    void reapSessions();
    void sweepIdle();
    void finishShutdown();
    void tearDown();

    ServerConfig m_config;
    QElapsedTimer m_uptime;

    // Ownership and teardown (docs/architecture.md "Ownership and teardown"). Every part is held
    // here, never only as a QObject child. ~Server() calls tearDown(), which destroys them in
    // this order: stop listening → sessions (each leaves the hub) → HTTP connections (waiting
    // long-polls are abandoned and leave the hub) → WebSocket upgrades in flight → routes → chat
    // service (its pending store callbacks are dropped) → policy → hub → store (its thread
    // joins) → the rest. Members are declared in the reverse of that order, so that C++ alone
    // would destroy them the same way.
    std::unique_ptr<Metrics> m_metrics;
    std::unique_ptr<IpLimits> m_ipLimits;         // every socket's slot points here: destroyed after them
    std::unique_ptr<Lingerer> m_lingerer;         // closed WebSockets finishing their TCP close
    std::unique_ptr<JwtVerifier> m_verifier;      // null: open mode
    std::unique_ptr<MessageStore> m_store;
    std::unique_ptr<NativeCodec> m_nativeCodec;   // the hub's encoder for native sessions
    std::unique_ptr<Hub> m_hub;
    std::unique_ptr<Policy> m_policy;
    std::unique_ptr<ChatService> m_chat;
    std::unique_ptr<RestApi> m_rest;              // the router's handlers call these two
    std::unique_ptr<ChatRoutes> m_chatRoutes;
    std::unique_ptr<WebSocketGate> m_gate;        // upgrades between their HTTP head and a session
    std::unique_ptr<HttpServer> m_http;           // HTTP connections and the router
    std::unique_ptr<HttpServer> m_metricsHttp;    // METRICS_BIND: /metrics and /health only
    std::map<quint64, std::unique_ptr<Session>> m_sessions;
    // Finished sessions wait here for the next pass of the event loop: they finish from inside
    // their own socket's signal, where deleting them would pull the rug.
    std::vector<std::unique_ptr<Session>> m_finishedSessions;
    std::unique_ptr<Listener> m_listener;         // accepts; destroyed first (stops accepting)
    std::unique_ptr<Listener> m_metricsListener;
    std::unique_ptr<DiscoveryBeacon> m_beacon;    // null when discovery is off

    quint64 m_nextSessionId = 0;
    QTimer m_idleSweep;
    QTimer m_typingSweep;
    QTimer m_shutdownDeadline;
    bool m_reapScheduled = false;
    bool m_shuttingDown = false;
    bool m_stopped = false;
};

} // namespace Confab::Server
