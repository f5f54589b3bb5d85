#include "ConfabProtocol/codes.h"
#include "ConfabProtocol/frame.h"
#include "ConfabProtocol/json.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QRandomGenerator>
#include "jsonmutation.h"

#include <QtTest/QtTest>

using namespace Confab::Protocol;
using namespace Qt::StringLiterals;

Q_DECLARE_METATYPE(Confab::Protocol::Frame)

//! The native frame codec: decodeFrame, encodeFrame and the reply builders.
class tst_Frame : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void roundTrip_data();
    void roundTrip();
    void capturedFrames_data();
    void capturedFrames();
    void buildersMatchCapturedReplies();

    void errors_data();
    void errors();
    void invalidUtf8_data();
    void invalidUtf8();
    void escapedLoneSurrogate();
    void notRelayable_data();
    void notRelayable();
    void deepNesting();
    void largeInputs();

    void rawPayload_data();
    void rawPayload();
    void equalityIgnoresRawPayload();

    void validTopics_data();
    void validTopics();
    void topicsInFrames_data();
    void topicsInFrames();
    void addressMatrix_data();
    void addressMatrix();
    void rejectionFrames();

    void encodeBroadcast_data();
    void encodeBroadcast();
    void broadcastRelaysPayloadBytes();

    void randomMutations();

    void encodeIsCompact();
    void encodeParsesBackToSameArray_data();
    void encodeParsesBackToSameArray();

    void replyFrameShape();
    void errorReplyFrameShape();
    void errorReplyFrameWithoutCode();
    void errorReplyFrameMergesExtra();
};

namespace {

QJsonObject object(const QByteArray &json)
{
    QJsonParseError error;
    const auto doc = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        qFatal("test bug: not a JSON object: %s", json.constData());
    return doc.object();
}

QJsonArray array(const QByteArray &json)
{
    const auto doc = QJsonDocument::fromJson(json);
    if (!doc.isArray())
        qFatal("test bug: not a JSON array: %s", json.constData());
    return doc.array();
}

Frame frame(std::optional<QString> joinRef, std::optional<QString> ref, const QString &topic,
            const QString &event, const QJsonObject &payload = {})
{
    return Frame{std::move(joinRef), std::move(ref), topic, event, payload};
}

QString repeated(char c, qsizetype n)
{
    return QString(n, QLatin1Char(c));
}

// A frame `[null,"7","room:x","e",{}]` with element \a index replaced by \a json.
QByteArray withElement(int index, const QByteArray &json)
{
    QList<QByteArray> parts{"null", "\"7\"", "\"room:x\"", "\"e\"", "{}"};
    parts[index] = json;
    return '[' + parts.join(',') + ']';
}

QByteArray jsonString(const QString &s)
{
    return '"' + s.toUtf8() + '"';
}

} // namespace

void tst_Frame::roundTrip_data()
{
    QTest::addColumn<Frame>("frame");

    QTest::newRow("all refs null") << frame(std::nullopt, std::nullopt, u"room:x"_s, u"e"_s);
    QTest::newRow("all refs strings")
        << frame(u"1"_s, u"42"_s, u"room:lobby"_s, u"broadcast"_s,
                 QJsonObject{{u"type"_s, u"broadcast"_s}});
    QTest::newRow("join_ref only") << frame(u"3"_s, std::nullopt, u"room:x"_s, u"e"_s);
    QTest::newRow("ref only") << frame(std::nullopt, u"9"_s, u"$system"_s, u"heartbeat"_s);
    // "" is a value, not null: it must come back as "" and not as nullopt.
    QTest::newRow("empty-string refs") << frame(u""_s, u""_s, u"room:x"_s, u"e"_s);
    QTest::newRow("nested payload")
        << frame(u"1"_s, u"2"_s, u"room:p"_s, u"presence"_s,
                 object(R"({"type":"presence","event":"track","payload":{"key":"user-A",
                            "meta":{"status":"online","tags":["a","b",{"deep":[1,2.5,null,true]}],
                            "n":-7,"empty":{},"list":[]}}})"));
    QTest::newRow("unicode everywhere")
        << frame(u"ü"_s, u"名前"_s, u"room:ñ😀"_s, u"évènement"_s,
                 QJsonObject{{u"text"_s, u"héllo \"quoted\" \\ back\nslash 😀"_s}});
    QTest::newRow("fields at their bounds")
        << frame(repeated('j', Bounds::MaxRefLength), repeated('r', Bounds::MaxRefLength),
                 repeated('t', Bounds::MaxTopicLength), repeated('e', Bounds::MaxEventLength));
    // Control characters are escaped on the wire and come back; only topics refuse them.
    QTest::newRow("control characters")
        << frame(u"\t"_s, u"\u0001"_s, u"room:x"_s, u"e\r\n"_s,
                 QJsonObject{{u"k\u0000"_s, u"\u001f\u007f\u009b"_s}});
}

void tst_Frame::roundTrip()
{
    QFETCH(Frame, frame);

    const auto encoded = encodeFrame(frame);
    const auto result = decodeFrame(encoded);
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.frame->joinRef, frame.joinRef);
    QCOMPARE(result.frame->ref, frame.ref);
    QCOMPARE(result.frame->topic, frame.topic);
    QCOMPARE(result.frame->event, frame.event);
    QCOMPARE(result.frame->payload, frame.payload);
    QVERIFY(*result.frame == frame);
    // Encoding is a function of the frame: re-encoding the decoded frame gives the same bytes.
    QCOMPARE(encodeFrame(*result.frame), encoded);
}

