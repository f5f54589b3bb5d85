#include "http/httpserver.h"

#include "engine/subscriber.h"
#include "ops/logging.h"
#include "ops/metrics.h"

#include <QtNetwork/QTcpSocket>

#include <sys/socket.h>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// A connection we close after an error keeps reading (and dropping) what the client still sends
// for this long: closing a socket with unread input makes the kernel send a reset, which can
// destroy the error response before the client reads it.
constexpr std::chrono::milliseconds LingerTime{2000};

// Room in the socket's read buffer beyond one maximal request; a full buffer pauses reading.
constexpr qint64 ReadBufferSlack = 4096;

} // namespace

// ---- HttpConnection ----------------------------------------------------------------------------

HttpConnection::HttpConnection(std::unique_ptr<QTcpSocket> socket, IpLimits::Slot slot, const Hooks &hooks)
    : m_socket(std::move(socket)), m_slot(std::move(slot)), m_hooks(hooks)
{
    m_socket->setParent(nullptr);
    m_socket->setReadBufferSize(m_hooks.limits.httpMaxHeaderBytes + m_hooks.limits.httpMaxBodyBytes + ReadBufferSlack);
    connect(m_socket.get(), &QTcpSocket::readyRead, this, &HttpConnection::process);
    connect(m_socket.get(), &QTcpSocket::disconnected, this, &HttpConnection::onDisconnected);
    m_idle.setSingleShot(true);
    connect(&m_idle, &QTimer::timeout, this, &HttpConnection::onIdle);
    m_headDeadline.setSingleShot(true);
    m_headDeadline.setInterval(m_hooks.limits.requestHeadTimeout);
    connect(&m_headDeadline, &QTimer::timeout, this, [this] {
        fail(408, "REQUEST_TIMEOUT"_L1,
             u"The request head did not arrive within %1 ms"_s.arg(m_hooks.limits.requestHeadTimeout.count()));
    });
    // The first request's head is due at once: a connection that says nothing is not a client.
    m_headDeadline.start();
}

HttpConnection::~HttpConnection()
{
    // The pending exchange (if any) runs its abandon hooks now, while its socket still exists.
    m_exchange.reset();
    if (m_socket)
        m_socket->disconnect(this);
}

void HttpConnection::process()
{
    m_scheduled = false;
    if (m_finished || !m_socket)
        return;
    if (m_state == State::Closing) {
        m_socket->readAll(); // lingering: what comes now is dropped
        return;
    }
    if (m_state == State::Waiting)
        return; // one request at a time; the rest waits in the (capped) socket buffer
    const auto &limits = m_hooks.limits;
    while (m_state != State::Waiting && m_state != State::Closing && !m_finished) {
        qint64 available = m_socket->bytesAvailable();
        if (available == 0)
            return;
        if (m_state == State::Idle) {
            // RFC 9112 §2.2: ignore empty lines before a request line.
            const auto lead = m_socket->peek(std::min<qint64>(available, 64));
            qsizetype skip = 0;
            while (skip < lead.size() && (lead.at(skip) == '\r' || lead.at(skip) == '\n'))
                ++skip;
            if (skip > 0) {
                m_socket->read(skip);
                continue;
            }
            m_state = State::Head;
            m_idle.stop();
            if (!m_headDeadline.isActive())
                m_headDeadline.start();
        }
        const auto peeked = m_socket->peek(std::min<qint64>(available, limits.httpMaxHeaderBytes + 4));
        const auto end = RequestHead::headEnd(peeked);
        if (end < 0 || end > limits.httpMaxHeaderBytes) {
            if (end > limits.httpMaxHeaderBytes || available > limits.httpMaxHeaderBytes)
                fail(431, "REQUEST_HEADER_TOO_LARGE"_L1,
                     u"The request head exceeds %1 bytes"_s.arg(limits.httpMaxHeaderBytes));
            return; // incomplete: the head deadline runs
        }
        const auto head = RequestHead::parse(QByteArrayView(peeked).first(end));
        if (!head) {
            fail(400, "BAD_REQUEST"_L1, u"Malformed HTTP request head"_s);
            return;
        }
        m_headDeadline.stop();
        if (head->isWebSocketUpgrade()) {
            m_idle.stop();
            if (!peeked.first(end).endsWith("\r\n\r\n")) {
                // The WebSocket handshake (RFC 6455 §4.1) is strict HTTP/1.1, and Qt's handshake
                // parser waits for CRLF line ends: refuse rather than hand over a head it never reads.
                fail(400, "BAD_REQUEST"_L1, u"A WebSocket upgrade request needs CRLF line ends"_s);
                return;
            }
            if (m_hooks.onUpgrade)
                m_hooks.onUpgrade(*this, *head); // refuses, or takes the socket
            else
                refuse(HttpResponse::error(404, "NOT_FOUND"_L1, u"No WebSocket endpoint here"_s));
            return;
        }
        if (head->chunked) {
            fail(411, "LENGTH_REQUIRED"_L1, u"Chunked request bodies are not accepted; send Content-Length"_s);
            return;
        }
        if (head->contentLength > limits.httpMaxBodyBytes) {
            fail(413, "PAYLOAD_TOO_LARGE"_L1,
                 u"The request body of %1 bytes exceeds the limit of %2 bytes"_s.arg(head->contentLength)
                     .arg(limits.httpMaxBodyBytes));
            return;
        }
        if (m_slot.overLimit()) {
            fail(429, "CONNECTION_LIMIT_PER_IP"_L1,
                 u"More than %1 connections from %2"_s.arg(m_hooks.limits.maxConnectionsPerIp)
                     .arg(m_slot.peer().toString()));
            return;
        }
        if (available < end + head->contentLength) {
            // The body is on its way; a client that stalls in the middle of it is cut off.
            if (m_state != State::Body && head->header("expect").toLower() == "100-continue"
                && head->version == "HTTP/1.1") {
                // curl and others wait for this before sending a body (RFC 9110 §10.1.1); the
                // limits were checked above, so the body is welcome.
                m_socket->write("HTTP/1.1 100 Continue\r\n\r\n");
            }
            m_state = State::Body;
            m_idle.start(limits.httpIdleTimeout);
            return;
        }
        dispatch(*head, end);
    }
}

