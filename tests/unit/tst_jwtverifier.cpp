#include "auth/jwtverifier.h"

#include "ConfabProtocol/codes.h"

#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QMessageAuthenticationCode>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>

using namespace Confab::Server;
using namespace Qt::StringLiterals;
namespace Errors = Confab::Protocol::Errors;

Q_DECLARE_METATYPE(Confab::Server::AuthConfig)
Q_DECLARE_METATYPE(Confab::Server::MintRequest)

namespace {

const QByteArray Secret = "unit-test-secret-0123456789abcdef";
const QJsonValue Removed(QJsonValue::Undefined);

QString dataFile(const QString &name)
{
    return QStringLiteral(CONFAB_TEST_DATA_DIR) + u"/jwt/"_s + name;
}

QByteArray b64(const QByteArray &data)
{
    return data.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray json(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QCryptographicHash::Algorithm hashFor(const QByteArray &alg)
{
    if (alg.endsWith("384"))
        return QCryptographicHash::Sha384;
    if (alg.endsWith("512"))
        return QCryptographicHash::Sha512;
    return QCryptographicHash::Sha256;
}

// Built with Qt alone, so the test does not only trust cpp-jwt to agree with itself.
QByteArray rawHmacToken(const QByteArray &headerJson, const QByteArray &payloadJson,
                        const QByteArray &key, QCryptographicHash::Algorithm hash)
{
    const QByteArray input = b64(headerJson) + '.' + b64(payloadJson);
    return input + '.' + b64(QMessageAuthenticationCode::hash(input, key, hash));
}

QByteArray hmacToken(const QJsonObject &payload, const QByteArray &key = Secret,
                     const QByteArray &alg = "HS256")
{
    const QJsonObject header{{u"alg"_s, QString::fromLatin1(alg)}, {u"typ"_s, u"JWT"_s}};
    return rawHmacToken(json(header), json(payload), key, hashFor(alg));
}

qint64 now()
{
    return QDateTime::currentSecsSinceEpoch();
}

QJsonObject basePayload()
{
    return QJsonObject{{u"sub"_s, u"alice"_s}, {u"exp"_s, now() + 3600}};
}

QJsonObject with(QJsonObject object, const QString &key, const QJsonValue &value)
{
    if (value.isUndefined())
        object.remove(key);
    else
        object.insert(key, value);
    return object;
}

QByteArray readFile(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

//! Named key setups, so the data tables can say which verifier a row is checked against.
AuthConfig config(const QString &keys)
{
    AuthConfig c;
    c.enabled = true;
    if (keys.startsWith(u"hs"))
        c.secret = Secret;
    if (keys == "hs+iss"_L1)
        c.issuer = u"https://issuer.example"_s;
    if (keys == "hs+aud"_L1)
        c.audience = u"confab"_s;
    if (keys == "hs256only"_L1)
        c.algorithms = {u"HS256"_s};
    if (keys == "rsa"_L1 || keys == "hs+rsa"_L1)
        c.publicKeyFile = dataFile(u"rsa_public.pem"_s);
    if (keys == "ec"_L1)
        c.publicKeyFile = dataFile(u"ec_public.pem"_s);
    return c;
}

AuthConfig signer(const QString &privateKey)
{
    AuthConfig c;
    c.privateKeyFile = dataFile(privateKey);
    return c;
}

QByteArray mint(const AuthConfig &c, const MintRequest &request)
{
    QString error;
    const QByteArray token = mintToken(c, request, &error);
    if (token.isEmpty())
        qWarning("mintToken failed: %s", qPrintable(error));
    return token;
}

} // namespace

class tst_JwtVerifier : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void validHmac_data();
    void validHmac();
    void validPem_data();
    void validPem();
    void interop_data();
    void interop();
    void accepted_data();
    void accepted();
    void rejected_data();
    void rejected();
    void mutationsRejected();

    void defaultAlgorithms_data();
    void defaultAlgorithms();
    void createFails_data();
    void createFails();

    void channelAllowed_data();
    void channelAllowed();

    void mintRoundTrip_data();
    void mintRoundTrip();
    void mintFails_data();
    void mintFails();
};

void tst_JwtVerifier::initTestCase()
{
    QVERIFY2(QFileInfo::exists(QStringLiteral(CONFAB_TEST_DATA_DIR)), CONFAB_TEST_DATA_DIR);
    QVERIFY(QFile::exists(dataFile(u"rsa_public.pem"_s)));
    QVERIFY(QFile::exists(dataFile(u"interop.json"_s)));
}

void tst_JwtVerifier::validHmac_data()
{
    QTest::addColumn<QByteArray>("alg");
    QTest::newRow("HS256") << QByteArray("HS256");
    QTest::newRow("HS384") << QByteArray("HS384");
    QTest::newRow("HS512") << QByteArray("HS512");
}

void tst_JwtVerifier::validHmac()
{
    QFETCH(QByteArray, alg);
    const qint64 exp = now() + 600;
    const QJsonObject payload{{u"sub"_s, u"alice"_s},
                              {u"name"_s, u"Alice A."_s},
                              {u"channels"_s, QJsonArray{u"room:*"_s, u"lobby"_s}},
                              {u"exp"_s, exp},
                              {u"custom"_s, 42}};
    auto verifier = JwtVerifier::create(config(u"hs"_s), nullptr);
    QVERIFY(verifier);

    const VerifyResult result = verifier->verify(hmacToken(payload, Secret, alg));
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.claims->subject, u"alice"_s);
    QCOMPARE(result.claims->name, u"Alice A."_s);
    QCOMPARE(result.claims->channels, (QStringList{u"room:*"_s, u"lobby"_s}));
    QVERIFY(result.claims->expiry.has_value());
    QCOMPARE(*result.claims->expiry, QDateTime::fromSecsSinceEpoch(exp, Qt::UTC));
    QCOMPARE(result.claims->expiry->timeSpec(), Qt::UTC);
    QCOMPARE(result.claims->claims.value(u"custom"_s).toInt(), 42);
    QCOMPARE(result.claims->claims.value(u"sub"_s).toString(), u"alice"_s);
}

void tst_JwtVerifier::validPem_data()
{
    QTest::addColumn<QString>("keys");
    QTest::addColumn<QString>("privateKey");
    QTest::addColumn<QString>("alg");
    QTest::newRow("RS256") << u"rsa"_s << u"rsa_private.pem"_s << u"RS256"_s;
    QTest::newRow("ES256") << u"ec"_s << u"ec_private.pem"_s << u"ES256"_s;
}

void tst_JwtVerifier::validPem()
{
    QFETCH(QString, keys);
    QFETCH(QString, privateKey);
    QFETCH(QString, alg);
    MintRequest request;
    request.user = u"bob"_s;
    request.name = u"Bob"_s;
    request.channels = {u"team:*"_s};
    request.ttl = 120s;
    const QByteArray token = mint(signer(privateKey), request);
    QVERIFY(!token.isEmpty());

    QString error;
    auto verifier = JwtVerifier::create(config(keys), &error);
    QVERIFY2(verifier, qPrintable(error));
    QCOMPARE(verifier->algorithms(), QStringList{alg});
    const VerifyResult result = verifier->verify(token);
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.claims->subject, u"bob"_s);
    QCOMPARE(result.claims->name, u"Bob"_s);
    QCOMPARE(result.claims->channels, QStringList{u"team:*"_s});
    QVERIFY(result.claims->expiry.has_value());
    QVERIFY(qAbs(result.claims->expiry->toSecsSinceEpoch() - (now() + 120)) <= 2);
}