void tst_Frame::capturedFrames_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<bool>("hasJoinRef");
    QTest::addColumn<QString>("joinRef");
    QTest::addColumn<bool>("hasRef");
    QTest::addColumn<QString>("ref");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("event");
    QTest::addColumn<QByteArray>("payload");

    // PROTOCOLS.md §1.4 heartbeat
    QTest::newRow("1.4 heartbeat") << R"([null,"7","$system","heartbeat",{}])"_ba << false << QString()
                                   << true << u"7"_s << u"$system"_s << u"heartbeat"_s << "{}"_ba;
    QTest::newRow("1.4 heartbeat reply")
        << R"([null,"7","$system","chan:reply",{"status":"ok","response":{}}])"_ba << false << QString()
        << true << u"7"_s << u"$system"_s << u"chan:reply"_s << R"({"status":"ok","response":{}})"_ba;

    // §1.5 join / leave
    QTest::newRow("1.5 join")
        << R"([null,"1","room:lobby","chan:join",{"config":{"broadcast":{"self":false,"ack":false},"presence":{"key":"user-A","enabled":false}},"access_token":"eyJ..."}])"_ba
        << false << QString() << true << u"1"_s << u"room:lobby"_s << u"chan:join"_s
        << R"({"access_token":"eyJ...","config":{"presence":{"enabled":false,"key":"user-A"},"broadcast":{"ack":false,"self":false}}})"_ba;
    QTest::newRow("1.5 join ok")
        << R"([null,"1","room:lobby","chan:reply",{"status":"ok","response":{}}])"_ba << false << QString()
        << true << u"1"_s << u"room:lobby"_s << u"chan:reply"_s << R"({"status":"ok","response":{}})"_ba;
    QTest::newRow("1.5 presence_state after join")
        << R"([null,null,"room:lobby","presence_state",{}])"_ba << false << QString() << false << QString()
        << u"room:lobby"_s << u"presence_state"_s << "{}"_ba;
    QTest::newRow("1.5 already joined")
        << R"([null,"1","room:lobby","chan:reply",{"status":"error","response":{"reason":"Already joined this channel"}}])"_ba
        << false << QString() << true << u"1"_s << u"room:lobby"_s << u"chan:reply"_s
        << R"({"status":"error","response":{"reason":"Already joined this channel"}})"_ba;
    QTest::newRow("1.5 token required")
        << R"([null,"1","room:x","chan:reply",{"status":"error","response":{"reason":"Access token required","code":"AUTH_TOKEN_REQUIRED"}}])"_ba
        << false << QString() << true << u"1"_s << u"room:x"_s << u"chan:reply"_s
        << R"({"status":"error","response":{"reason":"Access token required","code":"AUTH_TOKEN_REQUIRED"}})"_ba;
    QTest::newRow("1.5 leave") << R"([null,"9","room:lobby","chan:leave",{}])"_ba << false << QString()
                               << true << u"9"_s << u"room:lobby"_s << u"chan:leave"_s << "{}"_ba;
    QTest::newRow("1.5 leave ok")
        << R"([null,"9","room:lobby","chan:reply",{"status":"ok","response":{}}])"_ba << false << QString()
        << true << u"9"_s << u"room:lobby"_s << u"chan:reply"_s << R"({"status":"ok","response":{}})"_ba;

    // §1.6 broadcast
    const QByteArray hi = R"({"type":"broadcast","event":"message","payload":{"text":"hi"}})"_ba;
    QTest::newRow("1.6 broadcast no ack")
        << R"(["1",null,"room:lobby","broadcast",{"type":"broadcast","event":"message","payload":{"text":"hi"}}])"_ba
        << true << u"1"_s << false << QString() << u"room:lobby"_s << u"broadcast"_s << hi;
    QTest::newRow("1.6 broadcast with ack")
        << R"(["1","5","room:lobby","broadcast",{"type":"broadcast","event":"message","payload":{"text":"hi"}}])"_ba
        << true << u"1"_s << true << u"5"_s << u"room:lobby"_s << u"broadcast"_s << hi;
    QTest::newRow("1.6 ack")
        << R"([null,"5","room:lobby","chan:reply",{"status":"ok","response":{"recipientCount":1}}])"_ba
        << false << QString() << true << u"5"_s << u"room:lobby"_s << u"chan:reply"_s
        << R"({"status":"ok","response":{"recipientCount":1}})"_ba;
    QTest::newRow("1.6 fan-out")
        << R"([null,null,"room:lobby","broadcast",{"type":"broadcast","event":"message","payload":{"text":"hi"}}])"_ba
        << false << QString() << false << QString() << u"room:lobby"_s << u"broadcast"_s << hi;

    // §1.7 presence
    const QByteArray entryA =
        R"({"user-A":[{"presence_ref":"pres_1","meta":{"user_id":"A","status":"online"}}]})"_ba;
    QTest::newRow("1.7 track")
        << R"(["1","6","room:p","presence",{"type":"presence","event":"track","payload":{"key":"user-A","meta":{"user_id":"A","status":"online"}}}])"_ba
        << true << u"1"_s << true << u"6"_s << u"room:p"_s << u"presence"_s
        << R"({"type":"presence","event":"track","payload":{"key":"user-A","meta":{"user_id":"A","status":"online"}}})"_ba;
    QTest::newRow("1.7 track ok")
        << R"([null,"6","room:p","chan:reply",{"status":"ok","response":{}}])"_ba << false << QString()
        << true << u"6"_s << u"room:p"_s << u"chan:reply"_s << R"({"status":"ok","response":{}})"_ba;
    QTest::newRow("1.7 join diff")
        << R"([null,null,"room:p","presence_diff",{"joins":{"user-A":[{"presence_ref":"pres_1","meta":{"user_id":"A","status":"online"}}]},"leaves":{}}])"_ba
        << false << QString() << false << QString() << u"room:p"_s << u"presence_diff"_s
        << R"({"joins":)"_ba + entryA + R"(,"leaves":{}})"_ba;
    QTest::newRow("1.7 untrack")
        << R"(["1","8","room:p","presence",{"type":"presence","event":"untrack"}])"_ba << true << u"1"_s
        << true << u"8"_s << u"room:p"_s << u"presence"_s << R"({"type":"presence","event":"untrack"})"_ba;
    QTest::newRow("1.7 untrack ok")
        << R"([null,"8","room:p","chan:reply",{"status":"ok","response":{}}])"_ba << false << QString()
        << true << u"8"_s << u"room:p"_s << u"chan:reply"_s << R"({"status":"ok","response":{}})"_ba;
    QTest::newRow("1.7 leave diff")
        << R"([null,null,"room:p","presence_diff",{"joins":{},"leaves":{"user-A":[{"presence_ref":"pres_1","meta":{"user_id":"A","status":"online"}}]}}])"_ba
        << false << QString() << false << QString() << u"room:p"_s << u"presence_diff"_s
        << R"({"joins":{},"leaves":)"_ba + entryA + '}';
    QTest::newRow("1.7 presence_state")
        << R"([null,null,"room:p","presence_state",{"user-A":[{"presence_ref":"pres_1","meta":{"user_id":"A"}}],"user-B":[{"presence_ref":"pres_2","meta":{"user_id":"B"}}]}])"_ba
        << false << QString() << false << QString() << u"room:p"_s << u"presence_state"_s
        << R"({"user-B":[{"meta":{"user_id":"B"},"presence_ref":"pres_2"}],"user-A":[{"meta":{"user_id":"A"},"presence_ref":"pres_1"}]})"_ba;
}

void tst_Frame::capturedFrames()
{
    QFETCH(QByteArray, wire);
    QFETCH(bool, hasJoinRef);
    QFETCH(QString, joinRef);
    QFETCH(bool, hasRef);
    QFETCH(QString, ref);
    QFETCH(QString, topic);
    QFETCH(QString, event);
    QFETCH(QByteArray, payload);

    const auto result = decodeFrame(wire);
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    const Frame &f = *result.frame;
    QCOMPARE(f.joinRef, hasJoinRef ? std::optional<QString>(joinRef) : std::nullopt);
    QCOMPARE(f.ref, hasRef ? std::optional<QString>(ref) : std::nullopt);
    QCOMPARE(f.topic, topic);
    QCOMPARE(f.event, event);
    // The expected payloads are written with keys in another order on purpose: objects compare
    // by content, and the wire order carries no meaning.
    QCOMPARE(f.payload, object(payload));

    // Re-encoding keeps the meaning (not the key order, which QJsonObject sorts).
    QCOMPARE(array(encodeFrame(f)), array(wire));
    // The payload's own bytes are kept as they came (these frames are compact).
    QVERIFY(!f.rawPayload.isEmpty());
    QVERIFY(wire.endsWith(QByteArray(f.rawPayload + ']')));
}

void tst_Frame::buildersMatchCapturedReplies()
{
    const auto decode = [](const QByteArray &wire) { return *decodeFrame(wire).frame; };

    QCOMPARE(replyFrame(u"7"_s, QString(Topics::System), true),
             decode(R"([null,"7","$system","chan:reply",{"status":"ok","response":{}}])"_ba));
    QCOMPARE(replyFrame(u"5"_s, u"room:lobby"_s, true, QJsonObject{{u"recipientCount"_s, 1}}),
             decode(R"([null,"5","room:lobby","chan:reply",{"status":"ok","response":{"recipientCount":1}}])"_ba));
    QCOMPARE(errorReplyFrame(u"1"_s, u"room:lobby"_s, {}, u"Already joined this channel"_s),
             decode(R"([null,"1","room:lobby","chan:reply",{"status":"error","response":{"reason":"Already joined this channel"}}])"_ba));
    QCOMPARE(errorReplyFrame(u"1"_s, u"room:x"_s, Errors::AuthTokenRequired, u"Access token required"_s),
             decode(R"([null,"1","room:x","chan:reply",{"status":"error","response":{"reason":"Access token required","code":"AUTH_TOKEN_REQUIRED"}}])"_ba));
}

