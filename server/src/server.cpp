#include "server.h"

#include "auth/jwtverifier.h"
#include "engine/chatservice.h"
#include "engine/hub.h"
#include "engine/policy.h"
#include "http/chatroutes.h"
#include "http/httpserver.h"
#include "http/restapi.h"
#include "native/nativecodec.h"
#include "native/session.h"
#include "net/lingerer.h"
#include "net/listener.h"
#include "ops/discoverybeacon.h"
#include "ops/iplimits.h"
#include "ops/logging.h"
#include "ops/metrics.h"
#include "storage/messagestore.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QRandomGenerator>
#include <QtNetwork/QTcpSocket>
#include <QtWebSockets/QWebSocket>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// Above this a frame is not even buffered: Qt closes the connection with 1009. Between the
// configured limit and this, the client gets a MESSAGE_TOO_LARGE error and stays connected.
constexpr qsizetype HardLimitFactor = 4;

// Close codes; docs/protocol.md lists them. Reasons start with a machine-readable code.
constexpr auto CloseIdle = QWebSocketProtocol::CloseCode(4000);

bool isNativePath(QByteArrayView path)
{
    return path == "/" || path == "/ws";
}

} // namespace

Server::Server(ServerConfig config, QObject *parent)
    : QObject(parent),
      m_config(std::move(config)),
      m_metrics(std::make_unique<Metrics>()),
      m_ipLimits(std::make_unique<IpLimits>(m_config.limits.maxConnectionsPerIp)),
      // As long as a peer gets to answer a close frame (Session::close()'s grace).
      m_lingerer(std::make_unique<Lingerer>(std::chrono::seconds(5))),
      m_nativeCodec(std::make_unique<NativeCodec>()),
      m_hub(std::make_unique<Hub>(*m_metrics, Hub::Codecs{m_nativeCodec.get()}))
{
    m_idleSweep.setInterval(std::clamp<std::chrono::milliseconds>(m_config.limits.idleTimeout / 4,
                                                                  std::chrono::milliseconds(250),
                                                                  std::chrono::milliseconds(5000)));
    connect(&m_idleSweep, &QTimer::timeout, this, &Server::sweepIdle);
    // Typing indicators expire at TYPING_TIMEOUT; a quarter second is precise enough for people.
    m_typingSweep.setInterval(250);
    connect(&m_typingSweep, &QTimer::timeout, this, [this] {
        const auto now = monotonicNs() / 1'000'000;
        m_hub->expireTyping(now);
        m_hub->expireExternal(now);
    });
    m_shutdownDeadline.setSingleShot(true);
    connect(&m_shutdownDeadline, &QTimer::timeout, this, &Server::finishShutdown);
}

Server::~Server()
{
    tearDown();
}

void Server::tearDown()
{
    m_idleSweep.stop();
    m_typingSweep.stop();
    m_shutdownDeadline.stop();
    // 1. Stop accepting; the beacon says bye if shutdown() did not.
    m_beacon.reset();
    m_metricsListener.reset();
    m_listener.reset();
    // 2. Sessions: a live one leaves every channel as it goes (the others get its presence leaves),
    //    a finished one already has. The hub is still here for both.
    while (!m_sessions.empty()) {
        auto session = std::move(m_sessions.begin()->second);
        m_sessions.erase(m_sessions.begin());
        session.reset();
    }
    m_finishedSessions.clear();
    // 3. HTTP connections: a waiting long-poll is abandoned and leaves the hub; then upgrades
    //    still in their handshake, then the routes the connections called.
    if (m_metricsHttp)
        m_metricsHttp->closeAll();
    if (m_http)
        m_http->closeAll();
    m_metricsHttp.reset();
    m_http.reset();
    m_gate.reset();
    m_chatRoutes.reset();
    m_rest.reset();
    // 4. The engine: the chat service (store callbacks addressed to it are dropped), the policy,
    //    the hub, then the store, which commits what it holds and joins its thread.
    m_chat.reset();
    m_policy.reset();
    m_hub.reset();
    m_store.reset();
    // 5. Connections still lingering after their close are closed now.
    m_lingerer.reset();
}

