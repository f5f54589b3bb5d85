// Chat on the wire (docs/protocol.md "Chat"): the server's side of durable messages, checked
// with raw frames against a real server and a real SQLite file.
#include "engine/hub.h"
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

QString errorCode(const std::optional<QJsonObject> &reply)
{
    if (!reply || reply->value("status"_L1).toString() != "error"_L1)
        return u"<no error reply>"_s;
    return reply->value("response"_L1).toObject().value("code"_L1).toString();
}

QJsonObject response(const std::optional<QJsonObject> &reply)
{
    return reply ? reply->value("response"_L1).toObject() : QJsonObject();
}

} // namespace

class tst_Chat : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup() { m_server.reset(); }

    void helloSetsIdentity();
    void chatNeedsIdentity();
    void sendIsAckedThenDelivered();
    void resendWithSameClientIdIsNotDuplicated();
    void editAndDeleteOnlyByAuthor();
    void reactions();
    void readReceiptsAndUnread();
    void historyPaging();
    void catchUpReplaysWhatWasMissed();
    void catchUpGapTooLarge();
    void typingStartStopAndExpiry();
    void mentionReachesUserOutsideTheChannel();
    void privateChannelsAndDms();
    void presenceStatusAndInvisible();
    void badInputStoresNothing_data();
    void badInputStoresNothing();
    void restartKeepsHistory();
    void senderLeavingBeforeTheCommitStillDelivers();

private:
    //! A client that said hello as \a user and joined \a topic for chat.
    std::unique_ptr<RawClient> chatClient(const QString &user, const QString &topic, QJsonObject *joinResponse = nullptr,
                                          const QJsonObject &chatConfig = {});
    std::optional<QJsonObject> send(RawClient &c, const QString &topic, const QString &clientId, const QString &body);
    QList<QJsonObject> messagesIn(RawClient &c, const QString &topic);

    std::unique_ptr<TestServer> m_server;
};

void tst_Chat::init()
{
    auto config = TestServer::defaultConfig();
    config.chat.typingTimeout = std::chrono::milliseconds(600);
    config.chat.catchupLimit = 5;
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
}

std::unique_ptr<RawClient> tst_Chat::chatClient(const QString &user, const QString &topic, QJsonObject *joinResponse,
                                                const QJsonObject &chatConfig)
{
    auto c = std::make_unique<RawClient>();
    if (!c->open(m_server->webSocketUrl()))
        return nullptr;
    const auto hello = c->push(u"$system"_s, u"hello"_s, {{u"user"_s, QJsonObject{{u"id"_s, user}, {u"name"_s, user.toUpper()}}}});
    if (!isOk(c->waitForReply(hello, u"$system"_s)))
        return nullptr;
    if (topic.isEmpty())
        return c;
    const auto ref = c->push(topic, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, chatConfig}}}});
    const auto reply = c->waitForReply(ref, topic);
    if (!isOk(reply))
        return nullptr;
    if (joinResponse)
        *joinResponse = response(reply).value("chat"_L1).toObject();
    if (!c->waitForEvent(topic, u"presence_state"_s) || !c->waitForEvent(topic, u"typing_state"_s))
        return nullptr;
    return c;
}

std::optional<QJsonObject> tst_Chat::send(RawClient &c, const QString &topic, const QString &clientId, const QString &body)
{
    const auto ref = c.push(topic, u"message:send"_s, {{u"client_id"_s, clientId}, {u"body"_s, body}});
    return c.waitForReply(ref, topic);
}

QList<QJsonObject> tst_Chat::messagesIn(RawClient &c, const QString &topic)
{
    QList<QJsonObject> out;
    for (const auto &f : c.take(RawClient::isEvent(topic, u"message"_s)))
        out.append(f.at(4).toObject());
    return out;
}