void tst_Frame::errors_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("code");
    QTest::addColumn<bool>("hasRef");
    QTest::addColumn<QString>("ref");
    QTest::addColumn<QString>("topic"); // empty: the address could not be read

    const QString malformed(Errors::MalformedFrame);
    const QString invalidRef(Errors::InvalidRef);
    const QString invalidTopic(Errors::InvalidTopic);
    const QString invalidEvent(Errors::InvalidEvent);
    const QString invalidPayload(Errors::InvalidPayload);
    const QString seven = u"7"_s;
    const QString roomX = u"room:x"_s;

    // Not JSON at all
    QTest::newRow("empty input") << ""_ba << malformed << false << QString() << QString();
    QTest::newRow("whitespace") << "  \n"_ba << malformed << false << QString() << QString();
    QTest::newRow("text") << "hello"_ba << malformed << false << QString() << QString();
    QTest::newRow("truncated") << R"([null,"7","room:x","e",{})"_ba << malformed << false << QString()
                               << QString();
    QTest::newRow("trailing garbage") << R"([null,"7","room:x","e",{}] x)"_ba << malformed << false
                                      << QString() << QString();
    QTest::newRow("trailing comma") << R"([null,"7","room:x","e",{},])"_ba << malformed << false
                                    << QString() << QString();
    QTest::newRow("single quotes") << R"([null,'7','room:x','e',{}])"_ba << malformed << false
                                   << QString() << QString();
    QTest::newRow("two documents") << R"([null,"7","room:x","e",{}][])"_ba << malformed << false
                                   << QString() << QString();

    // JSON, but not an array
    QTest::newRow("object") << R"({"topic":"room:x"})"_ba << malformed << false << QString() << QString();
    QTest::newRow("empty object") << "{}"_ba << malformed << false << QString() << QString();
    QTest::newRow("string") << R"("[null,\"7\",\"room:x\",\"e\",{}]")"_ba << malformed << false
                            << QString() << QString();
    QTest::newRow("number") << "5"_ba << malformed << false << QString() << QString();
    QTest::newRow("null") << "null"_ba << malformed << false << QString() << QString();
    QTest::newRow("bool") << "true"_ba << malformed << false << QString() << QString();

    // Wrong arity: the address is still recovered from whatever elements are there.
    QTest::newRow("arity 0") << "[]"_ba << malformed << false << QString() << QString();
    QTest::newRow("arity 1") << "[null]"_ba << malformed << false << QString() << QString();
    QTest::newRow("arity 2") << R"([null,"7"])"_ba << malformed << true << seven << QString();
    QTest::newRow("arity 3") << R"([null,"7","room:x"])"_ba << malformed << true << seven << roomX;
    QTest::newRow("arity 4") << R"([null,"7","room:x","broadcast"])"_ba << malformed << true << seven
                             << roomX;
    QTest::newRow("arity 6") << R"([null,"7","room:x","e",{},{}])"_ba << malformed << true << seven << roomX;
    QTest::newRow("arity 4, null ref") << R"([null,null,"room:x","e"])"_ba << malformed << false
                                       << QString() << roomX;
    QTest::newRow("arity 4, bad ref") << R"([null,7,"room:x","e"])"_ba << malformed << false << QString()
                                      << roomX;
    QTest::newRow("arity 4, bad topic") << R"([null,"7",7,"e"])"_ba << malformed << true << seven
                                        << QString();
    QTest::newRow("arity 6, bad everything") << R"([1,2,3,4,5,6])"_ba << malformed << false << QString()
                                             << QString();

    // join_ref of the wrong type: the (valid) ref and topic are still reported.
    const QString longRef = repeated('r', Bounds::MaxRefLength + 1);
    QTest::newRow("join_ref number") << withElement(0, "1") << invalidRef << true << seven << roomX;
    QTest::newRow("join_ref bool") << withElement(0, "false") << invalidRef << true << seven << roomX;
    QTest::newRow("join_ref object") << withElement(0, "{}") << invalidRef << true << seven << roomX;
    QTest::newRow("join_ref array") << withElement(0, R"(["1"])") << invalidRef << true << seven << roomX;
    QTest::newRow("join_ref too long") << withElement(0, jsonString(longRef)) << invalidRef << true
                                       << seven << roomX;

    // ref of the wrong type: it cannot be echoed, so the error carries no ref.
    QTest::newRow("ref number") << withElement(1, "7") << invalidRef << false << QString() << roomX;
    QTest::newRow("ref bool") << withElement(1, "true") << invalidRef << false << QString() << roomX;
    QTest::newRow("ref object") << withElement(1, R"({"r":"7"})") << invalidRef << false << QString()
                                << roomX;
    QTest::newRow("ref array") << withElement(1, "[]") << invalidRef << false << QString() << roomX;
    QTest::newRow("ref too long") << withElement(1, jsonString(longRef)) << invalidRef << false
                                  << QString() << roomX;

    // topic: not addressable, but the ref is still known.
    QTest::newRow("topic empty") << withElement(2, R"("")") << invalidTopic << true << seven << QString();
    QTest::newRow("topic number") << withElement(2, "1") << invalidTopic << true << seven << QString();
    QTest::newRow("topic null") << withElement(2, "null") << invalidTopic << true << seven << QString();
    QTest::newRow("topic object") << withElement(2, "{}") << invalidTopic << true << seven << QString();
    QTest::newRow("topic array") << withElement(2, R"(["room:x"])") << invalidTopic << true << seven
                                 << QString();
    QTest::newRow("topic too long")
        << withElement(2, jsonString(repeated('t', Bounds::MaxTopicLength + 1))) << invalidTopic << true
        << seven << QString();

    // event
    QTest::newRow("event empty") << withElement(3, R"("")") << invalidEvent << true << seven << roomX;
    QTest::newRow("event number") << withElement(3, "3") << invalidEvent << true << seven << roomX;
    QTest::newRow("event null") << withElement(3, "null") << invalidEvent << true << seven << roomX;
    QTest::newRow("event object") << withElement(3, "{}") << invalidEvent << true << seven << roomX;
    QTest::newRow("event too long")
        << withElement(3, jsonString(repeated('e', Bounds::MaxEventLength + 1))) << invalidEvent << true
        << seven << roomX;

    // payload
    QTest::newRow("payload array") << withElement(4, "[]") << invalidPayload << true << seven << roomX;
    QTest::newRow("payload string") << withElement(4, R"("{}")") << invalidPayload << true << seven
                                    << roomX;
    QTest::newRow("payload null") << withElement(4, "null") << invalidPayload << true << seven << roomX;
    QTest::newRow("payload number") << withElement(4, "0") << invalidPayload << true << seven << roomX;
    QTest::newRow("payload bool") << withElement(4, "false") << invalidPayload << true << seven << roomX;

    // Several defects: the first one in element order is reported, with what address is readable.
    QTest::newRow("bad ref and bad topic") << R"([null,7,"","e",{}])"_ba << invalidRef << false
                                           << QString() << QString();
    QTest::newRow("bad join_ref and bad ref") << R"([1,2,"room:x","e",{}])"_ba << invalidRef << false
                                              << QString() << roomX;
    QTest::newRow("bad topic and bad payload") << R"([null,"7",1,"e",[]])"_ba << invalidTopic << true
                                               << seven << QString();
    QTest::newRow("bad event and bad payload") << R"([null,"7","room:x","",[]])"_ba << invalidEvent
                                               << true << seven << roomX;
}

void tst_Frame::errors()
{
    QFETCH(QByteArray, input);
    QFETCH(QString, code);
    QFETCH(bool, hasRef);
    QFETCH(QString, ref);
    QFETCH(QString, topic);

    const auto result = decodeFrame(input);
    QVERIFY(!result.ok());
    QVERIFY(!result.frame.has_value());
    QCOMPARE(QString(result.error.code), code);
    QVERIFY(!result.error.reason.isEmpty());
    QCOMPARE(result.error.ref, hasRef ? std::optional<QString>(ref) : std::nullopt);
    QCOMPARE(result.error.topic, topic);
    QCOMPARE(result.error.addressable(), !topic.isEmpty());
}

void tst_Frame::invalidUtf8_data()
{
    QTest::addColumn<QByteArray>("input");

    // Raw bytes that are not UTF-8, inside each kind of string a frame has.
    QTest::newRow("lone 0xff in topic") << "[null,\"7\",\"room:\xff\",\"e\",{}]"_ba;
    QTest::newRow("truncated sequence in topic") << "[null,\"7\",\"room:\xc3\",\"e\",{}]"_ba;
    QTest::newRow("overlong '/' in topic") << "[null,\"7\",\"room:\xc0\xaf\",\"e\",{}]"_ba;
    QTest::newRow("encoded surrogate in topic") << "[null,\"7\",\"room:\xed\xa0\x80\",\"e\",{}]"_ba;
    QTest::newRow("beyond U+10FFFF in topic") << "[null,\"7\",\"room:\xf4\x90\x80\x80\",\"e\",{}]"_ba;
    QTest::newRow("in ref") << "[null,\"\xfe\",\"room:x\",\"e\",{}]"_ba;
    QTest::newRow("in join_ref") << "[\"\x80\",\"7\",\"room:x\",\"e\",{}]"_ba;
    QTest::newRow("in event") << "[null,\"7\",\"room:x\",\"\xe2\x82\",{}]"_ba;
    QTest::newRow("in payload value") << "[null,\"7\",\"room:x\",\"e\",{\"k\":\"\xff\"}]"_ba;
    QTest::newRow("in payload key") << "[null,\"7\",\"room:x\",\"e\",{\"\xff\":1}]"_ba;
    QTest::newRow("latin-1 text") << "[null,\"7\",\"caf\xe9\",\"e\",{}]"_ba;
}

