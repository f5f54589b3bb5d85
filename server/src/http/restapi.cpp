#include "http/restapi.h"

#include "engine/hub.h"
#include "engine/policy.h"
#include "http/message.h"
#include "http/router.h"
#include "ops/logging.h"
#include "ops/metrics.h"
#include "storage/messagestore.h"

#include <ConfabProtocol/codes.h>
#include <ConfabProtocol/json.h>

#include <QtCore/QJsonArray>
#include <QtCore/QPointer>

#include <memory>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;

namespace {

QJsonObject channelJson(const Hub::ChannelInfo &info)
{
    return {{u"topic"_s, info.topic},
            {u"memberCount"_s, info.memberCount},
            {u"presenceKeys"_s, qint64(info.presenceKeys)},
            {u"presenceEntries"_s, qint64(info.presenceEntries)}};
}

QString originOf(const HttpRequest &request)
{
    return u"http "_s + request.peer.toString();
}

} // namespace

Outcome<Caller> RestApi::callerOf(const Policy &policy, const HttpRequest &request, const QJsonObject &body)
{
    auto caller = policy.fromBearer(request.header("authorization"), originOf(request));
    if (!caller.ok())
        return caller;
    QJsonObject declared = body.value("user"_L1).toObject();
    if (declared.isEmpty()) {
        const auto query = request.query();
        if (query.hasQueryItem(u"user"_s))
            declared = {{u"id"_s, query.queryItemValue(u"user"_s, QUrl::FullyDecoded)},
                        {u"name"_s, query.queryItemValue(u"name"_s, QUrl::FullyDecoded)}};
    }
    return policy.withDeclaredUser(*caller.value, declared);
}

std::optional<Caller> RestApi::callerOrRefuse(const Policy &policy, const HttpRequest &request,
                                              const HttpResponder &responder, const QJsonObject &body)
{
    auto caller = callerOf(policy, request, body);
    if (!caller.ok()) {
        responder.respond(refusal(caller.failure));
        return std::nullopt;
    }
    return caller.value;
}

HttpResponse RestApi::refusal(const Failure &failure)
{
    return HttpResponse::error(httpStatusFor(failure.code), failure.code, failure.message);
}

RestApi::RestApi(RestContext context, HttpRouter &router)
    : m_context(std::move(context)), m_sessions(m_context.config.auth, m_context.config.limits)
{
    router.route("/", {{"GET", [this](const HttpRequest &, const HttpResponder &r) {
        r.respond(HttpResponse::json(200, {{u"status"_s, u"ok"_s},
                                           {u"message"_s, u"Confab realtime server"_s},
                                           {u"version"_s, QStringLiteral(CONFAB_VERSION)},
                                           // Which sign-in form a client should offer.
                                           {u"auth"_s, m_context.authMode()}}));
    }}});
    router.route("/health", {{"GET", [this](const HttpRequest &, const HttpResponder &r) { health(r); }}});
    router.route("/metrics", {{"GET", [this](const HttpRequest &request, const HttpResponder &r) {
        if (!isOperator(request, r))
            return;
        HttpResponse response;
        response.contentType = "text/plain; version=0.0.4; charset=utf-8";
        response.body = m_context.prometheus();
        r.respond(response);
    }}});
    router.route("/api/stats", {{"GET", [this](const HttpRequest &request, const HttpResponder &r) {
        if (!isOperator(request, r))
            return;
        r.respond(HttpResponse::json(200, m_context.stats()));
    }}});
    router.route("/api/channels", {{"GET", [this](const HttpRequest &request, const HttpResponder &r) {
        channels(request, r);
    }}});
    router.prefixRoute("/api/channels/", {}, {{"GET", [this](const HttpRequest &request, const HttpResponder &r) {
        channel(request, r);
    }}});
    // Not secured: this is where a client without a token gets one.
    router.route("/api/session", {{"POST", [this](const HttpRequest &request, const HttpResponder &r) {
        const auto outcome = m_sessions.issue(request.body, request.peer, monotonicNs() / 1'000'000);
        auto response = HttpResponse::json(outcome.status, outcome.body);
        if (outcome.retryAfterSeconds > 0)
            response.withHeader("Retry-After", QByteArray::number(outcome.retryAfterSeconds));
        r.respond(response);
    }}});
    router.route("/api/broadcast", {{"POST", [this](const HttpRequest &request, const HttpResponder &r) {
        broadcast(request, r);
    }}});
}

void RestApi::addMetricsRoutes(RestContext context, HttpRouter &router)
{
    auto shared = std::make_shared<RestContext>(std::move(context));
    router.route("/metrics", {{"GET", [shared](const HttpRequest &, const HttpResponder &r) {
        HttpResponse response;
        response.contentType = "text/plain; version=0.0.4; charset=utf-8";
        response.body = shared->prometheus();
        r.respond(response);
    }}});
    router.route("/health", {{"GET", [shared](const HttpRequest &, const HttpResponder &r) {
        r.respond(HttpResponse::json(200, {{u"status"_s, u"healthy"_s},
                                           {u"version"_s, QStringLiteral(CONFAB_VERSION)},
                                           {u"uptimeSeconds"_s, shared->uptimeSeconds()},
                                           {u"connections"_s, shared->connectionCount()},
                                           {u"dependencies"_s, QJsonObject{{u"storage"_s, shared->store.health()}}}}));
    }}});
}

bool RestApi::isOperator(const HttpRequest &request, const HttpResponder &responder) const
{
    const auto caller = callerOrRefuse(m_context.policy, request, responder);
    if (!caller)
        return false;
    if (const auto denied = m_context.policy.mayOperate(*caller)) {
        responder.respond(refusal(*denied));
        return false;
    }
    return true;
}

