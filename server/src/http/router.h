#pragma once

#include "http/message.h"

#include <QtCore/QObject>
#include <QtCore/QPointer>

#include <functional>
#include <map>
#include <vector>

namespace Confab::Server {

class HttpExchange;

//! \brief How a handler answers its request, now or later (after a store commit, a long-poll).
//!
//! A cheap handle: copy it into callbacks. Answering twice, or after the connection is gone
//! (client hung up, server shut down), does nothing.
class HttpResponder
{
public:
    HttpResponder() = default;
    explicit HttpResponder(HttpExchange *exchange);

    void respond(const HttpResponse &response) const;
    [[nodiscard]] bool isOpen() const;
    //! \brief An object that lives exactly as long as the request waits for its answer: the
    //! context for timers and callbacks that only matter to this request.
    [[nodiscard]] QObject *context() const;
    //! \brief Runs \a f when the request ends without reaching its handler's answer: the client
    //! hung up, or the connection was destroyed (shutdown). Not run after respond().
    void onAbandoned(std::function<void()> f) const;

private:
    QPointer<HttpExchange> m_exchange;
};

//! \brief One request waiting for its answer. Owned by its HttpConnection (one at a time: HTTP/1.1
//! answers in order, so the next request is read only after this one is answered).
class HttpExchange : public QObject
{
    Q_OBJECT
public:
    explicit HttpExchange(std::function<void(const HttpResponse &)> write);
    ~HttpExchange() override;

    void respond(const HttpResponse &response);
    [[nodiscard]] bool answered() const { return m_answered; }
    void addAbandonHook(std::function<void()> f) { m_onAbandoned.push_back(std::move(f)); }

private:
    std::function<void(const HttpResponse &)> m_write;
    std::vector<std::function<void()>> m_onAbandoned;
    bool m_answered = false;
};

//! \brief Every HTTP route of the server, on every connection (docs/protocol.md, README "REST
//! API"): exact paths and prefix paths (`/channels/<topic>/messages`), each with its methods.
//! Unknown paths get 404, other methods 405 with Allow.
class HttpRouter
{
public:
    using Handler = std::function<void(const HttpRequest &, const HttpResponder &)>;
    using Methods = std::map<QByteArray, Handler>; //!< "GET" → handler

    void route(const QByteArray &path, Methods methods);
    //! \brief Paths `<prefix><rest><suffix>` (rest possibly empty), matched on the still-encoded
    //! path; the handler finds the rest percent-decoded once in HttpRequest::pathRest.
    void prefixRoute(const QByteArray &prefix, const QByteArray &suffix, Methods methods);

    void dispatch(HttpRequest &request, const HttpResponder &responder) const;

private:
    struct Prefix
    {
        QByteArray prefix;
        QByteArray suffix;
        Methods methods;
    };
    static void call(const Methods &methods, const HttpRequest &request, const HttpResponder &responder);

    std::map<QByteArray, Methods> m_exact;
    std::vector<Prefix> m_prefixes;
};

} // namespace Confab::Server
