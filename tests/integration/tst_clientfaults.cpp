// Confab::Client under network faults, against the real server (Confab::TestServer): dropped
// TCP connections, a server that stops and starts again on the same port, a frozen server that
// no longer answers heartbeats, pushes buffered while disconnected, requests in flight when the
// connection dies, and a server at its connection limit. Timings are small (heartbeat 300 ms,
// request timeout 1 s); every wait is on a state or a signal, with generous timeouts, and the
// only timing assertions are loose upper bounds.
#include <ConfabClient/client.h>
#include <ConfabClient/presencemodel.h>
#include <ConfabClient/reply.h>
#include <ConfabTestServer/testserver.h>

#include "replyoutcome.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtNetwork/QTcpSocket>
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

constexpr int HeartbeatMs = 300;
constexpr int RequestTimeoutMs = 1000;

QString uniqueTopic(const QString &suffix = {})
{
    return u"room:"_s + QString::fromLatin1(QTest::currentTestFunction()) + suffix;
}

ChannelConfig keyed(const QString &key, bool ack = true)
{
    ChannelConfig config;
    config.ack = ack;
    config.presenceKey = key;
    return config;
}

QList<Client::State> statesOf(const QSignalSpy &spy)
{
    QList<Client::State> states;
    for (const auto &args : spy)
        states.append(args.at(0).value<Client::State>());
    return states;
}

template<typename T>
QByteArray describe(const QList<T> &list)
{
    QString text;
    QDebug(&text) << list;
    return text.toUtf8();
}

//! A port on 127.0.0.1 that refuses connections while this lives: bound without
//! SO_REUSEADDR and never listening, so no other socket (nor a parallel test) can take it.
class RefusingPort
{
public:
    RefusingPort() { m_socket.bind(QHostAddress::LocalHost, 0, QAbstractSocket::DontShareAddress); }
    [[nodiscard]] bool isValid() const { return m_socket.localPort() != 0; }
    [[nodiscard]] QUrl url() const { return QUrl(u"ws://127.0.0.1:%1/"_s.arg(m_socket.localPort())); }

private:
    QTcpSocket m_socket;
};

//! A client with small timings and a fast fixed back-off (for tests that do not time it).
std::unique_ptr<Client> makeClient(const QUrl &url)
{
    auto client = std::make_unique<Client>(url);
    client->setHeartbeatInterval(HeartbeatMs);
    client->setRequestTimeout(RequestTimeoutMs);
    client->setBackoff([](int) { return 50ms; });
    return client;
}

//! Records every back-off call (attempt and the delay handed out).
struct BackoffLog
{
    QList<int> attempts;
    QList<qint64> delays;
    Client::Backoff recording(Client::Backoff inner)
    {
        return [this, inner = std::move(inner)](int attempt) {
            const auto delay = inner(attempt);
            attempts.append(attempt);
            delays.append(delay.count());
            return delay;
        };
    }
};

} // namespace

class tst_ClientFaults : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void defaultBackoffGrowsWithJitter();
    void serverDropsConnection();
    void serverRestartsOnSamePort();
    void frozenServerIsDetectedByHeartbeat();
    void pushesBufferedWhileDisconnected();
    void bufferLimitAndDisconnect();
    void requestInFlightFailsWhenConnectionDies();
    void connectionLimitRefusesAndRetries();
    void refusalReasonIsNotReportedAgainLater();
};

void tst_ClientFaults::defaultBackoffGrowsWithJitter()
{
    for (int attempt = 1; attempt <= 10; ++attempt) {
        const qint64 ceiling = std::min<qint64>(1000LL << std::min(attempt - 1, 5), 30000);
        for (int draw = 0; draw < 50; ++draw) {
            const auto delay = Client::defaultBackoff(attempt).count();
            QVERIFY2(delay >= ceiling / 2 && delay <= ceiling,
                     qPrintable(u"attempt %1: %2 ms not in [%3, %4]"_s.arg(attempt).arg(delay).arg(ceiling / 2).arg(ceiling)));
        }
    }
}

