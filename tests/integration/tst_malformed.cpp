// Malformed input over a real socket: each bad frame gets its own error (addressed to its ref
// and topic whenever those could be read), and the server keeps serving everyone else.
#include "engine/hub.h"
#include "ops/metrics.h"
#include "rawclient.h"
#include "testserver.h"

#include <QtTest/QtTest>

using namespace Qt::StringLiterals;
using Confab::Testing::RawClient;
using Confab::Testing::RawWebSocket;
using Confab::Testing::TestServer;

class tst_Malformed : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void badFrameGetsItsError_data();
    void badFrameGetsItsError();
    void binaryFrameIsRefused();
    void invalidUtf8ClosesWith1007();
    void bystanderWasServedThroughout();

private:
    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<RawClient> m_bystander;
    std::unique_ptr<RawClient> m_sender;
};

// One server for the whole suite: the point is that it survives all of this.
void tst_Malformed::initTestCase()
{
    auto config = TestServer::defaultConfig();
    config.limits.maxRejectsPerMinute = 1000; // this suite sends many bad frames on purpose
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
    m_bystander = std::make_unique<RawClient>();
    m_sender = std::make_unique<RawClient>();
    QVERIFY(m_bystander->open(m_server->webSocketUrl()));
    QVERIFY(m_sender->open(m_server->webSocketUrl()));
    QVERIFY(m_bystander->join(u"room:calm"_s));
    QVERIFY(m_sender->join(u"room:calm"_s));
}

void tst_Malformed::cleanupTestCase()
{
    m_bystander.reset();
    m_sender.reset();
    m_server.reset();
}

void tst_Malformed::badFrameGetsItsError_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("code");
    // Where the error must arrive: the frame's topic when it could be read, else "$system" (as a
    // chan:reply carrying the ref when the ref could be read, else as a chan:error).
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QJsonValue>("ref");

    const QJsonValue none = QJsonValue::Null;
    QTest::newRow("not json") << u"hello"_s << u"MALFORMED_FRAME"_s << u"$system"_s << none;
    QTest::newRow("truncated json") << uR"([null,"1","room:x","broadcast",{)"_s << u"MALFORMED_FRAME"_s << u"$system"_s << none;
    QTest::newRow("object") << uR"({"topic":"room:x"})"_s << u"MALFORMED_FRAME"_s << u"$system"_s << none;
    QTest::newRow("number") << u"42"_s << u"MALFORMED_FRAME"_s << u"$system"_s << none;
    QTest::newRow("empty array") << u"[]"_s << u"MALFORMED_FRAME"_s << u"$system"_s << none;
    QTest::newRow("arity 4") << uR"([null,"4","room:x","broadcast"])"_s << u"MALFORMED_FRAME"_s << u"room:x"_s << QJsonValue(u"4"_s);
    QTest::newRow("arity 6") << uR"([null,"6","room:x","broadcast",{},{}])"_s << u"MALFORMED_FRAME"_s << u"room:x"_s << QJsonValue(u"6"_s);
    QTest::newRow("ref number") << uR"([null,7,"room:x","broadcast",{}])"_s << u"INVALID_REF"_s << u"room:x"_s << none;
    QTest::newRow("join_ref object") << uR"([{},"8","room:x","broadcast",{}])"_s << u"INVALID_REF"_s << u"room:x"_s << QJsonValue(u"8"_s);
    QTest::newRow("topic number") << uR"([null,"9",5,"broadcast",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"9"_s);
    QTest::newRow("topic empty") << uR"([null,"10","","broadcast",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"10"_s);
    QTest::newRow("topic too long") << u"[null,\"11\",\"%1\",\"broadcast\",{}]"_s.arg(QString(256, u't'))
                                    << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"11"_s);
    QTest::newRow("join topic number") << uR"([null,"7",12345,"chan:join",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"7"_s);
    QTest::newRow("topic with NUL") << uR"([null,"22","room\u0000x","chan:join",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"22"_s);
    QTest::newRow("topic with newline") << uR"([null,"23","room\nx","chan:join",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"23"_s);
    QTest::newRow("topic with terminal escape") << uR"([null,"24","room\u001b[31mx","chan:join",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"24"_s);
    QTest::newRow("topic with C1 CSI") << uR"([null,"25","room\u009bx","chan:join",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"25"_s);
    QTest::newRow("topic lone surrogate") << uR"([null,"26","room\ud800","chan:join",{}])"_s << u"INVALID_TOPIC"_s << u"$system"_s << QJsonValue(u"26"_s);
    QTest::newRow("payload lone surrogate") << uR"([null,"27","room:calm","broadcast",{"event":"x","payload":"a\ud800b"}])"_s << u"INVALID_PAYLOAD"_s << u"room:calm"_s << QJsonValue(u"27"_s);
    QTest::newRow("payload lone low surrogate") << uR"([null,"28","room:calm","broadcast",{"event":"x","payload":"\udc00"}])"_s << u"INVALID_PAYLOAD"_s << u"room:calm"_s << QJsonValue(u"28"_s);
    QTest::newRow("event number") << uR"([null,"12","room:x",3,{}])"_s << u"INVALID_EVENT"_s << u"room:x"_s << QJsonValue(u"12"_s);
    QTest::newRow("event empty") << uR"([null,"13","room:x","",{}])"_s << u"INVALID_EVENT"_s << u"room:x"_s << QJsonValue(u"13"_s);
    QTest::newRow("payload array") << uR"([null,"14","room:x","broadcast",[]])"_s << u"INVALID_PAYLOAD"_s << u"room:x"_s << QJsonValue(u"14"_s);
    QTest::newRow("payload string") << uR"([null,"15","room:x","broadcast","hi"])"_s << u"INVALID_PAYLOAD"_s << u"room:x"_s << QJsonValue(u"15"_s);
    QTest::newRow("payload null") << uR"([null,"16","room:x","chan:join",null])"_s << u"INVALID_PAYLOAD"_s << u"room:x"_s << QJsonValue(u"16"_s);
    QTest::newRow("unknown event") << uR"([null,"17","room:calm","explode",{}])"_s << u"UNKNOWN_EVENT"_s << u"room:calm"_s << QJsonValue(u"17"_s);
    QTest::newRow("join config not object") << uR"([null,"18","room:y","chan:join",{"config":"x"}])"_s << u"INVALID_PAYLOAD"_s << u"room:y"_s << QJsonValue(u"18"_s);
    QTest::newRow("token not string") << uR"([null,"19","room:y","chan:join",{"access_token":5}])"_s << u"INVALID_PAYLOAD"_s << u"room:y"_s << QJsonValue(u"19"_s);
    QTest::newRow("presence event bogus") << uR"([null,"20","room:calm","presence",{"type":"presence","event":"dance"}])"_s << u"INVALID_PAYLOAD"_s << u"room:calm"_s << QJsonValue(u"20"_s);
    QTest::newRow("presence meta array") << uR"([null,"21","room:calm","presence",{"type":"presence","event":"track","payload":{"meta":[]}}])"_s << u"INVALID_PAYLOAD"_s << u"room:calm"_s << QJsonValue(u"21"_s);
    QTest::newRow("deep nesting") << QString(u"["_s.repeated(5000)) + QString(u"]"_s.repeated(5000)) << u"MALFORMED_FRAME"_s << u"$system"_s << none;
}