void tst_Chat::helloSetsIdentity()
{
    RawClient c;
    QVERIFY(c.open(m_server->webSocketUrl()));
    auto ref = c.push(u"$system"_s, u"hello"_s, {{u"user"_s, QJsonObject{{u"id"_s, u"alice"_s}, {u"name"_s, u"Alice A."_s}}}});
    const auto reply = c.waitForReply(ref, u"$system"_s);
    QVERIFY(isOk(reply));
    QCOMPARE(response(reply).value("user"_L1).toObject(), QJsonObject({{u"id"_s, u"alice"_s}, {u"name"_s, u"Alice A."_s}}));
    // One connection is one user.
    ref = c.push(u"$system"_s, u"hello"_s, {{u"user"_s, QJsonObject{{u"id"_s, u"mallory"_s}}}});
    QCOMPARE(errorCode(c.waitForReply(ref, u"$system"_s)), u"AUTH_INVALID_TOKEN"_s);
    // Ids are restricted to a plain charset (they appear in DM topics and mentions).
    RawClient d;
    QVERIFY(d.open(m_server->webSocketUrl()));
    ref = d.push(u"$system"_s, u"hello"_s, {{u"user"_s, QJsonObject{{u"id"_s, u"bad id!"_s}}}});
    QCOMPARE(errorCode(d.waitForReply(ref, u"$system"_s)), u"INVALID_PAYLOAD"_s);
}

void tst_Chat::chatNeedsIdentity()
{
    RawClient c;
    QVERIFY(c.open(m_server->webSocketUrl()));
    auto ref = c.push(u"room:anon"_s, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{}}}}});
    QCOMPARE(errorCode(c.waitForReply(ref, u"room:anon"_s)), u"IDENTITY_REQUIRED"_s);
    QVERIFY(!m_server->server().hub().hasChannel(u"room:anon"_s));
    // config.user on the join is enough in open mode.
    ref = c.push(u"room:anon"_s, u"chan:join"_s,
                 {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{}}, {u"user"_s, QJsonObject{{u"id"_s, u"zed"_s}}}}}});
    QVERIFY(isOk(c.waitForReply(ref, u"room:anon"_s)));
    // A plain realtime join needs no identity, and chat events there ask for a chat join.
    RawClient plain;
    QVERIFY(plain.open(m_server->webSocketUrl()));
    QVERIFY(isOk(plain.join(u"room:plain"_s)));
    ref = plain.push(u"room:plain"_s, u"message:send"_s, {{u"client_id"_s, u"x"_s}, {u"body"_s, u"hi"_s}});
    QCOMPARE(errorCode(plain.waitForReply(ref, u"room:plain"_s)), u"IDENTITY_REQUIRED"_s);
}

void tst_Chat::sendIsAckedThenDelivered()
{
    const auto topic = u"room:send"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(alice && bob);

    const auto ack = send(*alice, topic, u"c-1"_s, u"hello bob"_s);
    QVERIFY(isOk(ack));
    const auto a = response(ack);
    QCOMPARE(a.value("seq"_L1).toInteger(), 1);
    QCOMPARE(a.value("client_id"_L1).toString(), u"c-1"_s);
    QVERIFY(QUuid::fromString(a.value("id"_L1).toString()).isNull() == false);
    QVERIFY(QDateTime::fromString(a.value("ts"_L1).toString(), Qt::ISODateWithMs).isValid());

    const auto got = bob->waitForEvent(topic, u"message"_s);
    QVERIFY(got);
    const auto m = got->at(4).toObject();
    QCOMPARE(m.value("id"_L1), a.value("id"_L1));
    QCOMPARE(m.value("seq"_L1).toInteger(), 1);
    QCOMPARE(m.value("body"_L1).toString(), u"hello bob"_s);
    QCOMPARE(m.value("author"_L1).toObject(), QJsonObject({{u"id"_s, u"alice"_s}, {u"name"_s, u"ALICE"_s}}));
    QCOMPARE(m.value("reactions"_L1).toObject(), QJsonObject{});
    QVERIFY(alice->sync());
    QCOMPARE(alice->count(RawClient::isEvent(topic, u"message"_s)), 0); // the sender has its ack

    QCOMPARE(response(send(*bob, topic, u"c-1"_s, u"same client id, other author"_s)).value("seq"_L1).toInteger(), 2);
    QCOMPARE(response(send(*alice, topic, u"c-2"_s, u"third"_s)).value("seq"_L1).toInteger(), 3);
}