void HttpConnection::dispatch(const RequestHead &head, qsizetype headSize)
{
    m_socket->read(headSize);
    HttpRequest request;
    request.head = head;
    request.body = m_socket->read(head.contentLength);
    request.peer = normalizedPeer(m_socket->peerAddress());
    request.receivedAtNs = monotonicNs();
    m_keepAlive = head.wantsKeepAlive();
    m_state = State::Waiting;
    m_idle.stop();
    m_hooks.metrics.httpRequest();
    m_exchange = std::make_unique<HttpExchange>([this](const HttpResponse &response) {
        write(response, m_keepAlive && !response.close && !m_draining);
    });
    const HttpResponder responder(m_exchange.get());
    m_hooks.router.dispatch(request, responder);
}

void HttpConnection::write(const HttpResponse &response, bool keepAlive)
{
    if (m_finished || !m_socket)
        return;
    // The exchange is answered; it is destroyed on the next pass (we may be inside it now).
    auto spent = std::move(m_exchange);
    QMetaObject::invokeMethod(this, [spent = std::shared_ptr<HttpExchange>(std::move(spent))] {}, Qt::QueuedConnection);
    if (m_socket->state() != QAbstractSocket::ConnectedState) {
        finish();
        return;
    }
    m_socket->write(response.serialize(keepAlive));
    if (!keepAlive) {
        m_state = State::Closing;
        m_socket->disconnectFromHost();
        QTimer::singleShot(LingerTime, this, [this] {
            if (m_socket && !m_finished)
                m_socket->abort();
        });
        return;
    }
    m_state = State::Idle;
    m_idle.start(m_hooks.limits.httpIdleTimeout);
    if (m_socket->bytesAvailable() > 0 && !m_scheduled) {
        // Pipelined requests already buffered get no new readyRead.
        m_scheduled = true;
        QMetaObject::invokeMethod(this, &HttpConnection::process, Qt::QueuedConnection);
    }
}