void tst_JwtVerifier::interop_data()
{
    QTest::addColumn<QString>("alg");
    QTest::addColumn<QString>("publicKey");
    QTest::newRow("PyJWT HS256") << u"HS256"_s << QString();
    QTest::newRow("PyJWT RS256") << u"RS256"_s << u"rsa_public.pem"_s;
    QTest::newRow("PyJWT ES256") << u"ES256"_s << u"ec_public.pem"_s;
}

void tst_JwtVerifier::interop()
{
    QFETCH(QString, alg);
    QFETCH(QString, publicKey);
    const QJsonObject interop = QJsonDocument::fromJson(readFile(dataFile(u"interop.json"_s))).object();
    QVERIFY(!interop.isEmpty());

    AuthConfig c;
    if (publicKey.isEmpty())
        c.secret = interop.value(u"secret"_s).toString().toUtf8();
    else
        c.publicKeyFile = dataFile(publicKey);
    QString error;
    auto verifier = JwtVerifier::create(c, &error);
    QVERIFY2(verifier, qPrintable(error));

    const VerifyResult result = verifier->verify(interop.value(alg).toString().toLatin1());
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.claims->subject, u"interop"_s);
    QCOMPARE(result.claims->name, u"Interop User"_s);
    QCOMPARE(result.claims->channels, (QStringList{u"room:*"_s, u"lobby"_s}));
    QCOMPARE(*result.claims->expiry, QDateTime(QDate(2100, 1, 1), QTime(0, 0), Qt::UTC));
}

