#include "auth/sessionissuer.h"

#include "auth/identity.h"
#include "auth/jwtverifier.h"
#include "ops/logging.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QJsonDocument>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// The same bound as a self-declared chat name (docs/protocol.md "Identity").
constexpr qsizetype MaxNameLength = 100;
// Passwords are typed by people; anything longer is not a password but an attempt to make the
// server hash megabytes.
constexpr qsizetype MaxPasswordLength = 1024;
// Addresses remembered at once; beyond it, those whose bucket has refilled are forgotten.
constexpr qsizetype MaxTrackedAddresses = 4096;
constexpr qsizetype MaxUserIdLength = 64;

SessionIssuer::Outcome error(int status, QLatin1StringView code, const QString &message)
{
    return {status, QJsonObject{{u"error"_s, QJsonObject{{u"code"_s, QString(code)}, {u"message"_s, message}}}}, 0};
}

//! Whose failures an address counts toward.
QHostAddress normalized(const QHostAddress &address)
{
    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; count them as the IPv4 address.
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        return QHostAddress(v4);
    // One IPv6 host usually owns a whole /64 and can pick any address in it at will.
    Q_IPV6ADDR v6 = address.toIPv6Address();
    for (int i = 8; i < 16; ++i)
        v6[i] = 0;
    return QHostAddress(v6);
}

} // namespace

SessionIssuer::SessionIssuer(const AuthConfig &auth, const Limits &limits)
    : m_auth(auth), m_failuresPerMinute(limits.sessionFailuresPerMinute)
{
}

QString SessionIssuer::userIdForName(const QString &name)
{
    QString id;
    bool pendingSeparator = false;
    for (const QChar c : name.normalized(QString::NormalizationForm_KD).toLower()) {
        if (c.category() == QChar::Mark_NonSpacing)
            continue; // the accent of a decomposed letter
        const char16_t u = c.unicode();
        const bool keep = (u >= u'a' && u <= u'z') || (u >= u'0' && u <= u'9') || u == u'_' || u == u'.' || u == u'-';
        if (!keep) {
            pendingSeparator = true;
            continue;
        }
        if (pendingSeparator && !id.isEmpty())
            id += u'_';
        pendingSeparator = false;
        id += c;
    }
    if (id.size() > MaxUserIdLength)
        id.truncate(MaxUserIdLength);
    if (id.isEmpty()) {
        const auto hash = QCryptographicHash::hash(name.toUtf8(), QCryptographicHash::Sha256).toHex();
        id = u"u-"_s + QString::fromLatin1(hash.left(12));
    }
    return id;
}

bool SessionIssuer::passwordMatches(const QString &given, const QString &expected)
{
    // Hashing first gives both sides the same length, so neither the length of the password
    // nor the position of the first wrong character shows in the time taken.
    const QByteArray a = QCryptographicHash::hash(given.toUtf8(), QCryptographicHash::Sha256);
    const QByteArray b = QCryptographicHash::hash(expected.toUtf8(), QCryptographicHash::Sha256);
    unsigned char difference = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        difference |= static_cast<unsigned char>(a[i] ^ b[i]);
    return difference == 0;
}