void tst_ClientFaults::serverDropsConnection()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const auto topic = uniqueTopic();
    auto alice = makeClient(server.url());
    auto peer = makeClient(server.url());
    auto *chA = alice->channel(topic, keyed(u"alice"_s));
    auto *chP = peer->channel(topic, keyed(u"peer"_s));
    QSignalSpy gotA(chA, &Channel::broadcastReceived);
    QSignalSpy gotP(chP, &Channel::broadcastReceived);
    chA->subscribe();
    chP->subscribe();
    (void)chA->track({{u"status"_s, u"online"_s}});
    (void)chP->track({});
    alice->connectToServer();
    peer->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chP->isSubscribed());
    QTRY_COMPARE(server.presenceKeys(topic), (QStringList{u"alice"_s, u"peer"_s}));
    QTRY_VERIFY(chP->presenceState().contains("alice"_L1));

    QSignalSpy states(alice.get(), &Client::stateChanged);
    QSignalSpy statuses(chA, &Channel::statusChanged);
    QSignalSpy rejoinedA(chA, &Channel::subscribed);
    QSignalSpy rejoinedP(chP, &Channel::subscribed);
    server.dropConnections();

    QTRY_VERIFY(rejoinedA.size() == 1 && rejoinedP.size() == 1);
    const auto seen = statesOf(states);
    QVERIFY2(!seen.isEmpty() && seen.first() == Client::State::Reconnecting, describe(seen).constData());
    QCOMPARE(seen.last(), Client::State::Connected);
    QCOMPARE(alice->state(), Client::State::Connected);
    QCOMPARE(alice->reconnectAttempt(), 0);
    QCOMPARE(statuses.first().at(0).value<Channel::Status>(), Channel::Status::Joining);
    QCOMPARE(chA->status(), Channel::Status::Subscribed);
    QVERIFY(chA->errorCode().isEmpty());
    QVERIFY(alice->errorCode().isEmpty()); // a dropped connection is not an error to report

    // Presence is back on the server and as the peer sees it.
    QTRY_COMPARE(server.presenceKeys(topic), (QStringList{u"alice"_s, u"peer"_s}));
    QTRY_VERIFY(chP->presenceState().contains("alice"_L1));
    QCOMPARE(chP->presence()->metas(u"alice"_s), (QJsonArray{QJsonObject{{u"status"_s, u"online"_s}}}));
    QTRY_VERIFY(chA->presenceState().contains("peer"_L1));
    QCOMPARE(server.connectionCount(), 2);

    // Broadcasts flow both ways.
    auto fromA = watch(chA->send(u"a"_s, 1));
    QTRY_VERIFY(fromA->done());
    QCOMPARE(fromA->status, Reply::Status::Ok);
    QCOMPARE(fromA->response.value("recipientCount"_L1).toInt(), 1);
    QTRY_COMPARE(gotP.size(), 1);
    auto fromP = watch(chP->send(u"p"_s, 2));
    QTRY_VERIFY(fromP->done());
    QTRY_COMPARE(gotA.size(), 1);
    QCOMPARE(gotA.at(0).at(1).value<QJsonValue>(), QJsonValue(2));
}

void tst_ClientFaults::serverRestartsOnSamePort()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const auto url = server.url();
    const auto topic = uniqueTopic();
    BackoffLog log;
    auto alice = makeClient(url);
    alice->setBackoff(log.recording(&Client::defaultBackoff)); // the real delays: they are the point
    auto peer = makeClient(url);
    auto *chA = alice->channel(topic, keyed(u"alice"_s));
    auto *chP = peer->channel(topic, keyed(u"peer"_s));
    QSignalSpy gotP(chP, &Channel::broadcastReceived);
    QSignalSpy gotA(chA, &Channel::broadcastReceived);
    chA->subscribe();
    chP->subscribe();
    (void)chA->track({{u"status"_s, u"online"_s}});
    alice->connectToServer();
    peer->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chP->isSubscribed());
    QTRY_COMPARE(server.presenceKeys(topic), QStringList{u"alice"_s});

    QSignalSpy scheduled(alice.get(), &Client::reconnectScheduled);
    QSignalSpy states(alice.get(), &Client::stateChanged);
    QSignalSpy rejoinedA(chA, &Channel::subscribed);
    QSignalSpy rejoinedP(chP, &Channel::subscribed);
    server.stop();
    QCOMPARE(server.connectionCount(), 0);

    // While it is down: attempts 1, 2, 3, … with delays that grow.
    QTRY_VERIFY_WITH_TIMEOUT(log.attempts.size() >= 3, 15000);
    QCOMPARE(log.attempts.mid(0, 3), (QList<int>{1, 2, 3}));
    QVERIFY2(log.delays.at(0) <= log.delays.at(1) && log.delays.at(1) <= log.delays.at(2) && log.delays.at(0) < log.delays.at(2),
             describe(log.delays).constData());
    QCOMPARE(scheduled.size(), log.attempts.size());
    QCOMPARE(scheduled.at(2).at(0).toInt(), 3);
    QCOMPARE(scheduled.at(2).at(1).toInt(), int(log.delays.at(2)));
    QCOMPARE(alice->state(), Client::State::Reconnecting);
    QVERIFY(alice->reconnectAttempt() >= 3);
    QCOMPARE(chA->status(), Channel::Status::Joining);
    QVERIFY(!statesOf(states).contains(Client::State::Connected));

    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QCOMPARE(server.url(), url);
    QTRY_VERIFY_WITH_TIMEOUT(rejoinedA.size() == 1 && rejoinedP.size() == 1, 20000);
    QCOMPARE(alice->state(), Client::State::Connected);
    QCOMPARE(alice->reconnectAttempt(), 0);
    QCOMPARE(statesOf(states).last(), Client::State::Connected);

    QTRY_COMPARE(server.presenceKeys(topic), QStringList{u"alice"_s});
    QTRY_VERIFY(chP->presenceState().contains("alice"_L1));
    auto fromA = watch(chA->send(u"back"_s));
    QTRY_VERIFY(fromA->done());
    QCOMPARE(fromA->status, Reply::Status::Ok);
    QTRY_COMPARE(gotP.size(), 1);
    (void)chP->send(u"welcome"_s);
    QTRY_COMPARE(gotA.size(), 1);
}

