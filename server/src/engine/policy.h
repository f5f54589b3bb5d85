#pragma once

#include "engine/caller.h"
#include "engine/failure.h"
#include "ops/serverconfig.h"

#include <QtCore/QByteArrayView>
#include <QtCore/QJsonObject>

#include <functional>
#include <optional>

class QObject;

namespace Confab::Server {

class JwtVerifier;
class MessageStore;

//! \brief The one authorization policy (docs/protocol.md "Channel kinds and access", "REST API
//! callers"): every door turns credentials into a Caller here and asks here whether that caller
//! may read, post or see presence in a channel, and whether it may use the operator routes.
//!
//! Rules, in order, for a channel:
//! 1. the topic must be a valid name (and a DM name must be `dm:<a>:<b>` with a < b);
//! 2. the operator may use every channel;
//! 3. JWT mode: a verified token is required, and its `channels` claim must match the topic;
//! 4. public channels: allowed; DMs: only their two users; private channels: only members
//!    (asked of the store).
//! Refusals are logged (category confab.server.auth) with the caller's origin and the code.
//!
//! Lifetime: owned by the Server; outlives the doors and the chat service that call it.
class Policy
{
public:
    Policy(const ServerConfig &config, const JwtVerifier *verifier, MessageStore &store);

    //! \brief JWT mode (a verifier is configured): every caller needs a token.
    [[nodiscard]] bool tokensRequired() const { return m_verifier != nullptr; }

    //! \name Credentials → callers
    //! @{
    //! \brief A JWT (a join's `access_token`, `hello`, a Bearer header). Refuses an empty token
    //! (AUTH_TOKEN_REQUIRED), one that does not verify (AUTH_*), and a `sub` that is not a valid
    //! user id (AUTH_INVALID_TOKEN): a subject becomes a DM name, a mention and a presence key.
    [[nodiscard]] Outcome<Caller> fromToken(QByteArrayView token, const QString &origin) const;
    //! \brief An `Authorization` header value. `Bearer <ADMIN_TOKEN>` is the operator;
    //! otherwise a JWT in JWT mode. Without a header: AUTH_TOKEN_REQUIRED in JWT mode, an
    //! anonymous caller in open mode (who may then declare a user with fromDeclared()).
    [[nodiscard]] Outcome<Caller> fromBearer(QByteArrayView header, const QString &origin) const;
    //! \brief Open mode: a self-declared `{id, name}` on top of \a base (an anonymous caller or
    //! the operator). In JWT mode a declared user is ignored and \a base returned unchanged.
    [[nodiscard]] Outcome<Caller> withDeclaredUser(const Caller &base, const QJsonObject &declared) const;
    //! @}

    //! \name Authorization
    //! @{
    using Decision = std::function<void(const std::optional<Failure> &)>;
    //! \brief Whether \a caller may use \a topic for \a right. \a done is called with nullopt
    //! (allowed) or the refusal; at once, except for private channels, which the store decides
    //! (then on \a context's thread, and never if \a context is destroyed first).
    void authorize(const Caller &caller, const QString &topic, Right right, const QObject *context,
                   Decision done) const;
    //! \brief Rules 1-3 alone (name, operator, token claims), for a channel that may not exist
    //! yet (`channel:create`, `channel:invite`): nullopt when the caller may name \a topic.
    [[nodiscard]] std::optional<Failure> mayName(const Caller &caller, const QString &topic) const;
    //! \brief Whether user \a userId may read \a topic by membership alone (for mentions: the
    //! user's own token claims are not known here). Same timing as authorize().
    void memberMayRead(const QString &userId, const QString &topic, const QObject *context,
                       std::function<void(bool)> done) const;
    //! \brief Whether \a caller has the operator's rights (see mayOperate()), without logging.
    [[nodiscard]] bool isOperator(const Caller &caller) const;
    //! \brief The operator routes: nullopt when allowed, else AUTH_TOKEN_REQUIRED (no credential)
    //! or FORBIDDEN (a user's credential).
    [[nodiscard]] std::optional<Failure> mayOperate(const Caller &caller) const;
    //! \brief The presence key \a caller tracks under, given what it asked for (nullopt: nothing)
    //! and the door's default. In JWT mode a key is the caller's user id or `<id>/<device>`
    //! (device: 1-64 of A-Z a-z 0-9 _ . -); nothing or an empty key means the user id. In open
    //! mode any key up to 255 characters.
    [[nodiscard]] Outcome<QString> presenceKey(const Caller &caller, const std::optional<QString> &requested,
                                               const QString &fallback) const;
    //! \brief The topic-name rules alone (rule 1): nullopt when valid.
    [[nodiscard]] static std::optional<Failure> checkTopic(const QString &topic);
    //! @}

private:
    const ServerConfig &m_config;
    const JwtVerifier *m_verifier;
    MessageStore &m_store;
};

} // namespace Confab::Server
