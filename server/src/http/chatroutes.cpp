#include "http/chatroutes.h"

#include "engine/chatrules.h"
#include "engine/hub.h"
#include "auth/jwtverifier.h"
#include "ops/logging.h"
#include "ops/metrics.h"
#include "server.h"
#include "engine/subscriber.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QTcpSocket>

#include <functional>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;
namespace Ev = Confab::Protocol::Events;

namespace {

// HTTP presence has no connection whose end removes it: it lasts this long after each POST.
constexpr qint64 HttpPresenceTtlMs = 60'000;
constexpr int MaxPollMessages = 100; // one answer; the client polls again from the last seq

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

int statusFor(StoreError error)
{
    switch (error) {
    case StoreError::None: return 200;
    case StoreError::NotFound: return 404;
    case StoreError::Forbidden: return 403;
    case StoreError::MessageDeleted:
    case StoreError::AlreadyExists: return 409;
    case StoreError::Invalid: return 400;
    case StoreError::Unavailable: return 503;
    }
    return 500;
}

QLatin1StringView codeFor(StoreError error)
{
    switch (error) {
    case StoreError::None: return {};
    case StoreError::NotFound: return Err::NotFound;
    case StoreError::Forbidden: return Err::Forbidden;
    case StoreError::MessageDeleted: return Err::MessageDeleted;
    case StoreError::AlreadyExists: return Err::AlreadyExists;
    case StoreError::Invalid: return Err::InvalidPayload;
    case StoreError::Unavailable: return Err::StorageUnavailable;
    }
    return Err::StorageUnavailable;
}

int statusForCode(QLatin1StringView code)
{
    if (code == Err::MessageTooLarge || code == Err::PresenceTooLarge)
        return 413;
    if (code.startsWith("AUTH_"_L1))
        return code == Err::AuthChannelDenied ? 403 : 401;
    return 400;
}

std::optional<qint64> wholeNumber(const QString &text)
{
    bool ok = false;
    const auto n = text.toLongLong(&ok);
    return ok && n >= 0 ? std::optional<qint64>(n) : std::nullopt;
}

} // namespace

// ---- Exchange: one request, read whole, answered once ---------------------------------------

class ChatHttp::Exchange : public QObject, public Hub::MessageWatcher
{
public:
    Exchange(QTcpSocket *socket, const RequestHead &head, Hub &hub, std::chrono::milliseconds idleTimeout)
        : QObject(socket), socket(socket), head(head), m_hub(hub)
    {
        const auto q = head.target.indexOf('?');
        if (q >= 0)
            query = QUrlQuery(QString::fromUtf8(head.target.mid(q + 1)));
        m_idle.setSingleShot(true);
        m_idle.setInterval(idleTimeout);
        connect(&m_idle, &QTimer::timeout, this, [this] { this->socket->abort(); });
        connect(socket, &QTcpSocket::readyRead, this, &Exchange::read);
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        m_idle.start();
    }
    ~Exchange() override
    {
        if (!m_watching.isEmpty())
            m_hub.removeWatcher(m_watching, this);
    }

    //! Called when the whole request is in.
    std::function<void(Exchange *)> onComplete;

    void read()
    {
        m_idle.start();
        m_buffer += socket->readAll();
        if (m_bodyStart < 0) {
            const auto end = m_buffer.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            m_bodyStart = end + 4;
        }
        if (m_buffer.size() - m_bodyStart < head.contentLength)
            return;
        body = m_buffer.mid(m_bodyStart, head.contentLength);
        disconnect(socket, &QTcpSocket::readyRead, this, &Exchange::read);
        m_idle.stop();
        if (onComplete)
            onComplete(this);
    }