void tst_ClientFaults::frozenServerIsDetectedByHeartbeat()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const auto topic = uniqueTopic();
    auto alice = makeClient(server.url());
    auto *chA = alice->channel(topic, keyed(u"alice"_s));
    chA->subscribe();
    (void)chA->track({{u"status"_s, u"online"_s}});
    alice->connectToServer();
    QTRY_VERIFY(chA->isSubscribed());
    QTRY_COMPARE(server.presenceKeys(topic), QStringList{u"alice"_s});

    QSignalSpy errors(alice.get(), &Client::errorOccurred);
    QSignalSpy scheduled(alice.get(), &Client::reconnectScheduled);
    QSignalSpy states(alice.get(), &Client::stateChanged);
    QSignalSpy rejoined(chA, &Channel::subscribed);
    QElapsedTimer frozenFor;
    server.pause(); // TCP stays open, nothing is answered
    frozenFor.start();

    QTRY_VERIFY_WITH_TIMEOUT(!errors.isEmpty(), 5000);
    const auto detectedAfter = frozenFor.elapsed();
    QCOMPARE(errors.at(0).at(0).toString(), u"HEARTBEAT_TIMEOUT"_s);
    QCOMPARE(alice->errorCode(), u"HEARTBEAT_TIMEOUT"_s);
    // An unanswered heartbeat is noticed at the next one: at most 2 intervals, plus slack.
    QVERIFY2(detectedAfter < 3 * HeartbeatMs + 600, qPrintable(u"detected after %1 ms"_s.arg(detectedAfter)));
    QVERIFY(alice->state() == Client::State::Reconnecting);

    // It keeps trying; each attempt hangs in the handshake until the request timeout ends it.
    QTRY_VERIFY_WITH_TIMEOUT(scheduled.size() >= 3, 4 * RequestTimeoutMs + 2000);
    QVERIFY(!statesOf(states).contains(Client::State::Connected));
    QCOMPARE(alice->errorCode(), u"HEARTBEAT_TIMEOUT"_s);
    QCOMPARE(chA->status(), Channel::Status::Joining);

    server.resume();
    QTRY_VERIFY_WITH_TIMEOUT(rejoined.size() == 1, 2 * RequestTimeoutMs + 3000);
    QCOMPARE(alice->state(), Client::State::Connected);
    // The old (frozen) connection is gone on the server, and the new one tracks alice again.
    QTRY_VERIFY(server.connectionCount() == 1 && server.memberCount(topic) == 1
                && server.presenceKeys(topic) == QStringList{u"alice"_s});

    auto peer = makeClient(server.url());
    auto *chP = peer->channel(topic);
    chP->subscribe();
    peer->connectToServer();
    QTRY_VERIFY(chP->presenceState().contains("alice"_L1));
}

