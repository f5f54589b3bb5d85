#pragma once

#include "ops/serverconfig.h"

#include <QtCore/QByteArray>
#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QPair>
#include <QtCore/QSet>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpServer>

#include <functional>

class QWebSocketServer;

namespace Confab::Server {

class Metrics;

//! \brief The head of an HTTP request (request line and headers), as read before routing.
struct RequestHead
{
    QByteArray method;
    QByteArray target;  //!< as sent: path plus query
    QByteArray path;    //!< target without the query, still percent-encoded
    QByteArray version; //!< e.g. "HTTP/1.1"
    QList<QPair<QByteArray, QByteArray>> headers; //!< names lower-cased, values trimmed
    qint64 contentLength = 0;
    bool chunked = false;

    [[nodiscard]] QByteArray header(QByteArrayView lowerName) const;
    [[nodiscard]] bool isWebSocketUpgrade() const;

    //! \brief Parses a head (without the final empty line); nullopt when it is not HTTP/1.x.
    static std::optional<RequestHead> parse(QByteArrayView head);
};

//! \brief Accepts every TCP connection of the server's one port.
//!
//! Why our own QTcpServer: a listen backlog above QWebSocketServer's 50, TCP_NODELAY, per-IP
//! limits, and limits on HTTP that QHttpServer 6.4 lacks (head size, body size, idle time).
//! Each connection's request head is read (without consuming it) and then either handed to
//! QWebSocketServer::handleConnection() or queued as a pending connection for the QHttpServer
//! bound to this object, with a guard that keeps enforcing the HTTP limits on every request.
class Listener : public QTcpServer
{
    Q_OBJECT
public:
    Listener(const ServerConfig &config, Metrics &metrics, QObject *parent = nullptr);
    ~Listener() override;

    //! \brief Where WebSocket upgrades go; \a acceptsPath says which paths are WebSocket
    //! endpoints (others get 404).
    void setWebSocketServer(QWebSocketServer *server, std::function<bool(QByteArrayView path)> acceptsPath);

    //! \brief Plain HTTP requests that \a handler takes (returns true for) go to it instead of the
    //! QHttpServer: for routes that answer later (see ChatHttp).
    void setHttpHandler(std::function<bool(QTcpSocket *socket, const RequestHead &head)> handler);

    //! \brief True (once) if the connection from \a peer:\a port went over the per-IP limit;
    //! the server then closes the upgraded WebSocket with a reason instead of serving it.
    bool takeOverLimit(const QHostAddress &peer, quint16 port);

    [[nodiscard]] int connectionsFrom(const QHostAddress &peer) const;

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    friend class ConnectionGuard;
    friend class IpSlot;
    void onHead(class ConnectionGuard *guard, const RequestHead &head);
    void release(const QHostAddress &peer);

    const ServerConfig &m_config;
    Metrics &m_metrics;
    QWebSocketServer *m_webSockets = nullptr;
    std::function<bool(QByteArrayView)> m_acceptsPath;
    std::function<bool(QTcpSocket *, const RequestHead &)> m_httpHandler;
    QHash<QHostAddress, int> m_perIp;
    QSet<QPair<QHostAddress, quint16>> m_overLimit;
};

//! \brief Writes a complete JSON error response and closes the connection after it.
void writeHttpError(class QTcpSocket *socket, int status, QLatin1StringView code, const QString &message);

} // namespace Confab::Server
