// The native (realtime-message) protocol against the real server: every event of
// docs/protocol.md, with frames compared to the ones captured from the reference SDK.
#include "engine/hub.h"
#include "rawclient.h"
#include "testserver.h"

#include <QtTest/QtTest>

using namespace Qt::StringLiterals;
using Confab::Testing::RawClient;
using Confab::Testing::TestServer;

namespace {

QJsonArray frame(const QString &text)
{
    return QJsonDocument::fromJson(text.toUtf8()).array();
}

QJsonObject presenceTrack(const QString &key, const QJsonObject &meta)
{
    return {{u"type"_s, u"presence"_s},
            {u"event"_s, u"track"_s},
            {u"payload"_s, QJsonObject{{u"key"_s, key}, {u"meta"_s, meta}}}};
}

QJsonObject broadcastPayload(const QString &event, const QJsonValue &payload)
{
    return {{u"type"_s, u"broadcast"_s}, {u"event"_s, event}, {u"payload"_s, payload}};
}

QJsonObject config(bool self, bool ack, const QString &key = {})
{
    QJsonObject c{{u"broadcast"_s, QJsonObject{{u"self"_s, self}, {u"ack"_s, ack}}}};
    if (!key.isNull())
        c.insert(u"presence"_s, QJsonObject{{u"key"_s, key}});
    return c;
}

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QString errorCode(const std::optional<QJsonObject> &reply)
{
    if (!reply || reply->value("status"_L1).toString() != "error"_L1)
        return u"<no error reply>"_s;
    return reply->value("response"_L1).toObject().value("code"_L1).toString();
}

QString errorReason(const std::optional<QJsonObject> &reply)
{
    return reply ? reply->value("response"_L1).toObject().value("reason"_L1).toString() : QString();
}

} // namespace

class tst_NativeProtocol : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup() { m_server.reset(); }

    void heartbeatIsAnsweredExactly();
    void webSocketOnSlashWsToo();
    void joinRepliesBeforePresenceState();
    void duplicateJoinIsRefused();
    void joinConfigOfWrongTypeIsRefused();
    void leaveAndItsErrors();
    void broadcastSelfAndAckAcrossThreeClients();
    void broadcastFromNonMemberGetsErrorWithNullRef();
    void broadcastPayloadIsValidated();
    void broadcastsStayInTheirTopic();
    void presenceTrackDiffAndState();
    void presenceSeveralDevicesUnderOneKey();
    void presenceRetrackKeepsRef();
    void presenceUntrackOneKeyAndNothing();
    void presenceStateOnRequest();
    void presenceKeyFallsBackToJoinConfig();
    void unknownEventGetsError();
    void accessTokenInOpenModeIsAccepted();
    void closingConnectionLeavesEverything();

private:
    std::unique_ptr<RawClient> connected();
    std::unique_ptr<TestServer> m_server;
};

void tst_NativeProtocol::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

std::unique_ptr<RawClient> tst_NativeProtocol::connected()
{
    auto client = std::make_unique<RawClient>();
    if (!client->open(m_server->webSocketUrl()))
        return nullptr;
    return client;
}

void tst_NativeProtocol::heartbeatIsAnsweredExactly()
{
    auto c = connected();
    QVERIFY(c);
    c->sendText(uR"([null,"7","$system","heartbeat",{}])"_s);
    const auto reply = c->waitFor(RawClient::isReplyTo(u"7"_s));
    QVERIFY(reply);
    QCOMPARE(*reply, frame(uR"([null,"7","$system","chan:reply",{"status":"ok","response":{}}])"_s));
}

void tst_NativeProtocol::webSocketOnSlashWsToo()
{
    RawClient c;
    QVERIFY(c.open(m_server->webSocketUrl(u"/ws"_s)));
    QVERIFY(c.sync());
}

void tst_NativeProtocol::joinRepliesBeforePresenceState()
{
    auto c = connected();
    QVERIFY(c);
    c->sendText(uR"([null,"1","room:lobby","chan:join",{"config":{"broadcast":{"self":false,"ack":false},"presence":{"key":"user-A","enabled":false}}}])"_s);
    QVERIFY(c->sync());
    const auto inbox = c->inbox();
    QVERIFY(inbox.size() >= 2);
    QCOMPARE(inbox.at(0), frame(uR"([null,"1","room:lobby","chan:reply",{"status":"ok","response":{}}])"_s));
    QCOMPARE(inbox.at(1), frame(uR"([null,null,"room:lobby","presence_state",{}])"_s));
}