void tst_ClientFaults::pushesBufferedWhileDisconnected()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const auto topic = uniqueTopic();
    auto alice = makeClient(server.url());
    // Alice's rejoin waits for a token (ignored in open mode): the test hands it out once the
    // peer is back, so the peer cannot miss the flushed pushes whoever reconnects first.
    bool holdTokens = false;
    std::function<void(const QString &)> heldToken;
    alice->setTokenProvider([&](const std::function<void(const QString &)> &done) {
        if (holdTokens)
            heldToken = done;
        else
            done(QString());
    });
    auto peer = makeClient(server.url());
    auto *chA = alice->channel(topic, keyed(u"alice"_s));
    auto *chP = peer->channel(topic, keyed(u"peer"_s));
    QSignalSpy gotP(chP, &Channel::broadcastReceived);
    chA->subscribe();
    chP->subscribe();
    alice->connectToServer();
    peer->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chP->isSubscribed());

    server.stop();
    QTRY_COMPARE(alice->state(), Client::State::Reconnecting);
    QCOMPARE(chA->status(), Channel::Status::Joining);

    QSignalSpy bufferedChanged(alice.get(), &Client::bufferedCountChanged);
    QList<OutcomePtr> sent;
    for (int i = 1; i <= 3; ++i)
        sent.append(watch(chA->send(u"m%1"_s.arg(i), QJsonObject{{u"n"_s, i}})));
    QCOMPARE(alice->bufferedCount(), 3);
    QCOMPARE(bufferedChanged.size(), 3);
    for (const auto &outcome : std::as_const(sent))
        QVERIFY(!outcome->done());

    QSignalSpy rejoinedP(chP, &Channel::subscribed);
    holdTokens = true;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(rejoinedP.size() == 1 && heldToken, 10000);
    QCOMPARE(alice->bufferedCount(), 3); // not joined yet: still waiting
    for (const auto &outcome : std::as_const(sent))
        QVERIFY(!outcome->done());
    holdTokens = false;
    std::exchange(heldToken, {})(QString());

    QTRY_VERIFY(chA->isSubscribed());
    QTRY_COMPARE(gotP.size(), 3);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(gotP.at(i).at(0).toString(), u"m%1"_s.arg(i + 1));
        QCOMPARE(gotP.at(i).at(1).value<QJsonValue>(), QJsonValue(QJsonObject{{u"n"_s, i + 1}}));
    }
    QTRY_VERIFY(std::all_of(sent.cbegin(), sent.cend(), [](const auto &o) { return o->done(); }));
    for (const auto &outcome : std::as_const(sent)) {
        QCOMPARE(outcome->status, Reply::Status::Ok);
        QCOMPARE(outcome->response.value("recipientCount"_L1).toInt(), 1);
        QCOMPARE(outcome->finishedCount, 1);
    }
    QCOMPARE(alice->bufferedCount(), 0);
}

void tst_ClientFaults::bufferLimitAndDisconnect()
{
    const RefusingPort refusing;
    QVERIFY(refusing.isValid());
    auto client = makeClient(refusing.url());
    auto *ch = client->channel(uniqueTopic(), keyed(u"x"_s));
    ch->subscribe();
    client->connectToServer();
    QTRY_COMPARE(client->state(), Client::State::Reconnecting);

    client->setBufferLimit(2);
    QCOMPARE(client->bufferLimit(), 2);
    QSignalSpy errors(client.get(), &Client::errorOccurred);
    auto first = watch(ch->send(u"one"_s));
    auto second = watch(ch->send(u"two"_s));
    QCOMPARE(client->bufferedCount(), 2);
    QCOMPARE(errors.size(), 0);

    auto third = watch(ch->send(u"three"_s));
    QCOMPARE(errors.size(), 1); // at once, from send()
    QCOMPARE(errors.at(0).at(0).toString(), u"BUFFER_FULL"_s);
    QVERIFY(!errors.at(0).at(1).toString().isEmpty());
    QCOMPARE(client->errorCode(), u"BUFFER_FULL"_s);
    QTRY_VERIFY(third->done());
    QCOMPARE(third->status, Reply::Status::Error);
    QCOMPARE(third->code, u"BUFFER_FULL"_s);
    QVERIFY(!first->done() && !second->done()); // the buffered ones still wait
    QCOMPARE(client->bufferedCount(), 2);

    client->disconnectFromServer();
    QCOMPARE(client->state(), Client::State::Disconnected);
    QTRY_VERIFY(first->done() && second->done());
    QCOMPARE(first->status, Reply::Status::Error);
    QCOMPARE(first->code, u"CLIENT_DISCONNECTED"_s);
    QCOMPARE(second->code, u"CLIENT_DISCONNECTED"_s);
    QCOMPARE(client->bufferedCount(), 0);
}