void tst_JwtVerifier::accepted_data()
{
    QTest::addColumn<QString>("keys");
    QTest::addColumn<QByteArray>("token");
    const QJsonObject base = basePayload();

    QTest::newRow("no exp") << u"hs"_s << hmacToken(with(base, u"exp"_s, Removed));
    QTest::newRow("nbf in the past") << u"hs"_s << hmacToken(with(base, u"nbf"_s, now() - 60));
    QTest::newRow("iss matches")
        << u"hs+iss"_s << hmacToken(with(base, u"iss"_s, u"https://issuer.example"_s));
    QTest::newRow("aud string") << u"hs+aud"_s << hmacToken(with(base, u"aud"_s, u"confab"_s));
    QTest::newRow("aud array")
        << u"hs+aud"_s
        << hmacToken(with(base, u"aud"_s, QJsonArray{u"other"_s, u"confab"_s}));
    QTest::newRow("aud ignored when not configured")
        << u"hs"_s << hmacToken(with(base, u"aud"_s, 17));
    QTest::newRow("iss ignored when not configured")
        << u"hs"_s << hmacToken(with(base, u"iss"_s, u"anyone"_s));
    QTest::newRow("no typ header")
        << u"hs"_s
        << rawHmacToken(R"({"alg":"HS256"})", json(base), Secret, QCryptographicHash::Sha256);
    QTest::newRow("both keys, HS256") << u"hs+rsa"_s << hmacToken(base);
    QTest::newRow("allow-list HS256") << u"hs256only"_s << hmacToken(base);
}

void tst_JwtVerifier::accepted()
{
    QFETCH(QString, keys);
    QFETCH(QByteArray, token);
    QString error;
    auto verifier = JwtVerifier::create(config(keys), &error);
    QVERIFY2(verifier, qPrintable(error));
    const VerifyResult result = verifier->verify(token);
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.claims->subject, u"alice"_s);
}

