// Confab::Client in JWT mode, against the real server: joins with valid tokens, every refusal
// code as the channel reports it, no retry after an AUTH_* refusal until the token changes,
// refreshing a token on a live channel, expiry, and the token provider. Waits are on states,
// signals or the wall clock (for token expiry), never fixed sleeps.
#include <ConfabClient/channellistmodel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/messagemodel.h>
#include <ConfabClient/presencemodel.h>
#include <ConfabClient/reply.h>
#include <ConfabTestServer/testserver.h>

#include "replyoutcome.h"

#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QMessageAuthenticationCode>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using Confab::Channel;
using Confab::ChannelConfig;
using Confab::Client;
using Confab::Reply;
using Confab::TestServer;
using Confab::Testing::OutcomePtr;
using Confab::Testing::watch;

namespace {

// 40 characters: above HS256's 32-byte minimum.
const QString Secret = u"tst_clientauth-secret-0123456789abcdefgh"_s;
const QByteArray OtherSecret = "another-secret-that-the-server-does-not-know";
const QString AdminToken = u"tst_clientauth-admin-token-0123456789abcdefgh"_s;

QByteArray b64(const QByteArray &data)
{
    return data.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

// Hand-made tokens: the inputs of a refusal test must not come from the code under test.
QString jwt(const QJsonObject &claims, const QByteArray &key = Secret.toUtf8(), const QString &alg = u"HS256"_s)
{
    const QJsonObject header{{u"alg"_s, alg}, {u"typ"_s, u"JWT"_s}};
    const QByteArray input = b64(QJsonDocument(header).toJson(QJsonDocument::Compact)) + '.'
        + b64(QJsonDocument(claims).toJson(QJsonDocument::Compact));
    if (alg == "none"_L1)
        return QString::fromLatin1(input + '.');
    return QString::fromLatin1(input + '.' + b64(QMessageAuthenticationCode::hash(input, key, QCryptographicHash::Sha256)));
}

qint64 nowSecs()
{
    return QDateTime::currentSecsSinceEpoch();
}

//! The `exp` claim of \a token (seconds since the epoch), or 0.
qint64 expiryOf(const QString &token)
{
    const auto parts = token.split(u'.');
    if (parts.size() != 3)
        return 0;
    const auto payload = QByteArray::fromBase64(parts.at(1).toLatin1(), QByteArray::Base64UrlEncoding);
    return QJsonDocument::fromJson(payload).object().value("exp"_L1).toInteger();
}

//! Waits on the wall clock until \a exp (a JWT `exp`) has passed by \a marginMs.
[[nodiscard]] bool waitPast(qint64 exp, int marginMs)
{
    const qint64 until = exp * 1000 + marginMs;
    const auto left = until - QDateTime::currentMSecsSinceEpoch();
    return QTest::qWaitFor([until] { return QDateTime::currentMSecsSinceEpoch() > until; },
                           int(std::max<qint64>(left, 0) + 2000));
}

QString uniqueTopic(const QString &suffix = {})
{
    return u"room:"_s + QString::fromLatin1(QTest::currentTestFunction()) + suffix;
}

ChannelConfig keyed(const QString &key, bool ack = false)
{
    ChannelConfig config;
    config.ack = ack;
    config.presenceKey = key;
    return config;
}

//! Records every reconnect/rejoin delay the client asks for.
struct BackoffLog
{
    QList<int> attempts;
    Client::Backoff backoff()
    {
        return [this](int attempt) {
            attempts.append(attempt);
            return 50ms;
        };
    }
};

} // namespace

class tst_ClientAuth : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void validTokenSubscribes();
    void joinRefused_data();
    void joinRefused();
    void expiredMintedToken();
    void authRefusalIsNotRetried();
    void tokenChangedWhileJoinInFlight();
    void tokenRefreshKeepsChannelOpen();
    void expiryWithoutRefreshClosesChannel();
    void tokenProviderRecoversFromExpiry();
    void tokenProviderIsAskedForEachJoin();
    void chatIdentityComesFromTheToken_data();
    void chatIdentityComesFromTheToken();

private:
    std::unique_ptr<Client> makeClient(const TestServer &server);
    //! `rejected` of the server's /api/stats: refusals counted by code.
    QJsonObject rejectedCounts(const TestServer &server);

    std::unique_ptr<TestServer> m_server;
};