    //! \a extraHeaders: whole header lines, each ending in CRLF.
    void respond(int status, const QJsonObject &json, const QByteArray &extraHeaders = {})
    {
        if (m_answered)
            return;
        m_answered = true;
        if (!m_watching.isEmpty()) {
            m_hub.removeWatcher(m_watching, this);
            m_watching.clear();
        }
        const auto payload = QJsonDocument(json).toJson(QJsonDocument::Compact);
        socket->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status)
                      + "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(payload.size())
                      + "\r\nConnection: close\r\n" + extraHeaders + "\r\n" + payload);
        socket->disconnectFromHost();
    }

    void fail(int status, QLatin1StringView code, const QString &message, const QByteArray &extraHeaders = {})
    {
        respond(status, {{u"error"_s, QJsonObject{{u"code"_s, QString(code)}, {u"message"_s, message}}}}, extraHeaders);
    }

    //! 405 with the Allow header a 405 must carry (RFC 9110 §15.5.6), as the REST routes send it.
    void failMethod(QByteArrayView allowed)
    {
        fail(405, "METHOD_NOT_ALLOWED"_L1, u"Use %1 on this path"_s.arg(QString::fromLatin1(allowed)),
             "Allow: " + allowed.toByteArray() + "\r\n");
    }

    void failStore(StoreError error, const QString &message)
    {
        fail(statusFor(error), codeFor(error), message);
    }

    //! Long-poll: answered by the next message of \a topic, or by the timer.
    void watch(const QString &topic, std::chrono::milliseconds timeout, qint64 lastSeq)
    {
        m_watching = topic;
        m_hub.addWatcher(topic, this);
        QTimer::singleShot(timeout, this, [this, lastSeq] {
            respond(200, {{u"messages"_s, QJsonArray()}, {u"last_seq"_s, lastSeq}});
        });
    }

    void messageArrived(const QString &, const QJsonObject &message) override
    {
        m_watching.clear(); // the hub has let go of us already
        respond(200, {{u"messages"_s, QJsonArray{message}}, {u"last_seq"_s, message.value("seq"_L1)}});
    }

    [[nodiscard]] std::optional<QJsonObject> jsonBody()
    {
        const auto doc = QJsonDocument::fromJson(body);
        if (!doc.isObject())
            return std::nullopt;
        return doc.object();
    }

    QTcpSocket *socket;
    RequestHead head;
    QUrlQuery query;
    QByteArray body;

private:
    Hub &m_hub;
    QTimer m_idle;
    QByteArray m_buffer;
    qsizetype m_bodyStart = -1;
    QString m_watching;
    bool m_answered = false;
};

// ---- Routing ----------------------------------------------------------------------------------

ChatHttp::ChatHttp(Server &server, QObject *parent) : QObject(parent), m_server(server) {}

ChatHttp::~ChatHttp() = default;

bool ChatHttp::take(QTcpSocket *socket, const RequestHead &head)
{
    const auto &path = head.path;
    const bool ours = path == "/messages" || path == "/poll" || path == "/typing"
        || path.startsWith("/presence/") || (path.startsWith("/channels/") && path.endsWith("/messages"));
    if (!ours)
        return false;
    auto *exchange = new Exchange(socket, head, m_server.hub(), m_server.config().limits.httpIdleTimeout);
    exchange->onComplete = [this](Exchange *e) { dispatch(e); };
    m_server.metrics().httpRequest();
    exchange->read(); // the head (and maybe the body) is already buffered
    return true;
}

namespace {

//! The rest of the path after \a prefix, percent-decoded once (topics may contain '/').
QString pathTopic(const QByteArray &path, QByteArrayView prefix, QByteArrayView suffix = {})
{
    auto rest = path.mid(prefix.size());
    if (!suffix.isEmpty())
        rest.chop(suffix.size());
    return QString::fromUtf8(QByteArray::fromPercentEncoding(rest));
}

} // namespace