void tst_Chat::resendWithSameClientIdIsNotDuplicated()
{
    const auto topic = u"room:idem"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(alice && bob);
    const auto first = response(send(*alice, topic, u"once"_s, u"only once"_s));
    QVERIFY(bob->waitForEvent(topic, u"message"_s));

    // After a reconnect the client resends what it has no ack for: same client id.
    alice->close();
    QVERIFY(alice->waitForDisconnected());
    alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);
    const auto again = send(*alice, topic, u"once"_s, u"only once"_s);
    QVERIFY(isOk(again));
    QCOMPARE(response(again).value("id"_L1), first.value("id"_L1));
    QCOMPARE(response(again).value("seq"_L1), first.value("seq"_L1));
    QCOMPARE(response(again).value("duplicate"_L1).toBool(), true);
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"message"_s)), 0); // delivered once only

    const auto ref = alice->push(topic, u"history"_s, {});
    QCOMPARE(response(alice->waitForReply(ref, topic)).value("messages"_L1).toArray().size(), 1);
}

void tst_Chat::editAndDeleteOnlyByAuthor()
{
    const auto topic = u"room:edit"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(alice && bob);
    const auto id = response(send(*alice, topic, u"e1"_s, u"frist"_s)).value("id"_L1).toString();
    QVERIFY(bob->waitForEvent(topic, u"message"_s));

    auto ref = bob->push(topic, u"message:edit"_s, {{u"id"_s, id}, {u"body"_s, u"hijacked"_s}});
    QCOMPARE(errorCode(bob->waitForReply(ref, topic)), u"FORBIDDEN"_s);
    ref = bob->push(topic, u"message:delete"_s, {{u"id"_s, id}});
    QCOMPARE(errorCode(bob->waitForReply(ref, topic)), u"FORBIDDEN"_s);

    ref = alice->push(topic, u"message:edit"_s, {{u"id"_s, id}, {u"body"_s, u"first @bob"_s}});
    const auto edited = alice->waitForReply(ref, topic);
    QVERIFY(isOk(edited));
    QVERIFY(response(edited).contains("edited_at"_L1));
    const auto editEvent = bob->waitForEvent(topic, u"message:edited"_s);
    QVERIFY(editEvent);
    QCOMPARE(editEvent->at(4).toObject().value("body"_L1).toString(), u"first @bob"_s);
    QCOMPARE(editEvent->at(4).toObject().value("mentions"_L1).toArray(), QJsonArray{u"bob"_s});

    ref = alice->push(topic, u"message:delete"_s, {{u"id"_s, id}});
    QVERIFY(isOk(alice->waitForReply(ref, topic)));
    const auto deleted = bob->waitForEvent(topic, u"message:deleted"_s);
    QVERIFY(deleted);
    QCOMPARE(deleted->at(4).toObject().value("id"_L1).toString(), id);
    ref = alice->push(topic, u"message:edit"_s, {{u"id"_s, id}, {u"body"_s, u"resurrect"_s}});
    QCOMPARE(errorCode(alice->waitForReply(ref, topic)), u"MESSAGE_DELETED"_s);

    ref = alice->push(topic, u"history"_s, {});
    const auto page = response(alice->waitForReply(ref, topic)).value("messages"_L1).toArray();
    QCOMPARE(page.size(), 1);
    QCOMPARE(page.at(0).toObject().value("deleted"_L1).toBool(), true);
    QCOMPARE(page.at(0).toObject().value("body"_L1).toString(), QString()); // the body is gone

    ref = alice->push(topic, u"message:edit"_s, {{u"id"_s, QUuid::createUuid().toString(QUuid::WithoutBraces)}, {u"body"_s, u"x"_s}});
    QCOMPARE(errorCode(alice->waitForReply(ref, topic)), u"NOT_FOUND"_s);
}

