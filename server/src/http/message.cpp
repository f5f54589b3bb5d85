#include "http/message.h"

#include <ConfabProtocol/json.h>

#include <QtCore/QJsonDocument>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;

// ---- RequestHead -----------------------------------------------------------------------------

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

bool RequestHead::wantsKeepAlive() const
{
    const auto connection = header("connection").toLower();
    if (version == "HTTP/1.0")
        return connection.contains("keep-alive");
    return !connection.contains("close");
}

qsizetype RequestHead::headEnd(QByteArrayView data)
{
    // The first empty line: CRLF CRLF, or bare LFs (LF LF, CRLF LF, LF CRLF).
    for (qsizetype i = 0; i < data.size(); ++i) {
        if (data[i] != '\n')
            continue;
        if (i + 1 < data.size() && data[i + 1] == '\n')
            return i + 2;
        if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n')
            return i + 3;
    }
    return -1;
}

std::optional<RequestHead> RequestHead::parse(QByteArrayView raw)
{
    RequestHead head;
    QList<QByteArray> lines = QByteArray(raw.data(), raw.size()).split('\n');
    for (auto &line : lines) {
        if (line.endsWith('\r'))
            line.chop(1);
    }
    while (!lines.isEmpty() && lines.constLast().isEmpty())
        lines.removeLast();
    if (lines.isEmpty())
        return std::nullopt;
    const auto requestLine = lines.first().split(' ');
    if (requestLine.size() != 3 || (requestLine.at(2) != "HTTP/1.1" && requestLine.at(2) != "HTTP/1.0"))
        return std::nullopt;
    head.method = requestLine.at(0);
    head.target = requestLine.at(1);
    head.version = requestLine.at(2);
    if (head.method.isEmpty() || !head.target.startsWith('/'))
        return std::nullopt;
    for (const char c : head.method) {
        if (c < 'A' || c > 'Z')
            return std::nullopt;
    }
    const auto q = head.target.indexOf('?');
    head.path = q < 0 ? head.target : head.target.left(q);

    bool sawLength = false;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const auto &line = lines.at(i);
        const auto colon = line.indexOf(':');
        // RFC 9112 §5.1: no whitespace between the name and the colon; obsolete line folding
        // (a line starting with whitespace) is refused rather than guessed at.
        if (colon <= 0 || line.at(0) == ' ' || line.at(0) == '\t' || line.at(colon - 1) == ' ')
            return std::nullopt;
        const auto name = line.left(colon).toLower();
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

// ---- HttpRequest -----------------------------------------------------------------------------

QUrlQuery HttpRequest::query() const
{
    const auto q = head.target.indexOf('?');
    return q < 0 ? QUrlQuery() : QUrlQuery(QString::fromUtf8(head.target.mid(q + 1)));
}

std::optional<QJsonObject> HttpRequest::jsonBody(BodyError *error) const
{
    // Qt reads invalid UTF-8 and lone surrogate escapes as other characters without a word; a
    // body is taken exactly as sent or not at all.
    if (const auto defect = Protocol::Json::findTextDefect(body)) {
        if (error) {
            const bool notText = defect->kind == Protocol::Json::TextDefect::Kind::LoneSurrogate;
            *error = {notText ? Err::InvalidPayload : "INVALID_BODY"_L1, defect->reason()};
        }
        return std::nullopt;
    }
    QJsonParseError parseError;
    const auto doc = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject()) {
        if (error)
            *error = {"INVALID_BODY"_L1, u"the body is not a JSON object"_s};
        return std::nullopt;
    }
    return doc.object();
}

HttpResponse invalidBody(const QString &expected, const HttpRequest::BodyError &error)
{
    if (error.code == Err::InvalidPayload)
        return HttpResponse::error(400, error.code, error.reason);
    return HttpResponse::error(400, error.code, u"Expected a JSON object "_s + expected + u": "_s + error.reason);
}

// ---- HttpResponse ----------------------------------------------------------------------------

HttpResponse HttpResponse::json(int status, const QJsonObject &object)
{
    HttpResponse r;
    r.status = status;
    r.body = QJsonDocument(object).toJson(QJsonDocument::Compact);
    return r;
}

HttpResponse HttpResponse::error(int status, QLatin1StringView code, const QString &message)
{
    return json(status, {{u"error"_s, QJsonObject{{u"code"_s, QString(code)}, {u"message"_s, message}}}});
}

HttpResponse HttpResponse::methodNotAllowed(QByteArrayView allowed)
{
    return error(405, "METHOD_NOT_ALLOWED"_L1, u"Use %1 on this path"_s.arg(QString::fromLatin1(allowed)))
        .withHeader("Allow", allowed.toByteArray());
}

HttpResponse &HttpResponse::withHeader(const QByteArray &name, const QByteArray &value)
{
    headers.append({name, value});
    return *this;
}

QByteArray HttpResponse::serialize(bool keepAlive) const
{
    QByteArray out;
    out.reserve(160 + body.size());
    out += "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n";
    if (!body.isEmpty() || status != 204)
        out += "Content-Type: " + contentType + "\r\n";
    out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    out += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    for (const auto &h : headers)
        out += h.first + ": " + h.second + "\r\n";
    out += "\r\n";
    out += body;
    return out;
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

int httpStatusFor(QLatin1StringView code)
{
    if (code == Err::MessageTooLarge || code == Err::PresenceTooLarge)
        return 413;
    if (code == Err::AuthChannelDenied || code == Err::Forbidden)
        return 403;
    if (code.startsWith("AUTH_"_L1))
        return 401;
    if (code == Err::NotFound || code == Err::ChannelNotFound)
        return 404;
    if (code == Err::AlreadyExists || code == Err::MessageDeleted)
        return 409;
    if (code == Err::RateLimited)
        return 429;
    if (code == Err::StorageUnavailable)
        return 503;
    return 400;
}

QHostAddress normalizedPeer(const QHostAddress &address)
{
    bool isV4 = false;
    const auto v4 = address.toIPv4Address(&isV4);
    return isV4 ? QHostAddress(v4) : address;
}

} // namespace Confab::Server