void SessionIssuer::prune(qint64 nowMs)
{
    if (m_failures.size() < MaxTrackedAddresses)
        return;
    // After a minute without failures a bucket is full again: forgetting it changes nothing.
    for (auto it = m_failures.begin(); it != m_failures.end();) {
        if (nowMs - it->lastMs >= 60'000)
            it = m_failures.erase(it);
        else
            ++it;
    }
    if (m_failures.size() < MaxTrackedAddresses)
        return;
    // Still full (failures from thousands of addresses within a minute): forget the quietest,
    // so memory stays bounded; that address only gets its attempts back early.
    auto oldest = m_failures.begin();
    for (auto it = m_failures.begin(); it != m_failures.end(); ++it) {
        if (it->lastMs < oldest->lastMs)
            oldest = it;
    }
    m_failures.erase(oldest);
}

SessionIssuer::Outcome SessionIssuer::issue(const QByteArray &body, const QHostAddress &peerAddress, qint64 nowMs)
{
    namespace Err = Protocol::Errors;
    if (m_auth.joinPassword.isEmpty())
        return error(404, "NOT_ENABLED"_L1,
                     u"This server has no join password; sign in with a token from its administrator"_s);

    const QHostAddress peer = normalized(peerAddress);
    auto failures = m_failures.find(peer);
    if (failures != m_failures.end()) {
        if (const qint64 waitMs = failures->bucket.retryAfterMs(nowMs); waitMs > 0) {
            auto outcome = error(429, "TOO_MANY_ATTEMPTS"_L1,
                                 u"Too many wrong passwords from this address; try again later"_s);
            outcome.retryAfterSeconds = (waitMs + 999) / 1000;
            return outcome;
        }
    }

    QJsonParseError parseError;
    const auto doc = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject())
        return error(400, "INVALID_BODY"_L1, u"Expected a JSON object {name, password, user?}"_s);
    const QJsonObject request = doc.object();
    const QJsonValue nameValue = request.value("name"_L1);
    const QJsonValue passwordValue = request.value("password"_L1);
    if (!nameValue.isString() || !passwordValue.isString())
        return error(400, "MISSING_FIELD"_L1, u"name and password are required strings"_s);
    const QString name = nameValue.toString().trimmed();
    if (name.isEmpty() || name.size() > MaxNameLength)
        return error(400, Err::InvalidPayload, u"name must be 1 to %1 characters"_s.arg(MaxNameLength));
    for (const QChar c : name) {
        if (c.category() == QChar::Other_Control)
            return error(400, Err::InvalidPayload, u"name must not contain control characters"_s);
    }
    QString userId;
    if (request.contains("user"_L1)) {
        const QJsonValue user = request.value("user"_L1);
        if (!user.isString() || !isValidUserId(user.toString()))
            return error(400, Err::InvalidId, u"user must be 1 to 64 characters of A-Z a-z 0-9 _ . -"_s);
        userId = user.toString();
    } else {
        userId = userIdForName(name);
    }
    const QString password = passwordValue.toString();

    if (password.size() > MaxPasswordLength || !passwordMatches(password, m_auth.joinPassword)) {
        prune(nowMs);
        auto it = m_failures.find(peer);
        if (it == m_failures.end())
            it = m_failures.insert(peer, Failures{TokenBucket(m_failuresPerMinute, nowMs), nowMs});
        it->bucket.tryTake(nowMs);
        it->lastMs = nowMs;
        logEvent(lcAuth(), QtInfoMsg, "auth.session_refused",
                 {{u"peer"_s, peer.toString()}, {u"code"_s, u"INVALID_CREDENTIALS"_s}});
        return error(401, "INVALID_CREDENTIALS"_L1, u"Wrong join password"_s);
    }

    MintRequest mint;
    mint.user = userId;
    mint.name = name;
    mint.ttl = m_auth.sessionTtl;
    QString mintError;
    const QByteArray token = mintToken(m_auth, mint, &mintError);
    if (token.isEmpty()) {
        logEvent(lcAuth(), QtCriticalMsg, "auth.session_sign_failed", {{u"error"_s, mintError}});
        return error(500, "SIGNING_FAILED"_L1, u"The server could not sign a token: %1"_s.arg(mintError));
    }
    logEvent(lcAuth(), QtInfoMsg, "auth.session_issued",
             {{u"peer"_s, peer.toString()}, {u"user"_s, userId}, {u"ttlSeconds"_s, qint64(mint.ttl.count())}});
    return {201,
            QJsonObject{{u"token"_s, QString::fromLatin1(token)},
                        {u"user"_s, QJsonObject{{u"id"_s, userId}, {u"name"_s, name}}},
                        {u"expires_in"_s, qint64(mint.ttl.count())}},
            0};
}

} // namespace Confab::Server
