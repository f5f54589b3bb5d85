#include "http/router.h"

#include <QtCore/QStringDecoder>

using namespace Qt::StringLiterals;

namespace Confab::Server {

// ---- HttpExchange / HttpResponder ----------------------------------------------------------------

HttpExchange::HttpExchange(std::function<void(const HttpResponse &)> write) : m_write(std::move(write)) {}

HttpExchange::~HttpExchange()
{
    if (m_answered)
        return;
    for (const auto &f : m_onAbandoned)
        f();
}

void HttpExchange::respond(const HttpResponse &response)
{
    if (m_answered)
        return;
    m_answered = true;
    m_onAbandoned.clear();
    m_write(response); // may destroy this exchange: nothing after it
}

HttpResponder::HttpResponder(HttpExchange *exchange) : m_exchange(exchange) {}

void HttpResponder::respond(const HttpResponse &response) const
{
    if (m_exchange)
        m_exchange->respond(response);
}

bool HttpResponder::isOpen() const
{
    return m_exchange && !m_exchange->answered();
}

QObject *HttpResponder::context() const
{
    return m_exchange.data();
}

void HttpResponder::onAbandoned(std::function<void()> f) const
{
    if (m_exchange && !m_exchange->answered())
        m_exchange->addAbandonHook(std::move(f));
}

// ---- HttpRouter ------------------------------------------------------------------------------

void HttpRouter::route(const QByteArray &path, Methods methods)
{
    m_exact[path] = std::move(methods);
}

void HttpRouter::prefixRoute(const QByteArray &prefix, const QByteArray &suffix, Methods methods)
{
    m_prefixes.push_back({prefix, suffix, std::move(methods)});
}

void HttpRouter::call(const Methods &methods, const HttpRequest &request, const HttpResponder &responder)
{
    const auto it = methods.find(request.method());
    if (it != methods.end()) {
        it->second(request, responder);
        return;
    }
    QByteArray allowed;
    for (const auto &[method, handler] : methods) {
        Q_UNUSED(handler);
        if (!allowed.isEmpty())
            allowed += ", ";
        allowed += method;
    }
    responder.respond(HttpResponse::methodNotAllowed(allowed));
}

void HttpRouter::dispatch(HttpRequest &request, const HttpResponder &responder) const
{
    const auto &path = request.path();
    if (const auto it = m_exact.find(path); it != m_exact.end()) {
        call(it->second, request, responder);
        return;
    }
    for (const auto &p : m_prefixes) {
        // An empty rest still matches, so that the handler can say what is wrong with it.
        if (path.size() >= p.prefix.size() + p.suffix.size() && path.startsWith(p.prefix) && path.endsWith(p.suffix)) {
            const auto rest = path.mid(p.prefix.size(), path.size() - p.prefix.size() - p.suffix.size());
            QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
            request.pathRest = utf8(QByteArray::fromPercentEncoding(rest));
            if (utf8.hasError()) {
                // Decoding would swap the bad bytes for U+FFFD: a different name than the one sent.
                responder.respond(HttpResponse::error(400, "INVALID_PATH"_L1,
                                                      u"The path is not valid UTF-8 once percent-decoded"_s));
                return;
            }
            call(p.methods, request, responder);
            return;
        }
    }
    responder.respond(HttpResponse::error(404, "NOT_FOUND"_L1,
                                          u"No route for %1"_s.arg(QString::fromUtf8(path))));
}

} // namespace Confab::Server