void tst_JwtVerifier::rejected_data()
{
    QTest::addColumn<QString>("keys");
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("reason");

    const QString required = Errors::AuthTokenRequired;
    const QString invalid = Errors::AuthInvalidToken;
    const QString expired = Errors::AuthTokenExpired;
    const QString claim = Errors::AuthClaimInvalid;
    const QString signature = Errors::AuthInvalidSignature;
    const QString invalidReason = u"Invalid token"_s;
    const QString notAllowed = u"Algorithm not allowed"_s;
    const QString claimReason = u"Token validation failed"_s;
    const QString signatureReason = u"Invalid signature"_s;

    const QJsonObject base = basePayload();
    const QByteArray valid = hmacToken(base);
    const QByteArray validPayload = json(base);
    const auto signedRaw = [](const QByteArray &header, const QByteArray &payload) {
        return rawHmacToken(header, payload, Secret, QCryptographicHash::Sha256);
    };
    const QByteArray hs256Header = R"({"alg":"HS256","typ":"JWT"})";

    // Shape
    QTest::newRow("empty") << u"hs"_s << QByteArray() << required << u"Access token required"_s;
    QTest::newRow("abc") << u"hs"_s << QByteArray("abc") << invalid << invalidReason;
    QTest::newRow("a.b") << u"hs"_s << QByteArray("a.b") << invalid << invalidReason;
    QTest::newRow("a.b.c") << u"hs"_s << QByteArray("a.b.c") << invalid << invalidReason;
    QTest::newRow("dots only") << u"hs"_s << QByteArray("..") << invalid << invalidReason;
    QTest::newRow("four parts") << u"hs"_s << QByteArray(valid + ".x") << invalid << invalidReason;
    QTest::newRow("not base64url")
        << u"hs"_s << QByteArray("eyJ!!!.eyJzdWIiOiJhIn0.c2ln") << invalid << invalidReason;
    QTest::newRow("standard base64 alphabet")
        << u"hs"_s << QByteArray(QByteArray(valid).replace('-', '+').replace('_', '/') + "+/")
        << invalid << invalidReason;
    QTest::newRow("padded") << u"hs"_s << QByteArray(valid + "==") << invalid << invalidReason;
    QTest::newRow("header not JSON")
        << u"hs"_s << signedRaw("not json", validPayload) << invalid << invalidReason;
    QTest::newRow("header JSON array")
        << u"hs"_s << signedRaw(R"(["HS256"])", validPayload) << invalid << invalidReason;
    QTest::newRow("header without alg")
        << u"hs"_s << signedRaw(R"({"typ":"JWT"})", validPayload) << invalid << invalidReason;
    QTest::newRow("alg not a string")
        << u"hs"_s << signedRaw(R"({"alg":256})", validPayload) << invalid << invalidReason;
    QTest::newRow("typ not JWT")
        << u"hs"_s << signedRaw(R"({"alg":"HS256","typ":"JOSE+JSON"})", validPayload) << invalid
        << invalidReason;
    QTest::newRow("crit header")
        << u"hs"_s << signedRaw(R"({"alg":"HS256","crit":["exp"]})", validPayload) << invalid
        << invalidReason;
    QTest::newRow("payload JSON array")
        << u"hs"_s << signedRaw(hs256Header, R"(["sub","alice"])") << invalid << invalidReason;
    QTest::newRow("payload not JSON")
        << u"hs"_s << signedRaw(hs256Header, "sub=alice") << invalid << invalidReason;

    // Algorithm allow-list
    const QByteArray noneHeader = b64(R"({"alg":"none"})");
    const QByteArray noneBody = noneHeader + '.' + b64(validPayload);
    QTest::newRow("alg none, trailing dot")
        << u"hs"_s << QByteArray(noneBody + '.') << invalid << notAllowed;
    QTest::newRow("alg NONE, trailing dot")
        << u"hs"_s << QByteArray(b64(R"({"alg":"NONE"})") + '.' + b64(validPayload) + '.')
        << invalid << notAllowed;
    QTest::newRow("alg none, with a signature")
        << u"hs"_s << QByteArray(noneBody + ".c2ln") << invalid << notAllowed;
    // Two parts cannot even be split into header, payload and signature.
    QTest::newRow("alg none, no trailing dot") << u"hs"_s << noneBody << invalid << invalidReason;
    QTest::newRow("alg none at RSA verifier")
        << u"rsa"_s << QByteArray(noneBody + '.') << invalid << notAllowed;
    QTest::newRow("lowercase hs256")
        << u"hs"_s << signedRaw(R"({"alg":"hs256"})", validPayload) << invalid << notAllowed;
    QTest::newRow("alg with NUL")
        << u"hs"_s << signedRaw(R"({"alg":"HS256\u0000x"})", validPayload) << invalid
        << notAllowed;
    QTest::newRow("unknown alg")
        << u"hs"_s << signedRaw(R"({"alg":"HS1024"})", validPayload) << invalid << notAllowed;
    QTest::newRow("HS512 when only HS256 allowed")
        << u"hs256only"_s << hmacToken(base, Secret, "HS512") << invalid << notAllowed;

    MintRequest request;
    request.user = u"alice"_s;
    const QByteArray rsaToken = mint(signer(u"rsa_private.pem"_s), request);
    QTest::newRow("RS256 at HMAC-only verifier") << u"hs"_s << rsaToken << invalid << notAllowed;
    QTest::newRow("ES256 at RSA verifier")
        << u"rsa"_s << mint(signer(u"ec_private.pem"_s), request) << invalid << notAllowed;

    // Alg confusion: the public key is public, so an HMAC keyed with its PEM text proves nothing.
    const QByteArray rsaPem = readFile(dataFile(u"rsa_public.pem"_s));
    QTest::newRow("alg confusion, RSA key only")
        << u"rsa"_s << hmacToken(base, rsaPem) << invalid << notAllowed;
    QTest::newRow("alg confusion, secret and RSA key")
        << u"hs+rsa"_s << hmacToken(base, rsaPem) << signature << signatureReason;

    // Signature, always before the claims
    QTest::newRow("wrong secret")
        << u"hs"_s << hmacToken(base, "another-secret") << signature << signatureReason;
    QByteArray tampered = valid;
    {
        const QList<QByteArray> parts = valid.split('.');
        tampered = parts[0] + '.' + b64(json(with(base, u"sub"_s, u"mallory"_s))) + '.' + parts[2];
    }
    QTest::newRow("tampered payload") << u"hs"_s << tampered << signature << signatureReason;
    QTest::newRow("forged and expired")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, now() - 3600), "forger") << signature
        << signatureReason;
    QTest::newRow("forged and wrong iss")
        << u"hs+iss"_s << hmacToken(with(base, u"iss"_s, u"evil"_s), "forger") << signature
        << signatureReason;
    QTest::newRow("forged and malformed claims")
        << u"hs"_s << hmacToken(with(base, u"sub"_s, 7), "forger") << signature
        << signatureReason;
    QTest::newRow("empty signature")
        << u"hs"_s << QByteArray(valid.left(valid.lastIndexOf('.') + 1)) << signature
        << signatureReason;
    QTest::newRow("RS256, wrong key")
        << u"rsa"_s << mint(signer(u"rsa_wrong_private.pem"_s), request) << signature
        << signatureReason;
    QTest::newRow("ES256, wrong key")
        << u"ec"_s << mint(signer(u"ec_wrong_private.pem"_s), request) << signature
        << signatureReason;
    QTest::newRow("RS256, truncated signature")
        << u"rsa"_s << rsaToken.left(rsaToken.size() - 4) << signature << signatureReason;

    // Time and audience claims
    QTest::newRow("expired")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, now() - 60)) << expired << u"Token expired"_s;
    QTest::newRow("exp is now (RFC 7519: must be before exp)")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, now())) << expired << u"Token expired"_s;
    QTest::newRow("expired long ago")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, 1)) << expired << u"Token expired"_s;
    QTest::newRow("nbf in the future")
        << u"hs"_s << hmacToken(with(base, u"nbf"_s, now() + 600)) << claim << claimReason;
    QTest::newRow("iss wrong")
        << u"hs+iss"_s << hmacToken(with(base, u"iss"_s, u"https://evil.example"_s)) << claim
        << claimReason;
    QTest::newRow("iss missing") << u"hs+iss"_s << valid << claim << claimReason;
    QTest::newRow("aud wrong")
        << u"hs+aud"_s << hmacToken(with(base, u"aud"_s, u"other"_s)) << claim << claimReason;
    QTest::newRow("aud missing") << u"hs+aud"_s << valid << claim << claimReason;
    QTest::newRow("aud array without it")
        << u"hs+aud"_s << hmacToken(with(base, u"aud"_s, QJsonArray{u"a"_s, u"b"_s})) << claim
        << claimReason;
    QTest::newRow("aud empty array")
        << u"hs+aud"_s << hmacToken(with(base, u"aud"_s, QJsonArray{})) << claim << claimReason;

    // Claim types
    QTest::newRow("sub missing")
        << u"hs"_s << hmacToken(with(base, u"sub"_s, Removed)) << invalid << invalidReason;
    QTest::newRow("sub a number")
        << u"hs"_s << hmacToken(with(base, u"sub"_s, 12)) << invalid << invalidReason;
    QTest::newRow("sub empty")
        << u"hs"_s << hmacToken(with(base, u"sub"_s, u""_s)) << invalid << invalidReason;
    QTest::newRow("name a number")
        << u"hs"_s << hmacToken(with(base, u"name"_s, 3)) << invalid << invalidReason;
    QTest::newRow("channels a string")
        << u"hs"_s << hmacToken(with(base, u"channels"_s, u"room:*"_s)) << invalid
        << invalidReason;
    QTest::newRow("channels with a number")
        << u"hs"_s << hmacToken(with(base, u"channels"_s, QJsonArray{u"room:*"_s, 5})) << invalid
        << invalidReason;
    QTest::newRow("exp a string")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, u"tomorrow"_s)) << invalid << invalidReason;
    QTest::newRow("exp negative")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, -1)) << invalid << invalidReason;
    QTest::newRow("exp fractional")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, double(now()) + 600.5)) << invalid
        << invalidReason;
    QTest::newRow("exp true")
        << u"hs"_s << hmacToken(with(base, u"exp"_s, true)) << invalid << invalidReason;
    QTest::newRow("nbf a string")
        << u"hs"_s << hmacToken(with(base, u"nbf"_s, u"now"_s)) << invalid << invalidReason;
    QTest::newRow("iss a number when configured")
        << u"hs+iss"_s << hmacToken(with(base, u"iss"_s, 1)) << invalid << invalidReason;
    QTest::newRow("aud a number when configured")
        << u"hs+aud"_s << hmacToken(with(base, u"aud"_s, 1)) << invalid << invalidReason;
    QTest::newRow("aud array with a number")
        << u"hs+aud"_s << hmacToken(with(base, u"aud"_s, QJsonArray{u"confab"_s, 1})) << invalid
        << invalidReason;
}

