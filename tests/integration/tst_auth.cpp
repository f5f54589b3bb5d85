// JWT authentication end to end: every join refusal code, channel ACLs, token refresh on a
// live channel, expiry closing the channels a token opened, and RS256 with alg confusion.
#include "engine/hub.h"
#include "auth/jwtverifier.h"
#include "rawclient.h"
#include "testserver.h"

#include <QtCore/QLoggingCategory>
#include <QtCore/QMessageAuthenticationCode>
#include <QtCore/QMutex>
#include <QtTest/QtTest>

using namespace Qt::StringLiterals;
using Confab::Testing::RawClient;
using Confab::Testing::TestServer;
namespace S = Confab::Server;

namespace {

const QByteArray Secret = "integration-secret-0123456789abcdefghij";

QByteArray b64(const QByteArray &data)
{
    return data.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

// Hand-made HS256 tokens: the test must not depend on the code under test to build its inputs.
QString hs256(const QJsonObject &claims, const QByteArray &key = Secret,
              const QJsonObject &header = {{u"alg"_s, u"HS256"_s}, {u"typ"_s, u"JWT"_s}})
{
    const QByteArray input = b64(QJsonDocument(header).toJson(QJsonDocument::Compact)) + '.'
        + b64(QJsonDocument(claims).toJson(QJsonDocument::Compact));
    return QString::fromLatin1(input + '.' + b64(QMessageAuthenticationCode::hash(input, key, QCryptographicHash::Sha256)));
}

qint64 now()
{
    return QDateTime::currentSecsSinceEpoch();
}

QJsonObject claims(const QString &sub, qint64 expIn = 3600, const QJsonArray &channels = {})
{
    QJsonObject c{{u"sub"_s, sub}, {u"name"_s, sub.toUpper()}, {u"exp"_s, now() + expIn}};
    if (!channels.isEmpty())
        c.insert(u"channels"_s, channels);
    return c;
}

QString errorCode(const std::optional<QJsonObject> &reply)
{
    if (!reply || reply->value("status"_L1).toString() != "error"_L1)
        return u"<no error reply>"_s;
    return reply->value("response"_L1).toObject().value("code"_L1).toString();
}

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QString dataFile(const QString &name)
{
    return QStringLiteral(CONFAB_TEST_DATA_DIR) + u"/jwt/"_s + name;
}

//! Records the server's `auth.denied` log events while it lives, whatever QT_LOGGING_RULES says:
//! every refusal must be logged once, whichever door and whichever code.
class DenialLog
{
public:
    DenialLog()
    {
        s_instance = this;
        m_previousFilter = QLoggingCategory::installFilter(&DenialLog::filter);
        m_previousHandler = qInstallMessageHandler(&DenialLog::handler);
    }
    ~DenialLog()
    {
        qInstallMessageHandler(m_previousHandler);
        QLoggingCategory::installFilter(m_previousFilter);
        s_instance = nullptr;
    }
    //! The `code` of every auth.denied event so far.
    [[nodiscard]] QStringList codes() const
    {
        const QMutexLocker lock(&m_mutex);
        return m_codes;
    }

private:
    static void filter(QLoggingCategory *category)
    {
        if (s_instance && s_instance->m_previousFilter)
            s_instance->m_previousFilter(category);
        if (qstrcmp(category->categoryName(), "confab.server.auth") == 0)
            category->setEnabled(QtInfoMsg, true);
    }
    static void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        auto *self = s_instance;
        if (!self)
            return;
        const auto at = message.indexOf(u'{');
        const auto event = QJsonDocument::fromJson(message.mid(at).toUtf8()).object();
        if (at >= 0 && event.value("event"_L1).toString() == "auth.denied"_L1) {
            const QMutexLocker lock(&self->m_mutex);
            self->m_codes.append(event.value("fields"_L1).toObject().value("code"_L1).toString());
            return;
        }
        if (self->m_previousHandler)
            self->m_previousHandler(type, context, message);
    }

    static inline DenialLog *s_instance = nullptr;
    QLoggingCategory::CategoryFilter m_previousFilter = nullptr;
    QtMessageHandler m_previousHandler = nullptr;
    mutable QMutex m_mutex;
    QStringList m_codes;
};

S::ServerConfig jwtConfig()
{
    auto config = TestServer::defaultConfig();
    config.auth.enabled = true;
    config.auth.secret = Secret;
    return config;
}

} // namespace