void tst_Chat::reactions()
{
    const auto topic = u"room:react"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(alice && bob);
    const auto id = response(send(*alice, topic, u"r1"_s, u"react to me"_s)).value("id"_L1).toString();
    QVERIFY(bob->waitForEvent(topic, u"message"_s));
    auto ref = bob->push(topic, u"reaction:add"_s, {{u"id"_s, id}, {u"emoji"_s, u"👍"_s}});
    QVERIFY(isOk(bob->waitForReply(ref, topic)));
    ref = alice->push(topic, u"reaction:add"_s, {{u"id"_s, id}, {u"emoji"_s, u"👍"_s}});
    const auto both = alice->waitForReply(ref, topic);
    QCOMPARE(response(both).value("reactions"_L1).toObject().value(u"👍"_s).toArray(), (QJsonArray{u"bob"_s, u"alice"_s}));
    const auto event = bob->waitForEvent(topic, u"reaction"_s);
    QVERIFY(event);
    QCOMPARE(event->at(4).toObject().value("reactions"_L1).toObject().value(u"👍"_s).toArray().size(), 2);
    ref = bob->push(topic, u"reaction:remove"_s, {{u"id"_s, id}, {u"emoji"_s, u"👍"_s}});
    QCOMPARE(response(bob->waitForReply(ref, topic)).value("reactions"_L1).toObject().value(u"👍"_s).toArray(),
             QJsonArray{u"alice"_s});
    ref = bob->push(topic, u"reaction:add"_s, {{u"id"_s, id}, {u"emoji"_s, u"two words"_s}});
    QCOMPARE(errorCode(bob->waitForReply(ref, topic)), u"INVALID_PAYLOAD"_s);
}

void tst_Chat::readReceiptsAndUnread()
{
    const auto topic = u"room:read"_s;
    auto alice = chatClient(u"alice"_s, topic);
    QJsonObject bobJoin;
    auto bob = chatClient(u"bob"_s, topic, &bobJoin);
    QVERIFY(alice && bob);
    QCOMPARE(bobJoin.value("unread"_L1).toInteger(), 0);
    for (int i = 1; i <= 3; ++i)
        QVERIFY(isOk(send(*alice, topic, u"u%1"_s.arg(i), i == 2 ? u"ping @bob"_s : u"msg %1"_s.arg(i))));

    auto ref = bob->push(u"$system"_s, u"unread"_s, {});
    auto summary = response(bob->waitForReply(ref, u"$system"_s)).value("channels"_L1).toObject().value(topic).toObject();
    QCOMPARE(summary.value("unread"_L1).toInteger(), 3);
    QCOMPARE(summary.value("mentions"_L1).toInteger(), 1);
    QCOMPARE(summary.value("last_seq"_L1).toInteger(), 3);

    ref = bob->push(topic, u"read"_s, {{u"seq"_s, 2}});
    const auto read = bob->waitForReply(ref, topic);
    QCOMPARE(response(read).value("read_seq"_L1).toInteger(), 2);
    QCOMPARE(response(read).value("unread"_L1).toInteger(), 1);
    const auto receipt = alice->waitForEvent(topic, u"read"_s);
    QVERIFY(receipt);
    QCOMPARE(receipt->at(4).toObject().value("user"_L1).toObject().value("id"_L1).toString(), u"bob"_s);
    QCOMPARE(receipt->at(4).toObject().value("seq"_L1).toInteger(), 2);

    ref = bob->push(topic, u"read"_s, {{u"seq"_s, 1}}); // never backwards
    QCOMPARE(response(bob->waitForReply(ref, topic)).value("read_seq"_L1).toInteger(), 2);
    ref = bob->push(topic, u"read"_s, {{u"seq"_s, 99}}); // not beyond the end
    QCOMPARE(errorCode(bob->waitForReply(ref, topic)), u"INVALID_PAYLOAD"_s);

    // Own messages are never unread.
    ref = alice->push(u"$system"_s, u"unread"_s, {});
    summary = response(alice->waitForReply(ref, u"$system"_s)).value("channels"_L1).toObject().value(topic).toObject();
    QCOMPARE(summary.value("unread"_L1).toInteger(), 0);
}

