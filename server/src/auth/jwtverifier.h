#pragma once

#include "ops/serverconfig.h"

#include <QtCore/QDateTime>
#include <QtCore/QJsonObject>
#include <QtCore/QLatin1StringView>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <memory>
#include <optional>

namespace Confab::Server {

//! \brief What a verified token says about its bearer.
struct TokenClaims
{
    QString subject;                 //!< `sub`: the user id
    QString name;                    //!< `name`: display name (may be empty)
    QStringList channels;            //!< `channels`: topic patterns; empty = every topic
    std::optional<QDateTime> expiry; //!< `exp`, UTC; nullopt when the token has none
    bool admin = false;              //!< `admin: true`: the operator's rights (docs/protocol.md)
    QJsonObject claims;              //!< every claim, as sent
};

//! \brief Why a token was refused: an `AUTH_*` code (Protocol::Errors) and a reason for people.
struct AuthError
{
    QLatin1StringView code;
    QString reason;
};

//! \brief The outcome of JwtVerifier::verify().
struct VerifyResult
{
    std::optional<TokenClaims> claims;
    AuthError error; //!< meaningful only when !claims

    [[nodiscard]] bool ok() const { return claims.has_value(); }
};

//! \brief Verifies JWTs with cpp-jwt against the configured keys and algorithm allow-list.
//! Thread-safe after construction (verify() is const and keeps no state).
class JwtVerifier
{
public:
    //! \brief Builds a verifier, reading key files. Returns nullptr and sets \a error when the
    //! configuration cannot work (no key, unreadable PEM, unknown or unusable algorithm names).
    static std::unique_ptr<JwtVerifier> create(const AuthConfig &config, QString *error);
    ~JwtVerifier();

    //! \brief Checks signature, algorithm, `exp`, `nbf`, `iss` and `aud`.
    [[nodiscard]] VerifyResult verify(QByteArrayView token) const;

    //! \brief The algorithms this verifier accepts, e.g. {"HS256","HS384","HS512"}.
    [[nodiscard]] QStringList algorithms() const;

private:
    JwtVerifier();
    struct Private;
    std::unique_ptr<Private> d;
};

//! \brief True when \a topic is allowed by \a patterns: an empty list allows everything;
//! otherwise a pattern matches exactly, or with `*` standing for any run of characters.
[[nodiscard]] bool channelAllowed(const QStringList &patterns, QStringView topic);

//! \brief What `confab-server token` puts in a token.
struct MintRequest
{
    QString user;          //!< `sub`, required
    QString name;          //!< `name`, optional
    std::chrono::seconds ttl{24h};
    QStringList channels;  //!< `channels`, optional
    QString algorithm;     //!< empty = HS256 with a secret, else RS256/ES256 by the private key type
    bool admin = false;    //!< `admin: true`, the operator's rights
};

//! \brief Signs a token with the configured key (the secret, or AUTH_PRIVATE_KEY_FILE), adding
//! `iat`, `exp`, and `iss`/`aud` when configured. Returns the token, or empty and sets \a error.
[[nodiscard]] QByteArray mintToken(const AuthConfig &config, const MintRequest &request,
                                   QString *error);

} // namespace Confab::Server