void tst_NativeProtocol::duplicateJoinIsRefused()
{
    auto c = connected();
    QVERIFY(c);
    QVERIFY(isOk(c->join(u"room:t"_s)));
    const auto again = c->join(u"room:t"_s);
    QCOMPARE(errorCode(again), u"ALREADY_JOINED"_s);
    QCOMPARE(errorReason(again), u"Already joined this channel"_s);
}

void tst_NativeProtocol::joinConfigOfWrongTypeIsRefused()
{
    auto c = connected();
    QVERIFY(c);
    const auto reply = c->join(u"room:t"_s, QJsonObject{{u"broadcast"_s, QJsonObject{{u"self"_s, u"yes"_s}}}});
    QCOMPARE(errorCode(reply), u"INVALID_PAYLOAD"_s);
    QVERIFY(errorReason(reply).contains("config.broadcast.self"_L1));
    QVERIFY(!m_server->server().hub().hasChannel(u"room:t"_s)); // nothing half-joined
    const auto key = c->join(u"room:t"_s, QJsonObject{{u"presence"_s, QJsonObject{{u"key"_s, 5}}}});
    QCOMPARE(errorCode(key), u"INVALID_PAYLOAD"_s);
    QVERIFY(isOk(c->join(u"room:t"_s, config(false, false, u"k"_s))));
}

void tst_NativeProtocol::leaveAndItsErrors()
{
    auto a = connected();
    auto b = connected();
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(u"room:l"_s)));
    QVERIFY(isOk(b->join(u"room:l"_s)));

    auto ref = a->push(u"room:l"_s, u"chan:leave"_s);
    const auto left = a->waitForReply(ref, u"room:l"_s);
    QCOMPARE(*left, QJsonObject({{u"status"_s, u"ok"_s}, {u"response"_s, QJsonObject{}}}));

    ref = a->push(u"room:l"_s, u"chan:leave"_s); // b is still there
    auto notMember = a->waitForReply(ref, u"room:l"_s);
    QCOMPARE(errorCode(notMember), u"NOT_JOINED"_s);
    QCOMPARE(errorReason(notMember), u"Not a member of this channel"_s);

    ref = b->push(u"room:l"_s, u"chan:leave"_s);
    QVERIFY(isOk(b->waitForReply(ref, u"room:l"_s)));
    QVERIFY(!m_server->server().hub().hasChannel(u"room:l"_s)); // empty channels are deleted

    ref = a->push(u"room:l"_s, u"chan:leave"_s);
    auto notFound = a->waitForReply(ref, u"room:l"_s);
    QCOMPARE(errorCode(notFound), u"CHANNEL_NOT_FOUND"_s);
    QCOMPARE(errorReason(notFound), u"Channel not found"_s);
}

void tst_NativeProtocol::broadcastSelfAndAckAcrossThreeClients()
{
    auto a = connected(); // self:false, ack:true
    auto b = connected(); // self:true,  ack:false
    auto c = connected(); // defaults
    QVERIFY(a && b && c);
    const auto topic = u"room:three"_s;
    QVERIFY(isOk(a->join(topic, config(false, true))));
    QVERIFY(isOk(b->join(topic, config(true, false))));
    QVERIFY(isOk(c->join(topic)));

    const auto hi = broadcastPayload(u"message"_s, QJsonObject{{u"text"_s, u"hi"_s}});
    const QJsonArray expected{QJsonValue::Null, QJsonValue::Null, topic, u"broadcast"_s, hi};

    // A: acked with the number of frames delivered; no echo to A.
    auto ref = a->push(topic, u"broadcast"_s, hi, u"1"_s);
    const auto ack = a->waitForReply(ref, topic);
    QVERIFY(isOk(ack));
    QCOMPARE(ack->value("response"_L1).toObject().value("recipientCount"_L1).toInt(), 2);
    QCOMPARE(*b->waitForEvent(topic, u"broadcast"_s), expected);
    QCOMPARE(*c->waitForEvent(topic, u"broadcast"_s), expected);
    QVERIFY(a->sync());
    QCOMPARE(a->count(RawClient::isEvent(topic, u"broadcast"_s)), 0);

    // B: self:true echoes to B; ack:false means no reply even though a ref was sent.
    const auto fromB = broadcastPayload(u"message"_s, QJsonObject{{u"text"_s, u"from b"_s}});
    ref = b->push(topic, u"broadcast"_s, fromB);
    QVERIFY(b->waitForEvent(topic, u"broadcast"_s));
    QVERIFY(a->waitForEvent(topic, u"broadcast"_s));
    QVERIFY(c->waitForEvent(topic, u"broadcast"_s));
    QVERIFY(b->sync());
    QCOMPARE(b->count(RawClient::isReplyTo(ref)), 0);

    // C: fire-and-forget (null ref) still reaches the others, never C itself.
    c->pushNoRef(topic, u"broadcast"_s, broadcastPayload(u"ping"_s, 1));
    const auto atA = a->waitForEvent(topic, u"broadcast"_s);
    QVERIFY(atA);
    QCOMPARE(atA->at(4).toObject().value("event"_L1).toString(), u"ping"_s);
    QVERIFY(b->waitForEvent(topic, u"broadcast"_s));
    QVERIFY(c->sync());
    QCOMPARE(c->count(RawClient::isEvent(topic, u"broadcast"_s)), 0);
}