void tst_Chat::historyPaging()
{
    const auto topic = u"room:pages"_s;
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);
    for (int i = 1; i <= 7; ++i)
        QVERIFY(isOk(send(*alice, topic, u"p%1"_s.arg(i), u"m%1"_s.arg(i))));
    auto page = [&](const QJsonObject &query) {
        const auto ref = alice->push(topic, u"history"_s, query);
        return response(alice->waitForReply(ref, topic));
    };
    auto seqs = [](const QJsonObject &r) {
        QList<qint64> out;
        for (const auto &m : r.value("messages"_L1).toArray())
            out.append(m.toObject().value("seq"_L1).toInteger());
        return out;
    };
    auto latest = page({{u"limit"_s, 3}});
    QCOMPARE(seqs(latest), (QList<qint64>{5, 6, 7}));
    QCOMPARE(latest.value("has_more"_L1).toBool(), true);
    QCOMPARE(latest.value("last_seq"_L1).toInteger(), 7);
    auto older = page({{u"before"_s, 5}, {u"limit"_s, 3}});
    QCOMPARE(seqs(older), (QList<qint64>{2, 3, 4}));
    QCOMPARE(older.value("has_more"_L1).toBool(), true);
    auto oldest = page({{u"before"_s, 2}, {u"limit"_s, 3}});
    QCOMPARE(seqs(oldest), QList<qint64>{1});
    QCOMPARE(oldest.value("has_more"_L1).toBool(), false);
    QCOMPARE(seqs(page({{u"before"_s, 1}})), QList<qint64>{});
    auto after = page({{u"after"_s, 4}, {u"limit"_s, 2}});
    QCOMPARE(seqs(after), (QList<qint64>{5, 6}));
    QCOMPARE(after.value("has_more"_L1).toBool(), true);
    QCOMPARE(seqs(page({{u"after"_s, 7}})), QList<qint64>{});
    const auto ref = alice->push(topic, u"history"_s, {{u"limit"_s, 1000}});
    QCOMPARE(errorCode(alice->waitForReply(ref, topic)), u"INVALID_PAYLOAD"_s);
}

void tst_Chat::catchUpReplaysWhatWasMissed()
{
    const auto topic = u"room:catchup"_s;
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);
    QVERIFY(isOk(send(*alice, topic, u"k1"_s, u"before bob left"_s)));
    // Bob had seq 1, then missed 2..4.
    for (int i = 2; i <= 4; ++i)
        QVERIFY(isOk(send(*alice, topic, u"k%1"_s.arg(i), u"missed %1"_s.arg(i))));
    QJsonObject info;
    auto bob = chatClient(u"bob"_s, topic, &info, {{u"since_seq"_s, 1}});
    QVERIFY(bob);
    QCOMPARE(info.value("replay"_L1).toInteger(), 3);
    QCOMPARE(info.value("last_seq"_L1).toInteger(), 4);
    QVERIFY(!info.contains("gap"_L1));
    QTRY_COMPARE(bob->count(RawClient::isEvent(topic, u"message"_s)), 3);
    QList<qint64> seqs;
    for (const auto &m : messagesIn(*bob, topic))
        seqs.append(m.value("seq"_L1).toInteger());
    QCOMPARE(seqs, (QList<qint64>{2, 3, 4})); // in order, after the reply and states
    // Live messages after the replay: no gap, no repeat.
    QVERIFY(isOk(send(*alice, topic, u"k5"_s, u"live"_s)));
    const auto live = bob->waitForEvent(topic, u"message"_s);
    QCOMPARE(live->at(4).toObject().value("seq"_L1).toInteger(), 5);
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"message"_s)), 0);
}

void tst_Chat::catchUpGapTooLarge()
{
    const auto topic = u"room:gap"_s;
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);
    for (int i = 1; i <= 8; ++i) // the test server's catch-up limit is 5
        QVERIFY(isOk(send(*alice, topic, u"g%1"_s.arg(i), u"m%1"_s.arg(i))));
    QJsonObject info;
    auto bob = chatClient(u"bob"_s, topic, &info, {{u"since_seq"_s, 1}});
    QVERIFY(bob);
    QCOMPARE(info.value("gap"_L1).toBool(), true);
    QCOMPARE(info.value("replay"_L1).toInteger(), 0);
    QCOMPARE(info.value("last_seq"_L1).toInteger(), 8);
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"message"_s)), 0); // the client pages instead
}

