#include "http/chatroutes.h"

#include "engine/chatrules.h"
#include "engine/chatservice.h"
#include "engine/hub.h"
#include "engine/policy.h"
#include "http/message.h"
#include "http/restapi.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QJsonArray>
#include <QtCore/QTimer>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;

namespace {

// HTTP presence has no connection whose end removes it: it lasts this long after each POST.
constexpr qint64 HttpPresenceTtlMs = 60'000;
constexpr int MaxPollMessages = 100; // one answer; the client polls again from the last seq

HttpResponse resultResponse(const ChatService::Result &result, int okStatus = 200)
{
    if (result.failure)
        return RestApi::refusal(*result.failure);
    return HttpResponse::json(result.created ? 201 : okStatus, result.response);
}

//! Query parameters in the JSON shape the ChatService reads: whole numbers become numbers; anything
//! else stays text, which the service then refuses with the same words as over a WebSocket.
QJsonObject numericFields(const QUrlQuery &query, std::initializer_list<QString> names)
{
    QJsonObject fields;
    for (const auto &name : names) {
        if (!query.hasQueryItem(name))
            continue;
        const auto text = query.queryItemValue(name);
        bool ok = false;
        const auto n = text.toLongLong(&ok);
        fields.insert(name, ok && n >= 0 && n < (qint64(1) << 53) ? QJsonValue(double(n)) : QJsonValue(text));
    }
    return fields;
}

std::optional<qint64> wholeNumber(const QString &text)
{
    bool ok = false;
    const auto n = text.toLongLong(&ok);
    return ok && n >= 0 ? std::optional<qint64>(n) : std::nullopt;
}

} // namespace

// ---- A long-poll waiting for the next message ------------------------------------------------

class ChatRoutes::PollWait : public QObject, public Hub::MessageWatcher
{
public:
    PollWait(ChatRoutes &routes, const QString &topic, qint64 since, const HttpResponder &responder,
             std::chrono::milliseconds timeout)
        : m_routes(routes), m_topic(topic), m_since(since), m_responder(responder)
    {
        m_routes.m_hub.addWatcher(m_topic, this);
        m_watching = true;
        m_timer.setSingleShot(true);
        connect(&m_timer, &QTimer::timeout, this, [this] { answer({}); });
        m_timer.start(timeout);
    }
    ~PollWait() override { detach(); }

    //! Stops waiting: no more hub callbacks, no timeout. Called when the wait ends, so that the
    //! object, deleted later, never reaches back into the routes or the hub.
    void detach()
    {
        m_timer.stop();
        if (m_watching)
            m_routes.m_hub.removeWatcher(m_topic, this);
        m_watching = false;
    }

    void messageArrived(const QString &, const QJsonObject &message) override
    {
        m_watching = false; // the hub has let go of us already
        if (message.value("seq"_L1).toInteger() <= m_since) {
            // Not news to this client (it asked from beyond this seq): keep waiting.
            m_routes.m_hub.addWatcher(m_topic, this);
            m_watching = true;
            return;
        }
        answer(QJsonArray{message});
    }

    //! Answers with \a messages (none: the timeout or shutdown).
    void answer(const QJsonArray &messages)
    {
        const qint64 last = messages.isEmpty() ? m_since : messages.last().toObject().value("seq"_L1).toInteger();
        m_responder.respond(HttpResponse::json(200, {{u"messages"_s, messages}, {u"last_seq"_s, last}}));
        m_routes.endWait(this);
    }

private:
    ChatRoutes &m_routes;
    QString m_topic;
    qint64 m_since;
    HttpResponder m_responder;
    QTimer m_timer;
    bool m_watching = false;
};

// ---- Routes -------------------------------------------------------------------------------------

ChatRoutes::ChatRoutes(const ServerConfig &config, ChatService &chat, Hub &hub, const Policy &policy,
                       HttpRouter &router)
    : m_config(config), m_chat(chat), m_hub(hub), m_policy(policy)
{
    router.route("/messages", {{"POST", [this](const HttpRequest &q, const HttpResponder &r) { postMessage(q, r); }}});
    router.route("/poll", {{"GET", [this](const HttpRequest &q, const HttpResponder &r) { poll(q, r); }}});
    router.route("/typing", {{"POST", [this](const HttpRequest &q, const HttpResponder &r) { postTyping(q, r); }}});
    router.prefixRoute("/channels/", "/messages",
                       {{"GET", [this](const HttpRequest &q, const HttpResponder &r) { getMessages(q, r); }}});
    router.prefixRoute("/presence/", {},
                       {{"GET", [this](const HttpRequest &q, const HttpResponder &r) { getPresence(q, r); }},
                        {"POST", [this](const HttpRequest &q, const HttpResponder &r) { postPresence(q, r); }}});
}

