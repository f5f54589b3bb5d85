// Every WebSocket limit of ServerConfig::Limits, with small values: the offender gets an error
// with a code (and is closed only when it keeps abusing), and everyone else is unaffected.
#include "engine/hub.h"
#include "ops/metrics.h"
#include "rawclient.h"
#include "testserver.h"

#include <QtTest/QtTest>

using namespace Qt::StringLiterals;
using Confab::Testing::RawClient;
using Confab::Testing::TestServer;
namespace S = Confab::Server;

namespace {

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QJsonObject errorResponse(const std::optional<QJsonObject> &reply)
{
    if (!reply || reply->value("status"_L1).toString() != "error"_L1)
        return {};
    return reply->value("response"_L1).toObject();
}

QJsonObject broadcast(const QJsonValue &payload)
{
    return {{u"type"_s, u"broadcast"_s}, {u"event"_s, u"e"_s}, {u"payload"_s, payload}};
}

const QJsonObject AckConfig{{u"broadcast"_s, QJsonObject{{u"ack"_s, true}}}};

} // namespace

class tst_Limits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void maxConnections();
    void messageSize();
    void messageFarOverSizeIsClosedByWebSocketLayer();
    void channelsPerConnection();
    void messageRate();
    void presenceMetaSize();
    void repeatedAbuseClosesTheConnection();
    void slowConsumerIsClosed();
    void idleConnectionsAreClosed();

private:
    static std::unique_ptr<TestServer> startWith(const std::function<void(S::Limits &)> &change);
    static std::unique_ptr<RawClient> connect(TestServer &server);
};

std::unique_ptr<TestServer> tst_Limits::startWith(const std::function<void(S::Limits &)> &change)
{
    auto config = TestServer::defaultConfig();
    change(config.limits);
    auto server = std::make_unique<TestServer>(config);
    if (!server->start())
        return nullptr;
    return server;
}

std::unique_ptr<RawClient> tst_Limits::connect(TestServer &server)
{
    auto c = std::make_unique<RawClient>();
    if (!c->open(server.webSocketUrl()))
        return nullptr;
    return c;
}

void tst_Limits::maxConnections()
{
    auto server = startWith([](S::Limits &l) { l.maxConnections = 2; });
    QVERIFY(server);
    auto a = connect(*server);
    auto b = connect(*server);
    QVERIFY(a && b);
    QTRY_COMPARE(server->server().connectionCount(), 2);

    RawClient third; // refused right after the handshake, so wait for the end, not the open
    QSignalSpy closed(&third.socket(), &QWebSocket::disconnected);
    third.socket().open(server->webSocketUrl());
    QVERIFY(closed.wait());
    QCOMPARE(third.closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
    QVERIFY2(third.closeReason().startsWith("CONNECTION_LIMIT:"_L1), qPrintable(third.closeReason()));
    QVERIFY(a->sync() && b->sync()); // the others are unaffected
    QCOMPARE(server->server().metrics().rejectedCount(u"CONNECTION_LIMIT"_s), 1u);

    a->close(); // a freed slot can be taken again
    QTRY_COMPARE(server->server().connectionCount(), 1);
    RawClient fourth;
    QVERIFY(fourth.open(server->webSocketUrl()));
    QVERIFY(fourth.sync());
}

void tst_Limits::messageSize()
{
    auto server = startWith([](S::Limits &l) { l.maxMessageBytes = 1024; });
    QVERIFY(server);
    auto a = connect(*server);
    auto b = connect(*server);
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(u"room:big"_s, AckConfig)));
    QVERIFY(isOk(b->join(u"room:big"_s)));

    const auto ref = a->push(u"room:big"_s, u"broadcast"_s, broadcast(QString(2000, u'x')));
    const auto error = errorResponse(a->waitForReply(ref, u"room:big"_s)); // addressed to the request
    QCOMPARE(error.value("code"_L1).toString(), u"MESSAGE_TOO_LARGE"_s);
    QCOMPARE(error.value("limit"_L1).toInt(), 1024);
    QVERIFY(a->sync()); // still connected
    QVERIFY(b->sync());
    QCOMPARE(b->count(RawClient::isEvent(u"room:big"_s, u"broadcast"_s)), 0); // nothing delivered

    // Just under the limit goes through.
    const auto okRef = a->push(u"room:big"_s, u"broadcast"_s, broadcast(QString(900, u'y')));
    QVERIFY(isOk(a->waitForReply(okRef, u"room:big"_s)));
    QVERIFY(b->waitForEvent(u"room:big"_s, u"broadcast"_s));

    // Oversized and not even a frame: the error goes to $system.
    a->sendText(QString(3000, u'z'));
    const auto systemError = a->waitForEvent(u"$system"_s, u"chan:error"_s);
    QVERIFY(systemError);
    QCOMPARE(systemError->at(4).toObject().value("code"_L1).toString(), u"MESSAGE_TOO_LARGE"_s);
}

