#pragma once

#include "http/router.h"
#include "ops/iplimits.h"
#include "ops/serverconfig.h"

#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <functional>
#include <memory>
#include <unordered_map>

class QTcpSocket;

namespace Confab::Server {

class Metrics;

//! \brief One HTTP/1.1 connection: reads requests one at a time, hands each to the router, and
//! writes its answer, in order, on every connection, kept alive or not.
//!
//! Why the project's own HTTP connection and not QHttpServer: Qt 6.4's QHttpServer can only
//! answer synchronously, or through a responder that keeps a raw socket pointer with no way to
//! continue the connection afterwards, and it has no head, body or idle limits. The chat routes
//! answer after a store commit or a long wait, on connections that browsers and SDKs keep alive.
//!
//! Owns its socket (and its per-address slot) until it is closed or handed over to the WebSocket
//! server by an upgrade. Limits (Limits): head size (431), body size (413), chunked bodies (411:
//! their size is not known up front), a head deadline (408), and an idle timeout between
//! requests. While an answer is pending, nothing more is read: the socket's read buffer is
//! capped, so a client pipelining without end is held back by TCP instead of by memory.
class HttpConnection : public QObject
{
    Q_OBJECT
public:
    struct Hooks
    {
        const Limits &limits;
        Metrics &metrics;
        const HttpRouter &router;
        //! A complete WebSocket upgrade head; the handler either calls refuse() or release().
        std::function<void(HttpConnection &, const RequestHead &)> onUpgrade;
        //! The connection is over (socket closed or released); the owner deletes it later.
        std::function<void(HttpConnection &)> onFinished;
    };

    HttpConnection(std::unique_ptr<QTcpSocket> socket, IpLimits::Slot slot, const Hooks &hooks);
    ~HttpConnection() override;

    //! \brief Answers \a response and closes (a refused upgrade, a per-address refusal).
    void refuse(const HttpResponse &response, const QString &logCode = {});
    //! \brief Hands the socket over (a WebSocket upgrade, its head still unread in the socket);
    //! this connection is finished afterwards.
    struct Released
    {
        std::unique_ptr<QTcpSocket> socket;
        IpLimits::Slot slot;
    };
    [[nodiscard]] Released release();
    //! \brief The server is shutting down: close now if idle, else right after the pending answer.
    void drain();

    [[nodiscard]] QTcpSocket *socket() const { return m_socket.get(); }
    [[nodiscard]] const IpLimits::Slot &slot() const { return m_slot; }
    [[nodiscard]] bool isFinished() const { return m_finished; }

private:
    friend class HttpServer;
    enum class State { Idle, Head, Body, Waiting, Closing };
    void process();
    void dispatch(const RequestHead &head, qsizetype headSize);
    void write(const HttpResponse &response, bool keepAlive);
    void fail(int status, QLatin1StringView code, const QString &message);
    void onIdle();
    void onDisconnected();
    void finish();

    // Declaration order is destruction order, reversed: the exchange (which may run abandon
    // hooks) goes before the socket it would answer on.
    std::unique_ptr<QTcpSocket> m_socket;
    IpLimits::Slot m_slot;
    Hooks m_hooks;
    QTimer m_idle;         // between requests: Limits::httpIdleTimeout; mid-request: head deadline
    QTimer m_headDeadline; // the head must be complete this soon after its first byte
    std::unique_ptr<HttpExchange> m_exchange; // the request waiting for its answer
    State m_state = State::Idle;
    bool m_keepAlive = true;
    bool m_draining = false;
    bool m_finished = false;
    bool m_scheduled = false;
};

//! \brief The HTTP door: owns every HTTP connection and the router their requests go to.
//!
//! Lifetime: owned by the Server, destroyed after the sessions and before the hub and the chat
//! service that its routes call (docs/architecture.md "Ownership and teardown").
class HttpServer : public QObject
{
    Q_OBJECT
public:
    HttpServer(const Limits &limits, Metrics &metrics);
    ~HttpServer() override;

    [[nodiscard]] HttpRouter &router() { return m_router; }
    //! \brief Where WebSocket upgrade heads go (see HttpConnection::Hooks::onUpgrade).
    void setUpgradeHandler(std::function<void(HttpConnection &, const RequestHead &)> handler);

    //! \brief Serves a freshly accepted socket.
    void serve(std::unique_ptr<QTcpSocket> socket, IpLimits::Slot slot);
    //! \brief Shutdown: idle connections close now, busy ones after their answer.
    void drain();
    //! \brief Destroys every connection now (pending requests are abandoned).
    void closeAll();
    [[nodiscard]] int connectionCount() const { return int(m_connections.size()); }

private:
    void reap();

    HttpRouter m_router;
    HttpConnection::Hooks m_hooks;
    std::unordered_map<HttpConnection *, std::unique_ptr<HttpConnection>> m_connections;
    // Finished connections wait here until control is back in the event loop: they finish from
    // inside their own signal handlers, where deleting them would pull the rug.
    std::vector<std::unique_ptr<HttpConnection>> m_finished;
    bool m_draining = false;
    bool m_reapScheduled = false;
};

} // namespace Confab::Server
