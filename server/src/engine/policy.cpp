#include "engine/policy.h"

#include "auth/jwtverifier.h"
#include "ops/logging.h"
#include "storage/messagestore.h"

#include <ConfabProtocol/codes.h>
#include <ConfabProtocol/frame.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QMessageAuthenticationCode>
#include <QtCore/QRegularExpression>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;

namespace {

// Presence keys are repeated in every presence frame; keep them identifiers.
constexpr qsizetype MaxPresenceKeyLength = 255;

bool isValidDevice(QStringView device)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(uR"([A-Za-z0-9_.\-]{1,64})"_s));
    return re.match(device.toString()).hasMatch();
}

//! Compares in time independent of where the two differ: both are hashed first.
bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    const auto ha = QCryptographicHash::hash(a, QCryptographicHash::Sha256);
    const auto hb = QCryptographicHash::hash(b, QCryptographicHash::Sha256);
    unsigned char diff = 0;
    for (qsizetype i = 0; i < ha.size(); ++i)
        diff |= static_cast<unsigned char>(ha[i] ^ hb[i]);
    return diff == 0;
}

//! Every refusal of the policy is logged once, here, whichever door asked.
std::optional<Failure> deny(const Caller &caller, const QString &topic, QLatin1StringView code, const QString &message)
{
    QJsonObject fields{{u"origin"_s, caller.origin}, {u"code"_s, QString(code)}};
    if (caller.user)
        fields.insert(u"user"_s, caller.user->id);
    if (!topic.isEmpty())
        fields.insert(u"topic"_s, topic);
    logEvent(lcAuth(), QtInfoMsg, "auth.denied", fields);
    return Failure{code, message, {}};
}

} // namespace

Policy::Policy(const ServerConfig &config, const JwtVerifier *verifier, MessageStore &store)
    : m_config(config), m_verifier(verifier), m_store(store)
{
}

Outcome<Caller> Policy::fromToken(QByteArrayView token, const QString &origin) const
{
    const Caller anonymous{std::nullopt, {}, std::nullopt, false, false, origin};
    if (!m_verifier) {
        // Open mode: tokens mean nothing; the caller is whoever they declare.
        return {anonymous, {}};
    }
    if (token.isEmpty()) {
        const auto f = deny(anonymous, {}, Err::AuthTokenRequired, u"Access token required"_s);
        return {std::nullopt, *f};
    }
    auto result = m_verifier->verify(token);
    if (!result.ok()) {
        const auto f = deny(anonymous, {}, result.error.code, result.error.reason);
        return {std::nullopt, *f};
    }
    const auto &claims = *result.claims;
    if (!isValidUserId(claims.subject)) {
        const auto f = deny(anonymous, {}, Err::AuthInvalidToken,
                            u"Invalid token: sub must be a user id of 1-64 of A-Z a-z 0-9 _ . -"_s);
        return {std::nullopt, *f};
    }
    QString name = claims.name.isEmpty() ? claims.subject : claims.name;
    if (!isValidUserName(name))
        name = claims.subject; // a display name with control characters is not shown to anyone
    Caller caller;
    caller.user = ChatUser{claims.subject, name};
    caller.channels = claims.channels;
    caller.expiry = claims.expiry;
    caller.verified = true;
    caller.admin = claims.admin;
    caller.origin = origin;
    return {caller, {}};
}

Outcome<Caller> Policy::fromBearer(QByteArrayView header, const QString &origin) const
{
    const Caller anonymous{std::nullopt, {}, std::nullopt, false, false, origin};
    if (header.isEmpty()) {
        if (m_verifier) {
            const auto f = deny(anonymous, {}, Err::AuthTokenRequired,
                                u"Missing authorization header: send Authorization: Bearer <token>"_s);
            return {std::nullopt, *f};
        }
        return {anonymous, {}};
    }
    if (!header.startsWith("Bearer ") || header.size() <= 7) {
        const auto f = deny(anonymous, {}, Err::AuthTokenRequired,
                            u"Malformed authorization header: send Authorization: Bearer <token>"_s);
        return {std::nullopt, *f};
    }
    const auto token = header.sliced(7).toByteArray().trimmed();
    const auto &adminToken = m_config.auth.adminToken;
    if (!adminToken.isEmpty() && constantTimeEquals(token, adminToken)) {
        Caller op = anonymous;
        op.admin = true;
        op.verified = true;
        return {op, {}};
    }
    if (!m_verifier) {
        // Open mode with an admin token configured: anything else is a wrong admin token.
        const auto f = deny(anonymous, {}, Err::AuthInvalidToken, u"Invalid token"_s);
        return {std::nullopt, *f};
    }
    return fromToken(token, origin);
}

Outcome<Caller> Policy::withDeclaredUser(const Caller &base, const QJsonObject &declared) const
{
    if (m_verifier || declared.isEmpty())
        return {base, {}};
    const auto user = readUser(declared);
    if (!user)
        return Outcome<Caller>::fail(Err::InvalidPayload,
                                     u"user needs an id of 1-64 of A-Z a-z 0-9 _ . - and a name of at most 100 characters"_s);
    Caller caller = base;
    caller.user = *user;
    return {caller, {}};
}