bool Server::start(QString *error)
{
    auto fail = [&](const QString &message) {
        if (error)
            *error = message;
        logEvent(lcServer(), QtCriticalMsg, "server.start_failed", {{u"error"_s, message}});
        return false;
    };
    if (m_listener)
        return fail(u"the server is already started"_s);

    AuthConfig &auth = m_config.auth;
    if (!auth.joinPassword.isEmpty()) {
        // A join password only makes sense if the tokens it buys are checked.
        auth.enabled = true;
        if (auth.secret.isEmpty() && auth.publicKeyFile.isEmpty()) {
            QByteArray secret(32, Qt::Uninitialized); // 256 bits, HS256's full strength
            QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(secret.data()),
                                                  secret.size() / int(sizeof(quint32)));
            auth.secret = secret.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
            logEvent(lcAuth(), QtInfoMsg, "auth.secret_generated",
                     {{u"message"_s, u"join password set and no AUTH_SECRET: signing with a random "
                                     "secret; tokens stop working when this process ends"_s}});
        }
    }
    if (m_config.auth.enabled) {
        QString authError;
        m_verifier = JwtVerifier::create(m_config.auth, &authError);
        if (!m_verifier)
            return fail(u"authentication is misconfigured: "_s + authError);
    } else {
        logEvent(lcAuth(), QtWarningMsg, "auth.disabled",
                 {{u"message"_s, u"authentication is off: for a trusted LAN only. Anyone can join public "
                                 "channels and names are self-declared, so anyone can claim any name"_s}});
        if (m_config.auth.adminToken.isEmpty())
            logEvent(lcAuth(), QtWarningMsg, "auth.open_operator",
                     {{u"message"_s, u"no ADMIN_TOKEN: every caller may use the operator routes (/api/stats, "
                                     "/metrics, every channel listing, broadcasts to any channel)"_s}});
    }

    QString storeError;
    m_store = openMessageStore(m_config.storage, &storeError);
    if (!m_store)
        return fail(u"cannot open the message store in %1: %2"_s.arg(m_config.storage.dataDir, storeError));

    m_policy = std::make_unique<Policy>(m_config, m_verifier.get(), *m_store);
    m_chat = std::make_unique<ChatService>(m_config, *m_hub, *m_store, *m_policy, *m_metrics);

    // The doors: native WebSocket sessions, and HTTP (REST and the chat fallback).
    m_http = std::make_unique<HttpServer>(m_config.limits, *m_metrics);
    m_gate = std::make_unique<WebSocketGate>(m_config, *m_metrics);
    m_gate->addEndpoint(isNativePath, [this](WebSocketGate::Upgraded upgraded) { openSession(std::move(upgraded)); });
    m_http->setUpgradeHandler([this](HttpConnection &connection, const RequestHead &head) {
        m_gate->handle(connection, head);
    });
    const RestContext rest{m_config, *m_hub, *m_policy, *m_metrics, *m_store,
                           [this] { return authMode(); },
                           [this] { return connectionCount(); },
                           [this] { return uptimeSeconds(); },
                           [this] { return stats(); },
                           [this] { return prometheusMetrics(); }};
    m_rest = std::make_unique<RestApi>(rest, m_http->router());
    m_chatRoutes = std::make_unique<ChatRoutes>(m_config, *m_chat, *m_hub, *m_policy, m_http->router());

    m_listener = std::make_unique<Listener>(m_config.listenBacklog, *m_ipLimits,
                                            [this](std::unique_ptr<QTcpSocket> socket, IpLimits::Slot slot) {
        m_http->serve(std::move(socket), std::move(slot));
    });
    if (!m_listener->listen(m_config.bindAddress, m_config.port)) {
        const auto message = u"cannot listen on %1:%2: %3"_s.arg(m_config.bindAddress.toString())
                                 .arg(m_config.port)
                                 .arg(m_listener->errorString());
        m_listener.reset();
        return fail(message);
    }
    if (m_config.metricsPort != 0) {
        m_metricsHttp = std::make_unique<HttpServer>(m_config.limits, *m_metrics);
        RestApi::addMetricsRoutes(rest, m_metricsHttp->router());
        m_metricsListener = std::make_unique<Listener>(m_config.listenBacklog, *m_ipLimits,
                                                       [this](std::unique_ptr<QTcpSocket> socket, IpLimits::Slot slot) {
            m_metricsHttp->serve(std::move(socket), std::move(slot));
        });
        if (!m_metricsListener->listen(m_config.metricsAddress, m_config.metricsPort)) {
            const auto message = u"cannot listen for metrics on %1:%2: %3"_s.arg(m_config.metricsAddress.toString())
                                     .arg(m_config.metricsPort)
                                     .arg(m_metricsListener->errorString());
            m_metricsListener.reset();
            m_listener.reset();
            return fail(message);
        }
    }

    if (m_config.discovery.enabled) {
        m_beacon = std::make_unique<DiscoveryBeacon>(m_config.discovery, port(), authMode());
        m_beacon->start();
    }

    m_uptime.start();
    m_idleSweep.start();
    m_typingSweep.start();
    logEvent(lcServer(), QtInfoMsg, "server.started",
             {{u"bind"_s, m_config.bindAddress.toString()},
              {u"port"_s, port()},
              {u"metricsPort"_s, metricsPort()},
              {u"auth"_s, authMode()},
              {u"algorithms"_s, m_verifier ? m_verifier->algorithms().join(u',') : QString()}});
    return true;
}