void tst_Chat::typingStartStopAndExpiry()
{
    const auto topic = u"room:typing"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(alice && bob);
    auto typing = [&](RawClient &c) {
        const auto f = c.waitForEvent(topic, u"typing"_s);
        return f ? f->at(4).toObject() : QJsonObject();
    };
    alice->pushNoRef(topic, u"typing:start"_s);
    auto t = typing(*bob);
    QCOMPARE(t.value("user"_L1).toObject().value("id"_L1).toString(), u"alice"_s);
    QCOMPARE(t.value("typing"_L1).toBool(), true);
    alice->pushNoRef(topic, u"typing:start"_s); // a renewal is not news
    alice->pushNoRef(topic, u"typing:stop"_s);
    t = typing(*bob);
    QCOMPARE(t.value("typing"_L1).toBool(), false);
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"typing"_s)), 0);

    // A late joiner learns who is typing; a start with no stop expires (600 ms here).
    alice->pushNoRef(topic, u"typing:start"_s);
    QVERIFY(typing(*bob).value("typing"_L1).toBool());
    auto carol = std::make_unique<RawClient>();
    QVERIFY(carol->open(m_server->webSocketUrl()));
    QVERIFY(isOk(carol->waitForReply(carol->push(u"$system"_s, u"hello"_s, {{u"user"_s, QJsonObject{{u"id"_s, u"carol"_s}}}}),
                                     u"$system"_s)));
    QVERIFY(isOk(carol->waitForReply(carol->push(topic, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{}}}}}), topic)));
    const auto state = carol->waitForEvent(topic, u"typing_state"_s);
    QVERIFY(state);
    QCOMPARE(state->at(4).toObject().value("users"_L1).toArray().at(0).toObject().value("id"_L1).toString(), u"alice"_s);
    t = typing(*bob); // the expiry
    QCOMPARE(t.value("typing"_L1).toBool(), false);
    QVERIFY(m_server->server().hub().typingUsers(topic).isEmpty());
}

void tst_Chat::mentionReachesUserOutsideTheChannel()
{
    const auto topic = u"room:mentions"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, QString()); // connected, identified, not in the channel
    QVERIFY(alice && bob);
    QVERIFY(isOk(send(*alice, topic, u"m1"_s, u"@bob look, and an e-mail bob@example.com"_s)));
    const auto mention = bob->waitForEvent(u"$system"_s, u"mention"_s);
    QVERIFY(mention);
    QCOMPARE(mention->at(4).toObject().value("channel"_L1).toString(), topic);
    QCOMPARE(mention->at(4).toObject().value("message"_L1).toObject().value("mentions"_L1).toArray(), QJsonArray{u"bob"_s});
}

void tst_Chat::privateChannelsAndDms()
{
    auto alice = chatClient(u"alice"_s, QString());
    auto bob = chatClient(u"bob"_s, QString());
    auto mallory = chatClient(u"mallory"_s, QString());
    QVERIFY(alice && bob && mallory);
    auto join = [](RawClient &c, const QString &topic) {
        return c.waitForReply(c.push(topic, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{}}}}}), topic);
    };
    // Private channels exist once created, and admit their members.
    QCOMPARE(errorCode(join(*alice, u"private:team"_s)), u"NOT_FOUND"_s);
    auto ref = alice->push(u"private:team"_s, u"channel:create"_s, {{u"members"_s, QJsonArray{u"bob"_s}}});
    const auto created = alice->waitForReply(ref, u"private:team"_s);
    QVERIFY(isOk(created));
    QCOMPARE(response(created).value("owner"_L1).toString(), u"alice"_s);
    ref = alice->push(u"private:team"_s, u"channel:create"_s, {});
    QCOMPARE(errorCode(alice->waitForReply(ref, u"private:team"_s)), u"ALREADY_EXISTS"_s);
    QVERIFY(isOk(join(*alice, u"private:team"_s)));
    QVERIFY(isOk(join(*bob, u"private:team"_s)));
    QCOMPARE(errorCode(join(*mallory, u"private:team"_s)), u"FORBIDDEN"_s);
    ref = mallory->push(u"private:team"_s, u"channel:invite"_s, {{u"user"_s, u"mallory"_s}});
    QCOMPARE(errorCode(mallory->waitForReply(ref, u"private:team"_s)), u"FORBIDDEN"_s);
    ref = bob->push(u"private:team"_s, u"channel:invite"_s, {{u"user"_s, u"carol"_s}});
    QVERIFY(isOk(bob->waitForReply(ref, u"private:team"_s)));

    // DMs: dm:<lower>:<higher>, only those two.
    QVERIFY(isOk(join(*alice, u"dm:alice:bob"_s)));
    QVERIFY(isOk(join(*bob, u"dm:alice:bob"_s)));
    QCOMPARE(errorCode(join(*mallory, u"dm:alice:bob"_s)), u"FORBIDDEN"_s);
    QCOMPARE(errorCode(join(*alice, u"dm:bob:alice"_s)), u"INVALID_TOPIC"_s);
    QVERIFY(isOk(send(*alice, u"dm:alice:bob"_s, u"d1"_s, u"psst @mallory"_s)));
    QVERIFY(bob->waitForEvent(u"dm:alice:bob"_s, u"message"_s));
    QVERIFY(mallory->sync());
    QCOMPARE(mallory->count(RawClient::isEvent(u"$system"_s, u"mention"_s)), 0); // not hers to read
}