void tst_ClientAuth::initTestCase()
{
    m_server = std::make_unique<TestServer>(
        QStringList{u"--auth-enabled"_s, u"--auth-secret"_s, Secret, u"--admin-token"_s, AdminToken});
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QVERIFY2(!m_server->mintToken(u"probe"_s).isEmpty(), qPrintable(m_server->errorString()));
}

void tst_ClientAuth::cleanupTestCase()
{
    m_server.reset();
}

std::unique_ptr<Client> tst_ClientAuth::makeClient(const TestServer &server)
{
    auto client = std::make_unique<Client>(server.url());
    client->setBackoff([](int) { return 50ms; });
    return client;
}

QJsonObject tst_ClientAuth::rejectedCounts(const TestServer &server)
{
    QNetworkAccessManager manager;
    QNetworkRequest request(server.httpUrl().resolved(QUrl(u"/api/stats"_s)));
    // /api/stats is an operator route: the admin token, not a user's.
    request.setRawHeader("Authorization", "Bearer " + AdminToken.toLatin1());
    std::unique_ptr<QNetworkReply> reply(manager.get(request));
    if (!QTest::qWaitFor([&reply] { return reply->isFinished(); }, 5000) || reply->error() != QNetworkReply::NoError)
        return {{u"<error>"_s, reply->errorString()}};
    return QJsonDocument::fromJson(reply->readAll()).object().value("rejected"_L1).toObject();
}

void tst_ClientAuth::validTokenSubscribes()
{
    const auto token = m_server->mintToken(u"alice"_s, 1h, {}, u"Alice"_s);
    auto client = makeClient(*m_server);
    QSignalSpy tokenChanged(client.get(), &Client::tokenChanged);
    client->setAuth(token);
    QCOMPARE(client->token(), token);
    QCOMPARE(tokenChanged.size(), 1);
    client->setAuth(token);
    QCOMPARE(tokenChanged.size(), 1); // unchanged: no signal

    auto *ch = client->channel(uniqueTopic(), keyed(u"alice"_s));
    QSignalSpy errors(ch, &Channel::errorOccurred);
    ch->subscribe();
    (void)ch->track({{u"status"_s, u"online"_s}});
    client->connectToServer();
    QTRY_COMPARE(ch->status(), Channel::Status::Subscribed);
    QVERIFY(ch->errorCode().isEmpty());
    QCOMPARE(errors.size(), 0);
    QTRY_COMPARE(m_server->presenceKeys(ch->topic()), QStringList{u"alice"_s});
}

void tst_ClientAuth::joinRefused_data()
{
    QTest::addColumn<QString>("token");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("reason");

    QTest::newRow("no token") << QString() << u"AUTH_TOKEN_REQUIRED"_s << u"Access token required"_s;
    QTest::newRow("expired") << jwt({{u"sub"_s, u"alice"_s}, {u"exp"_s, nowSecs() - 60}})
                             << u"AUTH_TOKEN_EXPIRED"_s << u"Token expired"_s;
    QTest::newRow("wrong secret") << jwt({{u"sub"_s, u"alice"_s}, {u"exp"_s, nowSecs() + 3600}}, OtherSecret)
                                  << u"AUTH_INVALID_SIGNATURE"_s << u"Invalid signature"_s;
    QTest::newRow("garbage") << u"this is not a token"_s << u"AUTH_INVALID_TOKEN"_s << u"Invalid token"_s;
    QTest::newRow("no sub") << jwt({{u"exp"_s, nowSecs() + 3600}}) << u"AUTH_INVALID_TOKEN"_s
                            << u"Invalid token"_s;
    QTest::newRow("alg none") << jwt({{u"sub"_s, u"alice"_s}, {u"exp"_s, nowSecs() + 3600}}, {}, u"none"_s)
                              << u"AUTH_INVALID_TOKEN"_s << u"Algorithm not allowed"_s;
    QTest::newRow("not yet valid")
        << jwt({{u"sub"_s, u"alice"_s}, {u"nbf"_s, nowSecs() + 3600}, {u"exp"_s, nowSecs() + 7200}})
        << u"AUTH_CLAIM_INVALID"_s << u"Token validation failed"_s;
    QTest::newRow("channels claim") << m_server->mintToken(u"alice"_s, 1h, {u"other:*"_s})
                                    << u"AUTH_CHANNEL_DENIED"_s << u"Access denied to this channel"_s;
}