QString Server::authMode() const
{
    if (!m_verifier)
        return u"open"_s;
    return m_config.auth.joinPassword.isEmpty() ? u"token"_s : u"password"_s;
}

quint16 Server::port() const
{
    return m_listener ? m_listener->serverPort() : 0;
}

quint16 Server::metricsPort() const
{
    return m_metricsListener ? m_metricsListener->serverPort() : 0;
}

int Server::httpConnectionCount() const
{
    return m_http ? m_http->connectionCount() : 0;
}

QUrl Server::webSocketUrl() const
{
    QUrl url;
    url.setScheme(u"ws"_s);
    const auto &bind = m_config.bindAddress;
    const bool wildcard = bind == QHostAddress::Any || bind == QHostAddress::AnyIPv4
        || bind == QHostAddress::AnyIPv6;
    url.setHost(wildcard ? u"127.0.0.1"_s : bind.toString());
    url.setPort(port());
    url.setPath(u"/"_s);
    return url;
}

QUrl Server::httpUrl() const
{
    QUrl url = webSocketUrl();
    url.setScheme(u"http"_s);
    url.setPath(QString());
    return url;
}

namespace {
Metrics::Gauges gaugesOf(const Server &server)
{
    return Metrics::Gauges{server.connectionCount(), server.hub().channelCount(),
                           server.hub().membershipCount(), server.hub().presenceEntryCount(),
                           server.uptimeSeconds()};
}
} // namespace

QJsonObject Server::stats() const
{
    return m_metrics->toJson(gaugesOf(*this));
}

QByteArray Server::prometheusMetrics() const
{
    return m_metrics->prometheus(gaugesOf(*this));
}

void Server::openSession(WebSocketGate::Upgraded upgraded)
{
    QWebSocket &socket = *upgraded.webSocket;
    auto refuse = [&](QLatin1StringView code, const QString &message) {
        m_metrics->rejected(QString(code));
        logEvent(lcNet(), QtInfoMsg, "connection.refused",
                 {{u"peer"_s, socket.peerAddress().toString()}, {u"code"_s, QString(code)}, {u"reason"_s, message}});
    };
    // A refused WebSocket is still a session: it owns its sockets until they close, and is
    // closed with a reason the client can read.
    std::optional<std::pair<QWebSocketProtocol::CloseCode, QString>> closeWith;
    if (m_shuttingDown) {
        closeWith = {QWebSocketProtocol::CloseCodeGoingAway, u"Server shutting down"_s};
    } else if (upgraded.slot.overLimit()) {
        const auto message = u"more than %1 connections from this address"_s.arg(m_config.limits.maxConnectionsPerIp);
        refuse("CONNECTION_LIMIT_PER_IP"_L1, message);
        closeWith = {QWebSocketProtocol::CloseCodePolicyViolated, u"CONNECTION_LIMIT_PER_IP: "_s + message};
    } else if (int(m_sessions.size()) >= m_config.limits.maxConnections) {
        const auto message = u"the server is at its limit of %1 connections"_s.arg(m_config.limits.maxConnections);
        refuse("CONNECTION_LIMIT"_L1, message);
        closeWith = {QWebSocketProtocol::CloseCodePolicyViolated, u"CONNECTION_LIMIT: "_s + message};
    }

    const auto hardLimit = quint64(m_config.limits.maxMessageBytes * HardLimitFactor);
    socket.setMaxAllowedIncomingMessageSize(hardLimit);
    socket.setMaxAllowedIncomingFrameSize(hardLimit);
    const auto id = ++m_nextSessionId;
    const auto path = QString::fromUtf8(upgraded.path);
    const auto peer = socket.peerAddress().toString();
    auto session = std::make_unique<Session>(id, std::move(upgraded.webSocket), std::move(upgraded.tcp),
                                             std::move(upgraded.slot),
                                             SessionContext{m_config, *m_metrics, *m_hub, *m_policy, *m_chat,
                                                            [this](QTcpSocket *tcp) { m_lingerer->adopt(tcp); }});
    auto *raw = session.get();
    connect(raw, &Session::finished, this, &Server::onSessionFinished);
    if (closeWith) {
        // Not counted as a connection; it is kept only until its close completes.
        raw->close(closeWith->first, closeWith->second);
        m_finishedSessions.push_back(std::move(session));
        return;
    }
    m_sessions.emplace(id, std::move(session));
    m_metrics->connectionOpened();
    logEvent(lcNet(), QtDebugMsg, "session.open", {{u"client"_s, raw->clientId()}, {u"peer"_s, peer}, {u"path"_s, path}});
    Q_EMIT sessionOpened(raw->clientId());
}