void tst_Frame::invalidUtf8()
{
    QFETCH(QByteArray, input);

    // QJsonDocument refuses the whole document ("invalid UTF8 string"), so such a frame never
    // reaches the server with replacement characters in its topic or payload. Because the
    // document is refused, nothing of the address can be read either.
    const auto result = decodeFrame(input);
    QVERIFY(!result.ok());
    QCOMPARE(QString(result.error.code), QString(Errors::MalformedFrame));
    QCOMPARE(result.error.ref, std::nullopt);
    QVERIFY(!result.error.addressable());
}

void tst_Frame::escapedLoneSurrogate()
{
    // An *escaped* unpaired surrogate is valid JSON syntax, but a topic, event or ref holding
    // one is not text: it would print as '?' in logs and metric labels, so two topics could look
    // alike. In a payload it would become '?' wherever the text is converted to UTF-8, so the
    // body would be altered on its way; it is refused there too (INVALID_PAYLOAD, addressed).
    const auto topic = decodeFrame(R"([null,"7","room:\ud800","e",{}])"_ba);
    QVERIFY(!topic.ok());
    QCOMPARE(topic.error.code, Errors::InvalidTopic);
    QCOMPARE(topic.error.ref, std::optional<QString>(u"7"_s));
    const auto event = decodeFrame(R"([null,"7","room:x","e\udc00",{}])"_ba);
    QVERIFY(!event.ok());
    QCOMPARE(event.error.code, Errors::InvalidEvent);
    QCOMPARE(event.error.topic, u"room:x"_s);
    const auto ref = decodeFrame(R"([null,"\ud800","room:x","e",{}])"_ba);
    QVERIFY(!ref.ok());
    QCOMPARE(ref.error.code, Errors::InvalidRef);
    const auto payload = decodeFrame(R"([null,"7","room:x","e",{"k":"\udc00"}])"_ba);
    QVERIFY(!payload.ok());
    QCOMPARE(payload.error.code, Errors::InvalidPayload);
    QCOMPARE(payload.error.ref, std::optional<QString>(u"7"_s));
    QCOMPARE(payload.error.topic, u"room:x"_s);
    // The offset in the reason is the escape's position in the frame.
    QVERIFY2(payload.error.reason.contains(u"byte 29"_s), qPrintable(payload.error.reason));
    const auto key = decodeFrame(R"([null,"7","room:x","e",{"a\uD800b":1}])"_ba);
    QCOMPARE(key.error.code, Errors::InvalidPayload);
    const auto nested = decodeFrame(R"([null,"7","room:x","e",{"a":[{"b":"x\ud83d"}]}])"_ba);
    QCOMPARE(nested.error.code, Errors::InvalidPayload);
    // Escaped backslash: the text "\ud800" is six ordinary characters.
    const auto text = decodeFrame(R"([null,"7","room:x","e",{"k":"\\ud800"}])"_ba);
    QVERIFY(text.ok());
    QCOMPARE(text.frame->payload.value(u"k"_s).toString(), u"\\ud800"_s);

    // A properly paired escape is one character, and valid.
    const auto paired = decodeFrame(R"([null,"7","room:\ud83d\ude00","e",{}])"_ba);
    QVERIFY(paired.ok());
    QCOMPARE(paired.frame->topic, u"room:😀"_s);
    QVERIFY(paired.frame->topic.isValidUtf16());
}

void tst_Frame::notRelayable_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("code");
    QTest::addColumn<bool>("hasRef");
    QTest::addColumn<QString>("topic");

    // QJsonDocument accepts each of these, but other parsers refuse them or read them otherwise,
    // so they may not be echoed back or relayed: each is refused with its element's code.
    const QString invalidRef = QString(Errors::InvalidRef);
    const QString invalidTopic = QString(Errors::InvalidTopic);
    const QString invalidEvent = QString(Errors::InvalidEvent);
    const QString invalidPayload = QString(Errors::InvalidPayload);
    const QString roomX = u"room:x"_s;
    const struct
    {
        const char *name;
        QByteArray json;
    } strings[] = {
        {"unknown escape", R"("a\q")"},
        {"raw tab", "\"a\tb\""},
        {"raw NUL", QByteArray("\"a\0b\"", 5)},
        {"backslash FF (not UTF-8)", "\"a\\\xff\""},
        {"lone high surrogate", R"("a\ud800b")"},
        {"lone low surrogate", R"("a\uDC00")"},
    };
    for (const auto &string : strings) {
        QTest::addRow("join_ref: %s", string.name) << withElement(0, string.json) << invalidRef << true << roomX;
        QTest::addRow("ref: %s", string.name) << withElement(1, string.json) << invalidRef << false << roomX;
        QTest::addRow("topic: %s", string.name) << withElement(2, string.json) << invalidTopic << true << QString();
        QTest::addRow("event: %s", string.name) << withElement(3, string.json) << invalidEvent << true << roomX;
        QTest::addRow("payload value: %s", string.name)
            << withElement(4, "{\"k\":" + string.json + '}') << invalidPayload << true << roomX;
        QTest::addRow("payload key: %s", string.name)
            << withElement(4, '{' + string.json + ":1}") << invalidPayload << true << roomX;
    }
    QTest::newRow("number 1.") << withElement(4, R"({"n":1.})") << invalidPayload << true << roomX;
    QTest::newRow("number .5") << withElement(4, R"({"n":[.5]})") << invalidPayload << true << roomX;
    QTest::newRow("number 1.e5") << withElement(4, R"({"n":1.e5})") << invalidPayload << true << roomX;
}

void tst_Frame::notRelayable()
{
    QFETCH(QByteArray, input);
    QFETCH(QString, code);
    QFETCH(bool, hasRef);
    QFETCH(QString, topic);

    QJsonParseError error;
    QJsonDocument::fromJson(input, &error);
    QCOMPARE(error.error, QJsonParseError::NoError); // Qt alone would let it through

    const auto result = decodeFrame(input);
    QVERIFY(!result.ok());
    QCOMPARE(QString(result.error.code), code);
    QCOMPARE(result.error.ref, hasRef ? std::optional<QString>(u"7"_s) : std::nullopt);
    QCOMPARE(result.error.topic, topic);
    // The reason says what is wrong with the bytes, and where in the frame.
    QVERIFY2(result.error.reason.contains(u" at byte "_s), qPrintable(result.error.reason));
}