class tst_Auth : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void joinRefusals_data();
    void joinRefusals();
    void issuerAndAudience();
    void channelPatterns_data();
    void channelPatterns();
    void refreshOnLiveChannel();
    void refreshWithBadTokensKeepsTheChannel();
    void refreshThatRemovesAccessClosesTheChannel();
    void expiryClosesTheChannelsItOpened();
    void refreshBeforeExpiryKeepsTheChannel();
    void expiryOfTheLastChannelClosesTheConnection();
    void rs256AndAlgorithmConfusion();

private:
    std::unique_ptr<RawClient> connect(TestServer &server);
};

std::unique_ptr<RawClient> tst_Auth::connect(TestServer &server)
{
    auto c = std::make_unique<RawClient>();
    if (!c->open(server.webSocketUrl()))
        return nullptr;
    return c;
}

void tst_Auth::joinRefusals_data()
{
    QTest::addColumn<QString>("token");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("reason");

    QTest::newRow("missing") << QString() << u"AUTH_TOKEN_REQUIRED"_s << u"Access token required"_s;
    QTest::newRow("expired") << hs256(claims(u"u"_s, -10)) << u"AUTH_TOKEN_EXPIRED"_s << u"Token expired"_s;
    auto notYet = claims(u"u"_s);
    notYet.insert(u"nbf"_s, now() + 600);
    QTest::newRow("not yet valid") << hs256(notYet) << u"AUTH_CLAIM_INVALID"_s << u"Token validation failed"_s;
    QTest::newRow("wrong secret") << hs256(claims(u"u"_s), "another-secret-0123456789abcdefghij")
                                  << u"AUTH_INVALID_SIGNATURE"_s << u"Invalid signature"_s;
    const QByteArray noneToken = b64(R"({"alg":"none","typ":"JWT"})") + '.'
        + b64(QJsonDocument(claims(u"u"_s)).toJson(QJsonDocument::Compact)) + '.';
    QTest::newRow("alg none") << QString::fromLatin1(noneToken) << u"AUTH_INVALID_TOKEN"_s << u"Algorithm not allowed"_s;
    QTest::newRow("garbage") << u"not.a.jwt"_s << u"AUTH_INVALID_TOKEN"_s << u"Invalid token"_s;
    QTest::newRow("no sub") << hs256(QJsonObject{{u"exp"_s, now() + 60}}) << u"AUTH_INVALID_TOKEN"_s << u"Invalid token"_s;
    QTest::newRow("denied channel") << hs256(claims(u"u"_s, 3600, {u"room:a*"_s})) << u"AUTH_CHANNEL_DENIED"_s
                                    << u"Access denied to this channel"_s;
}

void tst_Auth::joinRefusals()
{
    QFETCH(QString, token);
    QFETCH(QString, code);
    QFETCH(QString, reason);
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);
    const DenialLog log;
    const auto reply = c->join(u"room:b"_s, {}, token);
    QCOMPARE(errorCode(reply), code);
    QCOMPARE(reply->value("response"_L1).toObject().value("reason"_L1).toString(), reason);
    // Every refusal is logged, the missing token too (it once was the only one that was not).
    QCOMPARE(log.codes(), QStringList{code});
    QVERIFY(!server.server().hub().hasChannel(u"room:b"_s));
    QVERIFY(c->isConnected()); // a refusal is an answer, not a disconnect

    // The same connection then joins with a good token.
    QVERIFY(isOk(c->join(u"room:b"_s, {}, hs256(claims(u"u"_s)))));
}

