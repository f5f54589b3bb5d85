#include "http/restapi.h"

#include "engine/hub.h"
#include "auth/jwtverifier.h"
#include "ops/logging.h"
#include "storage/messagestore.h"
#include "ops/metrics.h"
#include "server.h"
#include "auth/sessionissuer.h"
#include "engine/subscriber.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>

#include <functional>
#include <vector>
#include <QtHttpServer/QHttpServer>
#include <QtHttpServer/QHttpServerRequest>
#include <QtHttpServer/QHttpServerResponse>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

using Status = QHttpServerResponse::StatusCode;
using Method = QHttpServerRequest::Method;

QHttpServerResponse errorResponse(Status status, QLatin1StringView code, const QString &message)
{
    return QHttpServerResponse(
        QJsonObject{{u"error"_s, QJsonObject{{u"code"_s, QString(code)}, {u"message"_s, message}}}},
        status);
}

QHttpServerResponse methodNotAllowed(QByteArrayView allow)
{
    auto response = errorResponse(Status::MethodNotAllowed, "METHOD_NOT_ALLOWED"_L1,
                                  u"Use %1 on this path"_s.arg(QString::fromLatin1(allow)));
    response.setHeader("Allow", allow.toByteArray());
    return response;
}

QJsonObject channelJson(const Hub::ChannelInfo &info)
{
    return {{u"topic"_s, info.topic},
            {u"memberCount"_s, info.memberCount},
            {u"presenceKeys"_s, qint64(info.presenceKeys)},
            {u"presenceEntries"_s, qint64(info.presenceEntries)}};
}

} // namespace

struct HttpApi::Private
{
    Server &server;
    QHttpServer http;
    SessionIssuer sessions; // POST /api/session

    //! nullopt when the request may proceed; otherwise the 401 to send.
    std::optional<QHttpServerResponse> authorize(const QHttpServerRequest &request) const
    {
        const auto *verifier = server.verifier();
        if (!verifier)
            return std::nullopt;
        const auto header = request.value("Authorization");
        if (!header.startsWith("Bearer ") || header.size() <= 7)
            return errorResponse(Status::Unauthorized, Protocol::Errors::AuthTokenRequired,
                                 u"Missing authorization header: send Authorization: Bearer <token>"_s);
        const auto result = verifier->verify(header.mid(7).trimmed());
        if (!result.ok()) {
            logEvent(lcAuth(), QtInfoMsg, "auth.http_refused",
                     QJsonObject{{u"path"_s, request.url().path()},
                                 {u"code"_s, QString(result.error.code)}});
            return errorResponse(Status::Unauthorized, result.error.code, result.error.reason);
        }
        return std::nullopt;
    }

    //! Every request of a route: counts it, answers another method with 405, and checks the
    //! Bearer token of \a secured routes when auth is on.
    template<typename Handler>
    QHttpServerResponse serve(const QHttpServerRequest &request, Method method, bool secured,
                              const Handler &handler)
    {
        server.metrics().httpRequest();
        if (request.method() != method)
            return methodNotAllowed(method == Method::Get ? "GET" : "POST");
        if (secured) {
            if (auto refusal = authorize(request))
                return std::move(*refusal);
        }
        return handler(request);
    }

    template<typename Handler>
    void route(const char *path, Method method, bool secured, Handler handler)
    {
        http.route(QString::fromLatin1(path), [=, this](const QHttpServerRequest &request) {
            return serve(request, method, secured, handler);
        });
    }

    //! Paths with a parameter (`/api/channels/<topic>`) are matched here, on the still-encoded
    //! path: QHttpServer 6.4 decodes the path before routing, so a topic with an encoded '/'
    //! (%2F) would otherwise split into two segments and match nothing.
    struct PrefixRoute
    {
        QByteArray prefix;
        std::function<QHttpServerResponse(const QHttpServerRequest &)> handle;
    };
    std::vector<PrefixRoute> prefixRoutes;

    template<typename Handler>
    void prefixRoute(const char *prefix, Method method, bool secured, Handler handler)
    {
        prefixRoutes.push_back({QByteArray(prefix), [=, this](const QHttpServerRequest &request) {
                                    return serve(request, method, secured, handler);
                                }});
    }

    QHttpServerResponse health() const
    {
        const auto &hub = server.hub();
        return QHttpServerResponse(QJsonObject{
            {u"status"_s, u"healthy"_s},
            {u"version"_s, QStringLiteral(CONFAB_VERSION)},
            {u"uptimeSeconds"_s, server.uptimeSeconds()},
            {u"connections"_s, server.connectionCount()},
            {u"totalChannels"_s, qint64(hub.channelCount())},
            {u"totalMembers"_s, qint64(hub.membershipCount())},
            {u"auth"_s, server.authMode()},
            // Each dependency with its latency; the Redis backplane joins here when configured.
            {u"dependencies"_s, QJsonObject{{u"storage"_s, server.store().health()}}},
        });
    }

    QHttpServerResponse channels() const
    {
        QJsonArray list;
        for (const auto &info : server.hub().channels())
            list.append(channelJson(info));
        return QHttpServerResponse(QJsonObject{{u"channels"_s, list}, {u"count"_s, list.size()}});
    }