void ChatHttp::dispatch(Exchange *e)
{
    const auto &method = e->head.method;
    const auto &path = e->head.path;
    auto only = [e](QByteArrayView allowed) {
        if (e->head.method == allowed)
            return true;
        e->failMethod(allowed);
        return false;
    };
    if (path == "/messages") {
        if (only("POST"))
            postMessage(e);
    } else if (path == "/poll") {
        if (only("GET"))
            poll(e);
    } else if (path == "/typing") {
        if (only("POST"))
            postTyping(e);
    } else if (path.startsWith("/presence/")) {
        const auto topic = pathTopic(path, "/presence/");
        if (method == "GET")
            getPresence(e, topic);
        else if (method == "POST")
            postPresence(e, topic);
        else
            e->failMethod("GET, POST");
    } else {
        if (only("GET"))
            getMessages(e, pathTopic(path, "/channels/", "/messages"));
    }
}

namespace {

//! Who asks, and whether they may use \a topic; calls \a next, or answers the refusal.
void withAccess(Server &server, const QObject *context, const RequestHead &head, const QJsonObject &body,
                const QUrlQuery &query, const QString &topic, bool needUser,
                std::function<void(int, QLatin1StringView, const QString &)> fail,
                std::function<void(std::optional<ChatUser>)> next)
{
    if (topic.isEmpty() || topic.size() > Protocol::Bounds::MaxTopicLength || !QStringView(topic).isValidUtf16()
        || topic == Protocol::Topics::System) {
        fail(400, Err::InvalidTopic, u"channel must be a topic of 1 to 255 characters"_s);
        return;
    }
    const auto kind = topicKind(topic);
    if (!kind.valid) {
        fail(400, Err::InvalidTopic, u"DM topics are dm:<lower id>:<higher id>"_s);
        return;
    }
    std::optional<ChatUser> user;
    if (const auto *verifier = server.verifier()) {
        const auto header = head.header("authorization");
        if (!header.startsWith("Bearer ") || header.size() <= 7) {
            fail(401, Err::AuthTokenRequired, u"Missing authorization header: send Authorization: Bearer <token>"_s);
            return;
        }
        const auto result = verifier->verify(header.mid(7).trimmed());
        if (!result.ok()) {
            fail(401, result.error.code, result.error.reason);
            return;
        }
        if (!channelAllowed(result.claims->channels, topic)) {
            fail(403, Err::AuthChannelDenied, u"Access denied to this channel"_s);
            return;
        }
        user = ChatUser{result.claims->subject,
                        result.claims->name.isEmpty() ? result.claims->subject : result.claims->name};
    } else {
        // Open mode: self-declared, in the body (POST) or the query (GET).
        QJsonObject declared = body.value("user"_L1).toObject();
        if (declared.isEmpty() && query.hasQueryItem(u"user"_s))
            declared = {{u"id"_s, query.queryItemValue(u"user"_s, QUrl::FullyDecoded)},
                        {u"name"_s, query.queryItemValue(u"name"_s, QUrl::FullyDecoded)}};
        if (!declared.isEmpty()) {
            user = readUser(declared);
            if (!user) {
                fail(400, Err::InvalidPayload, u"user needs an id of 1-64 of A-Z a-z 0-9 _ . -"_s);
                return;
            }
        }
    }
    if ((needUser || kind.type != "public"_L1) && !user) {
        fail(400, Err::IdentityRequired, u"Say who you are: user {id, name} (or a Bearer token)"_s);
        return;
    }
    if (kind.type == "public"_L1) {
        next(user);
        return;
    }
    server.store().access(context, topic, user->id,
                          [fail, next, user](const StoreResult<ChannelAccess> &access) {
        if (!access.ok())
            fail(statusFor(access.error), codeFor(access.error), access.message);
        else if (!access.value.exists)
            fail(404, Err::NotFound, u"No such private channel"_s);
        else if (!access.value.allowed)
            fail(403, Err::Forbidden, u"Only its members may use this channel"_s);
        else
            next(user);
    });
}

} // namespace

void ChatHttp::access(Exchange *e, const QJsonObject &body, const QString &topic, bool needUser,
                      std::function<void(std::optional<ChatUser>)> next)
{
    withAccess(
        m_server, e, e->head, body, e->query, topic, needUser,
        [e](int status, QLatin1StringView code, const QString &message) { e->fail(status, code, message); },
        std::move(next));
}