void HttpConnection::refuse(const HttpResponse &response, const QString &logCode)
{
    if (m_finished)
        return;
    if (!logCode.isEmpty()) {
        m_hooks.metrics.rejected(logCode);
        logEvent(lcHttp(), QtInfoMsg, "http.rejected",
                 {{u"peer"_s, m_slot.peer().toString()}, {u"status"_s, response.status}, {u"code"_s, logCode}});
    }
    m_headDeadline.stop();
    m_idle.stop();
    m_state = State::Closing;
    m_socket->write(response.serialize(false));
    // Half-close after the answer and keep reading: the client may still be sending, and
    // closing with unread input would reset the connection under the answer.
    connect(m_socket.get(), &QTcpSocket::bytesWritten, this, [this] {
        if (m_socket && m_socket->bytesToWrite() == 0)
            ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
    });
    m_socket->readAll();
    QTimer::singleShot(LingerTime, this, [this] {
        if (m_socket && !m_finished)
            m_socket->abort();
    });
}

void HttpConnection::fail(int status, QLatin1StringView code, const QString &message)
{
    refuse(HttpResponse::error(status, code, message), QString(code));
}

HttpConnection::Released HttpConnection::release()
{
    m_idle.stop();
    m_headDeadline.stop();
    m_socket->disconnect(this);
    // The WebSocket takes over reading; it has limits of its own (frame and message size).
    m_socket->setReadBufferSize(0);
    Released released{std::move(m_socket), std::move(m_slot)};
    finish();
    return released;
}

void HttpConnection::drain()
{
    m_draining = true;
    if (m_state == State::Idle && m_socket && !m_finished) {
        m_state = State::Closing;
        m_socket->disconnectFromHost();
    }
}

void HttpConnection::onIdle()
{
    if (m_finished)
        return;
    if (m_state == State::Head || m_state == State::Body) {
        fail(408, "REQUEST_TIMEOUT"_L1, u"The connection was idle in the middle of a request"_s);
        return;
    }
    if (m_state == State::Idle) {
        logEvent(lcHttp(), QtDebugMsg, "http.idle_close", {{u"peer"_s, m_slot.peer().toString()}});
        m_state = State::Closing;
        m_socket->disconnectFromHost();
    }
}

void HttpConnection::onDisconnected()
{
    finish();
}

void HttpConnection::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_idle.stop();
    m_headDeadline.stop();
    if (m_hooks.onFinished)
        m_hooks.onFinished(*this);
}

// ---- HttpServer --------------------------------------------------------------------------------

HttpServer::HttpServer(const Limits &limits, Metrics &metrics)
    : m_hooks{limits, metrics, m_router, {}, [this](HttpConnection &c) {
                  const auto it = m_connections.find(&c);
                  if (it == m_connections.end())
                      return;
                  m_finished.push_back(std::move(it->second));
                  m_connections.erase(it);
                  if (!m_reapScheduled) {
                      m_reapScheduled = true;
                      QMetaObject::invokeMethod(this, &HttpServer::reap, Qt::QueuedConnection);
                  }
              }}
{
}

HttpServer::~HttpServer()
{
    closeAll();
}

void HttpServer::setUpgradeHandler(std::function<void(HttpConnection &, const RequestHead &)> handler)
{
    m_hooks.onUpgrade = std::move(handler);
}

void HttpServer::serve(std::unique_ptr<QTcpSocket> socket, IpLimits::Slot slot)
{
    auto connection = std::make_unique<HttpConnection>(std::move(socket), std::move(slot), m_hooks);
    auto *raw = connection.get();
    m_connections.emplace(raw, std::move(connection));
    if (m_draining)
        raw->drain();
    // Bytes may already be waiting (they arrived with the connection).
    if (raw->socket() && raw->socket()->bytesAvailable() > 0)
        QMetaObject::invokeMethod(raw, &HttpConnection::process, Qt::QueuedConnection);
}

void HttpServer::drain()
{
    m_draining = true;
    // A connection closed here may finish at once and leave m_connections (it is deleted later,
    // in reap()), so walk a copy.
    std::vector<HttpConnection *> connections;
    connections.reserve(m_connections.size());
    for (const auto &[raw, connection] : m_connections)
        connections.push_back(raw);
    for (auto *connection : connections)
        connection->drain();
}

void HttpServer::closeAll()
{
    // Moved out first: a connection's destruction may finish it, which touches m_connections.
    auto connections = std::move(m_connections);
    m_connections.clear();
    connections.clear();
    m_finished.clear();
}

void HttpServer::reap()
{
    m_reapScheduled = false;
    m_finished.clear();
}

} // namespace Confab::Server