void Server::onSessionFinished(Session *session)
{
    if (!m_reapScheduled) {
        m_reapScheduled = true;
        QMetaObject::invokeMethod(this, &Server::reapSessions, Qt::QueuedConnection);
    }
    const auto it = m_sessions.find(session->subscriberId());
    if (it == m_sessions.end())
        return; // a refused one, already among the finished
    const auto clientId = session->clientId();
    logEvent(lcNet(), QtDebugMsg, "session.closed",
             {{u"client"_s, clientId},
              {u"closeCode"_s, int(session->webSocket().closeCode())},
              {u"closeReason"_s, session->webSocket().closeReason()}});
    m_finishedSessions.push_back(std::move(it->second));
    m_sessions.erase(it);
    Q_EMIT sessionClosed(clientId);
    if (m_shuttingDown && m_sessions.empty())
        finishShutdown();
}

void Server::reapSessions()
{
    m_reapScheduled = false;
    // Refused sessions stay until their socket is closed (they finish like any other).
    std::erase_if(m_finishedSessions, [](const std::unique_ptr<Session> &s) { return s->isFinished(); });
}

void Server::sweepIdle()
{
    const qint64 now = monotonicNs() / 1'000'000;
    const qint64 limit = m_config.limits.idleTimeout.count();
    for (const auto &[id, session] : m_sessions) {
        if (now - session->lastActivityMs() > limit) {
            m_metrics->rejected(u"IDLE_TIMEOUT"_s);
            session->close(CloseIdle, u"IDLE_TIMEOUT: no frame for %1 ms"_s.arg(limit));
        }
    }
}

void Server::shutdown(std::chrono::milliseconds grace)
{
    if (m_shuttingDown)
        return;
    m_shuttingDown = true;
    m_idleSweep.stop();
    m_typingSweep.stop();
    if (m_listener)
        m_listener->close(); // stop accepting
    if (m_metricsListener)
        m_metricsListener->close();
    if (m_beacon)
        m_beacon->stop(); // apps drop this server at once instead of after the beacon timeout
    logEvent(lcServer(), QtInfoMsg, "server.shutting_down", {{u"connections"_s, connectionCount()}});
    // Waiting long-polls get their (empty) answer instead of a reset; HTTP connections close
    // once their request is answered.
    if (m_chatRoutes)
        m_chatRoutes->shutdown();
    if (m_http)
        m_http->drain();
    if (m_metricsHttp)
        m_metricsHttp->drain();
    if (m_store) {
        // Commit what the sessions already handed to the store and send those acks before the
        // close frames: a sender then knows its messages are in, instead of resending them.
        m_store->flush();
        QCoreApplication::sendPostedEvents(m_chat.get(), QEvent::MetaCall);
    }
    for (const auto &[id, session] : m_sessions)
        session->close(QWebSocketProtocol::CloseCodeGoingAway, u"Server shutting down"_s);
    if (m_sessions.empty()) {
        QMetaObject::invokeMethod(this, &Server::finishShutdown, Qt::QueuedConnection);
        return;
    }
    m_shutdownDeadline.start(grace);
}

void Server::dropConnections()
{
    logEvent(lcServer(), QtInfoMsg, "server.drop_connections", {{u"connections"_s, connectionCount()}});
    // Sessions learn of the disconnect by a queued signal, so m_sessions does not change under
    // this loop.
    for (const auto &[id, session] : m_sessions)
        session->abort();
}

void Server::finishShutdown()
{
    if (m_stopped)
        return;
    m_stopped = true;
    m_shutdownDeadline.stop();
    if (m_store)
        m_store->flush(); // everything acknowledged is already committed; this waits for the rest
    logEvent(lcServer(), QtInfoMsg, "server.stopped",
             {{u"unclosed"_s, connectionCount()}, {u"uptimeSeconds"_s, uptimeSeconds()}});
    Q_EMIT stopped();
}

} // namespace Confab::Server
