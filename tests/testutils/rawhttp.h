#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtNetwork/QTcpSocket>

#include <optional>

namespace Confab::Testing {

//! \brief An HTTP/1.1 client on a bare TCP socket: it writes exactly the bytes it is given and
//! parses responses (with Content-Length, or none for 101) as they arrive.
//!
//! For requests that are malformed, oversized, slow, pipelined or in an unusual dialect on
//! purpose, and for watching what the server does with the connection afterwards (keeps it,
//! closes it), which QNetworkAccessManager hides.
//! \code
//! RawHttp http;
//! QVERIFY(http.open(server.port()));
//! http.send(getRequest("/health") + getRequest("/"));  // pipelined
//! const auto first = http.read();
//! QCOMPARE(first->status, 200);
//! \endcode
class RawHttp : public QObject
{
public:
    struct Response
    {
        int status = 0;    //!< -1 when the bytes received do not start with an HTTP status line
        QHash<QByteArray, QByteArray> headers; //!< names lower-cased, values trimmed
        QByteArray body;   //!< exactly the Content-Length bytes after the head

        [[nodiscard]] QJsonObject json() const;
        //! \brief `error.code` of a `{"error":{"code","message"}}` body, or empty.
        [[nodiscard]] QString errorCode() const;
    };

    RawHttp();

    //! \brief Connects to 127.0.0.1:\a port; false if that fails within \a timeoutMs.
    bool open(quint16 port, int timeoutMs = 5000);
    //! \brief Writes \a bytes as they are and flushes them.
    void send(const QByteArray &bytes);
    //! \brief Waits for the next complete response and removes it from the buffer.
    std::optional<Response> read(int timeoutMs = 5000);
    //! \brief Waits until the socket is closed (by either side).
    bool waitForDisconnected(int timeoutMs = 5000);
    [[nodiscard]] bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }

    //! \brief Bytes received that are not part of a parsed response.
    [[nodiscard]] const QByteArray &pending() const { return m_buffer; }
    QTcpSocket &socket() { return m_socket; }

private:
    std::optional<Response> parse();

    QTcpSocket m_socket;
    QByteArray m_buffer;
};

//! \brief `GET <path> HTTP/1.1` with `Host: 127.0.0.1`, then \a extraHeaders (each ending in
//! CRLF) and the empty line.
[[nodiscard]] QByteArray getRequest(const QByteArray &path, const QByteArray &extraHeaders = {});
//! \brief `POST <path> HTTP/1.1` with a JSON Content-Type, the Content-Length of \a body, then
//! \a extraHeaders and \a body.
[[nodiscard]] QByteArray postRequest(const QByteArray &path, const QByteArray &body,
                                     const QByteArray &extraHeaders = {});
//! \brief A valid WebSocket upgrade request (version 13, a fresh 16-byte key), with an Origin
//! header when \a origin is given.
[[nodiscard]] QByteArray upgradeRequest(const QByteArray &path, const QByteArray &origin = {});

} // namespace Confab::Testing