void tst_NativeProtocol::broadcastFromNonMemberGetsErrorWithNullRef()
{
    auto a = connected();
    QVERIFY(a);
    a->pushNoRef(u"room:x"_s, u"broadcast"_s, broadcastPayload(u"e"_s, 1));
    const auto reply = a->waitFor([](const QJsonArray &f) {
        return f.at(1).isNull() && f.at(3).toString() == "chan:reply"_L1;
    });
    QVERIFY(reply);
    QCOMPARE(reply->at(2).toString(), u"room:x"_s);
    const auto response = reply->at(4).toObject();
    QCOMPARE(response.value("status"_L1).toString(), u"error"_s);
    QCOMPARE(response.value("response"_L1).toObject().value("reason"_L1).toString(), u"Not joined to channel"_s);
    QCOMPARE(response.value("response"_L1).toObject().value("code"_L1).toString(), u"NOT_JOINED"_s);
}

void tst_NativeProtocol::broadcastPayloadIsValidated()
{
    auto a = connected();
    auto b = connected();
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(u"room:v"_s, config(false, true))));
    QVERIFY(isOk(b->join(u"room:v"_s)));
    auto ref = a->push(u"room:v"_s, u"broadcast"_s, QJsonObject{{u"type"_s, u"broadcast"_s}});
    QCOMPARE(errorCode(a->waitForReply(ref, u"room:v"_s)), u"INVALID_PAYLOAD"_s);
    ref = a->push(u"room:v"_s, u"broadcast"_s, QJsonObject{{u"type"_s, u"other"_s}, {u"event"_s, u"e"_s}});
    QCOMPARE(errorCode(a->waitForReply(ref, u"room:v"_s)), u"INVALID_PAYLOAD"_s);
    ref = a->push(u"room:v"_s, u"broadcast"_s, broadcastPayload(QString(129, u'e'), 1));
    QCOMPARE(errorCode(a->waitForReply(ref, u"room:v"_s)), u"INVALID_PAYLOAD"_s);
    QVERIFY(b->sync());
    QCOMPARE(b->count(RawClient::isEvent(u"room:v"_s, u"broadcast"_s)), 0); // nothing delivered
}

void tst_NativeProtocol::broadcastsStayInTheirTopic()
{
    auto a = connected();
    auto b = connected();
    QVERIFY(a && b);
    for (const auto &t : {u"room:1"_s, u"room:2"_s, u"room:3"_s})
        QVERIFY(isOk(a->join(t, config(false, true))));
    QVERIFY(isOk(b->join(u"room:2"_s)));
    for (const auto &t : {u"room:1"_s, u"room:2"_s, u"room:3"_s}) {
        const auto ref = a->push(t, u"broadcast"_s, broadcastPayload(u"e"_s, t));
        QVERIFY(isOk(a->waitForReply(ref, t)));
    }
    QVERIFY(b->sync());
    const auto got = b->take([](const QJsonArray &f) { return f.at(3).toString() == "broadcast"_L1; });
    QCOMPARE(got.size(), 1);
    QCOMPARE(got.first().at(2).toString(), u"room:2"_s);
    QCOMPARE(got.first().at(4).toObject().value("payload"_L1).toString(), u"room:2"_s);
}

