#include "net/listener.h"

#include "ops/logging.h"
#include "ops/metrics.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>
#include <QtWebSockets/QWebSocketServer>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// Clients on a dual-stack socket show up as ::ffff:a.b.c.d; count them under a.b.c.d.
QHostAddress normalized(const QHostAddress &address)
{
    bool isV4 = false;
    const auto v4 = address.toIPv4Address(&isV4);
    return isV4 ? QHostAddress(v4) : address;
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

} // namespace

void writeHttpError(QTcpSocket *socket, int status, QLatin1StringView code, const QString &message)
{
    const QByteArray body = QJsonDocument(QJsonObject{
        {u"error"_s, QJsonObject{{u"code"_s, QString(code)}, {u"message"_s, message}}}})
                                .toJson(QJsonDocument::Compact);
    QByteArray response = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status)
        + "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size())
        + "\r\nConnection: close\r\n\r\n" + body;
    socket->write(response);
    socket->disconnectFromHost(); // after the response is flushed
}

// ---- RequestHead ---------------------------------------------------------------------------

QByteArray RequestHead::header(QByteArrayView lowerName) const
{
    for (const auto &h : headers) {
        if (h.first == lowerName)
            return h.second;
    }
    return {};
}

bool RequestHead::isWebSocketUpgrade() const
{
    return method == "GET" && header("upgrade").toLower().contains("websocket");
}

std::optional<RequestHead> RequestHead::parse(QByteArrayView raw)
{
    RequestHead head;
    const auto lines = QByteArray(raw.data(), raw.size()).split('\n');
    if (lines.isEmpty())
        return std::nullopt;
    const auto requestLine = lines.first().trimmed().split(' ');
    if (requestLine.size() != 3 || !requestLine.at(2).startsWith("HTTP/1."))
        return std::nullopt;
    head.method = requestLine.at(0);
    head.target = requestLine.at(1);
    head.version = requestLine.at(2);
    if (head.method.isEmpty() || !head.target.startsWith('/'))
        return std::nullopt;
    const auto q = head.target.indexOf('?');
    head.path = q < 0 ? head.target : head.target.left(q);

    bool sawLength = false;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const auto line = lines.at(i).trimmed();
        if (line.isEmpty())
            continue;
        const auto colon = line.indexOf(':');
        if (colon <= 0)
            return std::nullopt;
        const auto name = line.left(colon).trimmed().toLower();
        const auto value = line.mid(colon + 1).trimmed();
        if (name == "content-length") {
            bool ok = false;
            const auto n = value.toLongLong(&ok);
            // Conflicting lengths are a request-smuggling vector: refuse them.
            if (!ok || n < 0 || (sawLength && n != head.contentLength))
                return std::nullopt;
            head.contentLength = n;
            sawLength = true;
        } else if (name == "transfer-encoding") {
            head.chunked = head.chunked || value.toLower().contains("chunked");
        }
        head.headers.append({name, value});
    }
    return head;
}

// ---- ConnectionGuard -----------------------------------------------------------------------

//! Follows the byte stream of one connection to enforce head size, body size and idle limits.
//! It only peeks: whoever serves the connection (QHttpServer) reads the same bytes after it.
//! Counting works because its readyRead slot runs before the server's (connected first) and
//! a second slot, connected after the server's, records how much the server left unread.
class ConnectionGuard : public QObject
{
    Q_OBJECT
public:
    ConnectionGuard(QTcpSocket *socket, Listener *listener, const Limits &limits, Metrics &metrics)
        : QObject(socket), m_socket(socket), m_listener(listener), m_limits(limits), m_metrics(metrics)
    {
        connect(socket, &QTcpSocket::readyRead, this, &ConnectionGuard::onReadyRead);
        // Tied to the guard: once the WebSocket server owns the socket, it deletes it instead.
        connect(socket, &QTcpSocket::disconnected, this, [this] { m_socket->deleteLater(); });
        connect(socket, &QTcpSocket::bytesWritten, this, [this] { m_idle.start(); });
        m_idle.setSingleShot(true);
        m_idle.setInterval(m_limits.requestHeadTimeout);
        connect(&m_idle, &QTimer::timeout, this, &ConnectionGuard::onIdle);
        m_headDeadline.setSingleShot(true);
        m_headDeadline.setInterval(m_limits.requestHeadTimeout);
        connect(&m_headDeadline, &QTimer::timeout, this, [this] {
            fail(408, "REQUEST_TIMEOUT"_L1,
                 u"The request head did not arrive within %1 ms"_s.arg(m_limits.requestHeadTimeout.count()));
        });
        m_idle.start();
        m_headDeadline.start();
    }