void tst_ClientAuth::joinRefused()
{
    QFETCH(QString, token);
    QFETCH(QString, code);
    QFETCH(QString, reason);

    const auto topic = uniqueTopic(u"-"_s + QString::fromLatin1(QTest::currentDataTag()));
    auto client = makeClient(*m_server);
    client->setAuth(token);
    auto *ch = client->channel(topic, keyed(u"alice"_s, true));
    QSignalSpy errors(ch, &Channel::errorOccurred);
    QSignalSpy subscribed(ch, &Channel::subscribed);
    ch->subscribe();
    // Waiting for the join: these can never be delivered once it is refused.
    auto push = watch(ch->send(u"hello"_s));
    auto track = watch(ch->track({}));
    QCOMPARE(client->bufferedCount(), 1);
    client->connectToServer();

    QTRY_COMPARE(ch->status(), Channel::Status::Errored);
    QCOMPARE(ch->errorCode(), code);
    QCOMPARE(ch->errorMessage(), reason);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).toString(), code);
    QCOMPARE(errors.at(0).at(1).toString(), reason);
    QCOMPARE(subscribed.size(), 0);
    QVERIFY(!ch->isSubscribed());
    QCOMPARE(client->channels()->index(0).data(Confab::ChannelListModel::ErrorCodeRole).toString(), code);
    QCOMPARE(client->state(), Client::State::Connected); // a refused join is not a connection error

    QTRY_VERIFY(push->done() && track->done());
    QCOMPARE(push->status, Reply::Status::Error);
    QCOMPARE(push->code, code);
    QCOMPARE(track->code, code);
    QCOMPARE(client->bufferedCount(), 0);
    QCOMPARE(m_server->memberCount(topic), 0);
}

void tst_ClientAuth::expiredMintedToken()
{
    const auto token = m_server->mintToken(u"alice"_s, 1s);
    const auto exp = expiryOf(token);
    QVERIFY(exp > 0);
    QVERIFY(waitPast(exp, 1000)); // exp has whole seconds: a full second past it is expired

    auto client = makeClient(*m_server);
    client->setAuth(token);
    auto *ch = client->channel(uniqueTopic());
    QSignalSpy errors(ch, &Channel::errorOccurred);
    ch->subscribe();
    client->connectToServer();
    QTRY_COMPARE(ch->status(), Channel::Status::Errored);
    QCOMPARE(ch->errorCode(), u"AUTH_TOKEN_EXPIRED"_s);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).toString(), u"AUTH_TOKEN_EXPIRED"_s);
    QCOMPARE(errors.at(0).at(1).toString(), u"Token expired"_s);
}

void tst_ClientAuth::authRefusalIsNotRetried()
{
    // A server of its own, so that its refusal counters are this test's alone.
    TestServer server({u"--auth-enabled"_s, u"--auth-secret"_s, Secret, u"--admin-token"_s, AdminToken});
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const auto required = u"AUTH_TOKEN_REQUIRED"_s;
    QCOMPARE(rejectedCounts(server).value(required).toInt(), 0);

    // Rejoin and reconnect delays both come from the back-off: a retry would have to ask it.
    BackoffLog log;
    auto client = std::make_unique<Client>(server.url());
    client->setBackoff(log.backoff());
    auto *ch = client->channel(uniqueTopic());
    QSignalSpy errors(ch, &Channel::errorOccurred);
    ch->subscribe(); // no token
    client->connectToServer();
    QTRY_COMPARE(ch->status(), Channel::Status::Errored);
    QCOMPARE(ch->errorCode(), required);
    QVERIFY2(log.attempts.isEmpty(), "a refused AUTH_* join must not schedule a rejoin");

    // Barrier: one more refused join on the same connection. The server handles a connection's
    // frames in order, so when its refusal is here, any retry of the first would be counted.
    auto *barrier = client->channel(uniqueTopic(u"-barrier"_s));
    barrier->subscribe();
    QTRY_COMPARE(barrier->status(), Channel::Status::Errored);
    QCOMPARE(rejectedCounts(server).value(required).toInt(), 2); // one join per channel
    QCOMPARE(errors.size(), 1);
    QVERIFY(log.attempts.isEmpty());

    // Nor after a reconnect: the same (missing) token would be refused again.
    QSignalSpy connected(client.get(), &Client::connected);
    server.dropConnections();
    QTRY_COMPARE(connected.size(), 1);
    QCOMPARE(log.attempts, QList<int>{1}); // the reconnect, and nothing else
    auto *barrier2 = client->channel(uniqueTopic(u"-barrier2"_s));
    barrier2->subscribe();
    QTRY_COMPARE(barrier2->status(), Channel::Status::Errored);
    QCOMPARE(rejectedCounts(server).value(required).toInt(), 3);
    QCOMPARE(ch->status(), Channel::Status::Errored);
    QCOMPARE(ch->errorCode(), required);
    QCOMPARE(errors.size(), 1);

    // A new token: the refused channels rejoin by themselves.
    QSignalSpy subscribed(ch, &Channel::subscribed);
    client->setAuth(server.mintToken(u"alice"_s));
    QTRY_COMPARE(ch->status(), Channel::Status::Subscribed);
    QTRY_VERIFY(barrier->isSubscribed() && barrier2->isSubscribed());
    QCOMPARE(subscribed.size(), 1);
    QVERIFY(ch->errorCode().isEmpty());
    QCOMPARE(server.memberCount(ch->topic()), 1);
    QCOMPARE(log.attempts, QList<int>{1});
    QCOMPARE(rejectedCounts(server).value(required).toInt(), 3);
}