void tst_NativeProtocol::presenceTrackDiffAndState()
{
    const auto topic = u"room:p"_s;
    auto a = connected();
    auto b = connected();
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(topic, config(false, false, u"a"_s))));
    QVERIFY(isOk(b->join(topic, config(false, false, u"b"_s))));

    const auto ref = a->push(topic, u"presence"_s, presenceTrack(u"a"_s, QJsonObject{{u"x"_s, 1}}));
    const auto trackReply = a->waitForReply(ref, topic);
    QVERIFY(isOk(trackReply));
    const auto diff = b->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff);
    const auto joins = diff->at(4).toObject().value("joins"_L1).toObject();
    QCOMPARE(diff->at(4).toObject().value("leaves"_L1).toObject(), QJsonObject{});
    QCOMPARE(joins.keys(), QStringList{u"a"_s});
    const auto entry = joins.value("a"_L1).toArray().at(0).toObject();
    QCOMPARE(entry.value("meta"_L1).toObject(), QJsonObject({{u"x"_s, 1}}));
    const auto presenceRef = entry.value("presence_ref"_L1).toString();
    QVERIFY(!presenceRef.isEmpty());
    // The tracker learns its own entry from the reply (it gets no diff of its own track).
    QCOMPARE(trackReply->value("response"_L1).toObject(),
             QJsonObject({{u"presence_ref"_s, presenceRef}, {u"key"_s, u"a"_s}}));
    QVERIFY(a->sync());
    QCOMPARE(a->count(RawClient::isEvent(topic, u"presence_diff"_s)), 0); // not to the actor

    auto c = connected();
    QVERIFY(c);
    QJsonObject state;
    QVERIFY(isOk(c->join(topic, {}, {}, &state)));
    QCOMPARE(state.value("a"_L1).toArray(),
             QJsonArray({QJsonObject{{u"presence_ref"_s, presenceRef}, {u"meta"_s, QJsonObject{{u"x"_s, 1}}}}}));

    a->close();
    for (auto *peer : {b.get(), c.get()}) {
        const auto leave = peer->waitForEvent(topic, u"presence_diff"_s);
        QVERIFY(leave);
        const auto leaves = leave->at(4).toObject().value("leaves"_L1).toObject();
        QCOMPARE(leaves.value("a"_L1).toArray().at(0).toObject().value("presence_ref"_L1).toString(), presenceRef);
        QCOMPARE(leave->at(4).toObject().value("joins"_L1).toObject(), QJsonObject{});
    }
}

void tst_NativeProtocol::presenceSeveralDevicesUnderOneKey()
{
    const auto topic = u"room:devices"_s;
    auto phone = connected();
    auto laptop = connected();
    auto observer = connected();
    QVERIFY(phone && laptop && observer);
    for (auto *c : {phone.get(), laptop.get(), observer.get()})
        QVERIFY(isOk(c->join(topic)));

    auto ref = phone->push(topic, u"presence"_s, presenceTrack(u"alice"_s, QJsonObject{{u"device"_s, u"phone"_s}}));
    QVERIFY(isOk(phone->waitForReply(ref, topic)));
    auto diff = observer->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff);
    QCOMPARE(diff->at(4).toObject()["joins"_L1].toObject()["alice"_L1].toArray().size(), 1);

    ref = laptop->push(topic, u"presence"_s, presenceTrack(u"alice"_s, QJsonObject{{u"device"_s, u"laptop"_s}}));
    QVERIFY(isOk(laptop->waitForReply(ref, topic)));
    diff = observer->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff);
    // The SDK expects every entry of the key in joins, each with its own ref.
    const auto entries = diff->at(4).toObject()["joins"_L1].toObject()["alice"_L1].toArray();
    QCOMPARE(entries.size(), 2);
    const auto phoneRef = entries.at(0).toObject()["presence_ref"_L1].toString();
    const auto laptopRef = entries.at(1).toObject()["presence_ref"_L1].toString();
    QVERIFY(phoneRef != laptopRef);
    QCOMPARE(entries.at(1).toObject()["meta"_L1].toObject()["device"_L1].toString(), u"laptop"_s);

    phone->close(); // alice stays present through the laptop
    diff = observer->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff);
    const auto left = diff->at(4).toObject()["leaves"_L1].toObject()["alice"_L1].toArray();
    QCOMPARE(left.size(), 1);
    QCOMPARE(left.at(0).toObject()["presence_ref"_L1].toString(), phoneRef);
    QCOMPARE(m_server->server().hub().presence(topic)->entries(u"alice"_s).size(), 1);

    auto late = connected();
    QVERIFY(late);
    QJsonObject state;
    QVERIFY(isOk(late->join(topic, {}, {}, &state)));
    QCOMPARE(state["alice"_L1].toArray().size(), 1);
    QCOMPARE(state["alice"_L1].toArray().at(0).toObject()["presence_ref"_L1].toString(), laptopRef);

    laptop->close(); // last device: alice is gone
    diff = observer->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff);
    QCOMPARE(diff->at(4).toObject()["leaves"_L1].toObject()["alice"_L1].toArray().at(0).toObject()["presence_ref"_L1].toString(),
             laptopRef);
    QTRY_VERIFY(m_server->server().hub().presence(topic)->entries(u"alice"_s).isEmpty());
}