void tst_Frame::deepNesting()
{
    // Within Qt's nesting limit: decoded and round-tripped.
    {
        const int depth = 500;
        const QByteArray payload = QByteArray(depth, '[').prepend("{\"a\":") + QByteArray(depth, ']') + '}';
        const auto result = decodeFrame(withElement(4, payload));
        QVERIFY2(result.ok(), qPrintable(result.error.reason));
        QCOMPARE(decodeFrame(encodeFrame(*result.frame)).frame, result.frame);
    }
    // Far beyond it, in the payload and as the whole frame: refused, not a stack overflow.
    for (const int depth : {2000, 100'000}) {
        const QByteArray nested = QByteArray(depth, '[') + QByteArray(depth, ']');
        auto result = decodeFrame(withElement(4, '{' + ("\"a\":"_ba + nested) + '}'));
        QVERIFY(!result.ok());
        QCOMPARE(QString(result.error.code), QString(Errors::MalformedFrame));

        result = decodeFrame(nested);
        QVERIFY(!result.ok());
        QCOMPARE(QString(result.error.code), QString(Errors::MalformedFrame));

        const QByteArray objects = QByteArray("{\"a\":").repeated(depth) + '1' + QByteArray(depth, '}');
        result = decodeFrame(withElement(4, objects));
        QVERIFY(!result.ok());
        QCOMPARE(QString(result.error.code), QString(Errors::MalformedFrame));
    }
    // Unbalanced: only openers.
    const auto result = decodeFrame(QByteArray(1'000'000, '['));
    QVERIFY(!result.ok());
    QCOMPARE(QString(result.error.code), QString(Errors::MalformedFrame));
}

void tst_Frame::largeInputs()
{
    // The codec has no size limit of its own (the transport has); large payloads just work.
    const QString big(8 * 1024 * 1024, u'x');
    {
        const Frame f = frame(u"1"_s, u"2"_s, u"room:x"_s, u"e"_s, QJsonObject{{u"text"_s, big}});
        const auto result = decodeFrame(encodeFrame(f));
        QVERIFY(result.ok());
        QCOMPARE(result.frame->payload.value(u"text"_s).toString().size(), big.size());
    }
    // Oversized address fields are refused by the bounds, however large.
    auto result = decodeFrame(withElement(1, jsonString(big)));
    QCOMPARE(QString(result.error.code), QString(Errors::InvalidRef));
    QCOMPARE(result.error.ref, std::nullopt);
    QCOMPARE(result.error.topic, u"room:x"_s);

    result = decodeFrame(withElement(2, jsonString(big)));
    QCOMPARE(QString(result.error.code), QString(Errors::InvalidTopic));
    QCOMPARE(result.error.ref, u"7"_s);
    QVERIFY(!result.error.addressable());

    result = decodeFrame(withElement(3, jsonString(big)));
    QCOMPARE(QString(result.error.code), QString(Errors::InvalidEvent));

    // A huge array is a wrong arity, and its reason says how many elements came.
    QByteArray many = R"([null,"7","room:x")"_ba;
    for (int i = 0; i < 200'000; ++i)
        many += ",{}";
    many += ']';
    result = decodeFrame(many);
    QCOMPARE(QString(result.error.code), QString(Errors::MalformedFrame));
    QCOMPARE(result.error.ref, u"7"_s);
    QCOMPARE(result.error.topic, u"room:x"_s);
    QVERIFY2(result.error.reason.contains(u"200003"_s), qPrintable(result.error.reason));

    // A payload object with very many keys.
    QJsonObject wide;
    for (int i = 0; i < 50'000; ++i)
        wide.insert(QString::number(i), i);
    const Frame f = frame(std::nullopt, u"1"_s, u"room:x"_s, u"e"_s, wide);
    result = decodeFrame(encodeFrame(f));
    QVERIFY(result.ok());
    QCOMPARE(result.frame->payload.size(), 50'000);
    QVERIFY(*result.frame == f);
}

void tst_Frame::encodeIsCompact()
{
    const Frame f = frame(std::nullopt, u"1"_s, u"room:x"_s, u"e"_s,
                          QJsonObject{{u"a"_s, QJsonArray{1, 2}},
                                      {u"b"_s, QJsonObject{{u"c"_s, QJsonValue::Null}}},
                                      {u"s"_s, u"two words"_s}});
    QCOMPARE(encodeFrame(f), R"([null,"1","room:x","e",{"a":[1,2],"b":{"c":null},"s":"two words"}])"_ba);

    QCOMPARE(encodeFrame(frame(u"j"_s, std::nullopt, u"$system"_s, u"heartbeat"_s)),
             R"(["j",null,"$system","heartbeat",{}])"_ba);
}

void tst_Frame::encodeParsesBackToSameArray_data()
{
    QTest::addColumn<Frame>("frame");
    QTest::addColumn<QByteArray>("expected"); // the array, as independent JSON text

    QTest::newRow("nulls") << frame(std::nullopt, std::nullopt, u"t"_s, u"e"_s) << R"([null, null, "t", "e", {}])"_ba;
    QTest::newRow("strings") << frame(u"1"_s, u"2"_s, u"room:x"_s, u"broadcast"_s,
                                      QJsonObject{{u"payload"_s, QJsonObject{{u"n"_s, 1.5}}}})
                             << R"(["1", "2", "room:x", "broadcast", { "payload": { "n": 1.5 } }])"_ba;
    QTest::newRow("escapes") << frame(std::nullopt, u"\""_s, u"a\\b"_s, u"line\nbreak"_s)
                             << R"([null, "\"", "a\\b", "line\nbreak", {}])"_ba;
}

void tst_Frame::encodeParsesBackToSameArray()
{
    QFETCH(Frame, frame);
    QFETCH(QByteArray, expected);

    const auto encoded = encodeFrame(frame);
    QVERIFY(!encoded.contains('\n'));
    QVERIFY(!encoded.endsWith(' '));
    QJsonParseError error;
    const auto doc = QJsonDocument::fromJson(encoded, &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    QVERIFY(doc.isArray());
    QCOMPARE(doc.array(), array(expected));
}

void tst_Frame::replyFrameShape()
{
    const Frame ok = replyFrame(u"3"_s, u"room:x"_s, true);
    QCOMPARE(ok.joinRef, std::nullopt); // the native dialect always sends a null join_ref
    QCOMPARE(ok.ref, u"3"_s);
    QCOMPARE(ok.topic, u"room:x"_s);
    QCOMPARE(ok.event, QString(Events::Reply));
    QCOMPARE(ok.payload, object(R"({"status":"ok","response":{}})"));
    QCOMPARE(encodeFrame(ok), R"([null,"3","room:x","chan:reply",{"response":{},"status":"ok"}])"_ba);

    const Frame withResponse = replyFrame(std::nullopt, u"room:x"_s, true, QJsonObject{{u"recipientCount"_s, 4}});
    QCOMPARE(withResponse.ref, std::nullopt);
    QCOMPARE(withResponse.payload, object(R"({"status":"ok","response":{"recipientCount":4}})"));

    const Frame error = replyFrame(u"4"_s, u"room:x"_s, false, QJsonObject{{u"reason"_s, u"no"_s}});
    QCOMPARE(error.payload, object(R"({"status":"error","response":{"reason":"no"}})"));
}

void tst_Frame::errorReplyFrameShape()
{
    const Frame f = errorReplyFrame(u"8"_s, u"room:x"_s, Errors::NotJoined, u"Not joined to channel"_s);
    QCOMPARE(f.joinRef, std::nullopt);
    QCOMPARE(f.ref, u"8"_s);
    QCOMPARE(f.topic, u"room:x"_s);
    QCOMPARE(f.event, QString(Events::Reply));
    QCOMPARE(f.payload,
             object(R"({"status":"error","response":{"reason":"Not joined to channel","code":"NOT_JOINED"}})"));
}

void tst_Frame::errorReplyFrameWithoutCode()
{
    const Frame f = errorReplyFrame(std::nullopt, u"room:x"_s, {}, u"Channel not found"_s);
    const auto response = f.payload.value(u"response"_s).toObject();
    QVERIFY(!response.contains(u"code"_s));
    QCOMPARE(response, object(R"({"reason":"Channel not found"})"));
    QCOMPARE(f.payload.value(u"status"_s).toString(), u"error"_s);

    // An empty but non-null view is "empty" too.
    const Frame g = errorReplyFrame(std::nullopt, u"room:x"_s, ""_L1, u"r"_s);
    QVERIFY(!g.payload.value(u"response"_s).toObject().contains(u"code"_s));
}

void tst_Frame::errorReplyFrameMergesExtra()
{
    const QJsonObject extra{{u"retryAfterMs"_s, 1500}, {u"limit"_s, QJsonObject{{u"perMinute"_s, 60}}}};
    const Frame f = errorReplyFrame(u"2"_s, u"room:x"_s, Errors::RateLimited, u"Slow down"_s, extra);
    QCOMPARE(f.payload.value(u"response"_s).toObject(),
             object(R"({"reason":"Slow down","code":"MESSAGE_RATE_LIMITED","retryAfterMs":1500,
                       "limit":{"perMinute":60}})"));

    // reason and code are what the caller says they are, even if extra carries the same names.
    const QJsonObject clash{{u"reason"_s, u"from extra"_s}, {u"code"_s, u"EXTRA"_s}, {u"x"_s, 1}};
    const Frame g = errorReplyFrame(u"2"_s, u"room:x"_s, Errors::InvalidEvent, u"real reason"_s, clash);
    QCOMPARE(g.payload.value(u"response"_s).toObject(),
             object(R"({"reason":"real reason","code":"INVALID_EVENT","x":1})"));
}

// ---- Raw payload --------------------------------------------------------------------------

void tst_Frame::rawPayload_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<QByteArray>("raw");

    QTest::newRow("empty") << R"([null,"1","room:x","e",{}])"_ba << "{}"_ba;
    // Everything QJsonDocument would change comes through untouched: key order, number
    // spellings, big integers, escapes, whitespace inside the payload.
    const QByteArray payload =
        R"({"type":"broadcast","event":"x","payload":{"z":1.0,"a":1e3,"big":12345678901234567890,"s":"\u00e9\/\ud83d\ude00","n":-0}})";
    QTest::newRow("formatting kept") << R"(["1","2","room:x","broadcast",)" + payload + ']' << payload;
    QTest::newRow("whitespace around dropped, inside kept")
        << "[ null , \"1\" , \"room:x\" , \"e\" ,\n\t{ \"b\" : [ 1 , 2 ] ,\"a\":{}} \r\n]"_ba
        << R"({ "b" : [ 1 , 2 ] ,"a":{}})"_ba;
    QTest::newRow("duplicate keys kept") << R"([null,"1","room:x","e",{"a":1,"a":2}])"_ba << R"({"a":1,"a":2})"_ba;
    QTest::newRow("after BOM") << "\xef\xbb\xbf[null,\"1\",\"room:x\",\"e\",{\"k\":true}]"_ba << R"({"k":true})"_ba;
}

void tst_Frame::rawPayload()
{
    QFETCH(QByteArray, wire);
    QFETCH(QByteArray, raw);

    const auto result = decodeFrame(wire);
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.frame->rawPayload, raw);
    // It means what the parsed payload means (duplicates resolved the same way).
    QCOMPARE(QJsonDocument::fromJson(raw).object(), result.frame->payload);
    // encodeFrame() does not use it: a frame is encoded from what it means.
    QCOMPARE(encodeFrame(*result.frame), encodeFrame(Frame{result.frame->joinRef, result.frame->ref,
                                                           result.frame->topic, result.frame->event,
                                                           result.frame->payload}));
}

void tst_Frame::equalityIgnoresRawPayload()
{
    const auto a = decodeFrame(R"([null,"1","room:x","e",{"n":1.0, "b":2,"a":1}])"_ba);
    const auto b = decodeFrame(R"([null,"1","room:x","e",{"a":1,"b":2,"n":1}])"_ba);
    QVERIFY(a.ok() && b.ok());
    QVERIFY(a.frame->rawPayload != b.frame->rawPayload);
    QVERIFY(*a.frame == *b.frame);
    QVERIFY(*a.frame == frame(std::nullopt, u"1"_s, u"room:x"_s, u"e"_s, object(R"({"a":1,"b":2,"n":1})")));
    const auto c = decodeFrame(R"([null,"1","room:x","e",{"a":1,"b":2,"n":1.5}])"_ba);
    QVERIFY(!(*a.frame == *c.frame));
}

// ---- Topics -------------------------------------------------------------------------------

void tst_Frame::validTopics_data()
{
    QTest::addColumn<QString>("topic");
    QTest::addColumn<bool>("valid");

    QTest::newRow("$system") << QString(Topics::System) << true;
    QTest::newRow("room:lobby") << u"room:lobby"_s << true;
    QTest::newRow("one character") << u"x"_s << true;
    QTest::newRow("255 units") << repeated('t', Bounds::MaxTopicLength) << true;
    QTest::newRow("non-ASCII") << u"room:ñ名前😀"_s << true;
    QTest::newRow("spaces and punctuation") << u"room: a/b#c?d"_s << true;
    QTest::newRow("no-break space U+00A0") << u"room:\u00a0"_s << true;
    QTest::newRow("format character U+202E (not Cc)") << u"room:\u202e"_s << true;
    QTest::newRow("BOM U+FEFF (not Cc)") << u"\ufeffroom"_s << true;
    QTest::newRow("empty") << QString() << false;
    QTest::newRow("256 units") << repeated('t', Bounds::MaxTopicLength + 1) << false;
    // 128 emoji are 256 UTF-16 units: the bound is in units, as it always was.
    QTest::newRow("128 emoji") << u"😀"_s.repeated(128) << false;
    QTest::newRow("127 emoji") << u"😀"_s.repeated(127) << true;
    QTest::newRow("NUL") << u"room:\u0000x"_s << false;
    QTest::newRow("tab") << u"room:\tx"_s << false;
    QTest::newRow("line feed") << u"room:x\n"_s << false;
    QTest::newRow("carriage return") << u"\rroom:x"_s << false;
    QTest::newRow("ESC sequence") << u"room:\u001b[2J"_s << false;
    QTest::newRow("U+001F") << u"\u001f"_s << false;
    QTest::newRow("DEL") << u"room:\u007f"_s << false;
    QTest::newRow("U+0080") << u"room:\u0080"_s << false;
    QTest::newRow("C1 CSI U+009B") << u"room:\u009b2J"_s << false;
    QTest::newRow("U+009F") << u"room:\u009f"_s << false;
    QTest::newRow("lone high surrogate") << u"room:"_s + QChar(0xd800) << false;
    QTest::newRow("lone low surrogate") << QChar(0xdc00) + u"room"_s << false;
}

void tst_Frame::validTopics()
{
    QFETCH(QString, topic);
    QFETCH(bool, valid);
    QCOMPARE(isValidTopic(topic), valid);

    // decodeFrame applies the same rule, and keeps the ref for the error.
    const auto result = decodeFrame(withElement(2, Json::quote(topic)));
    QCOMPARE(result.ok(), valid);
    if (valid) {
        QCOMPARE(result.frame->topic, topic);
    } else {
        QCOMPARE(result.error.code, Errors::InvalidTopic);
        QCOMPARE(result.error.ref, std::optional<QString>(u"7"_s));
        QVERIFY(!result.error.addressable());
    }
}

void tst_Frame::topicsInFrames_data()
{
    QTest::addColumn<QByteArray>("topic"); // as JSON
    QTest::addColumn<bool>("valid");

    QTest::newRow("escaped NUL") << R"("room:\u0000x")"_ba << false;
    QTest::newRow("escaped ESC") << R"("\u001b]0;title\u0007")"_ba << false;
    QTest::newRow("escaped C1") << R"("room:\u0085")"_ba << false;
    QTest::newRow("escaped newline") << R"("room:\n")"_ba << false;
    QTest::newRow("raw C1 as UTF-8") << "\"room:\xc2\x9b\""_ba << false;
    QTest::newRow("raw DEL") << "\"room:\x7f\""_ba << false;
    QTest::newRow("raw tab (not strict JSON either)") << "\"room:\tx\""_ba << false;
    QTest::newRow("raw U+FEFF first (QJsonDocument would drop it)") << "\"\xef\xbb\xbfroom\""_ba << false;
    QTest::newRow("escaped U+FEFF first") << R"("\ufeffroom")"_ba << true;
    QTest::newRow("escaped slash") << R"("room:a\/b")"_ba << true;
    QTest::newRow("escaped pair") << R"("room:\ud83d\ude00")"_ba << true;
    QTest::newRow("$system") << R"("$system")"_ba << true;
}