    QHttpServerResponse channel(const QHttpServerRequest &request) const
    {
        // The topic is the rest of the path, percent-decoded once ("room%3Ax" → "room:x"), so
        // topics containing '/' work when the client encodes it as %2F.
        const auto encoded = request.url().path(QUrl::FullyEncoded).toUtf8();
        const QByteArray prefix = "/api/channels/";
        const QString topic = QString::fromUtf8(QByteArray::fromPercentEncoding(encoded.mid(prefix.size())));
        if (topic.isEmpty() || topic.size() > Protocol::Bounds::MaxTopicLength)
            return errorResponse(Status::BadRequest, Protocol::Errors::InvalidTopic,
                                 u"topic must be 1 to %1 characters"_s.arg(Protocol::Bounds::MaxTopicLength));
        const auto &hub = server.hub();
        const auto info = hub.channel(topic).value_or(Hub::ChannelInfo{topic, 0, 0, 0});
        QJsonArray members;
        for (const auto &id : hub.memberClientIds(topic))
            members.append(QJsonObject{{u"clientId"_s, id}});
        QJsonObject presence;
        if (const auto *tracker = hub.presence(topic)) {
            for (const auto &key : tracker->keys())
                presence.insert(key, qint64(tracker->entries(key).size()));
        }
        auto body = channelJson(info);
        body.insert(u"members"_s, members);
        body.insert(u"presence"_s, presence);
        return QHttpServerResponse(body);
    }

    QHttpServerResponse broadcast(const QHttpServerRequest &request) const
    {
        const qint64 receivedAt = monotonicNs();
        QJsonParseError parseError;
        const auto doc = QJsonDocument::fromJson(request.body(), &parseError);
        if (parseError.error != QJsonParseError::NoError || !doc.isObject())
            return errorResponse(Status::BadRequest, "INVALID_BODY"_L1,
                                 u"Invalid request body: expected a JSON object {topic, event, payload}"_s);
        const auto body = doc.object();
        const auto topic = body.value("topic"_L1);
        const auto event = body.value("event"_L1);
        if (!topic.isString() || topic.toString().isEmpty() || !event.isString()
            || event.toString().isEmpty())
            return errorResponse(Status::BadRequest, "MISSING_FIELD"_L1, u"Missing topic or event"_s);
        if (topic.toString().size() > Protocol::Bounds::MaxTopicLength)
            return errorResponse(Status::BadRequest, Protocol::Errors::InvalidTopic,
                                 u"topic must be at most %1 characters"_s.arg(Protocol::Bounds::MaxTopicLength));
        if (event.toString().size() > Protocol::Bounds::MaxEventLength)
            return errorResponse(Status::BadRequest, Protocol::Errors::InvalidEvent,
                                 u"event must be at most %1 characters"_s.arg(Protocol::Bounds::MaxEventLength));
        const auto limit = server.config().limits.maxMessageBytes;
        if (request.body().size() > limit)
            return errorResponse(Status::PayloadTooLarge, Protocol::Errors::MessageTooLarge,
                                 u"A broadcast may be at most %1 bytes, like a WebSocket frame"_s.arg(limit));
        const int recipients = server.hub().broadcast(nullptr, topic.toString(), event.toString(),
                                                      body.value("payload"_L1), receivedAt);
        return QHttpServerResponse(QJsonObject{{u"status"_s, u"ok"_s}, {u"recipientCount"_s, recipients}});
    }
};

HttpApi::HttpApi(Server &server, QObject *parent) : QObject(parent), d(new Private{server, QHttpServer(), SessionIssuer(server.config().auth, server.config().limits), {}})
{
    d->route("/", Method::Get, false, [this](const QHttpServerRequest &) {
        return QHttpServerResponse(QJsonObject{{u"status"_s, u"ok"_s},
                                               {u"message"_s, u"Confab realtime server"_s},
                                               {u"version"_s, QStringLiteral(CONFAB_VERSION)},
                                               // Which sign-in form a client should offer.
                                               {u"auth"_s, d->server.authMode()}});
    });
    d->route("/health", Method::Get, false, [this](const QHttpServerRequest &) { return d->health(); });
    d->route("/metrics", Method::Get, true, [this](const QHttpServerRequest &) {
        return QHttpServerResponse("text/plain; version=0.0.4; charset=utf-8"_ba,
                                   d->server.prometheusMetrics());
    });
    d->route("/api/stats", Method::Get, true,
             [this](const QHttpServerRequest &) { return QHttpServerResponse(d->server.stats()); });
    d->route("/api/channels", Method::Get, true, [this](const QHttpServerRequest &) { return d->channels(); });
    d->prefixRoute("/api/channels/", Method::Get, true,
                   [this](const QHttpServerRequest &request) { return d->channel(request); });
    // Not secured: this is where a client without a token gets one.
    d->route("/api/session", Method::Post, false, [this](const QHttpServerRequest &request) {
        const auto outcome = d->sessions.issue(request.body(), request.remoteAddress(), monotonicNs() / 1'000'000);
        QHttpServerResponse response(outcome.body, Status(outcome.status));
        if (outcome.retryAfterSeconds > 0)
            response.setHeader("Retry-After", QByteArray::number(outcome.retryAfterSeconds));
        return response;
    });
    d->route("/api/broadcast", Method::Post, true,
             [this](const QHttpServerRequest &request) { return d->broadcast(request); });

    d->http.setMissingHandler([this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
        const auto encodedPath = request.url().path(QUrl::FullyEncoded).toUtf8();
        for (const auto &route : d->prefixRoutes) {
            if (encodedPath.startsWith(route.prefix) && encodedPath.size() > route.prefix.size()) {
                route.handle(request).write(std::move(responder));
                return;
            }
        }
        d->server.metrics().httpRequest();
        const QJsonObject error{{u"code"_s, u"NOT_FOUND"_s},
                                {u"message"_s, u"No route for %1"_s.arg(request.url().path())}};
        responder.write(QJsonDocument(QJsonObject{{u"error"_s, error}}).toJson(QJsonDocument::Compact),
                        "application/json"_ba, QHttpServerResponder::StatusCode::NotFound);
    });
}

HttpApi::~HttpApi() = default;

void HttpApi::bind(QTcpServer *listener)
{
    d->http.bind(listener);
}

} // namespace Confab::Server