void tst_Malformed::badFrameGetsItsError()
{
    QFETCH(QString, text);
    QFETCH(QString, code);
    QFETCH(QString, topic);
    QFETCH(QJsonValue, ref);

    m_sender->clearInbox();
    const auto rejectedBefore = m_server->server().metrics().rejectedCount(code);
    m_sender->sendText(text);
    const auto error = m_sender->waitFor([&](const QJsonArray &f) {
        return f.size() == 5 && f.at(2).toString() == topic
            && (f.at(3).toString() == "chan:reply"_L1 || f.at(3).toString() == "chan:error"_L1);
    });
    QVERIFY2(error, qPrintable(u"no error on "_s + topic));
    QCOMPARE(error->at(1), ref);
    const auto body = error->at(4).toObject();
    if (topic == "$system"_L1 && ref.isNull()) {
        QCOMPARE(error->at(3).toString(), u"chan:error"_s);
        QCOMPARE(body.value("code"_L1).toString(), code);
        QVERIFY(!body.value("reason"_L1).toString().isEmpty());
    } else {
        QCOMPARE(error->at(3).toString(), u"chan:reply"_s);
        QCOMPARE(body.value("status"_L1).toString(), u"error"_s);
        QCOMPARE(body.value("response"_L1).toObject().value("code"_L1).toString(), code);
        QVERIFY(!body.value("response"_L1).toObject().value("reason"_L1).toString().isEmpty());
    }
    QCOMPARE(m_server->server().metrics().rejectedCount(code), rejectedBefore + 1);
    QVERIFY(m_sender->isConnected());
    QVERIFY(!m_server->server().hub().hasChannel(u"room:y"_s)); // no half-joins
}

void tst_Malformed::binaryFrameIsRefused()
{
    m_sender->sendBinary(QByteArrayLiteral("\x03\x00\x01binary"));
    const auto error = m_sender->waitForEvent(u"$system"_s, u"chan:error"_s);
    QVERIFY(error);
    QCOMPARE(error->at(4).toObject().value("code"_L1).toString(), u"UNSUPPORTED_FRAME"_s);
    QVERIFY(m_sender->sync());
}

void tst_Malformed::invalidUtf8ClosesWith1007()
{
    // RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007.
    RawWebSocket raw;
    QVERIFY(raw.open(u"127.0.0.1"_s, m_server->port()));
    raw.sendFrame(0x1, QByteArrayLiteral("[null,\"1\",\"$system\",\"heartbeat\",{\"x\":\"\xff\xfe\"}]"));
    const auto code = raw.waitForClose();
    QVERIFY(code);
    QCOMPARE(*code, 1007);

    // A well-formed frame on the same kind of connection is answered, byte for byte.
    RawWebSocket good;
    QVERIFY(good.open(u"127.0.0.1"_s, m_server->port(), "/ws"));
    good.sendFrame(0x1, QByteArrayLiteral("[null,\"1\",\"$system\",\"heartbeat\",{}]"));
    const auto reply = good.waitForMessage();
    QVERIFY(reply);
    QCOMPARE(reply->opcode, 0x1);
    QCOMPARE(QJsonDocument::fromJson(reply->payload).array(),
             QJsonDocument::fromJson(R"([null,"1","$system","chan:reply",{"status":"ok","response":{}}])").array());
}

void tst_Malformed::bystanderWasServedThroughout()
{
    // After everything above, the same channel still works both ways.
    m_sender->pushNoRef(u"room:calm"_s, u"broadcast"_s,
                        QJsonObject{{u"type"_s, u"broadcast"_s}, {u"event"_s, u"still"_s}, {u"payload"_s, u"here"_s}});
    const auto got = m_bystander->waitForEvent(u"room:calm"_s, u"broadcast"_s);
    QVERIFY(got);
    QCOMPARE(got->at(4).toObject().value("event"_L1).toString(), u"still"_s);
    QVERIFY(m_bystander->sync());
    QVERIFY(m_bystander->unparsed().isEmpty());
    QCOMPARE(m_server->server().connectionCount(), 2);
}

QTEST_GUILESS_MAIN(tst_Malformed)
#include "tst_malformed.moc"