void tst_Frame::topicsInFrames()
{
    QFETCH(QByteArray, topic);
    QFETCH(bool, valid);

    const auto result = decodeFrame(withElement(2, topic));
    QCOMPARE(result.ok(), valid);
    if (!valid) {
        QCOMPARE(result.error.code, Errors::InvalidTopic);
        QCOMPARE(result.error.ref, std::optional<QString>(u"7"_s));
        QCOMPARE(result.error.topic, QString());
    }
}

// ---- Addresses of errors ------------------------------------------------------------------

void tst_Frame::addressMatrix_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("code"); // empty: decoded
    QTest::addColumn<bool>("hasRef");
    QTest::addColumn<QString>("topic");

    // Every ref (readable as a string, null, or unreadable) with every topic (readable or not)
    // and every other defect: the error names the first defect in element order and carries
    // whatever of the address was readable.
    struct Ref
    {
        const char *name;
        QByteArray json;
        bool ok;      // a valid ref (string or null)
        bool isValue; // a string: echoed in the error
    };
    const Ref refs[] = {
        {"ref \"7\"", R"("7")", true, true},
        {"ref null", "null", true, false},
        {"ref number", "7", false, false},
        {"ref object", R"({"r":"7"})", false, false},
        {"ref too long", jsonString(repeated('r', Bounds::MaxRefLength + 1)), false, false},
        {"ref lone surrogate", R"("7\ud800")", false, false},
        {"ref unknown escape", R"("\7")", false, false},
    };
    struct Topic
    {
        const char *name;
        QByteArray json;
        bool ok;
    };
    const Topic topics[] = {
        {"topic room:x", R"("room:x")", true},
        {"topic $system", R"("$system")", true},
        {"topic number", "12345", false},
        {"topic null", "null", false},
        {"topic empty", R"("")", false},
        {"topic too long", jsonString(repeated('t', Bounds::MaxTopicLength + 1)), false},
        {"topic NUL", R"("room:\u0000")", false},
        {"topic ESC", R"("\u001b[2Jroom")", false},
        {"topic C1", R"("room:\u009b")", false},
        {"topic lone surrogate", R"("room:\udc00")", false},
        {"topic unknown escape", R"("room:\x")", false},
    };
    enum Defect { None, Arity4, Arity6, JoinRef, Event, PayloadArray, PayloadSurrogate, PayloadNumber };
    const struct
    {
        const char *name;
        Defect defect;
    } defects[] = {
        {"nothing else", None},
        {"4 elements", Arity4},
        {"6 elements", Arity6},
        {"bad join_ref", JoinRef},
        {"bad event", Event},
        {"payload array", PayloadArray},
        {"payload lone surrogate", PayloadSurrogate},
        {"payload number 1.", PayloadNumber},
    };

    for (const auto &ref : refs) {
        for (const auto &topic : topics) {
            for (const auto &defect : defects) {
                QList<QByteArray> parts{"null", ref.json, topic.json, R"("e")", "{}"};
                switch (defect.defect) {
                case None: break;
                case Arity4: parts.removeLast(); break;
                case Arity6: parts.append("{}"); break;
                case JoinRef: parts[0] = "1"; break;
                case Event: parts[3] = R"("")"; break;
                case PayloadArray: parts[4] = "[]"; break;
                case PayloadSurrogate: parts[4] = R"({"k":"\udc00"})"; break;
                case PayloadNumber: parts[4] = R"({"k":1.})"; break;
                }
                const QString readTopic = topic.ok ? QJsonDocument::fromJson('[' + topic.json + ']').array().at(0).toString()
                                                   : QString();
                QLatin1StringView code;
                bool hasRef = ref.isValue;
                if (defect.defect == Arity4 || defect.defect == Arity6)
                    code = Errors::MalformedFrame;
                else if (defect.defect == JoinRef)
                    code = Errors::InvalidRef;
                else if (!ref.ok)
                    code = Errors::InvalidRef;
                else if (!topic.ok)
                    code = Errors::InvalidTopic;
                else if (defect.defect == Event)
                    code = Errors::InvalidEvent;
                else if (defect.defect != None)
                    code = Errors::InvalidPayload;
                QTest::addRow("%s, %s, %s", ref.name, topic.name, defect.name)
                    << '[' + parts.join(',') + ']' << QString(code) << hasRef << (code.isEmpty() ? QString() : readTopic);
            }
        }
    }
}