void tst_Limits::messageFarOverSizeIsClosedByWebSocketLayer()
{
    auto server = startWith([](S::Limits &l) { l.maxMessageBytes = 1024; });
    QVERIFY(server);
    auto a = connect(*server);
    auto bystander = connect(*server);
    QVERIFY(a && bystander);
    // Beyond 4x the limit the frame is not buffered at all: RFC 6455 close 1009.
    a->sendText(QString(5000, u'x'));
    QVERIFY(a->waitForDisconnected());
    QCOMPARE(a->closeCode(), QWebSocketProtocol::CloseCodeTooMuchData);
    QVERIFY(bystander->sync());
}

void tst_Limits::channelsPerConnection()
{
    auto server = startWith([](S::Limits &l) { l.maxChannelsPerConnection = 2; });
    QVERIFY(server);
    auto a = connect(*server);
    QVERIFY(a);
    QVERIFY(isOk(a->join(u"room:1"_s)));
    QVERIFY(isOk(a->join(u"room:2"_s)));
    const auto error = errorResponse(a->join(u"room:3"_s));
    QCOMPARE(error.value("code"_L1).toString(), u"CHANNEL_LIMIT_EXCEEDED"_s);
    QCOMPARE(error.value("limit"_L1).toInt(), 2);
    QVERIFY(!server->server().hub().hasChannel(u"room:3"_s));

    const auto ref = a->push(u"room:1"_s, u"chan:leave"_s);
    QVERIFY(isOk(a->waitForReply(ref, u"room:1"_s)));
    QVERIFY(isOk(a->join(u"room:3"_s)));
}

void tst_Limits::messageRate()
{
    auto server = startWith([](S::Limits &l) { l.messagesPerMinute = 5; });
    QVERIFY(server);
    auto a = connect(*server);
    auto b = connect(*server);
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(u"room:rate"_s, AckConfig))); // 1
    QVERIFY(isOk(b->join(u"room:rate"_s)));
    for (int i = 0; i < 4; ++i) {                      // 2..5
        const auto ref = a->push(u"room:rate"_s, u"broadcast"_s, broadcast(i));
        QVERIFY(isOk(a->waitForReply(ref, u"room:rate"_s)));
    }
    const auto ref = a->push(u"room:rate"_s, u"broadcast"_s, broadcast(99)); // 6: over
    const auto error = errorResponse(a->waitForReply(ref, u"room:rate"_s));
    QCOMPARE(error.value("code"_L1).toString(), u"MESSAGE_RATE_LIMITED"_s);
    const auto retryAfter = error.value("retry_after"_L1).toInteger();
    QVERIFY2(retryAfter > 0 && retryAfter <= 12000, qPrintable(QString::number(retryAfter)));

    QVERIFY(a->sync()); // heartbeats are exempt: liveness never competes with traffic
    QVERIFY(a->isConnected());
    // b has its own allowance.
    for (int i = 0; i < 4; ++i)
        b->pushNoRef(u"room:rate"_s, u"broadcast"_s, broadcast(i));
    QVERIFY(b->sync());
    QTRY_COMPARE(a->count(RawClient::isEvent(u"room:rate"_s, u"broadcast"_s)), 4);
    QCOMPARE(server->server().metrics().rejectedCount(u"MESSAGE_RATE_LIMITED"_s), 1u);
}

void tst_Limits::presenceMetaSize()
{
    auto server = startWith([](S::Limits &l) { l.maxPresenceMetaBytes = 100; });
    QVERIFY(server);
    auto a = connect(*server);
    auto b = connect(*server);
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(u"room:p"_s)));
    QVERIFY(isOk(b->join(u"room:p"_s)));
    const auto track = [](const QString &text) {
        return QJsonObject{{u"type"_s, u"presence"_s}, {u"event"_s, u"track"_s},
                           {u"payload"_s, QJsonObject{{u"key"_s, u"a"_s}, {u"meta"_s, QJsonObject{{u"t"_s, text}}}}}};
    };
    auto ref = a->push(u"room:p"_s, u"presence"_s, track(QString(200, u'm')));
    const auto error = errorResponse(a->waitForReply(ref, u"room:p"_s));
    QCOMPARE(error.value("code"_L1).toString(), u"PRESENCE_PAYLOAD_TOO_LARGE"_s);
    QVERIFY(server->server().hub().presence(u"room:p"_s)->isEmpty());
    QVERIFY(b->sync());
    QCOMPARE(b->count(RawClient::isEvent(u"room:p"_s, u"presence_diff"_s)), 0);

    ref = a->push(u"room:p"_s, u"presence"_s, track(u"small"_s));
    QVERIFY(isOk(a->waitForReply(ref, u"room:p"_s)));
    QVERIFY(b->waitForEvent(u"room:p"_s, u"presence_diff"_s));
}