void tst_JwtVerifier::rejected()
{
    QFETCH(QString, keys);
    QFETCH(QByteArray, token);
    QFETCH(QString, code);
    QFETCH(QString, reason);
    QString error;
    auto verifier = JwtVerifier::create(config(keys), &error);
    QVERIFY2(verifier, qPrintable(error));
    const VerifyResult result = verifier->verify(token);
    QVERIFY(!result.ok());
    QCOMPARE(QString(result.error.code), code);
    QCOMPARE(result.error.reason, reason);
}

void tst_JwtVerifier::mutationsRejected()
{
    // Every one-character change to a valid token must be refused, without an exception escaping.
    auto verifier = JwtVerifier::create(config(u"hs"_s), nullptr);
    QVERIFY(verifier);
    const QByteArray valid = hmacToken(basePayload());
    QVERIFY(verifier->verify(valid).ok());
    const QByteArray replacements("A_-.=\0\xff{", 9);
    for (qsizetype i = 0; i < valid.size(); ++i) {
        for (const char c : replacements) {
            if (valid[i] == c)
                continue;
            QByteArray mutated = valid;
            mutated[i] = c;
            const VerifyResult result = verifier->verify(mutated);
            QVERIFY2(!result.ok(), qPrintable(u"position %1"_s.arg(i)));
            QVERIFY(!result.error.reason.isEmpty());
        }
    }
}