void RestApi::health(const HttpResponder &responder) const
{
    const auto &hub = m_context.hub;
    responder.respond(HttpResponse::json(200, {
        {u"status"_s, u"healthy"_s},
        {u"version"_s, QStringLiteral(CONFAB_VERSION)},
        {u"uptimeSeconds"_s, m_context.uptimeSeconds()},
        {u"connections"_s, m_context.connectionCount()},
        {u"totalChannels"_s, qint64(hub.channelCount())},
        {u"totalMembers"_s, qint64(hub.membershipCount())},
        {u"auth"_s, m_context.authMode()},
        // Each dependency with its latency; the Redis backplane joins here when configured.
        {u"dependencies"_s, QJsonObject{{u"storage"_s, m_context.store.health()}}},
    }));
}

void RestApi::channels(const HttpRequest &request, const HttpResponder &responder) const
{
    const auto caller = callerOrRefuse(m_context.policy, request, responder);
    if (!caller)
        return;
    const auto all = m_context.hub.channels();
    // A user sees exactly the channels they may read; the operator sees every one.
    struct Listing
    {
        QList<Hub::ChannelInfo> channels;
        QList<bool> visible;
        qsizetype pending = 0;
    };
    auto listing = std::make_shared<Listing>(Listing{all, QList<bool>(all.size(), false), all.size()});
    auto finish = [listing, responder] {
        QJsonArray list;
        for (qsizetype i = 0; i < listing->channels.size(); ++i) {
            if (listing->visible.at(i))
                list.append(channelJson(listing->channels.at(i)));
        }
        responder.respond(HttpResponse::json(200, {{u"channels"_s, list}, {u"count"_s, list.size()}}));
    };
    if (all.isEmpty()) {
        finish();
        return;
    }
    for (qsizetype i = 0; i < all.size(); ++i) {
        m_context.policy.authorize(*caller, all.at(i).topic, Right::Read, responder.context(),
                                   [listing, i, finish](const std::optional<Failure> &denied) {
            listing->visible[i] = !denied;
            if (--listing->pending == 0)
                finish();
        });
    }
}

void RestApi::channel(const HttpRequest &request, const HttpResponder &responder) const
{
    const auto topic = request.pathRest;
    const auto caller = callerOrRefuse(m_context.policy, request, responder);
    if (!caller)
        return;
    m_context.policy.authorize(*caller, topic, Right::Presence, responder.context(),
                               [this, topic, responder](const std::optional<Failure> &denied) {
        if (denied) {
            responder.respond(refusal(*denied));
            return;
        }
        const auto &hub = m_context.hub;
        const auto info = hub.channel(topic).value_or(Hub::ChannelInfo{topic, 0, 0, 0});
        QJsonArray members;
        for (const auto &id : hub.memberClientIds(topic))
            members.append(QJsonObject{{u"clientId"_s, id}});
        QJsonObject presence;
        for (const auto &[key, entries] : hub.presenceState(topic, 0))
            presence.insert(key, qint64(entries.size()));
        auto body = channelJson(info);
        body.insert(u"members"_s, members);
        body.insert(u"presence"_s, presence);
        responder.respond(HttpResponse::json(200, body));
    });
}

void RestApi::broadcast(const HttpRequest &request, const HttpResponder &responder) const
{
    const auto limit = m_context.config.limits.maxMessageBytes;
    if (request.body.size() > limit) {
        responder.respond(HttpResponse::error(413, Err::MessageTooLarge,
                                              u"A broadcast may be at most %1 bytes, like a WebSocket frame"_s.arg(limit)));
        return;
    }
    HttpRequest::BodyError whyNot;
    const auto body = request.jsonBody(&whyNot);
    if (!body) {
        responder.respond(invalidBody(u"{topic, event, payload}"_s, whyNot));
        return;
    }
    const auto topic = body->value("topic"_L1);
    const auto event = body->value("event"_L1);
    if (!topic.isString() || topic.toString().isEmpty() || !event.isString() || event.toString().isEmpty()) {
        responder.respond(HttpResponse::error(400, "MISSING_FIELD"_L1, u"Missing topic or event"_s));
        return;
    }
    if (event.toString().size() > Protocol::Bounds::MaxEventLength) {
        responder.respond(HttpResponse::error(
            400, Err::InvalidEvent, u"event must be at most %1 characters"_s.arg(Protocol::Bounds::MaxEventLength)));
        return;
    }
    const auto caller = callerOrRefuse(m_context.policy, request, responder, *body);
    if (!caller)
        return;
    // The payload is relayed as its bytes, exactly as a WebSocket broadcast is.
    const auto raw = Protocol::Json::objectMember(request.body, u"payload");
    const QByteArray payload = raw ? raw->toByteArray() : QByteArray();
    const qint64 receivedAt = request.receivedAtNs;
    auto deliver = [this, responder, topic = topic.toString(), event = event.toString(), payload, receivedAt] {
        const int recipients = m_context.hub.broadcast(nullptr, topic, event, payload, receivedAt);
        responder.respond(HttpResponse::json(200, {{u"status"_s, u"ok"_s}, {u"recipientCount"_s, recipients}}));
    };
    if (const auto badName = Policy::checkTopic(topic.toString())) {
        responder.respond(refusal(*badName));
        return;
    }
    // The operator broadcasts anywhere; a user where they may post, as over a WebSocket.
    if (m_context.policy.isOperator(*caller)) {
        deliver();
        return;
    }
    m_context.policy.authorize(*caller, topic.toString(), Right::Post, responder.context(),
                               [responder, deliver](const std::optional<Failure> &denied) {
        if (denied)
            responder.respond(refusal(*denied));
        else
            deliver();
    });
}

} // namespace Confab::Server