void tst_NativeProtocol::presenceRetrackKeepsRef()
{
    const auto topic = u"room:retrack"_s;
    auto a = connected();
    auto b = connected();
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(topic)));
    QVERIFY(isOk(b->join(topic)));
    auto ref = a->push(topic, u"presence"_s, presenceTrack(u"a"_s, QJsonObject{{u"status"_s, u"online"_s}}));
    QVERIFY(isOk(a->waitForReply(ref, topic)));
    const auto first = b->waitForEvent(topic, u"presence_diff"_s);
    ref = a->push(topic, u"presence"_s, presenceTrack(u"a"_s, QJsonObject{{u"status"_s, u"away"_s}}));
    QVERIFY(isOk(a->waitForReply(ref, topic)));
    const auto second = b->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(first && second);
    const auto refOf = [](const QJsonArray &f) {
        return f.at(4).toObject()["joins"_L1].toObject()["a"_L1].toArray().at(0).toObject()["presence_ref"_L1].toString();
    };
    QCOMPARE(refOf(*second), refOf(*first));
    const auto entries = m_server->server().hub().presence(topic)->entries(u"a"_s);
    QCOMPARE(entries.size(), 1);
    QCOMPARE(entries.first().meta.value("status"_L1).toString(), u"away"_s);
}

void tst_NativeProtocol::presenceUntrackOneKeyAndNothing()
{
    const auto topic = u"room:untrack"_s;
    auto a = connected();
    auto b = connected();
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(topic)));
    QVERIFY(isOk(b->join(topic)));

    const QJsonObject untrack{{u"type"_s, u"presence"_s}, {u"event"_s, u"untrack"_s}};
    auto ref = a->push(topic, u"presence"_s, untrack); // nothing tracked: ok, no diff
    QVERIFY(isOk(a->waitForReply(ref, topic)));
    QVERIFY(b->sync());
    QCOMPARE(b->count(RawClient::isEvent(topic, u"presence_diff"_s)), 0);

    for (const auto &key : {u"k1"_s, u"k2"_s}) {
        ref = a->push(topic, u"presence"_s, presenceTrack(key, {}));
        QVERIFY(isOk(a->waitForReply(ref, topic)));
        QVERIFY(b->waitForEvent(topic, u"presence_diff"_s));
    }
    auto one = untrack;
    one.insert(u"payload"_s, QJsonObject{{u"key"_s, u"k1"_s}});
    ref = a->push(topic, u"presence"_s, one);
    QVERIFY(isOk(a->waitForReply(ref, topic)));
    auto diff = b->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff);
    QCOMPARE(diff->at(4).toObject()["leaves"_L1].toObject().keys(), QStringList{u"k1"_s});

    ref = a->push(topic, u"presence"_s, untrack); // all remaining keys
    QVERIFY(isOk(a->waitForReply(ref, topic)));
    diff = b->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff);
    QCOMPARE(diff->at(4).toObject()["leaves"_L1].toObject().keys(), QStringList{u"k2"_s});
    QVERIFY(m_server->server().hub().presence(topic)->isEmpty());
}

