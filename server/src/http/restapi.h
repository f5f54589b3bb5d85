#pragma once

#include "auth/sessionissuer.h"
#include "engine/caller.h"
#include "engine/failure.h"
#include "ops/serverconfig.h"

#include <QtCore/QJsonObject>

#include <functional>

namespace Confab::Server {

class Hub;
class HttpRouter;
class HttpResponder;
class Metrics;
class MessageStore;
class Policy;
struct HttpRequest;
struct HttpResponse;

//! \brief What the REST routes need of the rest of the server.
struct RestContext
{
    const ServerConfig &config;
    Hub &hub;
    const Policy &policy;
    Metrics &metrics;
    MessageStore &store;
    std::function<QString()> authMode;
    std::function<int()> connectionCount;
    std::function<double()> uptimeSeconds;
    std::function<QJsonObject()> stats;
    std::function<QByteArray()> prometheus;
};

//! \brief The REST API (README "REST API"): `/`, `/health`, `/metrics`, `/api/stats`,
//! `/api/channels[/<topic>]`, `/api/session`, `/api/broadcast`.
//!
//! Two kinds of callers (docs/protocol.md "REST API callers"): users, whose token claims and
//! channel memberships apply exactly as on a WebSocket, and the operator (ADMIN_TOKEN, or a
//! token with `admin: true`), for stats, metrics, every channel and broadcasts anywhere. Both
//! are decided by the Policy; these routes only parse and encode.
class RestApi
{
public:
    RestApi(RestContext context, HttpRouter &router);

    //! \brief The caller of an HTTP request: its Bearer credential, then (open mode) a user it
    //! declares (`user` in the JSON body, or `?user=&name=`). Shared with the chat routes.
    [[nodiscard]] static Outcome<Caller> callerOf(const Policy &policy, const HttpRequest &request,
                                                  const QJsonObject &body = {});
    //! \brief callerOf(), or nullopt after answering the refusal on \a responder.
    [[nodiscard]] static std::optional<Caller> callerOrRefuse(const Policy &policy, const HttpRequest &request,
                                                              const HttpResponder &responder,
                                                              const QJsonObject &body = {});
    //! \brief A refusal as an HTTP error response.
    [[nodiscard]] static HttpResponse refusal(const Failure &failure);

    //! \brief `GET /metrics` and `GET /health` only, with no credential: the routes of the
    //! separate metrics address (METRICS_BIND).
    static void addMetricsRoutes(RestContext context, HttpRouter &router);

private:
    //! The operator routes: true when the caller is the operator, else the refusal is answered.
    [[nodiscard]] bool isOperator(const HttpRequest &request, const HttpResponder &responder) const;
    void health(const HttpResponder &responder) const;
    void channels(const HttpRequest &request, const HttpResponder &responder) const;
    void channel(const HttpRequest &request, const HttpResponder &responder) const;
    void broadcast(const HttpRequest &request, const HttpResponder &responder) const;

    RestContext m_context;
    SessionIssuer m_sessions; // POST /api/session
};

} // namespace Confab::Server
