#include "server.h"

#include "http/chatroutes.h"
#include "ops/discoverybeacon.h"
#include "http/restapi.h"
#include "engine/hub.h"
#include "auth/jwtverifier.h"
#include "net/listener.h"
#include "ops/logging.h"
#include "storage/messagestore.h"
#include "ops/metrics.h"
#include "native/session.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QRandomGenerator>
#include <QtWebSockets/QWebSocket>
#include <QtWebSockets/QWebSocketServer>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// Above this a frame is not even buffered: Qt closes the connection with 1009. Between the
// configured limit and this, the client gets a MESSAGE_TOO_LARGE error and stays connected.
constexpr qsizetype HardLimitFactor = 4;

// Close codes; docs/protocol.md lists them. Reasons start with a machine-readable code.
constexpr auto CloseIdle = QWebSocketProtocol::CloseCode(4000);

} // namespace

Server::Server(ServerConfig config, QObject *parent)
    : QObject(parent),
      m_config(std::move(config)),
      m_metrics(std::make_unique<Metrics>()),
      m_hub(std::make_unique<Hub>(*m_metrics))
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
    // Sessions leave the hub as they go, so they must go while the hub still exists.
    const auto sessions = m_sessions;
    m_sessions.clear();
    qDeleteAll(sessions);
    delete m_http;
    delete m_chatHttp;
    delete m_webSockets;
    delete m_beacon; // says bye if shutdown() did not
    m_store.reset(); // after the sessions: their pending store callbacks are simply dropped
}

