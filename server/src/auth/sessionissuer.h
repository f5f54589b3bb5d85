#pragma once

#include "ops/ratelimiter.h"
#include "ops/serverconfig.h"

#include <QtCore/QByteArray>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtNetwork/QHostAddress>

namespace Confab::Server {

//! \brief `POST /api/session` (docs/protocol.md "LAN sign-in"): a name and the join password in,
//! a signed JWT out. Knows nothing of HTTP transport; HttpApi turns an Outcome into a response.
//!
//! Wrong passwords are counted per address (Limits::sessionFailuresPerMinute, a token bucket):
//! once an address is out of attempts it gets 429 with Retry-After, even for the right password,
//! so guessing cannot continue at full speed.
class SessionIssuer
{
public:
    //! \brief \a auth must already hold the signing key (Server::start() makes one if needed).
    SessionIssuer(const AuthConfig &auth, const Limits &limits);

    struct Outcome
    {
        int status = 200;
        QJsonObject body;          //!< the answer, or `{"error":{code,message}}`
        qint64 retryAfterSeconds = 0; //!< > 0 with 429
    };

    //! \brief Answers one request with JSON \a body from \a peer at \a nowMs (monotonic).
    [[nodiscard]] Outcome issue(const QByteArray &body, const QHostAddress &peer, qint64 nowMs);

    //! \brief The user id for a display name: lowercase ASCII letters, digits and `_ . -`, at most
    //! 64; accents are dropped ("Jörg Müller" → "jorg_muller"). A name with no such character at
    //! all gets `u-` and 12 hex digits of its SHA-256, so it is still stable.
    [[nodiscard]] static QString userIdForName(const QString &name);
    //! \brief Compares in time independent of where they differ (both are hashed first).
    [[nodiscard]] static bool passwordMatches(const QString &given, const QString &expected);

private:
    struct Failures
    {
        TokenBucket bucket;
        qint64 lastMs = 0;
    };
    void prune(qint64 nowMs);

    AuthConfig m_auth;
    int m_failuresPerMinute;
    QHash<QHostAddress, Failures> m_failures;
};

} // namespace Confab::Server