void ChatHttp::postMessage(Exchange *e)
{
    const qint64 receivedAt = monotonicNs();
    const auto body = e->jsonBody();
    if (!body) {
        e->fail(400, "INVALID_BODY"_L1, u"Expected a JSON object {channel, client_id, body}"_s);
        return;
    }
    const auto topic = body->value("channel"_L1).toString();
    access(e, *body, topic, true, [this, e, body = *body, topic, receivedAt](std::optional<ChatUser> user) {
        AppendRequest request;
        request.topic = topic;
        request.author = *user;
        if (const auto error = readSend(body, m_server.config().chat.maxMessageBody, request)) {
            e->fail(statusForCode(error->code), error->code, error->message);
            return;
        }
        // In our context, not the exchange's: a committed message is delivered even when the
        // HTTP client hung up before the commit (only its answer is lost; a resend gets it).
        const QPointer<Exchange> exchange(e);
        m_server.store().append(this, request, [this, exchange, topic, receivedAt](const StoreResult<AppendResult> &result) {
            if (!result.ok()) {
                if (exchange)
                    exchange->failStore(result.error, result.message);
                return;
            }
            const auto &message = result.value.message;
            QJsonObject ack{{u"id"_s, message.id}, {u"seq"_s, message.seq},
                            {u"ts"_s, message.toJson().value("ts"_L1)}, {u"client_id"_s, message.clientId}};
            if (result.value.duplicate) {
                ack.insert(u"duplicate"_s, true);
                if (exchange)
                    exchange->respond(200, ack);
                return;
            }
            if (exchange)
                exchange->respond(201, ack);
            m_server.hub().deliverChat(nullptr, topic, Ev::Message, message.toJson(), message.seq, receivedAt);
            notifyMentions(m_server.hub(), m_server.store(), this, topic, message);
        });
    });
}

void ChatHttp::getMessages(Exchange *e, const QString &topic)
{
    HistoryRequest request{topic, std::nullopt, std::nullopt, 50};
    for (const auto &[name, target] : {std::pair{u"before"_s, &request.before}, std::pair{u"after"_s, &request.after}}) {
        if (!e->query.hasQueryItem(name))
            continue;
        const auto n = wholeNumber(e->query.queryItemValue(name));
        if (!n) {
            e->fail(400, Err::InvalidPayload, u"%1 must be a whole number >= 0"_s.arg(name));
            return;
        }
        *target = *n;
    }
    if (e->query.hasQueryItem(u"limit"_s)) {
        const auto n = wholeNumber(e->query.queryItemValue(u"limit"_s));
        if (!n || *n < 1 || *n > 100) {
            e->fail(400, Err::InvalidPayload, u"limit must be 1 to 100"_s);
            return;
        }
        request.limit = int(*n);
    }
    access(e, QJsonObject(), topic, false, [this, e, request](std::optional<ChatUser>) {
        m_server.store().history(e, request, [e](const StoreResult<HistoryPage> &page) {
            if (!page.ok()) {
                e->failStore(page.error, page.message);
                return;
            }
            QJsonArray messages;
            for (const auto &m : page.value.messages)
                messages.append(m.toJson());
            e->respond(200, {{u"messages"_s, messages}, {u"has_more"_s, page.value.hasMore},
                             {u"last_seq"_s, page.value.lastSeq}});
        });
    });
}