void tst_ClientAuth::tokenChangedWhileJoinInFlight()
{
    // setAuth() while a join with the old token is on the wire: the refusal of that join must
    // not block the channel, since the token it was refused for is no longer the client's.
    auto client = makeClient(*m_server);
    client->setAuth(u"garbage"_s);
    client->connectToServer();
    QTRY_VERIFY(client->isConnected());

    auto *ch = client->channel(uniqueTopic());
    QSignalSpy errors(ch, &Channel::errorOccurred);
    ch->subscribe(); // connected: the join (with "garbage") is sent now
    client->setAuth(m_server->mintToken(u"alice"_s));
    QTRY_VERIFY(!errors.isEmpty()); // the first join's refusal
    QCOMPARE(errors.at(0).at(0).toString(), u"AUTH_INVALID_TOKEN"_s);
    QTRY_COMPARE_WITH_TIMEOUT(ch->status(), Channel::Status::Subscribed, 2000);
    QCOMPARE(m_server->memberCount(ch->topic()), 1);
}

void tst_ClientAuth::tokenRefreshKeepsChannelOpen()
{
    const auto topic = uniqueTopic();
    // Short enough to wait for, long enough (at least 2 s: exp has whole seconds) to join and
    // refresh well before it.
    const auto shortToken = m_server->mintToken(u"alice"_s, 3s);
    const auto shortExpiry = expiryOf(shortToken);
    QVERIFY(shortExpiry > 0);

    auto alice = makeClient(*m_server);
    alice->setAuth(shortToken);
    auto *chA = alice->channel(topic, keyed(u"alice"_s, true));
    QSignalSpy errorsA(chA, &Channel::errorOccurred);
    QSignalSpy gotA(chA, &Channel::broadcastReceived);
    chA->subscribe();
    (void)chA->track({});
    auto bob = makeClient(*m_server);
    bob->setAuth(m_server->mintToken(u"bob"_s));
    auto *chB = bob->channel(topic, keyed(u"bob"_s, true));
    QSignalSpy gotB(chB, &Channel::broadcastReceived);
    chB->subscribe();
    alice->connectToServer();
    bob->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chB->isSubscribed());
    QVERIFY2(QDateTime::currentSecsSinceEpoch() < shortExpiry, "joined too late to test a refresh");

    alice->setAuth(m_server->mintToken(u"alice"_s, 1h));
    // Barrier: this reply comes after the server handled the access_token frame sent before it.
    auto barrier = watch(chA->send(u"after-refresh"_s));
    QTRY_VERIFY(barrier->done());
    QCOMPARE(barrier->status, Reply::Status::Ok);
    QCOMPARE(errorsA.size(), 0); // the refresh was accepted

    QVERIFY(waitPast(shortExpiry, 500));
    auto fromA = watch(chA->send(u"still-here"_s, QJsonObject{{u"n"_s, 1}}));
    QTRY_VERIFY(fromA->done());
    QCOMPARE(fromA->status, Reply::Status::Ok);
    QCOMPARE(fromA->response.value("recipientCount"_L1).toInt(), 1);
    QTRY_COMPARE(gotB.size(), 2);
    QCOMPARE(gotB.at(1).at(0).toString(), u"still-here"_s);
    auto fromB = watch(chB->send(u"to-alice"_s));
    QTRY_VERIFY(fromB->done());
    QTRY_COMPARE(gotA.size(), 1);

    QCOMPARE(chA->status(), Channel::Status::Subscribed);
    QCOMPARE(errorsA.size(), 0);
    QCOMPARE(m_server->presenceKeys(topic), (QStringList{u"alice"_s}));
    QCOMPARE(alice->state(), Client::State::Connected);
}

