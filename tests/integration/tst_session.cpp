// LAN sign-in: POST /api/session trades a name and the join password for a JWT, which then opens
// channels over WebSocket like any token. Real server in this process, real HTTP and WebSocket.
#include "ops/configloader.h"
#include "auth/jwtverifier.h"
#include "rawclient.h"
#include "server.h"
#include "auth/sessionissuer.h"
#include "testserver.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QProcess>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace Confab;
using Testing::RawClient;
using Testing::TestServer;

namespace {

const QString Password = u"correct horse battery"_s;
const QByteArray Secret = "session-test-secret-0123456789abcdef-0123";

struct HttpResult
{
    bool finished = false;
    int status = 0;
    QByteArray body;
    QHash<QByteArray, QByteArray> headers; //!< names lower-cased

    [[nodiscard]] QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    [[nodiscard]] QString errorCode() const
    {
        return json().value("error"_L1).toObject().value("code"_L1).toString();
    }
};

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

//! The claims of a JWT, read without verifying it (the test checks what the server put in).
QJsonObject jwtClaims(const QString &token)
{
    const auto parts = token.toLatin1().split('.');
    if (parts.size() != 3)
        return {};
    return QJsonDocument::fromJson(QByteArray::fromBase64(parts.at(1), QByteArray::Base64UrlEncoding)).object();
}

Server::ServerConfig passwordConfig()
{
    auto config = TestServer::defaultConfig();
    config.auth.joinPassword = Password;
    return config;
}

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QString errorCodeOf(const std::optional<QJsonObject> &reply)
{
    if (!reply || reply->value("status"_L1).toString() != "error"_L1)
        return u"<no error reply>"_s;
    return reply->value("response"_L1).toObject().value("code"_L1).toString();
}

} // namespace

class tst_Session : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void notEnabledWithoutPassword();
    void authModeShown_data();
    void authModeShown();
    void signInThenJoinOverWebSocket();
    void explicitUserId();
    void derivedUserIds_data();
    void derivedUserIds();
    void wrongPassword();
    void badRequests_data();
    void badRequests();
    void wrongMethod();
    void failureLimitPerAddress();
    void failureBucketsByAddress();
    void configuredSecretAndTtl();
    void options();
    void optionErrors_data();
    void optionErrors();

private:
    bool startServer(Server::ServerConfig config);
    HttpResult request(const QByteArray &method, const QString &path, const QByteArray &body = {});
    HttpResult signIn(const QJsonObject &body) { return request("POST", u"/api/session"_s, compact(body)); }

    std::unique_ptr<TestServer> m_server;
    QNetworkAccessManager m_nam;
};

void tst_Session::initTestCase()
{
    QLoggingCategory::setFilterRules(u"confab.*.debug=false"_s);
}

void tst_Session::cleanup()
{
    m_nam.clearConnectionCache();
    m_server.reset();
}

bool tst_Session::startServer(Server::ServerConfig config)
{
    m_server = std::make_unique<TestServer>(std::move(config));
    return m_server->start();
}