    //! After the first head: the connection is plain HTTP, served by QHttpServer from now on.
    void startHttp()
    {
        m_http = true;
        m_idle.setInterval(m_limits.httpIdleTimeout);
        m_idle.start();
        m_seen = m_socket->bytesAvailable();
    }
    //! Connected after QHttpServer's own readyRead slot.
    void afterServerRead() { m_seen = m_socket->bytesAvailable(); }

    QTcpSocket *socket() const { return m_socket; }

private:
    void onReadyRead()
    {
        m_idle.start();
        const qint64 available = m_socket->bytesAvailable();
        if (available < m_seen) // someone read without us noticing; resynchronise
            m_seen = available;
        if (available == m_seen)
            return;
        const QByteArray fresh = m_socket->peek(available).mid(m_seen);
        m_seen = available;
        feed(fresh);
    }

    void feed(QByteArray data)
    {
        QPointer<ConnectionGuard> self(this);
        while (!data.isEmpty() && !m_failed) {
            if (m_bodyLeft > 0) {
                const auto take = std::min<qint64>(m_bodyLeft, data.size());
                m_bodyLeft -= take;
                data.remove(0, take);
                continue;
            }
            if (m_head.isEmpty()) {
                // RFC 9112 §2.2: ignore empty lines before a request line.
                qsizetype skip = 0;
                while (skip < data.size() && (data.at(skip) == '\r' || data.at(skip) == '\n'))
                    ++skip;
                data.remove(0, skip);
                if (data.isEmpty())
                    return;
                if (m_http)
                    m_headDeadline.start();
            }
            m_head += data;
            data.clear();
            const auto end = m_head.indexOf("\r\n\r\n");
            const qsizetype headSize = end < 0 ? m_head.size() : end + 4;
            if (headSize > m_limits.httpMaxHeaderBytes) {
                fail(431, "REQUEST_HEADER_TOO_LARGE"_L1,
                     u"The request head exceeds %1 bytes"_s.arg(m_limits.httpMaxHeaderBytes));
                return;
            }
            if (end < 0)
                return;
            m_headDeadline.stop();
            data = m_head.mid(end + 4);
            const auto head = RequestHead::parse(QByteArrayView(m_head).first(end));
            m_head.clear();
            if (!head) {
                fail(400, "BAD_REQUEST"_L1, u"Malformed HTTP request head"_s);
                return;
            }
            if (head->chunked && !head->isWebSocketUpgrade()) {
                fail(411, "LENGTH_REQUIRED"_L1,
                     u"Chunked request bodies are not accepted; send Content-Length"_s);
                return;
            }
            if (head->contentLength > m_limits.httpMaxBodyBytes) {
                fail(413, "PAYLOAD_TOO_LARGE"_L1,
                     u"The request body of %1 bytes exceeds the limit of %2 bytes"_s
                         .arg(head->contentLength)
                         .arg(m_limits.httpMaxBodyBytes));
                return;
            }
            m_bodyLeft = head->contentLength;
            if (!m_http) {
                m_listener->onHead(this, *head);
                if (!self || !m_http)
                    return; // handed to the WebSocket server, or refused: not ours any more
            }
        }
    }

    void onIdle()
    {
        if (m_failed)
            return;
        if (!m_head.isEmpty() || m_bodyLeft > 0) {
            fail(408, "REQUEST_TIMEOUT"_L1, u"The connection was idle in the middle of a request"_s);
            return;
        }
        logEvent(lcHttp(), QtDebugMsg, "http.idle_close", {{u"peer"_s, m_socket->peerAddress().toString()}});
        m_socket->disconnectFromHost();
    }

public:
    void fail(int status, QLatin1StringView code, const QString &message)
    {
        if (m_failed)
            return;
        m_failed = true;
        m_idle.stop();
        m_headDeadline.stop();
        m_metrics.rejected(QString(code));
        logEvent(lcHttp(), QtInfoMsg, "http.rejected",
                 {{u"peer"_s, m_socket->peerAddress().toString()}, {u"status"_s, status},
                  {u"code"_s, QString(code)}});
        // Drain what is buffered so that a server reading after us finds nothing to answer.
        m_socket->readAll();
        writeHttpError(m_socket, status, code, message);
        // A peer that never reads its response must not keep the socket open.
        QTimer::singleShot(m_limits.requestHeadTimeout, m_socket, &QTcpSocket::abort);
    }

private:
    QTcpSocket *m_socket;
    Listener *m_listener;
    const Limits &m_limits;
    Metrics &m_metrics;
    QTimer m_idle;
    QTimer m_headDeadline;
    QByteArray m_head;
    qint64 m_bodyLeft = 0;
    qint64 m_seen = 0;
    bool m_http = false;
    bool m_failed = false;
};

// ---- Listener ------------------------------------------------------------------------------