void tst_Chat::presenceStatusAndInvisible()
{
    const auto topic = u"room:status"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(alice && bob);
    auto track = [&](const QJsonObject &meta) {
        const auto ref = alice->push(topic, u"presence"_s,
                                     {{u"type"_s, u"presence"_s}, {u"event"_s, u"track"_s},
                                      {u"payload"_s, QJsonObject{{u"key"_s, u"alice"_s}, {u"meta"_s, meta}}}});
        return alice->waitForReply(ref, topic);
    };
    QVERIFY(isOk(track({{u"status"_s, u"away"_s}, {u"status_text"_s, u"lunch"_s}})));
    auto diff = bob->waitForEvent(topic, u"presence_diff"_s);
    QCOMPARE(diff->at(4).toObject()["joins"_L1].toObject()["alice"_L1].toArray().at(0).toObject()["meta"_L1].toObject()["status_text"_L1].toString(),
             u"lunch"_s);
    QCOMPARE(errorCode(track({{u"status"_s, u"sleeping"_s}})), u"INVALID_PAYLOAD"_s);
    QCOMPARE(errorCode(track({{u"status_text"_s, QString(101, u'x')}})), u"INVALID_PAYLOAD"_s);

    QVERIFY(isOk(track({{u"status"_s, u"invisible"_s}}))); // looks like leaving to others
    diff = bob->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff->at(4).toObject()["leaves"_L1].toObject().contains("alice"_L1));
    auto late = chatClient(u"carol"_s, topic);
    QVERIFY(late);
    const auto stateRef = late->push(topic, u"presence_state"_s);
    Q_UNUSED(stateRef);
    const auto state = late->waitForEvent(topic, u"presence_state"_s);
    QVERIFY(!state->at(4).toObject().contains("alice"_L1));
    QVERIFY(isOk(track({{u"status"_s, u"online"_s}}))); // back
    diff = bob->waitForEvent(topic, u"presence_diff"_s);
    QVERIFY(diff->at(4).toObject()["joins"_L1].toObject().contains("alice"_L1));
}

void tst_Chat::badInputStoresNothing_data()
{
    QTest::addColumn<QString>("event");
    QTest::addColumn<QJsonObject>("payload");
    QTest::addColumn<QString>("code");
    QTest::newRow("no client id") << u"message:send"_s << QJsonObject{{u"body"_s, u"x"_s}} << u"INVALID_ID"_s;
    QTest::newRow("bad client id") << u"message:send"_s << QJsonObject{{u"client_id"_s, u"a b"_s}, {u"body"_s, u"x"_s}} << u"INVALID_ID"_s;
    QTest::newRow("empty body") << u"message:send"_s << QJsonObject{{u"client_id"_s, u"a"_s}, {u"body"_s, u"  "_s}} << u"INVALID_PAYLOAD"_s;
    QTest::newRow("body not text") << u"message:send"_s << QJsonObject{{u"client_id"_s, u"a"_s}, {u"body"_s, 5}} << u"INVALID_PAYLOAD"_s;
    QTest::newRow("body too long") << u"message:send"_s << QJsonObject{{u"client_id"_s, u"a"_s}, {u"body"_s, QString(8001, u'x')}} << u"MESSAGE_TOO_LARGE"_s;
    QTest::newRow("meta not object") << u"message:send"_s << QJsonObject{{u"client_id"_s, u"a"_s}, {u"body"_s, u"x"_s}, {u"meta"_s, 1}} << u"INVALID_PAYLOAD"_s;
    QTest::newRow("malformed message id") << u"message:edit"_s << QJsonObject{{u"id"_s, u"';drop table"_s}, {u"body"_s, u"x"_s}} << u"INVALID_ID"_s;
    QTest::newRow("unknown message") << u"message:delete"_s << QJsonObject{{u"id"_s, QUuid::createUuid().toString(QUuid::WithoutBraces)}} << u"NOT_FOUND"_s;
    QTest::newRow("read negative") << u"read"_s << QJsonObject{{u"seq"_s, -1}} << u"INVALID_PAYLOAD"_s;
    QTest::newRow("unknown chat event") << u"message:shout"_s << QJsonObject{} << u"UNKNOWN_EVENT"_s;
}