std::optional<Failure> Policy::checkTopic(const QString &topic)
{
    if (!Protocol::isValidTopic(topic) || topic == Protocol::Topics::System)
        return Failure{Err::InvalidTopic,
                       u"A channel is a name of 1 to %1 characters without control characters"_s.arg(
                           Protocol::Bounds::MaxTopicLength),
                       {}};
    if (!topicKind(topic).valid)
        return Failure{Err::InvalidTopic, u"DM topics are dm:<lower id>:<higher id>"_s, {}};
    return std::nullopt;
}

std::optional<Failure> Policy::mayName(const Caller &caller, const QString &topic) const
{
    if (auto invalid = checkTopic(topic))
        return invalid;
    if (caller.admin)
        return std::nullopt;
    if (m_verifier) {
        if (!caller.verified)
            return deny(caller, topic, Err::AuthTokenRequired, u"Access token required"_s);
        if (!channelAllowed(caller.channels, topic))
            return deny(caller, topic, Err::AuthChannelDenied, u"Access denied to this channel"_s);
    }
    return std::nullopt;
}

void Policy::authorize(const Caller &caller, const QString &topic, Right right, const QObject *context,
                       Decision done) const
{
    Q_UNUSED(right); // today every right follows the same rules per channel kind
    if (auto denied = mayName(caller, topic)) {
        done(denied);
        return;
    }
    if (caller.admin) {
        done(std::nullopt);
        return;
    }
    const auto kind = topicKind(topic);
    if (kind.type == "public"_L1) {
        done(std::nullopt);
        return;
    }
    if (!caller.user) {
        done(deny(caller, topic, Err::IdentityRequired,
                  u"Say who you are (hello, a user, or a token) to use a private channel or DM"_s));
        return;
    }
    if (kind.type == "dm"_L1) {
        if (kind.dmUsers.contains(caller.user->id))
            done(std::nullopt);
        else
            done(deny(caller, topic, Err::Forbidden, u"Only its two users may use a direct-message channel"_s));
        return;
    }
    // Private: the store knows the members.
    m_store.access(context, topic, caller.user->id, [caller, topic, done](const StoreResult<ChannelAccess> &access) {
        if (!access.ok())
            done(storeFailure(access.error, access.message));
        else if (!access.value.exists)
            done(deny(caller, topic, Err::NotFound, u"No such private channel; create it with channel:create"_s));
        else if (!access.value.allowed)
            done(deny(caller, topic, Err::Forbidden, u"Only its members may use this channel"_s));
        else
            done(std::nullopt);
    });
}

void Policy::memberMayRead(const QString &userId, const QString &topic, const QObject *context,
                           std::function<void(bool)> done) const
{
    const auto kind = topicKind(topic);
    if (!kind.valid) {
        done(false);
        return;
    }
    if (kind.type == "public"_L1) {
        done(true);
        return;
    }
    if (kind.type == "dm"_L1) {
        done(kind.dmUsers.contains(userId));
        return;
    }
    m_store.access(context, topic, userId, [done](const StoreResult<ChannelAccess> &access) {
        done(access.ok() && access.value.exists && access.value.allowed);
    });
}

bool Policy::isOperator(const Caller &caller) const
{
    // Open mode without an admin token: a trusted LAN, where everyone is the operator.
    return caller.admin || (!m_verifier && m_config.auth.adminToken.isEmpty());
}

std::optional<Failure> Policy::mayOperate(const Caller &caller) const
{
    if (isOperator(caller))
        return std::nullopt;
    if (!caller.verified)
        return deny(caller, {}, Err::AuthTokenRequired,
                    u"An operator route: send Authorization: Bearer <ADMIN_TOKEN> (or a token with admin: true)"_s);
    return deny(caller, {}, Err::Forbidden,
                u"An operator route: needs the admin token or a token with admin: true"_s);
}

Outcome<QString> Policy::presenceKey(const Caller &caller, const std::optional<QString> &requested,
                                     const QString &fallback) const
{
    if (requested && (requested->size() > MaxPresenceKeyLength || !QStringView(*requested).isValidUtf16()))
        return Outcome<QString>::fail(Err::InvalidPayload,
                                      u"presence key must be at most %1 characters"_s.arg(MaxPresenceKeyLength));
    if (!m_verifier || caller.admin)
        return {requested.value_or(fallback), {}};
    if (!caller.user)
        return Outcome<QString>::fail(Err::IdentityRequired, u"Presence needs a signed-in user"_s);
    const auto &id = caller.user->id;
    if (!requested || requested->isEmpty() || *requested == id)
        return {id, {}};
    if (requested->startsWith(id + u'/') && isValidDevice(QStringView(*requested).sliced(id.size() + 1)))
        return {*requested, {}};
    deny(caller, {}, Err::Forbidden, u"presence key not the caller's"_s);
    return Outcome<QString>::fail(Err::Forbidden,
                                  u"A presence key is your user id (%1) or %1/<device>"_s.arg(id));
}

} // namespace Confab::Server