void tst_Frame::addressMatrix()
{
    QFETCH(QByteArray, input);
    QFETCH(QString, code);
    QFETCH(bool, hasRef);
    QFETCH(QString, topic);

    const auto result = decodeFrame(input);
    if (code.isEmpty()) {
        QVERIFY2(result.ok(), qPrintable(result.error.reason));
        return;
    }
    QVERIFY(!result.ok());
    QCOMPARE(QString(result.error.code), code);
    QCOMPARE(result.error.ref.has_value(), hasRef);
    if (hasRef)
        QCOMPARE(*result.error.ref, u"7"_s);
    QCOMPARE(result.error.topic, topic);

    // The answer goes where DecodeError says: the topic, else $system with the ref, else chan:error.
    const Frame answer = rejectionFrame(result.error);
    if (!topic.isEmpty()) {
        QCOMPARE(answer.topic, topic);
        QCOMPARE(answer.event, QString(Events::Reply));
        QCOMPARE(answer.ref, result.error.ref);
    } else if (hasRef) {
        QCOMPARE(answer.topic, QString(Topics::System));
        QCOMPARE(answer.event, QString(Events::Reply));
        QCOMPARE(answer.ref, std::optional<QString>(u"7"_s));
    } else {
        QCOMPARE(answer.topic, QString(Topics::System));
        QCOMPARE(answer.event, QString(Events::Error));
        QCOMPARE(answer.ref, std::nullopt);
    }
    // And it is itself a valid frame.
    QVERIFY(decodeFrame(encodeFrame(answer)).ok());
}

void tst_Frame::rejectionFrames()
{
    // The example from the protocol: ref readable, topic not.
    const auto decoded = decodeFrame(R"([null,"7",12345,"chan:join",{}])"_ba);
    QCOMPARE(decoded.error.code, Errors::InvalidTopic);
    QCOMPARE(decoded.error.ref, std::optional<QString>(u"7"_s));
    QCOMPARE(decoded.error.topic, QString());
    const Frame onSystem = rejectionFrame(decoded.error);
    QCOMPARE(onSystem, errorReplyFrame(u"7"_s, QString(Topics::System), Errors::InvalidTopic, decoded.error.reason));
    QCOMPARE(array(encodeFrame(onSystem)),
             array(R"([null,"7","$system","chan:reply",{"status":"error","response":{"reason":")"_ba
                   + decoded.error.reason.toUtf8() + R"(","code":"INVALID_TOPIC"}}])"_ba));

    // Addressable: a reply on the topic, extra merged into the response.
    const DecodeError tooLarge{Errors::MessageTooLarge, u"too large"_s, u"3"_s, u"room:x"_s};
    QCOMPARE(rejectionFrame(tooLarge, {{u"limit"_s, 100}}),
             errorReplyFrame(u"3"_s, u"room:x"_s, Errors::MessageTooLarge, u"too large"_s, {{u"limit"_s, 100}}));
    // Addressable with a null ref: still a reply on the topic (the ref is null).
    const DecodeError nullRef{Errors::InvalidEvent, u"bad event"_s, std::nullopt, u"room:x"_s};
    QCOMPARE(rejectionFrame(nullRef), errorReplyFrame(std::nullopt, u"room:x"_s, Errors::InvalidEvent, u"bad event"_s));

    // Nothing readable: chan:error on $system.
    const auto garbage = decodeFrame("not json"_ba);
    const Frame error = rejectionFrame(garbage.error, {{u"extra"_s, true}});
    QCOMPARE(error.joinRef, std::nullopt);
    QCOMPARE(error.ref, std::nullopt);
    QCOMPARE(error.topic, QString(Topics::System));
    QCOMPARE(error.event, QString(Events::Error));
    QCOMPARE(error.payload, (QJsonObject{{u"code"_s, u"MALFORMED_FRAME"_s}, {u"reason"_s, garbage.error.reason},
                                         {u"extra"_s, true}}));
}

// ---- Broadcast encoder --------------------------------------------------------------------