void ChatHttp::poll(Exchange *e)
{
    const auto topic = e->query.queryItemValue(u"channel"_s, QUrl::FullyDecoded);
    const auto since = wholeNumber(e->query.queryItemValue(u"since"_s));
    if (!since) {
        e->fail(400, Err::InvalidPayload, u"since must be a whole number >= 0 (the last seq you have)"_s);
        return;
    }
    auto timeout = m_server.config().chat.longPollTimeout;
    if (e->query.hasQueryItem(u"timeout"_s)) {
        const auto ms = wholeNumber(e->query.queryItemValue(u"timeout"_s));
        if (!ms || *ms < 1) {
            e->fail(400, Err::InvalidPayload, u"timeout must be a positive number of milliseconds"_s);
            return;
        }
        timeout = std::min(timeout, std::chrono::milliseconds(*ms)); // never longer than the server's
    }
    access(e, QJsonObject(), topic, false, [this, e, topic, since, timeout](std::optional<ChatUser>) {
        const HistoryRequest request{topic, std::nullopt, *since, MaxPollMessages};
        m_server.store().history(e, request, [e, topic, timeout](const StoreResult<HistoryPage> &page) {
            if (!page.ok()) {
                e->failStore(page.error, page.message);
                return;
            }
            if (!page.value.messages.isEmpty()) {
                QJsonArray messages;
                for (const auto &m : page.value.messages)
                    messages.append(m.toJson());
                e->respond(200, {{u"messages"_s, messages}, {u"last_seq"_s, page.value.messages.constLast().seq}});
                return;
            }
            // Nothing new: wait. The store answers in order, so a message committed after this
            // page was read is delivered (to the hub, and so to us) after this callback.
            e->watch(topic, timeout, page.value.lastSeq);
        });
    });
}

void ChatHttp::postTyping(Exchange *e)
{
    const auto body = e->jsonBody();
    if (!body || !body->value("typing"_L1).isBool()) {
        e->fail(400, "INVALID_BODY"_L1, u"Expected a JSON object {channel, typing: true|false}"_s);
        return;
    }
    const auto topic = body->value("channel"_L1).toString();
    const bool typing = body->value("typing"_L1).toBool();
    access(e, *body, topic, true, [this, e, topic, typing](std::optional<ChatUser> user) {
        auto &hub = m_server.hub();
        if (typing)
            hub.startTyping(topic, *user, monotonicNs() / 1'000'000 + m_server.config().chat.typingTimeout.count(), nullptr);
        else
            hub.stopTyping(topic, user->id, nullptr);
        e->respond(200, {{u"status"_s, u"ok"_s}});
    });
}

void ChatHttp::getPresence(Exchange *e, const QString &topic)
{
    access(e, QJsonObject(), topic, false, [this, e, topic](std::optional<ChatUser>) {
        QJsonObject state;
        if (const auto *tracker = m_server.hub().presence(topic)) {
            for (const auto &key : tracker->keys()) {
                QJsonArray entries;
                for (const auto &entry : tracker->entries(key)) {
                    if (!isInvisible(entry.meta))
                        entries.append(QJsonObject{{u"presence_ref"_s, entry.ref}, {u"meta"_s, entry.meta}});
                }
                if (!entries.isEmpty())
                    state.insert(key, entries);
            }
        }
        e->respond(200, {{u"channel"_s, topic}, {u"presence"_s, state}});
    });
}

void ChatHttp::postPresence(Exchange *e, const QString &topic)
{
    const auto body = e->jsonBody();
    if (!body) {
        e->fail(400, "INVALID_BODY"_L1, u"Expected a JSON object {meta, key?, leave?}"_s);
        return;
    }
    access(e, *body, topic, true, [this, e, body = *body, topic](std::optional<ChatUser> user) {
        auto &hub = m_server.hub();
        const QString owner = u"http:"_s + user->id;
        if (body.value("leave"_L1).toBool()) {
            e->respond(200, {{u"left"_s, hub.untrackExternal(topic, owner)}});
            return;
        }
        const auto meta = body.value("meta"_L1).toObject();
        if (const auto error = checkPresenceMeta(meta, m_server.config().limits.maxPresenceMetaBytes)) {
            e->fail(statusForCode(error->code), error->code, error->message);
            return;
        }
        const auto key = body.value("key"_L1).isString() ? body.value("key"_L1).toString() : user->id;
        const auto entry = hub.trackExternal(topic, owner, key, meta, monotonicNs() / 1'000'000 + HttpPresenceTtlMs);
        e->respond(200, {{u"presence_ref"_s, entry.ref}, {u"key"_s, entry.key}, {u"expires_in_ms"_s, HttpPresenceTtlMs}});
    });
}

} // namespace Confab::Server