void tst_NativeProtocol::presenceStateOnRequest()
{
    const auto topic = u"room:state"_s;
    auto a = connected();
    QVERIFY(a);
    QVERIFY(isOk(a->join(topic)));
    const auto ref = a->push(topic, u"presence"_s, presenceTrack(u"me"_s, QJsonObject{{u"n"_s, 1}}));
    QVERIFY(isOk(a->waitForReply(ref, topic)));
    const auto stateRef = a->push(topic, u"presence_state"_s);
    const auto state = a->waitForEvent(topic, u"presence_state"_s);
    QVERIFY(state);
    QVERIFY(state->at(1).isNull());
    QCOMPARE(state->at(4).toObject()["me"_L1].toArray().at(0).toObject()["meta"_L1].toObject(), QJsonObject({{u"n"_s, 1}}));
    QVERIFY(a->sync());
    QCOMPARE(a->count(RawClient::isReplyTo(stateRef)), 0); // state requests get no reply frame

    const auto other = a->push(u"room:elsewhere"_s, u"presence_state"_s);
    QCOMPARE(errorCode(a->waitForReply(other, u"room:elsewhere"_s)), u"NOT_JOINED"_s);
}

void tst_NativeProtocol::presenceKeyFallsBackToJoinConfig()
{
    const auto topic = u"room:fallback"_s;
    auto a = connected();
    auto b = connected();
    QVERIFY(a && b);
    QVERIFY(isOk(a->join(topic, config(false, false, u"from-join"_s))));
    QVERIFY(isOk(b->join(topic))); // no key anywhere: the connection id
    const QJsonObject keyless{{u"type"_s, u"presence"_s}, {u"event"_s, u"track"_s}, {u"payload"_s, QJsonObject{}}};
    auto ref = a->push(topic, u"presence"_s, keyless);
    QVERIFY(isOk(a->waitForReply(ref, topic)));
    ref = b->push(topic, u"presence"_s, keyless);
    QVERIFY(isOk(b->waitForReply(ref, topic)));
    const auto keys = m_server->server().hub().presence(topic)->keys();
    QCOMPARE(keys.size(), 2);
    QVERIFY(keys.contains(u"from-join"_s));
    QVERIFY(std::any_of(keys.cbegin(), keys.cend(), [](const QString &k) { return k.startsWith("client-"_L1); }));
}

void tst_NativeProtocol::unknownEventGetsError()
{
    auto a = connected();
    QVERIFY(a);
    QVERIFY(isOk(a->join(u"room:u"_s)));
    const auto ref = a->push(u"room:u"_s, u"no-such-event"_s);
    const auto reply = a->waitForReply(ref, u"room:u"_s);
    QCOMPARE(errorCode(reply), u"UNKNOWN_EVENT"_s);
    QVERIFY(errorReason(reply).contains("no-such-event"_L1));
    const auto sys = a->push(u"$system"_s, u"chan:join"_s);
    QCOMPARE(errorCode(a->waitForReply(sys, u"$system"_s)), u"INVALID_TOPIC"_s);
}

void tst_NativeProtocol::accessTokenInOpenModeIsAccepted()
{
    auto a = connected();
    QVERIFY(a);
    QVERIFY(isOk(a->join(u"room:open"_s, {}, u"not-a-jwt"_s))); // open mode ignores tokens
    const auto ref = a->push(u"room:open"_s, u"access_token"_s, QJsonObject{{u"access_token"_s, u"whatever"_s}});
    QVERIFY(isOk(a->waitForReply(ref, u"room:open"_s)));
}

void tst_NativeProtocol::closingConnectionLeavesEverything()
{
    auto a = connected();
    QVERIFY(a);
    for (const auto &t : {u"room:c1"_s, u"room:c2"_s}) {
        QVERIFY(isOk(a->join(t)));
        const auto ref = a->push(t, u"presence"_s, presenceTrack(u"a"_s, {}));
        QVERIFY(isOk(a->waitForReply(ref, t)));
    }
    QCOMPARE(m_server->server().hub().channelCount(), 2);
    QCOMPARE(m_server->server().connectionCount(), 1);
    a->close();
    QTRY_COMPARE(m_server->server().connectionCount(), 0);
    QCOMPARE(m_server->server().hub().channelCount(), 0);
    QCOMPARE(m_server->server().hub().membershipCount(), 0);
    QCOMPARE(m_server->server().hub().presenceEntryCount(), 0);
}

QTEST_GUILESS_MAIN(tst_NativeProtocol)
#include "tst_nativeprotocol.moc"