void tst_JwtVerifier::defaultAlgorithms_data()
{
    QTest::addColumn<QString>("keys");
    QTest::addColumn<QStringList>("listed");
    QTest::addColumn<QStringList>("expected");
    const QStringList hmac{u"HS256"_s, u"HS384"_s, u"HS512"_s};
    QTest::newRow("secret") << u"hs"_s << QStringList() << hmac;
    QTest::newRow("RSA key") << u"rsa"_s << QStringList() << QStringList{u"RS256"_s};
    QTest::newRow("EC key") << u"ec"_s << QStringList() << QStringList{u"ES256"_s};
    QTest::newRow("secret and RSA key")
        << u"hs+rsa"_s << QStringList() << (hmac + QStringList{u"RS256"_s});
    QTest::newRow("listed") << u"hs+rsa"_s << QStringList{u"RS256"_s, u"HS512"_s}
                            << QStringList{u"RS256"_s, u"HS512"_s};
    QTest::newRow("listed, lowercase and duplicated")
        << u"hs"_s << QStringList{u" hs384"_s, u"HS384"_s} << QStringList{u"HS384"_s};
}

void tst_JwtVerifier::defaultAlgorithms()
{
    QFETCH(QString, keys);
    QFETCH(QStringList, listed);
    QFETCH(QStringList, expected);
    AuthConfig c = config(keys);
    c.algorithms = listed;
    QString error;
    auto verifier = JwtVerifier::create(c, &error);
    QVERIFY2(verifier, qPrintable(error));
    QCOMPARE(verifier->algorithms(), expected);
}

void tst_JwtVerifier::createFails_data()
{
    QTest::addColumn<AuthConfig>("config");

    QTest::newRow("no key") << AuthConfig{};
    AuthConfig c;
    c.publicKeyFile = dataFile(u"does_not_exist.pem"_s);
    QTest::newRow("missing public key file") << c;
    c.publicKeyFile = dataFile(u"generate.sh"_s);
    QTest::newRow("not a PEM file") << c;
    c.publicKeyFile = dataFile(u"rsa_private.pem"_s);
    QTest::newRow("private key as public key") << c;
    c.publicKeyFile = dataFile(u"ec_p384_public.pem"_s);
    QTest::newRow("EC P-384 key") << c;

    c = config(u"hs"_s);
    c.algorithms = {u"none"_s};
    QTest::newRow("none listed") << c;
    c.algorithms = {u"HS256"_s, u"None"_s};
    QTest::newRow("None listed with HS256") << c;
    c.algorithms = {u"HS999"_s};
    QTest::newRow("unknown algorithm") << c;
    c.algorithms = {u"RS512"_s};
    QTest::newRow("unsupported algorithm") << c;
    c.algorithms = {u"RS256"_s};
    QTest::newRow("RS256 with only a secret") << c;
    c = config(u"rsa"_s);
    c.algorithms = {u"ES256"_s};
    QTest::newRow("ES256 with an RSA key") << c;
    c.algorithms = {u"HS256"_s};
    QTest::newRow("HS256 with only a public key") << c;
}

void tst_JwtVerifier::createFails()
{
    QFETCH(AuthConfig, config);
    QString error;
    QVERIFY(!JwtVerifier::create(config, &error));
    QVERIFY(!error.isEmpty());
    QVERIFY2(!error.contains(QString::fromLatin1(Secret)), "errors must not carry the secret");
}