void tst_ClientFaults::requestInFlightFailsWhenConnectionDies()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client = std::make_unique<Client>(server.url()); // default heartbeat: it must not interfere
    client->setBackoff([](int) { return 50ms; });
    auto *ch = client->channel(uniqueTopic(), keyed(u"x"_s));
    ch->subscribe();
    client->connectToServer();
    QTRY_VERIFY(ch->isSubscribed());

    // Frozen, the server cannot answer; the drop happens on resume, before it reads anything.
    server.pause();
    auto inFlight = watch(ch->send(u"lost"_s));
    server.dropConnections();
    server.resume();
    QTRY_VERIFY(inFlight->done());
    QCOMPARE(inFlight->status, Reply::Status::Error);
    QCOMPARE(inFlight->code, u"CONNECTION_LOST"_s);
    QCOMPARE(inFlight->finishedCount, 1);

    QTRY_VERIFY(ch->isSubscribed()); // and the channel comes back
    auto after = watch(ch->send(u"after"_s));
    QTRY_VERIFY(after->done());
    QCOMPARE(after->status, Reply::Status::Ok);
}

void tst_ClientFaults::connectionLimitRefusesAndRetries()
{
    TestServer server({u"--max-connections"_s, u"1"_s});
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const auto topic = uniqueTopic();
    auto first = makeClient(server.url());
    auto *chFirst = first->channel(topic);
    chFirst->subscribe();
    first->connectToServer();
    QTRY_VERIFY(chFirst->isSubscribed());

    BackoffLog log;
    auto second = makeClient(server.url());
    second->setBackoff(log.recording([](int) { return 50ms; }));
    auto *chSecond = second->channel(topic);
    QSignalSpy errors(second.get(), &Client::errorOccurred);
    QSignalSpy connectedSecond(second.get(), &Client::connected);
    chSecond->subscribe();
    second->connectToServer();

    QTRY_VERIFY(!errors.isEmpty());
    QCOMPARE(errors.at(0).at(0).toString(), u"CONNECTION_LIMIT"_s);
    QVERIFY2(errors.at(0).at(1).toString().startsWith("CONNECTION_LIMIT"_L1), qPrintable(errors.at(0).at(1).toString()));
    QCOMPARE(second->errorCode(), u"CONNECTION_LIMIT"_s);
    QVERIFY(!chSecond->isSubscribed());

    // It keeps retrying, with back-off: each refused attempt is a further attempt.
    QTRY_VERIFY(log.attempts.size() >= 3);
    QCOMPARE(log.attempts.mid(0, 3), (QList<int>{1, 2, 3}));
    QVERIFY(second->reconnectAttempt() >= 3);
    // A refused connection is not a connection: Connected means heartbeats are answered.
    QCOMPARE(connectedSecond.size(), 0);

    // When the first client leaves, the second gets in.
    first->disconnectFromServer();
    QTRY_VERIFY_WITH_TIMEOUT(chSecond->isSubscribed(), 10000);
    QCOMPARE(second->state(), Client::State::Connected);
    QTRY_COMPARE(server.connectionCount(), 1);
    QCOMPARE(server.memberCount(topic), 1);
}

void tst_ClientFaults::refusalReasonIsNotReportedAgainLater()
{
    // After a refusal with a close reason, a later plain drop must not report that old reason.
    TestServer server({u"--max-connections"_s, u"1"_s});
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto first = makeClient(server.url());
    first->connectToServer();
    QTRY_VERIFY(first->isConnected());
    auto second = makeClient(server.url());
    QSignalSpy errors(second.get(), &Client::errorOccurred);
    auto *ch = second->channel(uniqueTopic());
    ch->subscribe();
    second->connectToServer();
    QTRY_VERIFY(!errors.isEmpty());
    QCOMPARE(errors.at(0).at(0).toString(), u"CONNECTION_LIMIT"_s);
    first->disconnectFromServer();
    QTRY_VERIFY_WITH_TIMEOUT(ch->isSubscribed(), 10000);

    errors.clear();
    QSignalSpy rejoined(ch, &Channel::subscribed);
    server.dropConnections(); // no close frame, no reason
    QTRY_COMPARE(rejoined.size(), 1);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.at(0).at(0).toString()));
}

QTEST_GUILESS_MAIN(tst_ClientFaults)
#include "tst_clientfaults.moc"
