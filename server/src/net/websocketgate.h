#pragma once

#include "ops/iplimits.h"
#include "ops/serverconfig.h"

#include <QtCore/QObject>

#include <functional>
#include <memory>
#include <vector>

class QTcpSocket;
class QWebSocket;
class QWebSocketServer;

namespace Confab::Server {

class HttpConnection;
class Metrics;
struct RequestHead;

//! \brief Turns WebSocket upgrade requests into WebSockets for the endpoint their path names.
//!
//! Checks the upgrade head first (endpoint path, Origin allow-list, `Sec-WebSocket-Version: 13`,
//! a `Sec-WebSocket-Key` of 16 base64-encoded bytes) and answers refusals over HTTP. Accepted
//! sockets go to QWebSocketServer::handleConnection() with their head still unread; Qt 6.4's
//! QWebSocket does not own the TCP socket it was upgraded from, so this gate owns it (with its
//! per-address slot) until the WebSocket is ready, then hands all three to the endpoint, whose
//! session owns them from then on. Every socket has exactly one owner for its whole life.
class WebSocketGate : public QObject
{
    Q_OBJECT
public:
    //! \brief A finished upgrade. Destroy \a webSocket before \a tcp (it uses it).
    struct Upgraded
    {
        std::unique_ptr<QWebSocket> webSocket;
        std::unique_ptr<QTcpSocket> tcp;
        IpLimits::Slot slot;
        QByteArray path;
    };
    using Endpoint = std::function<void(Upgraded)>;

    WebSocketGate(const ServerConfig &config, Metrics &metrics);
    ~WebSocketGate() override;

    //! \brief Upgrades to paths \a matches accepts go to \a endpoint.
    void addEndpoint(std::function<bool(QByteArrayView path)> matches, Endpoint endpoint);
    //! \brief The HTTP server's upgrade handler (HttpConnection::Hooks::onUpgrade).
    void handle(HttpConnection &connection, const RequestHead &head);
    //! \brief Destroys upgrades still in their handshake (shutdown).
    void closeAll();

private:
    struct Route
    {
        std::function<bool(QByteArrayView)> matches;
        Endpoint endpoint;
    };
    struct Pending
    {
        std::unique_ptr<QTcpSocket> tcp;
        IpLimits::Slot slot;
        QByteArray path;
        const Route *route = nullptr;
        quint64 id = 0; // for the handshake deadline (a pointer could be reused)
    };
    void onNewWebSocket();
    void forget(QTcpSocket *tcp);

    const ServerConfig &m_config;
    Metrics &m_metrics;
    std::vector<std::unique_ptr<Route>> m_routes;
    std::vector<Pending> m_pending;
    quint64 m_nextId = 0;
    std::vector<std::unique_ptr<QTcpSocket>> m_dead; // failed handshakes, deleted on the next pass
    // Declared last, destroyed first: the WebSockets it still holds use the pending sockets.
    std::unique_ptr<QWebSocketServer> m_server;
};

//! \brief RFC 6455 §4.2.1: a `Sec-WebSocket-Key` is 16 bytes, base64-encoded (24 characters).
[[nodiscard]] bool isValidWebSocketKey(QByteArrayView key);

} // namespace Confab::Server