HttpResult tst_Session::request(const QByteArray &method, const QString &path, const QByteArray &body)
{
    QNetworkRequest req(m_server->httpUrl(path));
    if (!body.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json"_ba);
    std::unique_ptr<QNetworkReply> reply(m_nam.sendCustomRequest(req, method, body));
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    HttpResult result;
    result.finished = reply->isFinished() || finished.wait(10000);
    if (!result.finished)
        return result;
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    for (const auto &pair : reply->rawHeaderPairs())
        result.headers.insert(pair.first.toLower(), pair.second);
    return result;
}

void tst_Session::notEnabledWithoutPassword()
{
    QVERIFY(startServer(TestServer::defaultConfig()));
    const auto response = signIn({{u"name"_s, u"Alice"_s}, {u"password"_s, Password}});
    QVERIFY(response.finished);
    QCOMPARE(response.status, 404);
    QCOMPARE(response.errorCode(), u"NOT_ENABLED"_s);
    QVERIFY(!response.json().value("error"_L1).toObject().value("message"_L1).toString().isEmpty());
}

void tst_Session::authModeShown_data()
{
    QTest::addColumn<QString>("mode");
    QTest::newRow("open") << u"open"_s;
    QTest::newRow("password") << u"password"_s;
    QTest::newRow("token") << u"token"_s;
}

void tst_Session::authModeShown()
{
    QFETCH(QString, mode);
    auto config = TestServer::defaultConfig();
    if (mode == u"password") {
        config.auth.joinPassword = Password;
    } else if (mode == u"token") {
        config.auth.enabled = true;
        config.auth.secret = Secret;
    }
    QVERIFY(startServer(config));
    for (const auto &path : {u"/"_s, u"/health"_s}) {
        const auto response = request("GET", path);
        QCOMPARE(response.status, 200);
        QCOMPARE(response.json().value("auth"_L1).toString(), mode);
    }
}

void tst_Session::signInThenJoinOverWebSocket()
{
    // No AUTH_SECRET: the server makes a random one and turns JWT mode on by itself.
    QVERIFY(startServer(passwordConfig()));
    QVERIFY(m_server->server().verifier());

    const auto response = signIn({{u"name"_s, u"Alice Smith"_s}, {u"password"_s, Password}});
    QVERIFY(response.finished);
    QCOMPARE(response.status, 201);
    const auto json = response.json();
    const QString token = json.value("token"_L1).toString();
    QVERIFY(!token.isEmpty());
    QCOMPARE(json.value("user"_L1).toObject(),
             (QJsonObject{{u"id"_s, u"alice_smith"_s}, {u"name"_s, u"Alice Smith"_s}}));
    QCOMPARE(json.value("expires_in"_L1).toInteger(), 24 * 3600);

    const auto claims = jwtClaims(token);
    QCOMPARE(claims.value("sub"_L1).toString(), u"alice_smith"_s);
    QCOMPARE(claims.value("name"_L1).toString(), u"Alice Smith"_s);
    QCOMPARE(claims.value("exp"_L1).toInteger() - claims.value("iat"_L1).toInteger(), 24 * 3600);
    QVERIFY(m_server->server().verifier()->verify(token.toLatin1()).ok());

    // The token opens a channel; without one the server refuses, since JWT mode is on.
    RawClient alice;
    QVERIFY(alice.open(m_server->webSocketUrl()));
    QVERIFY(isOk(alice.join(u"room:lobby"_s, {}, token)));
    RawClient anonymous;
    QVERIFY(anonymous.open(m_server->webSocketUrl()));
    QCOMPARE(errorCodeOf(anonymous.join(u"room:lobby"_s)), u"AUTH_TOKEN_REQUIRED"_s);

    // Chat knows who it is from the token.
    const auto ref = alice.push(u"$system"_s, u"hello"_s, {{u"access_token"_s, token}});
    const auto hello = alice.waitForReply(ref, u"$system"_s);
    QVERIFY(isOk(hello));
    QCOMPARE(hello->value("response"_L1).toObject().value("user"_L1).toObject(),
             (QJsonObject{{u"id"_s, u"alice_smith"_s}, {u"name"_s, u"Alice Smith"_s}}));
}

void tst_Session::explicitUserId()
{
    QVERIFY(startServer(passwordConfig()));
    const auto response = signIn({{u"name"_s, u"Bob"_s}, {u"password"_s, Password}, {u"user"_s, u"Bob-Laptop.2"_s}});
    QCOMPARE(response.status, 201);
    QCOMPARE(response.json().value("user"_L1).toObject(),
             (QJsonObject{{u"id"_s, u"Bob-Laptop.2"_s}, {u"name"_s, u"Bob"_s}}));
    QCOMPARE(jwtClaims(response.json().value("token"_L1).toString()).value("sub"_L1).toString(), u"Bob-Laptop.2"_s);
}

void tst_Session::derivedUserIds_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("id");
    QTest::newRow("plain") << u"alice"_s << u"alice"_s;
    QTest::newRow("upper and space") << u"Alice Smith"_s << u"alice_smith"_s;
    QTest::newRow("accents") << u"Jörg Müller"_s << u"jorg_muller"_s;
    QTest::newRow("punctuation runs") << u"Émile!! (Zola)"_s << u"emile_zola"_s;
    QTest::newRow("allowed punctuation kept") << u"a.b-c_d"_s << u"a.b-c_d"_s;
    QTest::newRow("too long") << QString(80, u'X') << QString(64, u'x');
    const QString han = u"李雷"_s;
    const auto hash = QCryptographicHash::hash(han.toUtf8(), QCryptographicHash::Sha256).toHex().left(12);
    QTest::newRow("nothing usable") << han << (u"u-"_s + QString::fromLatin1(hash));
}