void tst_Chat::badInputStoresNothing()
{
    QFETCH(QString, event);
    QFETCH(QJsonObject, payload);
    QFETCH(QString, code);
    const auto topic = u"room:bad"_s;
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);
    const auto ref = alice->push(topic, event, payload);
    QCOMPARE(errorCode(alice->waitForReply(ref, topic)), code);
    // Not joined (unknown channel for this connection): nothing happens either.
    const auto other = alice->push(u"room:elsewhere"_s, u"message:send"_s, {{u"client_id"_s, u"z"_s}, {u"body"_s, u"x"_s}});
    QCOMPARE(errorCode(alice->waitForReply(other, u"room:elsewhere"_s)), u"NOT_JOINED"_s);
    const auto history = alice->push(topic, u"history"_s, {});
    const auto page = response(alice->waitForReply(history, topic));
    QCOMPARE(page.value("messages"_L1).toArray().size(), 0);
    QCOMPARE(page.value("last_seq"_L1).toInteger(), 0);
}

void tst_Chat::restartKeepsHistory()
{
    const auto topic = u"room:restart"_s;
    QTemporaryDir dataDir; // ours, so it outlives the first server
    QVERIFY(dataDir.isValid());
    auto config = TestServer::defaultConfig();
    config.storage.dataDir = dataDir.path();
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
    {
        auto alice = chatClient(u"alice"_s, topic);
        QVERIFY(alice);
        for (int i = 1; i <= 5; ++i)
            QVERIFY(isOk(send(*alice, topic, u"s%1"_s.arg(i), u"before restart %1"_s.arg(i))));
    }
    // A new server on the same data directory (the old one is gone: its sockets too).
    m_server.reset();
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);
    const auto ref = alice->push(topic, u"history"_s, {});
    const auto page = response(alice->waitForReply(ref, topic)).value("messages"_L1).toArray();
    QCOMPARE(page.size(), 5);
    for (int i = 0; i < 5; ++i)
        QCOMPARE(page.at(i).toObject().value("body"_L1).toString(), u"before restart %1"_s.arg(i + 1));
    // The sequence continues, and a resend from before the restart is still recognised.
    QCOMPARE(response(send(*alice, topic, u"s6"_s, u"after"_s)).value("seq"_L1).toInteger(), 6);
    QCOMPARE(response(send(*alice, topic, u"s3"_s, u"before restart 3"_s)).value("duplicate"_L1).toBool(), true);
}

void tst_Chat::senderLeavingBeforeTheCommitStillDelivers()
{
    // A sender that disconnects right after its sends: whatever the server commits is delivered
    // to the channel like any message (only the sender's acks are lost), so a member who follows
    // the live stream never misses a stored message.
    const auto topic = u"room:leaver"_s;
    auto bob = chatClient(u"bob"_s, topic);
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(bob && alice);
    constexpr int Sent = 300;
    for (int i = 0; i < Sent; ++i)
        alice->push(topic, u"message:send"_s, {{u"client_id"_s, u"leave-%1"_s.arg(i)}, {u"body"_s, u"m%1"_s.arg(i)}});
    alice->close();
    alice.reset();
    // Everything the server read was stored: a later message gets the next seq.
    auto carol = chatClient(u"carol"_s, topic);
    QVERIFY(carol);
    const auto last = response(send(*carol, topic, u"after"_s, u"after"_s)).value("seq"_L1).toInteger();
    QVERIFY2(last > 1, "the server read some of alice's sends");
    // Bob received every stored message live: seq 1..last, in order, each once.
    QTRY_COMPARE_WITH_TIMEOUT(bob->count(RawClient::isEvent(topic, u"message"_s)), int(last), 10000);
    const auto got = messagesIn(*bob, topic);
    for (int i = 0; i < got.size(); ++i)
        QCOMPARE(got.at(i).value("seq"_L1).toInteger(), i + 1);
}

QTEST_GUILESS_MAIN(tst_Chat)
#include "tst_chat.moc"