void tst_ClientAuth::expiryWithoutRefreshClosesChannel()
{
    const auto topic = uniqueTopic();
    const auto token = m_server->mintToken(u"alice"_s, 2s);
    auto alice = makeClient(*m_server);
    alice->setAuth(token);
    auto *ch = alice->channel(topic, keyed(u"alice"_s));
    QSignalSpy errors(ch, &Channel::errorOccurred);
    QSignalSpy clientErrors(alice.get(), &Client::errorOccurred);
    ch->subscribe();
    (void)ch->track({});
    alice->connectToServer();
    QTRY_VERIFY(ch->isSubscribed());
    QTRY_COMPARE(m_server->presenceKeys(topic), QStringList{u"alice"_s});

    QTRY_COMPARE_WITH_TIMEOUT(ch->status(), Channel::Status::Closed, 5000);
    QCOMPARE(ch->errorCode(), u"AUTH_TOKEN_EXPIRED"_s);
    QCOMPARE(ch->errorMessage(), u"Token expired"_s);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).toString(), u"AUTH_TOKEN_EXPIRED"_s);
    QTRY_COMPARE(m_server->memberCount(topic), 0);
    QVERIFY(m_server->presenceKeys(topic).isEmpty());

    // Its last channel gone, the server closes the connection (4001); the client reconnects but
    // does not rejoin with the expired token.
    QTRY_VERIFY(!clientErrors.isEmpty());
    QCOMPARE(clientErrors.at(0).at(0).toString(), u"AUTH_TOKEN_EXPIRED"_s);
    QTRY_COMPARE(alice->state(), Client::State::Connected);
    // The server closes channels when `exp` begins but its verifier accepts a token until `exp`
    // has passed by a whole second: only after that is a join with it refused for certain.
    QVERIFY(waitPast(expiryOf(token), 1000));
    auto *barrier = alice->channel(uniqueTopic(u"-barrier"_s));
    barrier->subscribe();
    QTRY_COMPARE(barrier->status(), Channel::Status::Errored); // refused: the token is expired
    QCOMPARE(barrier->errorCode(), u"AUTH_TOKEN_EXPIRED"_s);
    QCOMPARE(ch->status(), Channel::Status::Closed);
    QCOMPARE(m_server->memberCount(topic), 0);

    // A fresh token brings it back, presence included.
    alice->setAuth(m_server->mintToken(u"alice"_s));
    QTRY_COMPARE(ch->status(), Channel::Status::Subscribed);
    QTRY_COMPARE(m_server->presenceKeys(topic), QStringList{u"alice"_s});
}

void tst_ClientAuth::tokenProviderRecoversFromExpiry()
{
    const auto topic = uniqueTopic();
    int calls = 0;
    auto alice = makeClient(*m_server);
    alice->setTokenProvider([this, &calls](const std::function<void(const QString &)> &done) {
        // The first token expires soon; the provider hands out good ones after that.
        done(m_server->mintToken(u"alice"_s, ++calls == 1 ? 2s : 1h));
    });
    auto *chA = alice->channel(topic, keyed(u"alice"_s));
    QSignalSpy errorsA(chA, &Channel::errorOccurred);
    QSignalSpy subscribedA(chA, &Channel::subscribed);
    chA->subscribe();
    (void)chA->track({{u"status"_s, u"online"_s}});

    auto bob = makeClient(*m_server);
    bob->setAuth(m_server->mintToken(u"bob"_s));
    auto *chB = bob->channel(topic, keyed(u"bob"_s, true));
    QSignalSpy leftB(chB, &Channel::presenceLeft);
    QSignalSpy gotA(chA, &Channel::broadcastReceived);
    chB->subscribe();
    alice->connectToServer();
    bob->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chB->isSubscribed());
    QTRY_VERIFY(chB->presenceState().contains("alice"_L1));
    QCOMPARE(calls, 1);

    // The first token expires: the server closes the channel, the client recovers by itself.
    QTRY_VERIFY_WITH_TIMEOUT(!errorsA.isEmpty(), 5000);
    QCOMPARE(errorsA.at(0).at(0).toString(), u"AUTH_TOKEN_EXPIRED"_s);
    QTRY_VERIFY(!leftB.isEmpty());
    QTRY_VERIFY(subscribedA.size() >= 2);
    QTRY_COMPARE(chA->status(), Channel::Status::Subscribed);
    QVERIFY(calls >= 2);
    // Presence re-tracked, as the peer sees it.
    QTRY_COMPARE(m_server->presenceKeys(topic), QStringList{u"alice"_s});
    QTRY_VERIFY(chB->presenceState().contains("alice"_L1));
    QCOMPARE(chB->presence()->metas(u"alice"_s), (QJsonArray{QJsonObject{{u"status"_s, u"online"_s}}}));
    auto sent = watch(chB->send(u"welcome-back"_s));
    QTRY_VERIFY(sent->done());
    QCOMPARE(sent->response.value("recipientCount"_L1).toInt(), 1);
    QTRY_COMPARE(gotA.size(), 1);
}