void tst_Frame::encodeBroadcast_data()
{
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("event");
    QTest::addColumn<bool>("hasPayload");
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("typing")
        << u"room:lobby"_s << u"typing"_s << true << R"({"user":"A","isTyping":true})"_ba
        << R"([null,null,"room:lobby","broadcast",{"type":"broadcast","event":"typing","payload":{"user":"A","isTyping":true}}])"_ba;
    QTest::newRow("numbers as sent")
        << u"room:x"_s << u"n"_s << true << "[1.0,1e3,12345678901234567890,-0,1E+2]"_ba
        << R"([null,null,"room:x","broadcast",{"type":"broadcast","event":"n","payload":[1.0,1e3,12345678901234567890,-0,1E+2]}])"_ba;
    QTest::newRow("escapes as sent")
        << u"room:x"_s << u"s"_s << true << R"("\u00e9\/\ud83d\ude00 é")"_ba
        << R"([null,null,"room:x","broadcast",{"type":"broadcast","event":"s","payload":"\u00e9\/\ud83d\ude00 é"}])"_ba;
    QTest::newRow("whitespace and key order as sent")
        << u"room:x"_s << u"o"_s << true << "{ \"z\" : 1 ,\n \"a\" : [ ] }"_ba
        << "[null,null,\"room:x\",\"broadcast\",{\"type\":\"broadcast\",\"event\":\"o\",\"payload\":{ \"z\" : 1 ,\n \"a\" : [ ] }}]"_ba;
    QTest::newRow("null payload") << u"room:x"_s << u"e"_s << true << "null"_ba
                                  << R"([null,null,"room:x","broadcast",{"type":"broadcast","event":"e","payload":null}])"_ba;
    QTest::newRow("empty string payload") << u"room:x"_s << u"e"_s << true << R"("")"_ba
                                          << R"([null,null,"room:x","broadcast",{"type":"broadcast","event":"e","payload":""}])"_ba;
    QTest::newRow("no payload") << u"room:x"_s << u"e"_s << false << QByteArray()
                                << R"([null,null,"room:x","broadcast",{"type":"broadcast","event":"e"}])"_ba;
    QTest::newRow("topic and event escaped")
        << u"room:\"q\"\\"_s << u"line\nbreak\t/"_s << true << "{}"_ba
        << R"([null,null,"room:\"q\"\\","broadcast",{"type":"broadcast","event":"line\nbreak\t/","payload":{}}])"_ba;
    QTest::newRow("non-ASCII topic and event")
        << u"room:ñ😀"_s << u"évènement"_s << true << "1"_ba
        << "[null,null,\"room:\xc3\xb1\xf0\x9f\x98\x80\",\"broadcast\",{\"type\":\"broadcast\",\"event\":\"\xc3\xa9v\xc3\xa8nement\",\"payload\":1}]"_ba;
}

void tst_Frame::encodeBroadcast()
{
    QFETCH(QString, topic);
    QFETCH(QString, event);
    QFETCH(bool, hasPayload);
    QFETCH(QByteArray, payload);
    QFETCH(QByteArray, expected);

    const auto raw = hasPayload ? std::optional<QByteArrayView>(payload) : std::nullopt;
    const QByteArray encoded = Confab::Protocol::encodeBroadcast(topic, event, raw);
    QCOMPARE(encoded, expected);
    QCOMPARE(Json::findTextDefect(encoded), std::nullopt);

    // It decodes to the frame the re-encoding path builds, and its payload member holds the
    // same bytes that went in.
    const auto decoded = decodeFrame(encoded);
    QVERIFY2(decoded.ok(), qPrintable(decoded.error.reason));
    QJsonObject body{{u"type"_s, u"broadcast"_s}, {u"event"_s, event}};
    if (hasPayload)
        body.insert(u"payload"_s, QJsonDocument::fromJson('[' + payload + ']').array().at(0));
    QCOMPARE(*decoded.frame, frame(std::nullopt, std::nullopt, topic, QString(Events::Broadcast), body));
    const auto member = Json::objectMember(decoded.frame->rawPayload, u"payload");
    QCOMPARE(member.has_value(), hasPayload);
    if (hasPayload)
        QCOMPARE(member->toByteArray(), payload);
    // Topic and event are written as encodeFrame() writes them.
    QVERIFY(encodeFrame(*decoded.frame).startsWith(QByteArray("[null,null," + Json::quote(topic) + ",\"broadcast\",")));
}

void tst_Frame::broadcastRelaysPayloadBytes()
{
    // What a client sends, what the members receive: payload.payload byte for byte.
    const QByteArray inner = R"({"user":"A","isTyping":true,"at":1.0,"id":12345678901234567890,"t":"\u00e9"})";
    const QByteArray sent = R"(["1","5","room:lobby","broadcast",{"type":"broadcast","event":"typing","payload":)"
        + inner + "}]";
    const auto decoded = decodeFrame(sent);
    QVERIFY(decoded.ok());
    const auto payload = Json::objectMember(decoded.frame->rawPayload, u"payload");
    QVERIFY(payload);
    const QByteArray fanOut = Confab::Protocol::encodeBroadcast(decoded.frame->topic,
        decoded.frame->payload.value(u"event"_s).toString(), payload);
    QVERIFY(fanOut.contains(QByteArray(",\"payload\":" + inner + "}]")));

    // Re-serializing instead would have changed it: sorted keys, 1.0 → 1, the big integer
    // rounded, the escape replaced.
    const QByteArray reencoded = QJsonDocument(decoded.frame->payload.value(u"payload"_s).toObject()).toJson(QJsonDocument::Compact);
    QVERIFY(reencoded != inner);
    QVERIFY(!reencoded.contains("12345678901234567890"));

    // A duplicated "payload" member: the bytes relayed are those of the value the server
    // validated (the last, as QJsonDocument keeps it).
    const auto dup = decodeFrame(R"(["1","5","room:x","broadcast",{"type":"broadcast","event":"x","payload":{"a":1},"payload":[2]}])"_ba);
    QVERIFY(dup.ok());
    QCOMPARE(Json::objectMember(dup.frame->rawPayload, u"payload")->toByteArray(), "[2]"_ba);
    QCOMPARE(dup.frame->payload.value(u"payload"_s), QJsonValue(QJsonArray{2}));
}

// ---- Robustness ---------------------------------------------------------------------------

void tst_Frame::randomMutations()
{
    // Pseudo-random edits of valid frames with a fixed seed: decodeFrame() never crashes (nor
    // reads out of bounds under the sanitizers), a decoded frame always satisfies the codec's
    // promises, and every error can be answered with a valid frame.
    const QList<QByteArray> seeds{
        R"([null,"7","room:lobby","broadcast",{"type":"broadcast","event":"message","payload":{"user":"A","isTyping":true}}])"_ba,
        R"(["1","5","room:x","chan:join",{"config":{"broadcast":{"self":false,"ack":true},"presence":{"key":"u"}},"access_token":"eyJ.a.b"}])"_ba,
        R"([null,"9","$system","heartbeat",{}])"_ba,
        R"([null,null,"room:ñ","e",{"s":"q\"uo\\te \/ \b\n \u00e9 \uD83D\uDE00 😀","n":[0,-0,1.0,1e3,-2.5E-7,12345678901234567890]}])"_ba,
        "[\"1\" , \"2\" ,\n\"room:x\"\t, \"presence\" , { \"type\" : \"presence\" , \"event\" : \"track\" } ]"_ba,
    };
    static constexpr char alphabet[] = "\"\\{}[],: \t\n0123456789eE.-tfnlru$\x01\x1b\x7f";
    static constexpr unsigned char highBytes[] = {0x80, 0x9b, 0xc2, 0xc3, 0xed, 0xa0, 0xf0, 0xff};
    QRandomGenerator rng(4242);
    int ok = 0;
    for (int round = 0; round < 100'000; ++round) {
        const QByteArray text = Confab::Testing::mutateJson(
            rng, seeds[rng.bounded(int(seeds.size()))],
            {QByteArrayView(alphabet, sizeof alphabet - 1),
             QByteArrayView(reinterpret_cast<const char *>(highBytes), sizeof highBytes), 3, 8});
        // detach() into a buffer of its own, then decode a copy trimmed to its exact size.
        const QByteArray input(text.constData(), text.size());
        const auto result = decodeFrame(input);
        const QByteArray hex = input.toHex();
        if (result.ok()) {
            ++ok;
            const Frame &f = *result.frame;
            QVERIFY2(isValidTopic(f.topic), hex.constData());
            QVERIFY2(!f.ref || f.ref->size() <= Bounds::MaxRefLength, hex.constData());
            QVERIFY2(!Json::findTextDefect(f.rawPayload), hex.constData());
            QVERIFY2(QJsonDocument::fromJson(f.rawPayload).object() == f.payload, hex.constData());
            QVERIFY2(*decodeFrame(encodeFrame(f)).frame == f, hex.constData());
        } else {
            QVERIFY2(!result.error.code.isEmpty() && !result.error.reason.isEmpty(), hex.constData());
            QVERIFY2(result.error.topic.isEmpty() || isValidTopic(result.error.topic), hex.constData());
            QVERIFY2(decodeFrame(encodeFrame(rejectionFrame(result.error))).ok(), hex.constData());
        }
    }
    QVERIFY2(ok > 5000, qPrintable(QString::number(ok)));
}

QTEST_GUILESS_MAIN(tst_Frame)
#include "tst_frame.moc"