ChatRoutes::~ChatRoutes()
{
    // Waits deregister from the hub as they go; the hub outlives this object. Ended waits
    // queued for deletion are already detached.
    m_waits.clear();
}

void ChatRoutes::shutdown()
{
    m_shuttingDown = true;
    std::vector<PollWait *> waits;
    for (const auto &[raw, wait] : m_waits)
        waits.push_back(raw);
    for (auto *wait : waits)
        wait->answer({});
}

void ChatRoutes::endWait(PollWait *wait)
{
    const auto it = m_waits.find(wait);
    if (it == m_waits.end())
        return;
    // Destroyed on the next pass: this may run inside the wait's own timer or hub callback.
    std::shared_ptr<PollWait> doomed(std::move(it->second));
    m_waits.erase(it);
    doomed->detach();
    QMetaObject::invokeMethod(this, [doomed] {}, Qt::QueuedConnection);
}

void ChatRoutes::postMessage(const HttpRequest &request, const HttpResponder &responder)
{
    HttpRequest::BodyError whyNot;
    const auto body = request.jsonBody(&whyNot);
    if (!body) {
        responder.respond(invalidBody(u"{channel, client_id, body}"_s, whyNot));
        return;
    }
    const auto caller = RestApi::callerOrRefuse(m_policy, request, responder, *body);
    if (!caller)
        return;
    const ChatService::Request chat{*caller, body->value("channel"_L1).toString(), *body, 0, request.receivedAtNs};
    m_chat.send(chat, responder.context(), [responder](const ChatService::Result &result) {
        responder.respond(resultResponse(result));
    });
}

void ChatRoutes::getMessages(const HttpRequest &request, const HttpResponder &responder)
{
    const auto query = request.query();
    const auto caller = RestApi::callerOrRefuse(m_policy, request, responder);
    if (!caller)
        return;
    const ChatService::Request chat{*caller, request.pathRest,
                                    numericFields(query, {u"before"_s, u"after"_s, u"limit"_s}), 0,
                                    request.receivedAtNs};
    m_chat.history(chat, responder.context(), [responder](const ChatService::Result &result) {
        responder.respond(resultResponse(result));
    });
}

void ChatRoutes::poll(const HttpRequest &request, const HttpResponder &responder)
{
    const auto query = request.query();
    const auto topic = query.queryItemValue(u"channel"_s, QUrl::FullyDecoded);
    const auto since = wholeNumber(query.queryItemValue(u"since"_s));
    if (!since) {
        responder.respond(HttpResponse::error(400, Err::InvalidPayload,
                                              u"since must be a whole number >= 0 (the last seq you have)"_s));
        return;
    }
    auto timeout = m_config.chat.longPollTimeout;
    if (query.hasQueryItem(u"timeout"_s)) {
        const auto ms = wholeNumber(query.queryItemValue(u"timeout"_s));
        if (!ms || *ms < 1) {
            responder.respond(HttpResponse::error(400, Err::InvalidPayload,
                                                  u"timeout must be a positive number of milliseconds"_s));
            return;
        }
        timeout = std::min(timeout, std::chrono::milliseconds(*ms)); // never longer than the server's
    }
    const auto caller = RestApi::callerOrRefuse(m_policy, request, responder);
    if (!caller)
        return;
    const ChatService::Request chat{*caller, topic, {}, 0, request.receivedAtNs};
    m_chat.historyAfter(chat, *since, MaxPollMessages, responder.context(),
                        [this, responder, topic, since = *since, timeout](const ChatService::Result &result,
                                                                          const HistoryPage &page) {
        if (!result.ok()) {
            responder.respond(resultResponse(result));
            return;
        }
        if (!page.messages.isEmpty()) {
            QJsonArray messages;
            for (const auto &m : page.messages)
                messages.append(m.toJson());
            responder.respond(HttpResponse::json(200, {{u"messages"_s, messages},
                                                       {u"last_seq"_s, page.messages.constLast().seq}}));
            return;
        }
        // Nothing new: wait. The store answers in order, so a message committed after this page
        // was read is delivered (to the hub, and so to the wait) after this callback.
        wait(topic, since, timeout, responder);
    });
}

void ChatRoutes::wait(const QString &topic, qint64 since, std::chrono::milliseconds timeout, const HttpResponder &responder)
{
    if (m_shuttingDown) {
        responder.respond(HttpResponse::json(200, {{u"messages"_s, QJsonArray()}, {u"last_seq"_s, since}}));
        return;
    }
    auto wait = std::make_unique<PollWait>(*this, topic, since, responder, timeout);
    auto *raw = wait.get();
    m_waits.emplace(raw, std::move(wait));
    // The client hung up, or its connection is being destroyed: stop waiting for it.
    responder.onAbandoned([this, raw] { endWait(raw); });
}