void tst_ClientAuth::tokenProviderIsAskedForEachJoin()
{
    int calls = 0;
    auto client = makeClient(*m_server);
    client->setAuth(u"not-a-token"_s); // the provider wins over token()
    client->setTokenProvider([this, &calls](const std::function<void(const QString &)> &done) {
        ++calls;
        // Answer later, as a provider fetching from the network would.
        QTimer::singleShot(0, this, [this, done] { done(m_server->mintToken(u"carol"_s)); });
    });
    auto *one = client->channel(uniqueTopic(u"-1"_s));
    auto *two = client->channel(uniqueTopic(u"-2"_s));
    QSignalSpy subscribedOne(one, &Channel::subscribed);
    QSignalSpy subscribedTwo(two, &Channel::subscribed);
    one->subscribe();
    client->connectToServer();
    QTRY_VERIFY(one->isSubscribed());
    QCOMPARE(calls, 1);
    two->subscribe();
    QTRY_VERIFY(two->isSubscribed());
    QCOMPARE(calls, 2);

    m_server->dropConnections();
    QTRY_VERIFY(subscribedOne.size() == 2 && subscribedTwo.size() == 2);
    QVERIFY(one->isSubscribed() && two->isSubscribed());
    QCOMPARE(calls, 4); // one per rejoin
    QCOMPARE(m_server->memberCount(one->topic()), 1);
}

void tst_ClientAuth::chatIdentityComesFromTheToken_data()
{
    QTest::addColumn<bool>("provider");
    QTest::newRow("static token") << false;
    QTest::newRow("token provider") << true;
}

void tst_ClientAuth::chatIdentityComesFromTheToken()
{
    // JWT mode: the user is the token's subject, whatever the application claims; own messages
    // are recognised as such, and a token provider is still asked once per join.
    QFETCH(bool, provider);
    QTemporaryDir storage;
    QVERIFY(storage.isValid());
    const auto topic = uniqueTopic(u"-"_s + QString::fromLatin1(QTest::currentDataTag()).replace(u' ', u'-'));
    int calls = 0;
    auto client = makeClient(*m_server);
    client->setStoragePath(storage.path());
    client->setUser(u"mallory"_s); // ignored by a JWT server
    if (provider) {
        client->setTokenProvider([this, &calls](const std::function<void(const QString &)> &done) {
            ++calls;
            done(m_server->mintToken(u"dave"_s, 1h, {}, u"Dave"_s));
        });
    } else {
        client->setAuth(m_server->mintToken(u"dave"_s, 1h, {}, u"Dave"_s));
    }
    ChannelConfig config;
    config.chat = true;
    auto *room = client->channel(topic, config);
    room->subscribe();
    client->connectToServer();
    QTRY_COMPARE(room->status(), Channel::Status::Subscribed);
    QTRY_COMPARE(client->userId(), u"dave"_s);
    QCOMPARE(client->userName(), u"Dave"_s);
    auto sent = watch(room->sendMessage(u"signed by the token"_s));
    QTRY_VERIFY(sent->done());
    QCOMPARE(sent->status, Reply::Status::Ok);
    QCOMPARE(room->messages()->rowCount(), 1);
    QVERIFY(room->messages()->index(0).data(Confab::MessageModel::OwnRole).toBool());
    QCOMPARE(room->messages()->index(0).data(Confab::MessageModel::AuthorIdRole).toString(), u"dave"_s);
    if (provider)
        QCOMPARE(calls, 1);
}

QTEST_GUILESS_MAIN(tst_ClientAuth)
#include "tst_clientauth.moc"