//! Holds one per-IP slot for as long as its socket exists. A child object rather than a
//! connection to destroyed(): QWebSocket drops every connection of the socket it was upgraded
//! from, and with it such a connection, which leaked the slot of refused WebSockets.
class IpSlot : public QObject
{
public:
    IpSlot(QTcpSocket *socket, Listener *listener, const QHostAddress &peer)
        : QObject(socket), m_listener(listener), m_peer(peer)
    {
    }
    ~IpSlot() override
    {
        if (m_listener)
            m_listener->release(m_peer);
    }

private:
    QPointer<Listener> m_listener;
    QHostAddress m_peer;
};

Listener::Listener(const ServerConfig &config, Metrics &metrics, QObject *parent)
    : QTcpServer(parent), m_config(config), m_metrics(metrics)
{
    setListenBacklogSize(config.listenBacklog);
}

Listener::~Listener() = default;

void Listener::setWebSocketServer(QWebSocketServer *server, std::function<bool(QByteArrayView)> acceptsPath)
{
    m_webSockets = server;
    m_acceptsPath = std::move(acceptsPath);
}

void Listener::setHttpHandler(std::function<bool(QTcpSocket *, const RequestHead &)> handler)
{
    m_httpHandler = std::move(handler);
}

bool Listener::takeOverLimit(const QHostAddress &peer, quint16 port)
{
    return m_overLimit.remove({normalized(peer), port});
}

int Listener::connectionsFrom(const QHostAddress &peer) const
{
    return m_perIp.value(normalized(peer));
}

void Listener::release(const QHostAddress &peer)
{
    auto it = m_perIp.find(peer);
    if (it != m_perIp.end() && --*it <= 0)
        m_perIp.erase(it);
}

void Listener::incomingConnection(qintptr socketDescriptor)
{
    auto *socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(socketDescriptor)) {
        delete socket;
        return;
    }
    // Small frames (acks, typing, presence) must not wait for Nagle's algorithm.
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    const auto peer = normalized(socket->peerAddress());
    const int count = ++m_perIp[peer];
    new IpSlot(socket, this, peer);
    if (count > m_config.limits.maxConnectionsPerIp)
        m_overLimit.insert({peer, socket->peerPort()}); // answered once we know what it asks for
    new ConnectionGuard(socket, this, m_config.limits, m_metrics);
}

void Listener::onHead(ConnectionGuard *guard, const RequestHead &head)
{
    QTcpSocket *socket = guard->socket();
    const auto peer = normalized(socket->peerAddress());
    const bool overLimit = m_overLimit.contains({peer, socket->peerPort()});

    if (head.isWebSocketUpgrade()) {
        if (!m_webSockets || !m_acceptsPath || !m_acceptsPath(head.path)) {
            m_overLimit.remove({peer, socket->peerPort()});
            guard->fail(404, "NOT_FOUND"_L1,
                        u"No WebSocket endpoint at %1"_s.arg(QString::fromUtf8(head.path)));
            return;
        }
        const auto origin = head.header("origin");
        const auto &allowed = m_config.allowedOrigins;
        if (!origin.isEmpty() && !allowed.isEmpty() && !allowed.contains(u"*"_s)
            && !allowed.contains(QString::fromUtf8(origin))) {
            m_overLimit.remove({peer, socket->peerPort()});
            guard->fail(403, "ORIGIN_NOT_ALLOWED"_L1,
                        u"Origin %1 is not allowed"_s.arg(QString::fromUtf8(origin)));
            return;
        }
        // QWebSocket (Qt 6.4) does not own the socket it was upgraded from, and a QWebSocket
        // deleted right after a server-side close leaves it behind: delete the TCP socket when
        // it disconnects. QWebSocket notices (it watches the socket's destroyed()).
        delete guard;
        socket->setParent(nullptr);
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        m_webSockets->handleConnection(socket);
        return;
    }

    if (overLimit) {
        m_overLimit.remove({peer, socket->peerPort()});
        guard->fail(429, "CONNECTION_LIMIT_PER_IP"_L1,
                    u"More than %1 connections from %2"_s.arg(m_config.limits.maxConnectionsPerIp).arg(peer.toString()));
        return;
    }

    if (m_httpHandler && m_httpHandler(socket, head)) {
        // Read and answered there, once; the guard's limits were checked on this head already.
        delete guard;
        return;
    }

    // Plain HTTP: the guard stays, QHttpServer (bound to this listener) takes the socket.
    guard->startHttp();
    addPendingConnection(socket);
    Q_EMIT newConnection();
    connect(socket, &QTcpSocket::readyRead, guard, &ConnectionGuard::afterServerRead);
    // QHttpServer only reads on readyRead; the head is already buffered, so announce it again.
    QMetaObject::invokeMethod(socket, [socket] { Q_EMIT socket->readyRead(); }, Qt::QueuedConnection);
}

} // namespace Confab::Server

#include "listener.moc"