void ChatRoutes::postTyping(const HttpRequest &request, const HttpResponder &responder)
{
    HttpRequest::BodyError whyNot;
    auto body = request.jsonBody(&whyNot);
    if (body && !body->value("typing"_L1).isBool()) {
        whyNot = {"INVALID_BODY"_L1, u"typing must be true or false"_s};
        body.reset();
    }
    if (!body) {
        responder.respond(invalidBody(u"{channel, typing: true|false}"_s, whyNot));
        return;
    }
    const auto caller = RestApi::callerOrRefuse(m_policy, request, responder, *body);
    if (!caller)
        return;
    const ChatService::Request chat{*caller, body->value("channel"_L1).toString(), *body, 0, request.receivedAtNs};
    m_chat.typing(chat, body->value("typing"_L1).toBool(), responder.context(), [responder](const ChatService::Result &result) {
        if (result.ok())
            responder.respond(HttpResponse::json(200, {{u"status"_s, u"ok"_s}}));
        else
            responder.respond(resultResponse(result));
    });
}

void ChatRoutes::getPresence(const HttpRequest &request, const HttpResponder &responder)
{
    const auto topic = request.pathRest;
    const auto caller = RestApi::callerOrRefuse(m_policy, request, responder);
    if (!caller)
        return;
    m_policy.authorize(*caller, topic, Right::Presence, responder.context(),
                       [this, topic, responder](const std::optional<Failure> &denied) {
        if (denied) {
            responder.respond(RestApi::refusal(*denied));
            return;
        }
        QJsonObject state;
        for (const auto &[key, entries] : m_hub.presenceState(topic, 0)) {
            QJsonArray list;
            for (const auto &entry : entries)
                list.append(QJsonObject{{u"presence_ref"_s, entry.ref}, {u"meta"_s, entry.meta}});
            state.insert(key, list);
        }
        responder.respond(HttpResponse::json(200, {{u"channel"_s, topic}, {u"presence"_s, state}}));
    });
}

void ChatRoutes::postPresence(const HttpRequest &request, const HttpResponder &responder)
{
    const auto topic = request.pathRest;
    HttpRequest::BodyError whyNot;
    const auto body = request.jsonBody(&whyNot);
    if (!body) {
        responder.respond(invalidBody(u"{meta, key?, leave?}"_s, whyNot));
        return;
    }
    const auto caller = RestApi::callerOrRefuse(m_policy, request, responder, *body);
    if (!caller)
        return;
    if (!caller->user) {
        responder.respond(RestApi::refusal({Err::IdentityRequired, u"Say who you are: user {id, name} (or a Bearer token)"_s}));
        return;
    }
    const auto keyValue = body->value("key"_L1);
    if (!keyValue.isUndefined() && !keyValue.isNull() && !keyValue.isString()) {
        responder.respond(RestApi::refusal({Err::InvalidPayload, u"key must be a string"_s}));
        return;
    }
    const auto key = m_policy.presenceKey(*caller, keyValue.isString() ? std::optional(keyValue.toString()) : std::nullopt,
                                          caller->user->id);
    if (!key.ok()) {
        responder.respond(RestApi::refusal(key.failure));
        return;
    }
    const auto userId = caller->user->id;
    m_policy.authorize(*caller, topic, Right::Presence, responder.context(),
                       [this, body = *body, topic, userId, key = *key.value, responder](const std::optional<Failure> &denied) {
        if (denied) {
            responder.respond(RestApi::refusal(*denied));
            return;
        }
        const QString owner = u"http:"_s + userId;
        if (body.value("leave"_L1).toBool()) {
            responder.respond(HttpResponse::json(200, {{u"left"_s, m_hub.untrackExternal(topic, owner)}}));
            return;
        }
        const auto meta = body.value("meta"_L1).toObject();
        if (const auto invalid = checkPresenceMeta(meta, m_config.limits.maxPresenceMetaBytes)) {
            responder.respond(RestApi::refusal(*invalid));
            return;
        }
        const auto entry = m_hub.trackExternal(topic, owner, key, meta, monotonicNs() / 1'000'000 + HttpPresenceTtlMs);
        responder.respond(HttpResponse::json(
            200, {{u"presence_ref"_s, entry.ref}, {u"key"_s, entry.key}, {u"expires_in_ms"_s, HttpPresenceTtlMs}}));
    });
}

} // namespace Confab::Server