void tst_Session::derivedUserIds()
{
    QFETCH(QString, name);
    QFETCH(QString, id);
    QCOMPARE(Server::SessionIssuer::userIdForName(name), id);
}

void tst_Session::wrongPassword()
{
    QVERIFY(startServer(passwordConfig()));
    for (const QString &wrong : QStringList{u"wrong"_s, QString(), Password + u" "_s, Password.left(Password.size() - 1)}) {
        const auto response = signIn({{u"name"_s, u"Mallory"_s}, {u"password"_s, wrong}});
        QCOMPARE(response.status, 401);
        QCOMPARE(response.errorCode(), u"INVALID_CREDENTIALS"_s);
        QVERIFY(!response.json().contains("token"_L1));
    }
    QVERIFY(Server::SessionIssuer::passwordMatches(Password, Password));
    QVERIFY(!Server::SessionIssuer::passwordMatches(u"a"_s, u"b"_s));
}

void tst_Session::badRequests_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("code");
    QTest::newRow("not json") << "{name"_ba << u"INVALID_BODY"_s;
    QTest::newRow("array") << "[]"_ba << u"INVALID_BODY"_s;
    QTest::newRow("empty") << QByteArray() << u"INVALID_BODY"_s;
    QTest::newRow("no name") << compact({{u"password"_s, Password}}) << u"MISSING_FIELD"_s;
    QTest::newRow("no password") << compact({{u"name"_s, u"Alice"_s}}) << u"MISSING_FIELD"_s;
    QTest::newRow("name a number") << compact({{u"name"_s, 5}, {u"password"_s, Password}}) << u"MISSING_FIELD"_s;
    QTest::newRow("password a number") << compact({{u"name"_s, u"A"_s}, {u"password"_s, 5}}) << u"MISSING_FIELD"_s;
    QTest::newRow("blank name") << compact({{u"name"_s, u"   "_s}, {u"password"_s, Password}}) << u"INVALID_PAYLOAD"_s;
    QTest::newRow("long name") << compact({{u"name"_s, QString(101, u'n')}, {u"password"_s, Password}})
                               << u"INVALID_PAYLOAD"_s;
    QTest::newRow("control character") << compact({{u"name"_s, u"a\u0001b"_s}, {u"password"_s, Password}})
                                       << u"INVALID_PAYLOAD"_s;
    QTest::newRow("bad user id") << compact({{u"name"_s, u"A"_s}, {u"password"_s, Password}, {u"user"_s, u"bad id!"_s}})
                                 << u"INVALID_ID"_s;
    QTest::newRow("user not a string") << compact({{u"name"_s, u"A"_s}, {u"password"_s, Password}, {u"user"_s, 7}})
                                       << u"INVALID_ID"_s;
}

void tst_Session::badRequests()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, code);
    QVERIFY(startServer(passwordConfig()));
    const auto response = request("POST", u"/api/session"_s, body);
    QVERIFY(response.finished);
    QCOMPARE(response.status, 400);
    QCOMPARE(response.errorCode(), code);
    QVERIFY(!response.json().value("error"_L1).toObject().value("message"_L1).toString().isEmpty());
}

void tst_Session::wrongMethod()
{
    QVERIFY(startServer(passwordConfig()));
    const auto response = request("GET", u"/api/session"_s);
    QCOMPARE(response.status, 405);
    QCOMPARE(response.errorCode(), u"METHOD_NOT_ALLOWED"_s);
    QCOMPARE(response.headers.value("allow"), "POST"_ba);
}

