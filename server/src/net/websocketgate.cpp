#include "net/websocketgate.h"

#include "http/httpserver.h"
#include "http/message.h"
#include "ops/logging.h"
#include "ops/metrics.h"

#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>
#include <QtWebSockets/QWebSocket>
#include <QtWebSockets/QWebSocketServer>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab::Server {

bool isValidWebSocketKey(QByteArrayView key)
{
    if (key.size() != 24 || !key.endsWith("=="))
        return false;
    const auto decoded = QByteArray::fromBase64Encoding(key.toByteArray(), QByteArray::AbortOnBase64DecodingErrors);
    return decoded.decodingStatus == QByteArray::Base64DecodingStatus::Ok && decoded.decoded.size() == 16;
}

WebSocketGate::WebSocketGate(const ServerConfig &config, Metrics &metrics)
    : m_config(config), m_metrics(metrics),
      m_server(std::make_unique<QWebSocketServer>(u"confab"_s, QWebSocketServer::NonSecureMode))
{
    // Upgrades are taken at once in onNewWebSocket(); the default of 30 would only drop
    // handshakes during a reconnect storm.
    m_server->setMaxPendingConnections(std::max(1024, config.listenBacklog));
    m_server->setHandshakeTimeout(int(config.limits.requestHeadTimeout.count()));
    connect(m_server.get(), &QWebSocketServer::newConnection, this, &WebSocketGate::onNewWebSocket);
}

WebSocketGate::~WebSocketGate()
{
    closeAll();
}

void WebSocketGate::closeAll()
{
    // WebSockets still in QWebSocketServer's queue go with it, before the sockets they use.
    if (m_server)
        m_server->disconnect(this);
    m_server.reset();
    // A connected socket emits disconnected() from its destructor: unhook every pending one
    // first, and destroy them from locals, so that forget() cannot run into a list being cleared.
    for (auto &pending : m_pending)
        pending.tcp->disconnect(this);
    auto pending = std::move(m_pending);
    auto dead = std::move(m_dead);
    m_pending.clear();
    m_dead.clear();
    pending.clear();
    dead.clear();
}

void WebSocketGate::addEndpoint(std::function<bool(QByteArrayView)> matches, Endpoint endpoint)
{
    m_routes.push_back(std::make_unique<Route>(Route{std::move(matches), std::move(endpoint)}));
}

void WebSocketGate::handle(HttpConnection &connection, const RequestHead &head)
{
    auto refuse = [&](int status, QLatin1StringView code, const QString &message) {
        connection.refuse(HttpResponse::error(status, code, message), QString(code));
    };
    const auto route = std::find_if(m_routes.cbegin(), m_routes.cend(),
                                    [&](const auto &r) { return r->matches(head.path); });
    if (route == m_routes.cend() || !m_server) {
        refuse(404, "NOT_FOUND"_L1, u"No WebSocket endpoint at %1"_s.arg(QString::fromUtf8(head.path)));
        return;
    }
    const auto origin = head.header("origin");
    const auto &allowed = m_config.allowedOrigins;
    if (!origin.isEmpty() && !allowed.isEmpty() && !allowed.contains(u"*"_s)
        && !allowed.contains(QString::fromUtf8(origin))) {
        refuse(403, "ORIGIN_NOT_ALLOWED"_L1, u"Origin %1 is not allowed"_s.arg(QString::fromUtf8(origin)));
        return;
    }
    if (head.header("sec-websocket-version") != "13") {
        connection.refuse(HttpResponse::error(426, "UNSUPPORTED_WEBSOCKET_VERSION"_L1,
                                              u"Only WebSocket version 13 (RFC 6455) is spoken here"_s)
                              .withHeader("Sec-WebSocket-Version", "13"),
                          u"UNSUPPORTED_WEBSOCKET_VERSION"_s);
        return;
    }
    if (!isValidWebSocketKey(head.header("sec-websocket-key"))) {
        refuse(400, "INVALID_WEBSOCKET_KEY"_L1,
               u"Sec-WebSocket-Key must be 16 bytes in base64 (RFC 6455 section 4.2.1)"_s);
        return;
    }
    if (!head.header("connection").toLower().contains("upgrade")) {
        refuse(400, "BAD_REQUEST"_L1, u"A WebSocket upgrade needs Connection: Upgrade"_s);
        return;
    }
    auto released = connection.release();
    QTcpSocket *tcp = released.socket.get();
    // A socket whose handshake fails inside QWebSocketServer just disconnects.
    connect(tcp, &QTcpSocket::disconnected, this, [this, tcp] { forget(tcp); });
    const quint64 id = ++m_nextId;
    m_pending.push_back(Pending{std::move(released.socket), std::move(released.slot), head.path, route->get(), id});
    // Qt starts no handshake timer for a socket handed to it: one that never completes (its
    // head never parses as Qt wants it) must not hold its socket and per-address slot forever.
    QTimer::singleShot(m_config.limits.requestHeadTimeout, this, [this, id] {
        const auto it = std::find_if(m_pending.begin(), m_pending.end(), [id](const Pending &p) { return p.id == id; });
        if (it != m_pending.end())
            it->tcp->abort(); // disconnected → forget()
    });
    m_server->handleConnection(tcp);
}

void WebSocketGate::forget(QTcpSocket *tcp)
{
    const auto it = std::find_if(m_pending.begin(), m_pending.end(), [tcp](const Pending &p) { return p.tcp.get() == tcp; });
    if (it == m_pending.end())
        return;
    it->tcp->disconnect(this);
    // Deleted on the next pass: we are inside one of its signals.
    m_dead.push_back(std::move(it->tcp));
    m_pending.erase(it);
    QMetaObject::invokeMethod(this, [this] { m_dead.clear(); }, Qt::QueuedConnection);
}

void WebSocketGate::onNewWebSocket()
{
    while (QWebSocket *raw = m_server->nextPendingConnection()) {
        std::unique_ptr<QWebSocket> webSocket(raw);
        webSocket->setParent(nullptr);
        const auto it = std::find_if(m_pending.begin(), m_pending.end(), [&](const Pending &p) {
            return p.tcp->peerPort() == webSocket->peerPort() && p.tcp->peerAddress() == webSocket->peerAddress();
        });
        if (it == m_pending.end()) {
            // Cannot happen: every socket handed to the WebSocket server is pending here.
            logEvent(lcNet(), QtWarningMsg, "websocket.unknown_socket",
                     {{u"peer"_s, webSocket->peerAddress().toString()}});
            webSocket->abort();
            continue;
        }
        Pending pending = std::move(*it);
        m_pending.erase(it);
        pending.tcp->disconnect(this);
        pending.route->endpoint(Upgraded{std::move(webSocket), std::move(pending.tcp), std::move(pending.slot),
                                         pending.path});
    }
}

} // namespace Confab::Server