void tst_Limits::repeatedAbuseClosesTheConnection()
{
    auto server = startWith([](S::Limits &l) { l.maxRejectsPerMinute = 5; });
    QVERIFY(server);
    auto abuser = connect(*server);
    auto other = connect(*server);
    QVERIFY(abuser && other);
    QVERIFY(isOk(other->join(u"room:calm"_s, AckConfig)));
    for (int i = 0; i < 5; ++i) {
        abuser->sendText(u"garbage"_s);
        QVERIFY(abuser->waitForEvent(u"$system"_s, u"chan:error"_s)); // each one answered
    }
    QVERIFY(abuser->isConnected()); // five is the allowance…
    abuser->sendText(u"garbage"_s);  // …the sixth in a minute closes it
    QVERIFY(abuser->waitForDisconnected());
    QCOMPARE(abuser->closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
    QCOMPARE(abuser->closeReason(), u"Too many rejected frames"_s);

    const auto ref = other->push(u"room:calm"_s, u"broadcast"_s, broadcast(1));
    QVERIFY(isOk(other->waitForReply(ref, u"room:calm"_s)));
}

void tst_Limits::slowConsumerIsClosed()
{
    auto server = startWith([](S::Limits &l) {
        l.maxSendBufferBytes = 256 * 1024;
        l.maxMessageBytes = 200 * 1024;
    });
    QVERIFY(server);
    auto sender = connect(*server);
    auto reader = connect(*server);
    QVERIFY(sender && reader);
    QVERIFY(isOk(sender->join(u"room:flood"_s, AckConfig)));
    QVERIFY(isOk(reader->join(u"room:flood"_s)));

    // A client that joins and then stops reading: its kernel buffers fill, then the server's.
    Confab::Testing::RawWebSocket stalled;
    QVERIFY(stalled.open(u"127.0.0.1"_s, server->port()));
    stalled.sendFrame(0x1, QByteArrayLiteral(R"([null,"1","room:flood","chan:join",{}])"));
    QTRY_COMPARE(server->server().hub().channel(u"room:flood"_s)->memberCount, 3);
    stalled.stopReading();

    const QString chunk(150 * 1024, u'x');
    for (int i = 0; i < 200 && server->server().metrics().rejectedCount(u"SLOW_CONSUMER"_s) == 0; ++i) {
        const auto ref = sender->push(u"room:flood"_s, u"broadcast"_s, broadcast(chunk));
        QVERIFY(isOk(sender->waitForReply(ref, u"room:flood"_s, 10000)));
        QVERIFY(reader->waitForEvent(u"room:flood"_s, u"broadcast"_s, 10000)); // the reader keeps up
    }
    QCOMPARE(server->server().metrics().rejectedCount(u"SLOW_CONSUMER"_s), 1u);
    // It cannot read our close frame, so it is dropped after the close grace period.
    QTRY_COMPARE_WITH_TIMEOUT(server->server().hub().channel(u"room:flood"_s)->memberCount, 2, 10000);
    QVERIFY(sender->sync() && reader->sync());
}

void tst_Limits::idleConnectionsAreClosed()
{
    auto server = startWith([](S::Limits &l) { l.idleTimeout = std::chrono::milliseconds(400); });
    QVERIFY(server);
    auto silent = connect(*server);
    auto chatty = connect(*server);
    QVERIFY(silent && chatty);
    QTimer heartbeat;
    QObject::connect(&heartbeat, &QTimer::timeout, chatty.get(), [&] {
        chatty->pushNoRef(u"$system"_s, u"heartbeat"_s);
    });
    heartbeat.start(100);
    QVERIFY(silent->waitForDisconnected(5000));
    QCOMPARE(int(silent->closeCode()), 4000);
    QVERIFY(silent->closeReason().startsWith("IDLE_TIMEOUT"_L1));
    QVERIFY(chatty->isConnected());
    heartbeat.stop();
    QVERIFY(chatty->sync());
}

QTEST_GUILESS_MAIN(tst_Limits)
#include "tst_limits.moc"