void tst_Auth::issuerAndAudience()
{
    auto config = jwtConfig();
    config.auth.issuer = u"https://issuer.example"_s;
    config.auth.audience = u"confab"_s;
    TestServer server(config);
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);

    auto good = claims(u"u"_s);
    good.insert(u"iss"_s, u"https://issuer.example"_s);
    good.insert(u"aud"_s, u"confab"_s);
    auto wrongIss = good;
    wrongIss.insert(u"iss"_s, u"https://evil.example"_s);
    auto noAud = good;
    noAud.remove(u"aud"_s);
    auto audList = good;
    audList.insert(u"aud"_s, QJsonArray{u"other"_s, u"confab"_s});

    QCOMPARE(errorCode(c->join(u"room:1"_s, {}, hs256(wrongIss))), u"AUTH_CLAIM_INVALID"_s);
    QCOMPARE(errorCode(c->join(u"room:2"_s, {}, hs256(noAud))), u"AUTH_CLAIM_INVALID"_s);
    QVERIFY(isOk(c->join(u"room:3"_s, {}, hs256(good))));
    QVERIFY(isOk(c->join(u"room:4"_s, {}, hs256(audList))));
}

void tst_Auth::channelPatterns_data()
{
    QTest::addColumn<QJsonArray>("patterns");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("no claim") << QJsonArray{} << u"anything"_s << true;
    QTest::newRow("star") << QJsonArray{u"*"_s} << u"room:x"_s << true;
    QTest::newRow("exact") << QJsonArray{u"room:x"_s} << u"room:x"_s << true;
    QTest::newRow("exact other") << QJsonArray{u"room:x"_s} << u"room:xy"_s << false;
    QTest::newRow("prefix") << QJsonArray{u"room:allowed*"_s} << u"room:allowed-test"_s << true;
    QTest::newRow("prefix miss") << QJsonArray{u"room:allowed*"_s} << u"room:other"_s << false;
    QTest::newRow("inner star") << QJsonArray{u"team:*:alice"_s} << u"team:bob:alice"_s << true;
    QTest::newRow("second pattern") << QJsonArray{u"a"_s, u"b*"_s} << u"bee"_s << true;
}

void tst_Auth::channelPatterns()
{
    QFETCH(QJsonArray, patterns);
    QFETCH(QString, topic);
    QFETCH(bool, allowed);
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);
    const auto reply = c->join(topic, {}, hs256(claims(u"u"_s, 3600, patterns)));
    if (allowed)
        QVERIFY(isOk(reply));
    else
        QCOMPARE(errorCode(reply), u"AUTH_CHANNEL_DENIED"_s);
}

void tst_Auth::refreshOnLiveChannel()
{
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);
    QVERIFY(isOk(c->join(u"room:r"_s, {}, hs256(claims(u"alice"_s)))));
    const auto ref = c->push(u"room:r"_s, u"access_token"_s,
                             QJsonObject{{u"access_token"_s, hs256(claims(u"alice"_s, 7200))}});
    QVERIFY(isOk(c->waitForReply(ref, u"room:r"_s)));
}