void tst_Session::failureLimitPerAddress()
{
    auto config = passwordConfig();
    QCOMPARE(config.limits.sessionFailuresPerMinute, 10);
    QVERIFY(startServer(config));
    for (int i = 0; i < 10; ++i) {
        const auto response = signIn({{u"name"_s, u"Mallory"_s}, {u"password"_s, u"guess-%1"_s.arg(i)}});
        QCOMPARE(response.status, 401);
    }
    const auto limited = signIn({{u"name"_s, u"Mallory"_s}, {u"password"_s, u"guess-10"_s}});
    QCOMPARE(limited.status, 429);
    QCOMPARE(limited.errorCode(), u"TOO_MANY_ATTEMPTS"_s);
    bool ok = false;
    const int retryAfter = limited.headers.value("retry-after").toInt(&ok);
    QVERIFY2(ok && retryAfter >= 1 && retryAfter <= 60, limited.headers.value("retry-after").constData());
    // Out of attempts means out: the right password waits too, or guessing would go on.
    const auto right = signIn({{u"name"_s, u"Alice"_s}, {u"password"_s, Password}});
    QCOMPARE(right.status, 429);
}

void tst_Session::failureBucketsByAddress()
{
    // The issuer alone, with the clock in the test's hands.
    Server::AuthConfig auth;
    auth.joinPassword = Password;
    auth.secret = Secret;
    Server::SessionIssuer issuer(auth, Server::Limits{});
    const QByteArray wrong = compact({{u"name"_s, u"M"_s}, {u"password"_s, u"x"_s}});
    const QByteArray right = compact({{u"name"_s, u"A"_s}, {u"password"_s, Password}});
    const QHostAddress v4(u"192.0.2.7"_s);
    for (int i = 0; i < 10; ++i)
        QCOMPARE(issuer.issue(wrong, v4, 1000).status, 401);
    auto limited = issuer.issue(right, v4, 1000);
    QCOMPARE(limited.status, 429);
    QCOMPARE(limited.retryAfterSeconds, 6); // one attempt back every 6 s (10 a minute)
    // The same IPv4 peer seen through a dual-stack socket shares the bucket.
    QCOMPARE(issuer.issue(right, QHostAddress(u"::ffff:192.0.2.7"_s), 1000).status, 429);
    // Another address is not affected.
    QCOMPARE(issuer.issue(right, QHostAddress(u"192.0.2.8"_s), 1000).status, 201);
    // Time gives attempts back.
    QCOMPARE(issuer.issue(right, v4, 7000).status, 201);
    // IPv6: one /64 is one host.
    for (int i = 0; i < 10; ++i)
        QCOMPARE(issuer.issue(wrong, QHostAddress(u"2001:db8:1:2::%1"_s.arg(i + 1)), 1000).status, 401);
    QCOMPARE(issuer.issue(right, QHostAddress(u"2001:db8:1:2::ffff"_s), 1000).status, 429);
    QCOMPARE(issuer.issue(right, QHostAddress(u"2001:db8:1:3::1"_s), 1000).status, 201);
}

void tst_Session::configuredSecretAndTtl()
{
    auto config = passwordConfig();
    config.auth.secret = Secret; // auth not enabled explicitly: the join password turns it on
    config.auth.sessionTtl = std::chrono::hours(1);
    QVERIFY(startServer(config));
    const auto response = signIn({{u"name"_s, u"Carol"_s}, {u"password"_s, Password}});
    QCOMPARE(response.status, 201);
    QCOMPARE(response.json().value("expires_in"_L1).toInteger(), 3600);
    const QString token = response.json().value("token"_L1).toString();

    // Signed with the configured secret, so it outlives this process.
    Server::AuthConfig auth;
    auth.enabled = true;
    auth.secret = Secret;
    QString error;
    const auto verifier = Server::JwtVerifier::create(auth, &error);
    QVERIFY2(verifier, qPrintable(error));
    const auto result = verifier->verify(token.toLatin1());
    QVERIFY(result.ok());
    QCOMPARE(result.claims->subject, u"carol"_s);
    QCOMPARE(result.claims->name, u"Carol"_s);
}

