#include "auth/jwtverifier.h"

#include "ConfabProtocol/codes.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QMessageAuthenticationCode>

#include <jwt/jwt.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace Confab::Server {

using namespace Qt::StringLiterals;
namespace Errors = Confab::Protocol::Errors;

namespace {

// RS384/512 and ES384/512 would work with cpp-jwt, but the spec only promises these; anything
// else in AUTH_ALGORITHMS is a typo worth stopping for.
constexpr std::array KnownAlgorithms{"HS256"_L1, "HS384"_L1, "HS512"_L1, "RS256"_L1, "ES256"_L1};
const QStringList HmacAlgorithms{u"HS256"_s, u"HS384"_s, u"HS512"_s};

enum class KeyKind { Rsa, EcP256, Unsupported };

struct PkeyDeleter
{
    void operator()(EVP_PKEY *key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct BioDeleter
{
    void operator()(BIO *bio) const { BIO_free_all(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

bool isHmac(QStringView algorithm)
{
    return algorithm.startsWith(u"HS");
}

// Without this OpenSSL's default callback would prompt on the terminal for an encrypted key.
int noPassphrase(char *, int, int, void *)
{
    return 0;
}

KeyKind keyKind(EVP_PKEY *key)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        return KeyKind::Rsa;
    case EVP_PKEY_EC: {
        std::array<char, 80> group{};
        size_t length = 0;
        if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1)
            return KeyKind::Unsupported;
        const int nid = OBJ_txt2nid(group.data());
        const bool p256 = nid == NID_X9_62_prime256v1
                          || EC_curve_nist2nid(group.data()) == NID_X9_62_prime256v1;
        return p256 ? KeyKind::EcP256 : KeyKind::Unsupported;
    }
    default:
        return KeyKind::Unsupported;
    }
}

struct PemKey
{
    std::string pem;
    KeyKind kind = KeyKind::Unsupported;
};

enum class PemType { Public, Private };

//! \brief Reads and parses a PEM key file, so a bad file stops startup instead of every join.
std::optional<PemKey> loadPem(const QString &path, PemType type, QString *error)
{
    const QString what = type == PemType::Public ? u"public key"_s : u"private key"_s;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = u"cannot read %1 file %2: %3"_s.arg(what, path, file.errorString());
        return std::nullopt;
    }
    PemKey key;
    key.pem = file.readAll().toStdString();

    BioPtr bio(BIO_new_mem_buf(key.pem.data(), static_cast<int>(key.pem.size())));
    PkeyPtr pkey;
    if (bio) {
        pkey.reset(type == PemType::Public
                       ? PEM_read_bio_PUBKEY(bio.get(), nullptr, noPassphrase, nullptr)
                       : PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
    }
    // The queue is per thread and shared with QSslSocket; leave nothing behind for it to misread.
    ERR_clear_error();
    if (!pkey) {
        *error = type == PemType::Public
                     ? u"%1 is not a PEM public key (-----BEGIN PUBLIC KEY-----)"_s.arg(path)
                     : u"%1 is not an unencrypted PEM private key"_s.arg(path);
        return std::nullopt;
    }
    key.kind = keyKind(pkey.get());
    if (key.kind == KeyKind::Unsupported) {
        *error = u"%1 %2 is neither RSA nor EC P-256"_s.arg(what, path);
        return std::nullopt;
    }
    return key;
}

QString algorithmFor(KeyKind kind)
{
    return kind == KeyKind::Rsa ? u"RS256"_s : u"ES256"_s;
}

// JWS segments are unpadded base64url (RFC 7515 §2); a length of 4n+1 cannot come from any input.
bool isBase64Url(std::string_view segment)
{
    if (segment.size() % 4 == 1)
        return false;
    for (const char c : segment) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                        || c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

std::optional<nlohmann::json> decodeJsonSegment(std::string_view segment)
{
    const QByteArray raw = QByteArray::fromRawData(segment.data(), qsizetype(segment.size()));
    const auto decoded = QByteArray::fromBase64Encoding(
        raw, QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return std::nullopt;
    auto json = nlohmann::json::parse(decoded.decoded.cbegin(), decoded.decoded.cend(), nullptr,
                                      false);
    if (json.is_discarded() || !json.is_object())
        return std::nullopt;
    return json;
}

// cpp-jwt reads NumericDates as uint64_t, so a negative or fractional value would wrap or be
// truncated into a date nobody meant; only plain non-negative integers get that far.
bool isNumericDate(const nlohmann::json &value)
{
    return value.is_number_unsigned()
           && value.get<std::uint64_t>()
                  <= static_cast<std::uint64_t>(std::numeric_limits<qint64>::max());
}

bool isStringArray(const nlohmann::json &value)
{
    if (!value.is_array())
        return false;
    for (const auto &entry : value) {
        if (!entry.is_string())
            return false;
    }
    return true;
}

QStringList toStringList(const nlohmann::json &array)
{
    QStringList list;
    list.reserve(qsizetype(array.size()));
    for (const auto &entry : array)
        list.append(QString::fromStdString(entry.get<std::string>()));
    return list;
}

VerifyResult failure(QLatin1StringView code, const QString &reason)
{
    return VerifyResult{std::nullopt, AuthError{code, reason}};
}

VerifyResult invalidToken()
{
    return failure(Errors::AuthInvalidToken, u"Invalid token"_s);
}

VerifyResult claimInvalid()
{
    return failure(Errors::AuthClaimInvalid, u"Token validation failed"_s);
}

VerifyResult badSignature()
{
    return failure(Errors::AuthInvalidSignature, u"Invalid signature"_s);
}

} // namespace

struct JwtVerifier::Private
{
    std::string secret;
    std::string publicKeyPem;
    QStringList algorithms;
    std::optional<std::string> issuer;
    std::optional<std::string> audience;

    [[nodiscard]] VerifyResult verify(std::string_view token) const;
    [[nodiscard]] bool audienceMatches(const nlohmann::json &aud) const;
};

JwtVerifier::JwtVerifier()
    : d(std::make_unique<Private>())
{
}

JwtVerifier::~JwtVerifier() = default;

std::unique_ptr<JwtVerifier> JwtVerifier::create(const AuthConfig &config, QString *error)
{
    QString scratch;
    if (!error)
        error = &scratch;

    if (config.secret.isEmpty() && config.publicKeyFile.isEmpty()) {
        *error = u"authentication needs a secret (AUTH_SECRET) or a public key "
                 "(AUTH_PUBLIC_KEY_FILE)"_s;
        return nullptr;
    }

    std::unique_ptr<JwtVerifier> verifier(new JwtVerifier);
    Private &d = *verifier->d;

    QStringList verifiable;
    if (!config.secret.isEmpty()) {
        d.secret = config.secret.toStdString();
        verifiable = HmacAlgorithms;
    }
    if (!config.publicKeyFile.isEmpty()) {
        const auto key = loadPem(config.publicKeyFile, PemType::Public, error);
        if (!key)
            return nullptr;
        d.publicKeyPem = key->pem;
        verifiable.append(algorithmFor(key->kind));
    }

    for (const QString &entry : config.algorithms) {
        const QString name = entry.trimmed().toUpper();
        if (name.isEmpty())
            continue;
        if (name == "NONE"_L1) {
            *error = u"algorithm \"none\" is never accepted: unsigned tokens prove nothing"_s;
            return nullptr;
        }
        if (std::find(KnownAlgorithms.begin(), KnownAlgorithms.end(), name)
            == KnownAlgorithms.end()) {
            *error = u"unknown JWT algorithm \"%1\" (supported: HS256, HS384, HS512, RS256, "
                     "ES256)"_s.arg(entry.trimmed());
            return nullptr;
        }
        if (!verifiable.contains(name)) {
            *error = u"JWT algorithm %1 is allowed but no configured key can verify it"_s.arg(name);
            return nullptr;
        }
        if (!d.algorithms.contains(name))
            d.algorithms.append(name);
    }
    if (d.algorithms.isEmpty())
        d.algorithms = verifiable;

    if (!config.issuer.isEmpty())
        d.issuer = config.issuer.toStdString();
    if (!config.audience.isEmpty())
        d.audience = config.audience.toStdString();
    return verifier;
}

QStringList JwtVerifier::algorithms() const
{
    return d->algorithms;
}

VerifyResult JwtVerifier::verify(QByteArrayView token) const
{
    if (token.isEmpty())
        return failure(Errors::AuthTokenRequired, u"Access token required"_s);
    try {
        return d->verify(std::string_view(token.data(), size_t(token.size())));
    } catch (...) {
        // cpp-jwt and nlohmann report odd input with exceptions (type_error, invalid_iterator,
        // MemoryAllocationException); none of them may reach the connection handling.
        return invalidToken();
    }
}

VerifyResult JwtVerifier::Private::verify(std::string_view token) const
{
    const size_t firstDot = token.find('.');
    const size_t secondDot = firstDot == std::string_view::npos ? firstDot
                                                                 : token.find('.', firstDot + 1);
    if (secondDot == std::string_view::npos || token.find('.', secondDot + 1) != token.npos)
        return invalidToken();
    const std::string_view headerPart = token.substr(0, firstDot);
    const std::string_view payloadPart = token.substr(firstDot + 1, secondDot - firstDot - 1);
    const std::string_view signaturePart = token.substr(secondDot + 1);
    // An empty signature is left to fail verification: for an allowed algorithm it is a forgery.
    if (headerPart.empty() || payloadPart.empty() || !isBase64Url(headerPart)
        || !isBase64Url(payloadPart) || !isBase64Url(signaturePart)) {
        return invalidToken();
    }

    const auto header = decodeJsonSegment(headerPart);
    if (!header)
        return invalidToken();
    const auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string())
        return invalidToken();
    // cpp-jwt's decode refuses any other typ, so refuse it here, before the signature, too.
    if (const auto typ = header->find("typ"); typ != header->end()) {
        if (!typ->is_string() || QString::fromStdString(typ->get<std::string>())
                                         .compare("JWT"_L1, Qt::CaseInsensitive) != 0) {
            return invalidToken();
        }
    }
    // RFC 7515 §4.1.11: extensions we do not implement must not be silently ignored.
    if (header->contains("crit"))
        return invalidToken();

    // Exact comparison: cpp-jwt's str_to_alg is case-insensitive and stops at a NUL byte.
    const std::string algorithm = alg->get<std::string>();
    const QString algorithmName = QString::fromStdString(algorithm);
    if (!algorithms.contains(algorithmName))
        return failure(Errors::AuthInvalidToken, u"Algorithm not allowed"_s);

    // The key follows the algorithm family, so the PEM text can never serve as an HMAC secret.
    const std::string &key = isHmac(algorithmName) ? secret : publicKeyPem;
    if (key.empty())
        return failure(Errors::AuthInvalidToken, u"Algorithm not allowed"_s);

    // cpp-jwt's decode checks exp/iss/nbf before the signature; checking it first means a forged
    // token is always reported as one, whatever claims it makes.
    if (isHmac(algorithmName)) {
        // cpp-jwt compares HMACs with ==, which leaks how many leading bytes matched; compare
        // in constant time instead. (Its decode below re-checks only signatures already valid.)
        const auto hash = algorithmName == "HS256"_L1 ? QCryptographicHash::Sha256
                        : algorithmName == "HS384"_L1 ? QCryptographicHash::Sha384
                                                      : QCryptographicHash::Sha512;
        const auto signedPart = token.substr(0, secondDot);
        const QByteArray expected = QMessageAuthenticationCode::hash(
            QByteArray::fromRawData(signedPart.data(), qsizetype(signedPart.size())),
            QByteArray::fromRawData(key.data(), qsizetype(key.size())), hash);
        const auto decoded = QByteArray::fromBase64Encoding(
            QByteArray(signaturePart.data(), qsizetype(signaturePart.size())),
            QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded || decoded.decoded.size() != expected.size()
            || CRYPTO_memcmp(decoded.decoded.constData(), expected.constData(), size_t(expected.size())) != 0)
            return badSignature();
    } else {
        const jwt::jwt_header signedHeader{jwt::str_to_alg(algorithm)};
        jwt::jwt_signature signature{key};
        const auto [valid, ec] = signature.verify(
            signedHeader, token.substr(0, secondDot), signaturePart);
        if (!valid || ec)
            return badSignature();
    }

    const auto payload = decodeJsonSegment(payloadPart);
    if (!payload)
        return invalidToken();
    const auto sub = payload->find("sub");
    if (sub == payload->end() || !sub->is_string() || sub->get<std::string>().empty())
        return invalidToken();
    const auto name = payload->find("name");
    if (name != payload->end() && !name->is_string())
        return invalidToken();
    const auto channels = payload->find("channels");
    if (channels != payload->end() && !isStringArray(*channels))
        return invalidToken();
    const auto admin = payload->find("admin");
    if (admin != payload->end() && !admin->is_boolean())
        return invalidToken();
    const auto exp = payload->find("exp");
    if (exp != payload->end() && !isNumericDate(*exp))
        return invalidToken();
    const auto nbf = payload->find("nbf");
    if (nbf != payload->end() && !isNumericDate(*nbf))
        return invalidToken();
    if (issuer) {
        const auto iss = payload->find("iss");
        if (iss != payload->end() && !iss->is_string())
            return invalidToken();
    }
    const auto aud = payload->find("aud");
    if (audience && aud != payload->end() && !aud->is_string() && !isStringArray(*aud))
        return invalidToken();

    // exp, nbf and iss: cpp-jwt's decode, limited to the one algorithm already checked.
    std::error_code ec;
    const auto algorithmsParam = jwt::params::algorithms({algorithm});
    if (issuer) {
        jwt::decode(token, algorithmsParam, ec, jwt::params::secret(key),
                    jwt::params::verify(true), jwt::params::issuer(*issuer));
    } else {
        jwt::decode(token, algorithmsParam, ec, jwt::params::secret(key),
                    jwt::params::verify(true));
    }
    if (ec) {
        if (ec == jwt::VerificationErrc::TokenExpired)
            return failure(Errors::AuthTokenExpired, u"Token expired"_s);
        if (ec == jwt::VerificationErrc::ImmatureSignature
            || ec == jwt::VerificationErrc::InvalidIssuer) {
            return claimInvalid();
        }
        if (ec == jwt::VerificationErrc::InvalidSignature)
            return badSignature();
        return invalidToken();
    }

    // cpp-jwt compares aud as a single string only; RFC 7519 §4.1.3 also allows an array.
    if (audience && (aud == payload->end() || !audienceMatches(*aud)))
        return claimInvalid();

    // cpp-jwt still accepts a token in the second of its exp (it checks now > exp); RFC 7519
    // §4.1.4 says now must be before exp. The server closes channels at exp, so a join in that
    // second would be accepted and closed at once.
    if (exp != payload->end()
        && qint64(exp->get<std::uint64_t>()) <= QDateTime::currentSecsSinceEpoch())
        return failure(Errors::AuthTokenExpired, u"Token expired"_s);

    TokenClaims claims;
    claims.subject = QString::fromStdString(sub->get<std::string>());
    if (name != payload->end())
        claims.name = QString::fromStdString(name->get<std::string>());
    if (channels != payload->end())
        claims.channels = toStringList(*channels);
    claims.admin = admin != payload->end() && admin->get<bool>();
    if (exp != payload->end())
        claims.expiry = QDateTime::fromSecsSinceEpoch(qint64(exp->get<std::uint64_t>()), Qt::UTC);
    // dump() re-serialises what nlohmann parsed, so QJsonDocument sees the same single value per
    // key that the checks above saw, even if the token repeated a key.
    claims.claims = QJsonDocument::fromJson(QByteArray::fromStdString(payload->dump())).object();
    return VerifyResult{std::move(claims), {}};
}

bool JwtVerifier::Private::audienceMatches(const nlohmann::json &aud) const
{
    if (aud.is_string())
        return aud.get<std::string>() == *audience;
    for (const auto &entry : aud) {
        if (entry.get<std::string>() == *audience)
            return true;
    }
    return false;
}

bool channelAllowed(const QStringList &patterns, QStringView topic)
{
    if (patterns.isEmpty())
        return true;
    // Glob matching with backtracking to the last `*` only: O(pattern × topic) at worst, and both
    // are short (topics are bounded by Protocol::Bounds::MaxTopicLength).
    const auto matches = [topic](QStringView pattern) {
        qsizetype p = 0;
        qsizetype t = 0;
        qsizetype star = -1;
        qsizetype resume = 0;
        while (t < topic.size()) {
            if (p < pattern.size() && pattern[p] == u'*') {
                star = p++;
                resume = t;
            } else if (p < pattern.size() && pattern[p] == topic[t]) {
                ++p;
                ++t;
            } else if (star >= 0) {
                p = star + 1;
                t = ++resume;
            } else {
                return false;
            }
        }
        while (p < pattern.size() && pattern[p] == u'*')
            ++p;
        return p == pattern.size();
    };
    for (const QString &pattern : patterns) {
        if (matches(pattern))
            return true;
    }
    return false;
}

QByteArray mintToken(const AuthConfig &config, const MintRequest &request, QString *error)
{
    QString scratch;
    if (!error)
        error = &scratch;
    const auto fail = [error](const QString &message) {
        *error = message;
        return QByteArray();
    };

    if (request.user.isEmpty())
        return fail(u"a token needs a user (sub)"_s);
    if (request.ttl <= std::chrono::seconds::zero())
        return fail(u"the token lifetime must be positive"_s);

    QString algorithm = request.algorithm.trimmed().toUpper();
    if (algorithm.isEmpty()) {
        if (!config.secret.isEmpty()) {
            algorithm = u"HS256"_s;
        } else if (config.privateKeyFile.isEmpty()) {
            return fail(u"no signing key: set AUTH_SECRET or AUTH_PRIVATE_KEY_FILE"_s);
        }
    }

    std::string key;
    if (algorithm.isEmpty() || algorithm == "RS256"_L1 || algorithm == "ES256"_L1) {
        if (config.privateKeyFile.isEmpty())
            return fail(u"%1 needs a private key (AUTH_PRIVATE_KEY_FILE)"_s.arg(algorithm));
        const auto pem = loadPem(config.privateKeyFile, PemType::Private, error);
        if (!pem)
            return {};
        const QString keyAlgorithm = algorithmFor(pem->kind);
        if (algorithm.isEmpty())
            algorithm = keyAlgorithm;
        else if (algorithm != keyAlgorithm)
            return fail(u"%1 cannot sign with the private key in %2 (it suits %3)"_s.arg(
                algorithm, config.privateKeyFile, keyAlgorithm));
        key = pem->pem;
    } else if (HmacAlgorithms.contains(algorithm)) {
        if (config.secret.isEmpty())
            return fail(u"%1 needs a secret (AUTH_SECRET)"_s.arg(algorithm));
        key = config.secret.toStdString();
    } else {
        return fail(u"cannot sign with algorithm \"%1\" (supported: HS256, HS384, HS512, RS256, "
                    "ES256)"_s.arg(request.algorithm));
    }

    try {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch());
        jwt::jwt_object token{jwt::params::algorithm(algorithm.toStdString()),
                              jwt::params::secret(key)};
        token.add_claim("sub", request.user.toStdString());
        if (!request.name.isEmpty())
            token.add_claim("name", request.name.toStdString());
        if (!request.channels.isEmpty()) {
            std::vector<std::string> channels;
            channels.reserve(size_t(request.channels.size()));
            for (const QString &channel : request.channels)
                channels.push_back(channel.toStdString());
            token.add_claim("channels", std::move(channels));
        }
        if (request.admin)
            token.add_claim("admin", true);
        token.add_claim("iat", qint64(now.count()));
        token.add_claim("exp", qint64((now + request.ttl).count()));
        if (!config.issuer.isEmpty())
            token.add_claim("iss", config.issuer.toStdString());
        if (!config.audience.isEmpty())
            token.add_claim("aud", config.audience.toStdString());

        std::error_code ec;
        const std::string encoded = token.signature(ec);
        if (ec)
            return fail(u"signing failed: %1"_s.arg(QString::fromStdString(ec.message())));
        return QByteArray::fromStdString(encoded);
    } catch (const std::exception &e) {
        return fail(u"signing failed: %1"_s.arg(QString::fromUtf8(e.what())));
    }
}

} // namespace Confab::Server
