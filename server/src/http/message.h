#pragma once

#include <ConfabProtocol/codes.h>

#include <QtCore/QByteArray>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QPair>
#include <QtCore/QString>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QHostAddress>

#include <optional>

namespace Confab::Server {

//! \brief The head of an HTTP/1.x request (request line and headers).
struct RequestHead
{
    QByteArray method;
    QByteArray target;  //!< as sent: path plus query
    QByteArray path;    //!< target without the query, still percent-encoded
    QByteArray version; //!< "HTTP/1.1" or "HTTP/1.0"
    QList<QPair<QByteArray, QByteArray>> headers; //!< names lower-cased, values trimmed
    qint64 contentLength = 0;
    bool chunked = false;

    [[nodiscard]] QByteArray header(QByteArrayView lowerName) const;
    [[nodiscard]] bool isWebSocketUpgrade() const;
    //! \brief Whether the client wants the connection kept after the answer (RFC 9112 §9.3):
    //! HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    [[nodiscard]] bool wantsKeepAlive() const;

    //! \brief Parses a head without its final empty line. Lines may end in CRLF or a bare LF
    //! (RFC 9112 §2.2 lets a recipient accept LF). nullopt when it is not HTTP/1.x, a header
    //! line is malformed, or Content-Length is invalid or given twice with different values.
    static std::optional<RequestHead> parse(QByteArrayView head);

    //! \brief Where the head of \a data ends: the index just past the empty line, or -1 while
    //! it is incomplete.
    static qsizetype headEnd(QByteArrayView data);
};

//! \brief One complete request, as the router and the handlers see it.
struct HttpRequest
{
    RequestHead head;
    QByteArray body;
    QHostAddress peer; //!< normalized: IPv4 clients of a dual-stack socket as a.b.c.d
    qint64 receivedAtNs = 0; //!< monotonic, when the request was complete
    //! Set by the router for prefix routes: the rest of the path after the prefix,
    //! percent-decoded once (so a topic may contain an encoded '/').
    QString pathRest;

    [[nodiscard]] const QByteArray &method() const { return head.method; }
    [[nodiscard]] const QByteArray &path() const { return head.path; }
    [[nodiscard]] QByteArray header(QByteArrayView lowerName) const { return head.header(lowerName); }
    [[nodiscard]] QUrlQuery query() const;
    //! \brief Why a body was not taken: `INVALID_BODY` (not UTF-8 RFC 8259 JSON, or not an object)
    //! or `INVALID_PAYLOAD` (a lone surrogate escape: JSON, but not text; Qt would silently turn
    //! it into another character, and a body is stored exactly as sent or not at all).
    struct BodyError
    {
        QLatin1StringView code;
        QString reason;
    };
    //! \brief The body as a JSON object, or nullopt with the reason in \a error.
    [[nodiscard]] std::optional<QJsonObject> jsonBody(BodyError *error = nullptr) const;
};

//! \brief An HTTP response, written by HttpConnection (the only writer of HTTP responses).
struct HttpResponse
{
    int status = 200;
    QByteArray contentType = "application/json";
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> headers; //!< extra headers, e.g. Allow, Retry-After
    bool close = false; //!< close the connection after this answer

    static HttpResponse json(int status, const QJsonObject &object);
    //! \brief `{"error":{"code","message"}}`, the shape of every error of every route.
    static HttpResponse error(int status, QLatin1StringView code, const QString &message);
    //! \brief 405 with the Allow header a 405 must carry (RFC 9110 §15.5.6).
    static HttpResponse methodNotAllowed(QByteArrayView allowed);
    HttpResponse &withHeader(const QByteArray &name, const QByteArray &value);

    //! \brief The bytes on the wire: status line, Content-Type, Content-Length, Connection, the
    //! extra headers, the body.
    [[nodiscard]] QByteArray serialize(bool keepAlive) const;
};

//! \brief The 400 for a body jsonBody() refused; \a expected names the fields, e.g.
//! "{channel, client_id, body}".
[[nodiscard]] HttpResponse invalidBody(const QString &expected, const HttpRequest::BodyError &error);

//! \brief The reason phrase for \a status.
[[nodiscard]] QByteArray reasonPhrase(int status);

//! \brief The status that goes with an error code (Protocol::Errors, store and policy codes):
//! 400 for bad input, 401/403 for credentials and rights, 404, 409, 413, 429, 503.
[[nodiscard]] int httpStatusFor(QLatin1StringView code);

//! \brief Clients on a dual-stack socket show up as ::ffff:a.b.c.d; counted as a.b.c.d.
[[nodiscard]] QHostAddress normalizedPeer(const QHostAddress &address);

} // namespace Confab::Server