void tst_Session::options()
{
    QProcessEnvironment env;
    env.insert(u"ENV_FILE"_s, QProcess::nullDevice());
    env.insert(u"JOIN_PASSWORD"_s, u"from-env"_s);
    auto result = Server::ConfigLoader::load({u"--session-ttl"_s, u"12h"_s, u"--discovery"_s, u"off"_s,
                                              u"--discovery-port"_s, u"5000"_s, u"--server-name"_s, u" Lab "_s,
                                              u"--discovery-target"_s, u"127.0.0.1, 10.0.0.255"_s},
                                             env);
    QVERIFY2(result.errors.isEmpty(), qPrintable(result.errors.join(u'\n')));
    QCOMPARE(result.config.auth.joinPassword, u"from-env"_s);
    QCOMPARE(result.config.auth.sessionTtl, std::chrono::hours(12));
    QCOMPARE(result.config.discovery.enabled, false);
    QCOMPARE(result.config.discovery.port, quint16(5000));
    QCOMPARE(result.config.discovery.serverName, u"Lab"_s);
    QCOMPARE(result.config.discovery.targets,
             (QList<QHostAddress>{QHostAddress(u"127.0.0.1"_s), QHostAddress(u"10.0.0.255"_s)}));
    // No "AUTH_SECRET is ignored" style warning: the join password needs no other setting.
    QVERIFY2(result.warnings.isEmpty(), qPrintable(result.warnings.join(u'\n')));

    const Server::ServerConfig defaults;
    QCOMPARE(defaults.discovery.enabled, true);
    QCOMPARE(defaults.discovery.port, quint16(41234));
    QCOMPARE(defaults.auth.sessionTtl, std::chrono::hours(24));
    QCOMPARE(TestServer::defaultConfig().discovery.enabled, false);
    const QString help = Server::ConfigLoader::helpText();
    for (const auto &flag : {u"--join-password"_s, u"--session-ttl"_s, u"--discovery"_s, u"--discovery-port"_s,
                             u"--server-name"_s, u"--discovery-target"_s, u"--session-failures-per-minute"_s})
        QVERIFY2(help.contains(flag + u' '), qPrintable(flag));

    // A join password with only a public key: the server could not sign what it hands out.
    const QString key = QStringLiteral(CONFAB_TEST_DATA_DIR) + u"/jwt/rsa_public.pem"_s;
    QVERIFY(QFile::exists(key));
    result = Server::ConfigLoader::load({u"--auth-public-key"_s, key}, env);
    QVERIFY2(result.errors.join(u'\n').contains(u"JOIN_PASSWORD"_s), qPrintable(result.errors.join(u'\n')));
}

void tst_Session::optionErrors_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("flag");
    QTest::newRow("ttl too short") << QStringList{u"--session-ttl"_s, u"10s"_s} << u"--session-ttl"_s;
    QTest::newRow("ttl too long") << QStringList{u"--session-ttl"_s, u"31d"_s} << u"--session-ttl"_s;
    QTest::newRow("ttl garbage") << QStringList{u"--session-ttl"_s, u"soon"_s} << u"--session-ttl"_s;
    QTest::newRow("discovery garbage") << QStringList{u"--discovery=maybe"_s} << u"--discovery"_s;
    QTest::newRow("port zero") << QStringList{u"--discovery-port"_s, u"0"_s} << u"--discovery-port"_s;
    QTest::newRow("port too big") << QStringList{u"--discovery-port"_s, u"70000"_s} << u"--discovery-port"_s;
    QTest::newRow("target short form") << QStringList{u"--discovery-target"_s, u"10.1"_s} << u"--discovery-target"_s;
    QTest::newRow("target name") << QStringList{u"--discovery-target"_s, u"host.lan"_s} << u"--discovery-target"_s;
    QTest::newRow("name too long") << QStringList{u"--server-name"_s, QString(101, u'n')} << u"--server-name"_s;
}

void tst_Session::optionErrors()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, flag);
    QProcessEnvironment env;
    env.insert(u"ENV_FILE"_s, QProcess::nullDevice());
    const auto result = Server::ConfigLoader::load(arguments, env);
    QCOMPARE(result.errors.size(), 1);
    QVERIFY2(result.errors.first().contains(flag), qPrintable(result.errors.first()));
}

QTEST_GUILESS_MAIN(tst_Session)
#include "tst_session.moc"