void tst_JwtVerifier::channelAllowed_data()
{
    QTest::addColumn<QStringList>("patterns");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<bool>("allowed");
    const QStringList room{u"room:*"_s};
    QTest::newRow("empty list allows all") << QStringList() << u"anything"_s << true;
    QTest::newRow("exact") << QStringList{u"lobby"_s} << u"lobby"_s << true;
    QTest::newRow("exact, other") << QStringList{u"lobby"_s} << u"lobby2"_s << false;
    QTest::newRow("exact, prefix only") << QStringList{u"lobby"_s} << u"lob"_s << false;
    QTest::newRow("room:* matches room:a") << room << u"room:a"_s << true;
    QTest::newRow("room:* matches room:") << room << u"room:"_s << true;
    QTest::newRow("room:* matches room:a:b") << room << u"room:a:b"_s << true;
    QTest::newRow("room:* rejects room") << room << u"room"_s << false;
    QTest::newRow("room:* rejects xroom:a") << room << u"xroom:a"_s << false;
    QTest::newRow("* matches all") << QStringList{u"*"_s} << u"x:y"_s << true;
    QTest::newRow("* matches empty") << QStringList{u"*"_s} << QString() << true;
    QTest::newRow("a*c matches abc") << QStringList{u"a*c"_s} << u"abc"_s << true;
    QTest::newRow("a*c matches ac") << QStringList{u"a*c"_s} << u"ac"_s << true;
    QTest::newRow("a*c rejects abcd") << QStringList{u"a*c"_s} << u"abcd"_s << false;
    QTest::newRow("*:lobby") << QStringList{u"*:lobby"_s} << u"team:lobby"_s << true;
    QTest::newRow("two stars") << QStringList{u"a*b*c"_s} << u"axxbyybc"_s << true;
    QTest::newRow("two stars, backtrack") << QStringList{u"a*b*c"_s} << u"abcbx"_s << false;
    QTest::newRow("adjacent stars") << QStringList{u"a**"_s} << u"abc"_s << true;
    QTest::newRow("second pattern matches")
        << QStringList{u"lobby"_s, u"room:*"_s} << u"room:1"_s << true;
    QTest::newRow("no pattern matches")
        << QStringList{u"lobby"_s, u"room:*"_s} << u"team:1"_s << false;
    QTest::newRow("case sensitive") << QStringList{u"Lobby"_s} << u"lobby"_s << false;
    QTest::newRow("? is literal") << QStringList{u"a?c"_s} << u"abc"_s << false;
}

void tst_JwtVerifier::channelAllowed()
{
    QFETCH(QStringList, patterns);
    QFETCH(QString, topic);
    QFETCH(bool, allowed);
    QCOMPARE(Confab::Server::channelAllowed(patterns, topic), allowed);
}

void tst_JwtVerifier::mintRoundTrip_data()
{
    QTest::addColumn<AuthConfig>("signing");
    QTest::addColumn<QString>("requested");
    QTest::addColumn<QString>("expectedAlg");
    QTest::addColumn<AuthConfig>("verifying");

    AuthConfig hs;
    hs.secret = Secret;
    QTest::newRow("default with secret") << hs << QString() << u"HS256"_s << hs;
    QTest::newRow("HS384") << hs << u"HS384"_s << u"HS384"_s << hs;
    QTest::newRow("HS512") << hs << u"HS512"_s << u"HS512"_s << hs;

    AuthConfig hsClaims = hs;
    hsClaims.issuer = u"https://issuer.example"_s;
    hsClaims.audience = u"confab"_s;
    QTest::newRow("with iss and aud") << hsClaims << QString() << u"HS256"_s << hsClaims;

    AuthConfig rsa = signer(u"rsa_private.pem"_s);
    AuthConfig rsaVerify = config(u"rsa"_s);
    QTest::newRow("default with RSA key") << rsa << QString() << u"RS256"_s << rsaVerify;
    QTest::newRow("RS256 requested") << rsa << u"RS256"_s << u"RS256"_s << rsaVerify;
    AuthConfig both = rsa;
    both.secret = Secret;
    QTest::newRow("RS256 requested, secret also set")
        << both << u"RS256"_s << u"RS256"_s << rsaVerify;

    AuthConfig ec = signer(u"ec_private.pem"_s);
    QTest::newRow("default with EC key") << ec << QString() << u"ES256"_s << config(u"ec"_s);
    QTest::newRow("ES256 requested") << ec << u"ES256"_s << u"ES256"_s << config(u"ec"_s);
}