bool Server::start(QString *error)
{
    auto fail = [&](const QString &message) {
        if (error)
            *error = message;
        logEvent(lcServer(), QtCriticalMsg, "server.start_failed", {{u"error"_s, message}});
        return false;
    };

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
                 {{u"message"_s, u"authentication is off: anyone can join any channel and "
                                 "names are self-declared (set AUTH_ENABLED=true and AUTH_SECRET)"_s}});
    }

    QString storeError;
    m_store = openMessageStore(m_config.storage, &storeError);
    if (!m_store)
        return fail(u"cannot open the message store in %1: %2"_s.arg(m_config.storage.dataDir, storeError));

    m_webSockets = new QWebSocketServer(u"confab"_s, QWebSocketServer::NonSecureMode, this);
    // Pending upgrades are taken at once in onNewWebSocket(); the default of 30 would only
    // drop handshakes during a reconnect storm.
    m_webSockets->setMaxPendingConnections(std::max(1024, m_config.listenBacklog));
    m_webSockets->setHandshakeTimeout(int(m_config.limits.requestHeadTimeout.count()));
    connect(m_webSockets, &QWebSocketServer::newConnection, this, &Server::onNewWebSocket);

    m_http = new HttpApi(*this, this);
    m_listener = new Listener(m_config, *m_metrics);
    if (!m_listener->listen(m_config.bindAddress, m_config.port)) {
        const auto message = u"cannot listen on %1:%2: %3"_s.arg(m_config.bindAddress.toString())
                                 .arg(m_config.port)
                                 .arg(m_listener->errorString());
        delete m_listener;
        m_listener = nullptr;
        return fail(message);
    }
    m_listener->setWebSocketServer(m_webSockets, [](QByteArrayView path) {
        return path == "/" || path == "/ws";
    });
    m_chatHttp = new ChatHttp(*this, this);
    m_listener->setHttpHandler([this](QTcpSocket *socket, const RequestHead &head) {
        return m_chatHttp->take(socket, head);
    });
    m_http->bind(m_listener);

    if (m_config.discovery.enabled) {
        m_beacon = new DiscoveryBeacon(m_config.discovery, port(), authMode(), this);
        m_beacon->start();
    }

    m_uptime.start();
    m_idleSweep.start();
    m_typingSweep.start();
    logEvent(lcServer(), QtInfoMsg, "server.started",
             {{u"bind"_s, m_config.bindAddress.toString()},
              {u"port"_s, port()},
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

void Server::onNewWebSocket()
{
    while (QWebSocket *socket = m_webSockets->nextPendingConnection()) {
        auto refuse = [this, socket](QLatin1StringView code, const QString &message) {
            m_metrics->rejected(QString(code));
            logEvent(lcNet(), QtInfoMsg, "connection.refused",
                     {{u"peer"_s, socket->peerAddress().toString()}, {u"code"_s, QString(code)}});
            connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
            socket->close(QWebSocketProtocol::CloseCodePolicyViolated, QString(code) + u": "_s + message);
        };
        if (m_shuttingDown) {
            connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
            socket->close(QWebSocketProtocol::CloseCodeGoingAway, u"Server shutting down"_s);
            continue;
        }
        if (m_listener->takeOverLimit(socket->peerAddress(), socket->peerPort())) {
            refuse("CONNECTION_LIMIT_PER_IP"_L1,
                   u"more than %1 connections from this address"_s.arg(m_config.limits.maxConnectionsPerIp));
            continue;
        }
        if (m_sessions.size() >= m_config.limits.maxConnections) {
            refuse("CONNECTION_LIMIT"_L1,
                   u"the server is at its limit of %1 connections"_s.arg(m_config.limits.maxConnections));
            continue;
        }

        const auto hardLimit = quint64(m_config.limits.maxMessageBytes * HardLimitFactor);
        socket->setMaxAllowedIncomingMessageSize(hardLimit);
        socket->setMaxAllowedIncomingFrameSize(hardLimit);
        const auto id = ++m_nextSessionId;
        auto *session = new Session(id, socket, SessionContext{m_config, m_verifier.get(), *m_metrics, *m_hub, *m_store, this}, this);
        m_sessions.insert(id, session);
        connect(session, &Session::finished, this, &Server::onSessionFinished);
        m_metrics->connectionOpened();
        logEvent(lcNet(), QtDebugMsg, "session.open",
                 {{u"client"_s, session->clientId()},
                  {u"peer"_s, socket->peerAddress().toString()},
                  {u"path"_s, socket->requestUrl().path()}});
        Q_EMIT sessionOpened(session->clientId());
    }
}

void Server::onSessionFinished(Session *session)
{
    m_sessions.remove(session->subscriberId());
    const auto clientId = session->clientId();
    logEvent(lcNet(), QtDebugMsg, "session.closed",
             {{u"client"_s, clientId},
              {u"closeCode"_s, int(session->socket()->closeCode())},
              {u"closeReason"_s, session->socket()->closeReason()}});
    session->deleteLater();
    Q_EMIT sessionClosed(clientId);
    if (m_shuttingDown && m_sessions.isEmpty())
        finishShutdown();
}

void Server::sweepIdle()
{
    const qint64 now = monotonicNs() / 1'000'000;
    const qint64 limit = m_config.limits.idleTimeout.count();
    for (auto *session : std::as_const(m_sessions)) {
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
        m_listener->close(); // stop accepting; open HTTP requests finish on their own
    if (m_beacon)
        m_beacon->stop(); // apps drop this server at once instead of after the beacon timeout
    logEvent(lcServer(), QtInfoMsg, "server.shutting_down", {{u"connections"_s, connectionCount()}});
    if (m_store) {
        // Commit what the sessions already handed to the store and send those acks before the
        // close frames: a sender then knows its messages are in, instead of resending them.
        m_store->flush();
        QCoreApplication::sendPostedEvents(this, QEvent::MetaCall);
    }
    for (auto *session : std::as_const(m_sessions))
        session->close(QWebSocketProtocol::CloseCodeGoingAway, u"Server shutting down"_s);
    if (m_sessions.isEmpty()) {
        QMetaObject::invokeMethod(this, &Server::finishShutdown, Qt::QueuedConnection);
        return;
    }
    m_shutdownDeadline.start(grace);
}

void Server::dropConnections()
{
    logEvent(lcServer(), QtInfoMsg, "server.drop_connections", {{u"connections"_s, connectionCount()}});
    // Sessions learn of the disconnect by a queued signal, so m_sessions cannot change under
    // this loop today; the copy keeps it safe should that ever become direct.
    const auto sessions = m_sessions;
    for (auto *session : sessions)
        session->socket()->abort();
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