void tst_Auth::refreshWithBadTokensKeepsTheChannel()
{
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);
    const QJsonObject cfg{{u"broadcast"_s, QJsonObject{{u"ack"_s, true}}}};
    QVERIFY(isOk(c->join(u"room:r"_s, cfg, hs256(claims(u"alice"_s)))));

    const auto refresh = [&](const QString &token) {
        const auto ref = c->push(u"room:r"_s, u"access_token"_s, QJsonObject{{u"access_token"_s, token}});
        return errorCode(c->waitForReply(ref, u"room:r"_s));
    };
    QCOMPARE(refresh(hs256(claims(u"alice"_s, -5))), u"AUTH_TOKEN_EXPIRED"_s);
    QCOMPARE(refresh(hs256(claims(u"alice"_s), "wrong-secret-0123456789abcdefghijkl")), u"AUTH_INVALID_SIGNATURE"_s);
    QCOMPARE(refresh(u"garbage"_s), u"AUTH_INVALID_TOKEN"_s);
    QCOMPARE(refresh(QString()), u"AUTH_TOKEN_REQUIRED"_s);
    QCOMPARE(refresh(hs256(claims(u"mallory"_s))), u"AUTH_INVALID_TOKEN"_s); // another user

    // Still a member: broadcasts are acked.
    const auto ref = c->push(u"room:r"_s, u"broadcast"_s,
                             QJsonObject{{u"type"_s, u"broadcast"_s}, {u"event"_s, u"e"_s}, {u"payload"_s, 1}});
    QVERIFY(isOk(c->waitForReply(ref, u"room:r"_s)));
}

void tst_Auth::refreshThatRemovesAccessClosesTheChannel()
{
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);
    QVERIFY(isOk(c->join(u"room:r"_s, {}, hs256(claims(u"alice"_s)))));
    const auto ref = c->push(u"room:r"_s, u"access_token"_s,
                             QJsonObject{{u"access_token"_s, hs256(claims(u"alice"_s, 3600, {u"lobby"_s}))}});
    QCOMPARE(errorCode(c->waitForReply(ref, u"room:r"_s)), u"AUTH_CHANNEL_DENIED"_s);
    const auto closed = c->waitForEvent(u"room:r"_s, u"chan:close"_s);
    QVERIFY(closed);
    QCOMPARE(closed->at(4).toObject().value("code"_L1).toString(), u"AUTH_CHANNEL_DENIED"_s);
    QVERIFY(!server.server().hub().hasChannel(u"room:r"_s));
}

void tst_Auth::expiryClosesTheChannelsItOpened()
{
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto shortLived = connect(server);
    auto watcher = connect(server);
    QVERIFY(shortLived && watcher);
    QVERIFY(isOk(watcher->join(u"room:e"_s, {}, hs256(claims(u"watcher"_s)))));
    // exp is in whole seconds; 2 s leaves room for the join itself.
    QVERIFY(isOk(shortLived->join(u"room:e"_s, {}, hs256(claims(u"brief"_s, 2)))));
    QVERIFY(isOk(shortLived->join(u"room:kept"_s, {}, hs256(claims(u"brief"_s, 3600)))));
    const auto ref = shortLived->push(u"room:e"_s, u"presence"_s,
                                      QJsonObject{{u"type"_s, u"presence"_s}, {u"event"_s, u"track"_s},
                                                  {u"payload"_s, QJsonObject{{u"key"_s, u"brief"_s}}}});
    QVERIFY(isOk(shortLived->waitForReply(ref, u"room:e"_s)));
    QVERIFY(watcher->waitForEvent(u"room:e"_s, u"presence_diff"_s));

    const auto closed = shortLived->waitForEvent(u"room:e"_s, u"chan:close"_s, 6000);
    QVERIFY(closed);
    QCOMPARE(closed->at(4).toObject().value("code"_L1).toString(), u"AUTH_TOKEN_EXPIRED"_s);
    QCOMPARE(closed->at(4).toObject().value("reason"_L1).toString(), u"Token expired"_s);
    // Its presence left with it; the channel opened by the long-lived token stays.
    const auto leave = watcher->waitForEvent(u"room:e"_s, u"presence_diff"_s);
    QVERIFY(leave);
    QVERIFY(leave->at(4).toObject()["leaves"_L1].toObject().contains("brief"_L1));
    QVERIFY(shortLived->isConnected());
    QCOMPARE(server.server().hub().channel(u"room:kept"_s)->memberCount, 1);
    QCOMPARE(server.server().hub().channel(u"room:e"_s)->memberCount, 1);
}