void tst_JwtVerifier::mintRoundTrip()
{
    QFETCH(AuthConfig, signing);
    QFETCH(QString, requested);
    QFETCH(QString, expectedAlg);
    QFETCH(AuthConfig, verifying);

    MintRequest request;
    request.user = u"carol"_s;
    request.name = u"Carol C."_s;
    request.channels = {u"room:*"_s, u"lobby"_s};
    request.ttl = 3600s;
    request.algorithm = requested;
    QString error;
    const qint64 before = now();
    const QByteArray token = mintToken(signing, request, &error);
    QVERIFY2(!token.isEmpty(), qPrintable(error));

    const QList<QByteArray> parts = token.split('.');
    QCOMPARE(parts.size(), 3);
    const QJsonObject header = QJsonDocument::fromJson(QByteArray::fromBase64(
        parts[0], QByteArray::Base64UrlEncoding)).object();
    QCOMPARE(header.value(u"alg"_s).toString(), expectedAlg);
    const QJsonObject payload = QJsonDocument::fromJson(QByteArray::fromBase64(
        parts[1], QByteArray::Base64UrlEncoding)).object();
    const qint64 iat = payload.value(u"iat"_s).toInteger();
    QVERIFY(iat >= before && iat <= now());
    QCOMPARE(payload.value(u"exp"_s).toInteger(), iat + 3600);
    QCOMPARE(payload.value(u"iss"_s).toString(), signing.issuer);
    QCOMPARE(payload.contains(u"aud"_s), !signing.audience.isEmpty());

    auto verifier = JwtVerifier::create(verifying, &error);
    QVERIFY2(verifier, qPrintable(error));
    const VerifyResult result = verifier->verify(token);
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.claims->subject, u"carol"_s);
    QCOMPARE(result.claims->name, u"Carol C."_s);
    QCOMPARE(result.claims->channels, (QStringList{u"room:*"_s, u"lobby"_s}));
    QCOMPARE(result.claims->expiry->toSecsSinceEpoch(), iat + 3600);

    if (expectedAlg.startsWith(u"HS")) {
        // The same signature as an independent HMAC over the same bytes.
        const QByteArray input = parts[0] + '.' + parts[1];
        QCOMPARE(parts[2], b64(QMessageAuthenticationCode::hash(
                               input, signing.secret, hashFor(expectedAlg.toLatin1()))));
    }
}

void tst_JwtVerifier::mintFails_data()
{
    QTest::addColumn<AuthConfig>("config");
    QTest::addColumn<MintRequest>("request");

    AuthConfig hs;
    hs.secret = Secret;
    MintRequest ok;
    ok.user = u"dave"_s;

    MintRequest r = ok;
    r.user.clear();
    QTest::newRow("empty user") << hs << r;
    r = ok;
    r.ttl = 0s;
    QTest::newRow("ttl zero") << hs << r;
    r.ttl = -5s;
    QTest::newRow("ttl negative") << hs << r;
    QTest::newRow("no key") << AuthConfig{} << ok;
    QTest::newRow("unreadable key file") << signer(u"does_not_exist.pem"_s) << ok;
    QTest::newRow("public key as private key") << signer(u"rsa_public.pem"_s) << ok;
    QTest::newRow("not a PEM file") << signer(u"interop.json"_s) << ok;
    r = ok;
    r.algorithm = u"ES256"_s;
    QTest::newRow("ES256 with an RSA key") << signer(u"rsa_private.pem"_s) << r;
    r.algorithm = u"RS256"_s;
    QTest::newRow("RS256 with only a secret") << hs << r;
    r.algorithm = u"HS256"_s;
    QTest::newRow("HS256 with only a private key") << signer(u"rsa_private.pem"_s) << r;
    r.algorithm = u"none"_s;
    QTest::newRow("none") << hs << r;
    r.algorithm = u"PS256"_s;
    QTest::newRow("unsupported algorithm") << hs << r;
}

void tst_JwtVerifier::mintFails()
{
    QFETCH(AuthConfig, config);
    QFETCH(MintRequest, request);
    QString error;
    QVERIFY(mintToken(config, request, &error).isEmpty());
    QVERIFY(!error.isEmpty());
    QVERIFY2(!error.contains(QString::fromLatin1(Secret)), "errors must not carry the secret");
}

QTEST_GUILESS_MAIN(tst_JwtVerifier)
#include "tst_jwtverifier.moc"
