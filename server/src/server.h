#pragma once

#include "ops/serverconfig.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QObject>
#include <QtCore/QTimer>
#include <QtCore/QUrl>

#include <memory>

class QWebSocketServer;

namespace Confab::Server {

class Hub;
class ChatHttp;
class HttpApi;
class JwtVerifier;
class Listener;
class MessageStore;
class DiscoveryBeacon;
class Metrics;
class Session;

//! \brief The Confab server: one port for WebSocket and HTTP, the hub, and every session.
//!
//! Tests and the `confab-server` executable both use this class: create, start(), and later
//! shutdown() (graceful: close code 1001 to every client, then stopped()).
class Server : public QObject
{
    Q_OBJECT
public:
    explicit Server(ServerConfig config, QObject *parent = nullptr);
    ~Server() override;

    //! \brief Builds the verifier and listens. Returns false and sets \a error on failure
    //! (bad auth configuration, port in use, …).
    [[nodiscard]] bool start(QString *error = nullptr);

    //! \brief Stops accepting, closes every WebSocket with 1001 and emits stopped() once they
    //! are closed or \a grace has passed. Safe to call more than once.
    void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(3));

    //! \brief Fault injection for tests: aborts every WebSocket's TCP connection at once, with
    //! no close frame (clients see an abnormal closure, 1006). Sessions then finish as for any
    //! lost connection; the server keeps listening.
    void dropConnections();

    [[nodiscard]] quint16 port() const; //!< the real port, also when configured as 0
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
    [[nodiscard]] int connectionCount() const { return int(m_sessions.size()); }
    [[nodiscard]] double uptimeSeconds() const { return double(m_uptime.elapsed()) / 1000.0; }
    //! \brief Current values for /metrics and /api/stats.
    [[nodiscard]] QJsonObject stats() const;
    [[nodiscard]] QByteArray prometheusMetrics() const;

Q_SIGNALS:
    void sessionOpened(const QString &clientId);
    void sessionClosed(const QString &clientId);
    void stopped();

private:
    void onNewWebSocket();
    void onSessionFinished(Session *session);
    void sweepIdle();
    void finishShutdown();

    ServerConfig m_config;
    std::unique_ptr<Metrics> m_metrics;
    std::unique_ptr<Hub> m_hub;
    std::unique_ptr<JwtVerifier> m_verifier;
    std::unique_ptr<MessageStore> m_store;
    Listener *m_listener = nullptr;           // owned by m_http (QAbstractHttpServer::bind)
    QWebSocketServer *m_webSockets = nullptr; // child
    HttpApi *m_http = nullptr;                // child
    ChatHttp *m_chatHttp = nullptr;           // child
    DiscoveryBeacon *m_beacon = nullptr;      // child; null when discovery is off
    QHash<quint64, Session *> m_sessions;
    quint64 m_nextSessionId = 0;
    QElapsedTimer m_uptime;
    QTimer m_idleSweep;
    QTimer m_typingSweep;
    QTimer m_shutdownDeadline;
    bool m_shuttingDown = false;
    bool m_stopped = false;
};

} // namespace Confab::Server