void tst_Auth::expiryOfTheLastChannelClosesTheConnection()
{
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);
    const auto token = hs256(claims(u"brief"_s, 2));
    QVERIFY(isOk(c->join(u"room:a"_s, {}, token)));
    QVERIFY(isOk(c->join(u"room:b"_s, {}, token)));
    // Both channels close (with their reason), then the connection, so that clients which do
    // not handle chan:close reconnect and fetch a fresh token.
    QVERIFY(c->waitForDisconnected(6000));
    QCOMPARE(int(c->closeCode()), 4001);
    QVERIFY(c->closeReason().startsWith("AUTH_TOKEN_EXPIRED"_L1));
    QCOMPARE(c->count(RawClient::isEvent(u"room:a"_s, u"chan:close"_s)), 1);
    QCOMPARE(c->count(RawClient::isEvent(u"room:b"_s, u"chan:close"_s)), 1);
    QTRY_COMPARE(server.server().connectionCount(), 0);
}

void tst_Auth::refreshBeforeExpiryKeepsTheChannel()
{
    TestServer server(jwtConfig());
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);
    const qint64 firstExpiry = now() + 2;
    auto first = claims(u"alice"_s);
    first.insert(u"exp"_s, firstExpiry);
    QVERIFY(isOk(c->join(u"room:x"_s, {}, hs256(first))));
    const auto ref = c->push(u"room:x"_s, u"access_token"_s,
                             QJsonObject{{u"access_token"_s, hs256(claims(u"alice"_s, 3600))}});
    QVERIFY(isOk(c->waitForReply(ref, u"room:x"_s)));
    // Wait on the clock until the first token is past its expiry, then prove nothing closed.
    QVERIFY(QTest::qWaitFor([&] { return now() > firstExpiry + 1; }, 6000));
    QVERIFY(c->sync());
    QCOMPARE(c->count(RawClient::isEvent(u"room:x"_s, u"chan:close"_s)), 0);
    QCOMPARE(server.server().hub().channel(u"room:x"_s)->memberCount, 1);
}

void tst_Auth::rs256AndAlgorithmConfusion()
{
    auto config = TestServer::defaultConfig();
    config.auth.enabled = true;
    config.auth.publicKeyFile = dataFile(u"rsa_public.pem"_s);
    TestServer server(config);
    QVERIFY(server.start());
    auto c = connect(server);
    QVERIFY(c);

    S::AuthConfig signer;
    signer.privateKeyFile = dataFile(u"rsa_private.pem"_s);
    QString error;
    const auto token = S::mintToken(signer, S::MintRequest{u"rsa-user"_s, u"RSA"_s, std::chrono::hours(1), {}, {}}, &error);
    QVERIFY2(!token.isEmpty(), qPrintable(error));
    QVERIFY(isOk(c->join(u"room:rsa"_s, {}, QString::fromLatin1(token))));

    // The classic attack: HS256 keyed with the public key's PEM text. Never accepted.
    QFile pem(config.auth.publicKeyFile);
    QVERIFY(pem.open(QIODevice::ReadOnly));
    const auto forged = hs256(claims(u"attacker"_s), pem.readAll());
    QCOMPARE(errorCode(c->join(u"room:forged"_s, {}, forged)), u"AUTH_INVALID_TOKEN"_s);

    signer.privateKeyFile = dataFile(u"rsa_wrong_private.pem"_s);
    const auto wrongKey = S::mintToken(signer, S::MintRequest{u"rsa-user"_s, {}, std::chrono::hours(1), {}, {}}, &error);
    QCOMPARE(errorCode(c->join(u"room:wrong"_s, {}, QString::fromLatin1(wrongKey))), u"AUTH_INVALID_SIGNATURE"_s);
}

QTEST_GUILESS_MAIN(tst_Auth)
#include "tst_auth.moc"
