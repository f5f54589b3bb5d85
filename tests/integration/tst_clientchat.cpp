// Chat through Confab::Client against the real server (Confab::TestServer): two or three users
// exchange messages and see the same conversation: sends (pending → sent), edits, deletes,
// reactions, read receipts and unread counts, typing, mentions, presence status, history paging,
// the catch-up after a reconnect (and its gap), a server restart mid-conversation, refusals.
// Every wait is on a state or a signal.
#include <ConfabClient/channellistmodel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/messagemodel.h>
#include <ConfabClient/presencemodel.h>
#include <ConfabClient/reply.h>
#include <ConfabTestServer/testserver.h>

#include "replyoutcome.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTemporaryDir>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using Confab::Channel;
using Confab::ChannelConfig;
using Confab::Client;
using Confab::MessageModel;
using Confab::Reply;
using Confab::TestServer;
using Confab::Testing::OutcomePtr;
using Confab::Testing::watch;

namespace {

QString uniqueTopic(const QString &suffix = {})
{
    return u"room:"_s + QString::fromLatin1(QTest::currentTestFunction()) + suffix;
}

//! The bodies of \a model's rows, in row order.
QStringList bodies(const MessageModel *model)
{
    QStringList out;
    for (int row = 0; row < model->rowCount(); ++row)
        out.append(model->index(row).data(MessageModel::BodyRole).toString());
    return out;
}

QVariant roleAt(const MessageModel *model, int row, int role)
{
    return model->index(row).data(role);
}

//! Seqs of the confirmed rows are 1..n, contiguous and increasing (nothing missing, nothing twice).
bool seqsContiguous(const MessageModel *model, qint64 first, qint64 last)
{
    if (model->confirmedCount() != last - first + 1)
        return false;
    for (int row = 0; row < model->confirmedCount(); ++row) {
        if (roleAt(model, row, MessageModel::SeqRole).toLongLong() != first + row)
            return false;
    }
    return true;
}

} // namespace

class tst_ClientChat : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void sendIsPendingThenSentAndDelivered();
    void editDeleteAndReactAcrossClients();
    void readReceiptsAndUnreadCounts();
    void typingAppearsAndGoes();
    void mentionsReachAUserOutsideTheChannel();
    void presenceStatusAndInvisible();
    void historyPagesBackToTheFirstMessage();
    void catchUpAfterReconnect();
    void catchUpGapReloadsLatestPage();
    void serverRestartMidConversation();
    void refusedMessageFailsAndCanBeDiscarded();
    void channelListShowsUnreadAndLastMessage();

private:
    //! A connected client for \a user with its own queue directory.
    std::unique_ptr<Client> makeClient(const QString &user, TestServer *server = nullptr);
    //! Alice and Bob, each with a chat channel on \a topic, joined (the channels are null if not).
    struct TwoUsers
    {
        std::unique_ptr<Client> alice;
        std::unique_ptr<Client> bob;
        Channel *a = nullptr;
        Channel *b = nullptr;
    };
    TwoUsers twoUsers(const QString &topic);
    //! A chat channel of \a client on \a topic, joined.
    Channel *joinChat(Client &client, const QString &topic, int pageSize = 50);

    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_storage; // every client's queue directory lives below
};

void tst_ClientChat::initTestCase()
{
    QVERIFY(m_storage.isValid());
    // Generous rate limit: some tests send a few hundred messages in a burst.
    m_server = std::make_unique<TestServer>(QStringList{u"--messages-per-minute"_s, u"100000"_s,
                                                        u"--catchup-limit"_s, u"20"_s,
                                                        u"--max-message-body"_s, u"200"_s,
                                                        u"--typing-timeout"_s, u"3s"_s});
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void tst_ClientChat::cleanup()
{
    if (!m_server->isRunning())
        QVERIFY(m_server->start());
}

std::unique_ptr<Client> tst_ClientChat::makeClient(const QString &user, TestServer *server)
{
    auto client = std::make_unique<Client>();
    client->setUrl((server ? server : m_server.get())->url());
    client->setUser(user, user.at(0).toUpper() + user.mid(1));
    client->setStoragePath(m_storage.filePath(QString::fromLatin1(QTest::currentTestFunction()) + u'/' + user));
    client->connectToServer();
    return client;
}

tst_ClientChat::TwoUsers tst_ClientChat::twoUsers(const QString &topic)
{
    TwoUsers users{makeClient(u"alice"_s), makeClient(u"bob"_s)};
    users.a = joinChat(*users.alice, topic);
    users.b = joinChat(*users.bob, topic);
    return users;
}

Channel *tst_ClientChat::joinChat(Client &client, const QString &topic, int pageSize)
{
    ChannelConfig config;
    config.chat = true;
    config.pageSize = pageSize;
    auto *channel = client.channel(topic, config);
    channel->subscribe();
    if (!QTest::qWaitFor([channel] { return channel->status() == Channel::Status::Subscribed; }, 10000))
        return nullptr;
    return channel;
}

void tst_ClientChat::sendIsPendingThenSentAndDelivered()
{
    const auto topic = uniqueTopic();
    auto [alice, bob, a, b] = twoUsers(topic);
    QVERIFY(a && b);
    QAbstractItemModelTester tester(a->messages(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(a->channelType(), u"public"_s);
    QSignalSpy received(b, &Channel::messageReceived);

    auto sent = watch(a->sendMessage(u"hello @bob"_s, {{u"kind"_s, u"greeting"_s}}));
    // At once, before the server said anything: a Pending row of our own.
    QCOMPARE(a->messages()->rowCount(), 1);
    QCOMPARE(roleAt(a->messages(), 0, MessageModel::StateRole).toInt(), int(MessageModel::State::Pending));
    QCOMPARE(roleAt(a->messages(), 0, MessageModel::SeqRole).toLongLong(), 0);
    QVERIFY(roleAt(a->messages(), 0, MessageModel::OwnRole).toBool());
    const auto clientId = roleAt(a->messages(), 0, MessageModel::ClientIdRole).toString();
    QVERIFY(!clientId.isEmpty());

    QTRY_VERIFY(sent->done());
    QCOMPARE(sent->status, Reply::Status::Ok);
    QCOMPARE(sent->response.value("seq"_L1).toInteger(), 1);
    QCOMPARE(sent->response.value("client_id"_L1).toString(), clientId);
    const auto id = sent->response.value("id"_L1).toString();
    QVERIFY(!id.isEmpty());
    QCOMPARE(a->messages()->rowCount(), 1);
    QCOMPARE(roleAt(a->messages(), 0, MessageModel::StateRole).toInt(), int(MessageModel::State::Sent));
    QCOMPARE(roleAt(a->messages(), 0, MessageModel::MessageIdRole).toString(), id);
    QCOMPARE(alice->queuedMessageCount(), 0);

    QTRY_COMPARE(received.size(), 1);
    QCOMPARE(b->messages()->rowCount(), 1);
    const auto row = b->messages()->get(0);
    QCOMPARE(row.value(u"messageId"_s).toString(), id);
    QCOMPARE(row.value(u"seq"_s).toLongLong(), 1);
    QCOMPARE(row.value(u"authorId"_s).toString(), u"alice"_s);
    QCOMPARE(row.value(u"authorName"_s).toString(), u"Alice"_s);
    QCOMPARE(row.value(u"body"_s).toString(), u"hello @bob"_s);
    QCOMPARE(row.value(u"meta"_s).toMap().value(u"kind"_s).toString(), u"greeting"_s);
    QVERIFY(row.value(u"mentionsMe"_s).toBool());
    QVERIFY(!row.value(u"own"_s).toBool());
    QVERIFY(row.value(u"timestamp"_s).toDateTime().isValid());
    QCOMPARE(b->lastSeq(), 1);

    // A burst keeps its order on every client.
    QList<OutcomePtr> burst;
    for (int i = 0; i < 20; ++i)
        burst.append(watch(a->sendMessage(u"burst %1"_s.arg(i))));
    QTRY_COMPARE(b->messages()->rowCount(), 21);
    QTRY_VERIFY(std::all_of(burst.cbegin(), burst.cend(), [](const OutcomePtr &o) { return o->done(); }));
    QVERIFY(seqsContiguous(a->messages(), 1, 21));
    QVERIFY(seqsContiguous(b->messages(), 1, 21));
    QCOMPARE(bodies(a->messages()), bodies(b->messages()));
    QCOMPARE(bodies(b->messages()).last(), u"burst 19"_s);
}

void tst_ClientChat::editDeleteAndReactAcrossClients()
{
    const auto topic = uniqueTopic();
    auto [alice, bob, a, b] = twoUsers(topic);
    QVERIFY(a && b);
    auto sent = watch(a->sendMessage(u"first draft"_s));
    QTRY_VERIFY(sent->done());
    const auto id = sent->response.value("id"_L1).toString();
    QTRY_COMPARE(b->messages()->rowCount(), 1);

    auto edit = watch(a->editMessage(id, u"second draft"_s));
    QTRY_VERIFY(edit->done());
    QCOMPARE(edit->status, Reply::Status::Ok);
    QCOMPARE(roleAt(a->messages(), 0, MessageModel::BodyRole).toString(), u"second draft"_s);
    QTRY_COMPARE(roleAt(b->messages(), 0, MessageModel::BodyRole).toString(), u"second draft"_s);
    QVERIFY(roleAt(b->messages(), 0, MessageModel::EditedRole).toBool());
    QVERIFY(roleAt(b->messages(), 0, MessageModel::EditedAtRole).toDateTime().isValid());

    // Someone else's message: refused, nothing changes.
    auto foreignEdit = watch(b->editMessage(id, u"bob was here"_s));
    auto foreignDelete = watch(b->deleteMessage(id));
    QTRY_VERIFY(foreignEdit->done() && foreignDelete->done());
    QCOMPARE(foreignEdit->code, u"FORBIDDEN"_s);
    QCOMPARE(foreignDelete->code, u"FORBIDDEN"_s);
    QCOMPARE(roleAt(a->messages(), 0, MessageModel::BodyRole).toString(), u"second draft"_s);

    // Reactions: counts per emoji with who reacted, on both sides.
    auto r1 = watch(b->addReaction(id, u"👍"_s));
    auto r2 = watch(a->addReaction(id, u"👍"_s));
    auto r3 = watch(b->addReaction(id, u"🎉"_s));
    QTRY_VERIFY(r1->done() && r2->done() && r3->done());
    const auto expected = QVariantMap{{u"👍"_s, QStringList{u"bob"_s, u"alice"_s}}, {u"🎉"_s, QStringList{u"bob"_s}}};
    auto sameReactions = [&expected](const MessageModel *m) {
        const auto got = roleAt(m, 0, MessageModel::ReactionsRole).toMap();
        if (got.keys() != expected.keys())
            return false;
        for (auto it = expected.cbegin(); it != expected.cend(); ++it) {
            auto want = it.value().toStringList();
            auto have = got.value(it.key()).toStringList();
            want.sort();
            have.sort();
            if (want != have)
                return false;
        }
        return true;
    };
    QTRY_VERIFY(sameReactions(a->messages()));
    QTRY_VERIFY(sameReactions(b->messages()));
    auto unreact = watch(b->removeReaction(id, u"🎉"_s));
    QTRY_VERIFY(unreact->done());
    QTRY_VERIFY(!roleAt(a->messages(), 0, MessageModel::ReactionsRole).toMap().contains(u"🎉"_s));

    // Delete: the body goes for everyone, the row stays (marked deleted).
    auto removed = watch(a->deleteMessage(id));
    QTRY_VERIFY(removed->done());
    QCOMPARE(removed->status, Reply::Status::Ok);
    QTRY_VERIFY(roleAt(b->messages(), 0, MessageModel::DeletedRole).toBool());
    QCOMPARE(roleAt(b->messages(), 0, MessageModel::BodyRole).toString(), QString());
    QVERIFY(roleAt(a->messages(), 0, MessageModel::DeletedRole).toBool());
    auto editDeleted = watch(a->editMessage(id, u"too late"_s));
    QTRY_VERIFY(editDeleted->done());
    QCOMPARE(editDeleted->status, Reply::Status::Error);
    QVERIFY(!editDeleted->code.isEmpty());

    // A malformed id is a clear error, not a crash or a silent success.
    auto bad = watch(a->editMessage(u"not-an-id"_s, u"x"_s));
    QTRY_VERIFY(bad->done());
    QCOMPARE(bad->code, u"INVALID_ID"_s);
}

void tst_ClientChat::readReceiptsAndUnreadCounts()
{
    const auto topic = uniqueTopic();
    auto [alice, bob, a, b] = twoUsers(topic);
    QVERIFY(a && b);
    QSignalSpy bobInfo(b, &Channel::chatInfoChanged);
    QList<OutcomePtr> sends;
    for (int i = 1; i <= 4; ++i)
        sends.append(watch(a->sendMessage(u"news %1 for @bob"_s.arg(i))));
    QTRY_COMPARE(b->messages()->rowCount(), 4);
    QTRY_COMPARE(b->unreadCount(), 4);
    QCOMPARE(b->mentionCount(), 4);
    QCOMPARE(a->unreadCount(), 0); // one's own messages are never unread

    auto read = watch(b->markRead(2));
    QTRY_VERIFY(read->done());
    QCOMPARE(read->status, Reply::Status::Ok);
    QCOMPARE(b->readSeq(), 2);
    QCOMPARE(b->unreadCount(), 2);
    QCOMPARE(b->mentionCount(), 2);
    // Alice sees who has read what ("seen by").
    QTRY_COMPARE(roleAt(a->messages(), 1, MessageModel::ReadByRole).toStringList(), QStringList{u"bob"_s});
    QCOMPARE(roleAt(a->messages(), 2, MessageModel::ReadByRole).toStringList(), QStringList());

    // Read positions never move back.
    auto back = watch(b->markRead(1));
    QTRY_VERIFY(back->done());
    QCOMPARE(b->readSeq(), 2);

    // Bob's second device learns the position from the server when it joins, and follows reads.
    auto bob2 = makeClient(u"bob"_s);
    auto *b2 = joinChat(*bob2, topic);
    QVERIFY(b2);
    QCOMPARE(b2->readSeq(), 2);
    QCOMPARE(b2->unreadCount(), 2);
    auto all = watch(b->markAllRead());
    QTRY_VERIFY(all->done());
    QCOMPARE(b->unreadCount(), 0);
    QTRY_COMPARE(b2->unreadCount(), 0);
    QTRY_COMPARE(b2->readSeq(), 4);
    QTRY_COMPARE(roleAt(a->messages(), 3, MessageModel::ReadByRole).toStringList(), QStringList{u"bob"_s});

    // The server's summary agrees (asked over $system).
    auto summary = watch(bob->refreshUnread());
    QTRY_VERIFY(summary->done());
    const auto counts = summary->response.value("channels"_L1).toObject().value(topic).toObject();
    QCOMPARE(counts.value("unread"_L1).toInteger(), 0);
    QCOMPARE(counts.value("read_seq"_L1).toInteger(), 4);
    QVERIFY(!bobInfo.isEmpty());
}

void tst_ClientChat::typingAppearsAndGoes()
{
    const auto topic = uniqueTopic();
    auto [alice, bob, a, b] = twoUsers(topic);
    QVERIFY(a && b);
    QSignalSpy changes(b, &Channel::typingUsersChanged);

    // Keystrokes in quick succession: one indicator.
    for (int i = 0; i < 10; ++i)
        a->setTyping(true);
    QTRY_COMPARE(b->typingUsers().size(), 1);
    const auto typer = b->typingUsers().constFirst().toMap();
    QCOMPARE(typer.value(u"id"_s).toString(), u"alice"_s);
    QCOMPARE(typer.value(u"name"_s).toString(), u"Alice"_s);
    QVERIFY(a->typingUsers().isEmpty()); // not one's own

    a->setTyping(false);
    QTRY_VERIFY(b->typingUsers().isEmpty());
    QCOMPARE(changes.size(), 2); // on, off: the repeated keystrokes made no flicker

    // A late joiner sees who is typing now.
    a->setTyping(true);
    QTRY_COMPARE(b->typingUsers().size(), 1);
    auto carol = makeClient(u"carol"_s);
    auto *c = joinChat(*carol, topic);
    QVERIFY(c);
    QTRY_COMPARE(c->typingUsers().size(), 1);

    // Sending ends the indicator.
    auto sent = watch(a->sendMessage(u"done typing"_s));
    QTRY_VERIFY(b->typingUsers().isEmpty());
    QTRY_VERIFY(c->typingUsers().isEmpty());
    QTRY_VERIFY(sent->done());

    // A typer who vanishes without a stop (connection dropped): the indicator goes anyway.
    a->setTyping(true);
    QTRY_COMPARE(b->typingUsers().size(), 1);
    alice.reset();
    QTRY_VERIFY_WITH_TIMEOUT(b->typingUsers().isEmpty(), 10000);
}

void tst_ClientChat::mentionsReachAUserOutsideTheChannel()
{
    const auto topic = uniqueTopic();
    auto alice = makeClient(u"alice"_s);
    auto bob = makeClient(u"bob"_s);
    auto *a = joinChat(*alice, topic);
    QVERIFY(a);
    QTRY_VERIFY(bob->isConnected());
    QSignalSpy mentioned(bob.get(), &Client::mentioned);
    // Bob must have said hello before the mention, or the server cannot know where he is.
    QTRY_COMPARE(bob->userId(), u"bob"_s);
    // Bob's hello is through once a join of his is: joins follow it on the connection.
    auto *bobElsewhere = joinChat(*bob, uniqueTopic(u"-elsewhere"_s));
    QVERIFY(bobElsewhere);

    auto sent = watch(a->sendMessage(u"@bob look at this"_s));
    QTRY_VERIFY(sent->done());
    QTRY_COMPARE(mentioned.size(), 1);
    QCOMPARE(mentioned.at(0).at(0).toString(), topic);
    QCOMPARE(mentioned.at(0).at(1).toJsonObject().value("body"_L1).toString(), u"@bob look at this"_s);

    // When bob opens the channel, the mention is counted and marked.
    auto *b = joinChat(*bob, topic);
    QVERIFY(b);
    QTRY_COMPARE(b->messages()->rowCount(), 1);
    QVERIFY(roleAt(b->messages(), 0, MessageModel::MentionsMeRole).toBool());
    QCOMPARE(roleAt(b->messages(), 0, MessageModel::MentionsRole).toStringList(), QStringList{u"bob"_s});
}

void tst_ClientChat::presenceStatusAndInvisible()
{
    const auto topic = uniqueTopic();
    auto alice = makeClient(u"alice"_s);
    auto bob = makeClient(u"bob"_s);
    ChannelConfig config;
    config.chat = true;
    config.presenceKey = u"alice"_s;
    auto *a = alice->channel(topic, config);
    a->subscribe();
    QTRY_COMPARE(a->status(), Channel::Status::Subscribed);
    auto *b = joinChat(*bob, topic);
    QVERIFY(b);
    auto *members = b->presence();

    auto away = watch(a->setStatus(u"away"_s, u"lunch"_s));
    QTRY_VERIFY(away->done());
    QTRY_COMPARE(members->rowCount(), 1);
    const auto row = members->index(0);
    QCOMPARE(row.data(Confab::PresenceModel::KeyRole).toString(), u"alice"_s);
    QCOMPARE(row.data(Confab::PresenceModel::StatusRole).toString(), u"away"_s);
    QCOMPARE(row.data(Confab::PresenceModel::StatusTextRole).toString(), u"lunch"_s);

    auto dnd = watch(a->setStatus(u"dnd"_s));
    QTRY_VERIFY(dnd->done());
    QTRY_COMPARE(members->index(0).data(Confab::PresenceModel::StatusRole).toString(), u"dnd"_s);
    QCOMPARE(members->index(0).data(Confab::PresenceModel::StatusTextRole).toString(), QString());

    // Invisible: gone for others, still there for alice herself.
    auto hidden = watch(a->setStatus(u"invisible"_s));
    QTRY_VERIFY(hidden->done());
    QTRY_COMPARE(members->rowCount(), 0);
    QCOMPARE(a->presence()->rowCount(), 1);
    QCOMPARE(a->presence()->index(0).data(Confab::PresenceModel::StatusRole).toString(), u"invisible"_s);

    auto back = watch(a->setStatus(u"online"_s));
    QTRY_VERIFY(back->done());
    QTRY_COMPARE(members->rowCount(), 1);
    QCOMPARE(members->index(0).data(Confab::PresenceModel::StatusRole).toString(), u"online"_s);
}

void tst_ClientChat::historyPagesBackToTheFirstMessage()
{
    const auto topic = uniqueTopic();
    auto alice = makeClient(u"alice"_s);
    auto *a = joinChat(*alice, topic);
    QVERIFY(a);
    constexpr int Total = 120;
    for (int i = 1; i <= Total; ++i)
        a->sendMessage(u"line %1"_s.arg(i));
    QTRY_VERIFY_WITH_TIMEOUT(alice->queuedMessageCount() == 0, 30000);
    QCOMPARE(a->messages()->confirmedCount(), Total);

    auto bob = makeClient(u"bob"_s);
    auto *b = joinChat(*bob, topic, 50);
    QVERIFY(b);
    QAbstractItemModelTester tester(b->messages(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    // The first join loads the latest page.
    QTRY_COMPARE(b->messages()->rowCount(), 50);
    QVERIFY(seqsContiguous(b->messages(), 71, 120));
    QVERIFY(b->messages()->hasOlder());

    auto page = watch(b->loadOlder(50));
    QTRY_VERIFY(page->done());
    QCOMPARE(page->status, Reply::Status::Ok);
    QVERIFY(seqsContiguous(b->messages(), 21, 120));
    QVERIFY(b->messages()->hasOlder());

    page = watch(b->loadOlder(20)); // exactly the rest: the boundary
    QTRY_VERIFY(page->done());
    QVERIFY(seqsContiguous(b->messages(), 1, 120));
    QCOMPARE(roleAt(b->messages(), 0, MessageModel::BodyRole).toString(), u"line 1"_s);
    QVERIFY(!b->messages()->hasOlder());

    page = watch(b->loadOlder(50)); // nothing older: ok, no change
    QTRY_VERIFY(page->done());
    QCOMPARE(page->status, Reply::Status::Ok);
    QCOMPARE(b->messages()->rowCount(), Total);
}

void tst_ClientChat::catchUpAfterReconnect()
{
    const auto topic = uniqueTopic();
    auto [alice, bob, a, b] = twoUsers(topic);
    QVERIFY(a && b);
    for (int i = 1; i <= 3; ++i)
        a->sendMessage(u"before %1"_s.arg(i));
    QTRY_COMPARE(b->messages()->rowCount(), 3);

    // Bob is away for a while; alice goes on.
    bob->disconnectFromServer();
    QTRY_COMPARE(bob->state(), Client::State::Disconnected);
    for (int i = 1; i <= 10; ++i)
        a->sendMessage(u"while away %1"_s.arg(i));
    QTRY_COMPARE(alice->queuedMessageCount(), 0);
    QSignalSpy received(b, &Channel::messageReceived);
    bob->connectToServer();
    // Replayed in order, each once, then live messages follow with no gap.
    QTRY_COMPARE(b->messages()->rowCount(), 13);
    QVERIFY(seqsContiguous(b->messages(), 1, 13));
    QCOMPARE(received.size(), 10);
    a->sendMessage(u"live again"_s);
    QTRY_COMPARE(b->messages()->rowCount(), 14);
    QVERIFY(seqsContiguous(b->messages(), 1, 14));
    QCOMPARE(bodies(b->messages()), bodies(a->messages()));
    // Bob never read anything: every message of alice's is unread.
    QCOMPARE(b->unreadCount(), 14);

    // A network fault instead of a clean disconnect: the same.
    m_server->dropConnections();
    QTRY_VERIFY(!bob->isConnected() || !alice->isConnected());
    QTRY_COMPARE(a->status(), Channel::Status::Subscribed);
    a->sendMessage(u"after the drop"_s);
    QTRY_COMPARE(b->status(), Channel::Status::Subscribed);
    QTRY_COMPARE(b->messages()->rowCount(), 15);
    QVERIFY(seqsContiguous(b->messages(), 1, 15));
}

void tst_ClientChat::catchUpGapReloadsLatestPage()
{
    const auto topic = uniqueTopic();
    auto alice = makeClient(u"alice"_s);
    auto bob = makeClient(u"bob"_s);
    auto *a = joinChat(*alice, topic);
    auto *b = joinChat(*bob, topic, 10);
    QVERIFY(a && b);
    a->sendMessage(u"first"_s);
    QTRY_COMPARE(b->messages()->rowCount(), 1);
    bob->disconnectFromServer();
    QTRY_COMPARE(bob->state(), Client::State::Disconnected);
    // More than the server's catch-up limit (20 here) while bob is away.
    for (int i = 1; i <= 30; ++i)
        a->sendMessage(u"missed %1"_s.arg(i));
    QTRY_VERIFY_WITH_TIMEOUT(alice->queuedMessageCount() == 0, 20000);
    bob->connectToServer();
    // Not replayed: the latest page instead, and older pages on demand, still without holes.
    QTRY_COMPARE(b->lastSeq(), 31);
    QTRY_COMPARE(b->messages()->highestSeq(), 31);
    QVERIFY(seqsContiguous(b->messages(), 22, 31));
    QVERIFY(b->messages()->hasOlder());
    auto older = watch(b->loadOlder(100));
    QTRY_VERIFY(older->done());
    QVERIFY(seqsContiguous(b->messages(), 1, 31));
    QCOMPARE(bodies(b->messages()), bodies(a->messages()));
}

void tst_ClientChat::serverRestartMidConversation()
{
    // A server of its own on a data directory that outlives it.
    QTemporaryDir data;
    QVERIFY(data.isValid());
    TestServer server({u"--data-dir"_s, data.path(), u"--messages-per-minute"_s, u"100000"_s});
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const auto topic = uniqueTopic();
    auto alice = makeClient(u"alice"_s, &server);
    auto bob = makeClient(u"bob"_s, &server);
    auto *a = joinChat(*alice, topic);
    auto *b = joinChat(*bob, topic);
    QVERIFY(a && b);
    for (int i = 1; i <= 5; ++i) {
        a->sendMessage(u"alice %1"_s.arg(i));
        b->sendMessage(u"bob %1"_s.arg(i));
    }
    QTRY_COMPARE(b->messages()->confirmedCount(), 10);
    QTRY_COMPARE(a->messages()->confirmedCount(), 10);

    server.stop();
    QTRY_VERIFY(!alice->isConnected() && !bob->isConnected());
    // Written while the server is down: pending, on disk.
    for (int i = 6; i <= 8; ++i)
        a->sendMessage(u"alice %1"_s.arg(i));
    b->sendMessage(u"bob 6"_s);
    QCOMPARE(alice->queuedMessageCount(), 3);
    QCOMPARE(a->messages()->rowCount(), 13);
    QCOMPARE(roleAt(a->messages(), 12, MessageModel::StateRole).toInt(), int(MessageModel::State::Pending));

    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(alice->queuedMessageCount() == 0 && bob->queuedMessageCount() == 0, 20000);
    QTRY_COMPARE(a->messages()->rowCount(), 14);
    QTRY_COMPARE(b->messages()->rowCount(), 14);
    QVERIFY(seqsContiguous(a->messages(), 1, 14));
    QVERIFY(seqsContiguous(b->messages(), 1, 14));
    QCOMPARE(bodies(a->messages()), bodies(b->messages()));
    // Alice's three are in the order she wrote them.
    const auto all = bodies(a->messages());
    QVERIFY(all.indexOf(u"alice 6"_s) < all.indexOf(u"alice 7"_s));
    QVERIFY(all.indexOf(u"alice 7"_s) < all.indexOf(u"alice 8"_s));
    QCOMPARE(all.count(u"alice 6"_s), 1);

    // A newcomer reads the same history from the restarted server.
    auto carol = makeClient(u"carol"_s, &server);
    auto *c = joinChat(*carol, topic);
    QVERIFY(c);
    QTRY_COMPARE(c->messages()->rowCount(), 14);
    QCOMPARE(bodies(c->messages()), all);
}

void tst_ClientChat::refusedMessageFailsAndCanBeDiscarded()
{
    const auto topic = uniqueTopic();
    auto [alice, bob, a, b] = twoUsers(topic);
    QVERIFY(a && b);
    // The server takes 200 characters at most here.
    auto tooLong = watch(a->sendMessage(QString(201, u'x')));
    auto fine = watch(a->sendMessage(u"short one"_s));
    QTRY_VERIFY(tooLong->done() && fine->done());
    QCOMPARE(tooLong->status, Reply::Status::Error);
    QCOMPARE(tooLong->code, u"MESSAGE_TOO_LARGE"_s);
    QCOMPARE(fine->status, Reply::Status::Ok);
    QCOMPARE(fine->response.value("seq"_L1).toInteger(), 1); // the refused one took no seq
    // The failed one stays (last row, Failed, with why), kept in the queue for a decision.
    const int failedRow = a->messages()->rowCount() - 1;
    QCOMPARE(roleAt(a->messages(), failedRow, MessageModel::StateRole).toInt(), int(MessageModel::State::Failed));
    QCOMPARE(roleAt(a->messages(), failedRow, MessageModel::ErrorCodeRole).toString(), u"MESSAGE_TOO_LARGE"_s);
    QCOMPARE(alice->queuedMessageCount(), 1);
    const auto clientId = roleAt(a->messages(), failedRow, MessageModel::ClientIdRole).toString();

    // Retrying cannot help here, and says so again.
    auto retry = watch(a->retryMessage(clientId));
    QTRY_VERIFY(retry->done());
    QCOMPARE(retry->code, u"MESSAGE_TOO_LARGE"_s);
    QVERIFY(a->discardMessage(clientId));
    QCOMPARE(alice->queuedMessageCount(), 0);
    QCOMPARE(a->messages()->rowCount(), 1);
    QVERIFY(!a->discardMessage(clientId));

    // Bob saw only the message that was stored.
    QTRY_COMPARE(b->messages()->rowCount(), 1);
    auto barrier = watch(a->sendMessage(u"barrier"_s));
    QTRY_COMPARE(b->messages()->rowCount(), 2);
    QCOMPARE(bodies(b->messages()), (QStringList{u"short one"_s, u"barrier"_s}));

    // Client-side refusals.
    auto empty = watch(a->sendMessage(u"   "_s));
    QTRY_VERIFY(empty->done());
    QCOMPARE(empty->code, u"INVALID_PAYLOAD"_s);
    auto *plain = alice->channel(uniqueTopic(u"-plain"_s));
    auto notChat = watch(plain->sendMessage(u"hi"_s));
    QTRY_VERIFY(notChat->done());
    QCOMPARE(notChat->code, u"NOT_CHAT"_s);

    // A private channel alice is not a member of: the join is refused, queued messages fail.
    auto carol = makeClient(u"carol"_s);
    QTRY_VERIFY(carol->isConnected());
    const QString secret = u"private:"_s + QString::fromLatin1(QTest::currentTestFunction());
    auto created = watch(carol->createPrivateChannel(secret, {u"bob"_s}));
    QTRY_VERIFY(created->done());
    QCOMPARE(created->status, Reply::Status::Ok);
    ChannelConfig config;
    config.chat = true;
    auto *locked = alice->channel(secret, config);
    locked->subscribe();
    auto denied = watch(locked->sendMessage(u"let me in"_s));
    QTRY_VERIFY(denied->done());
    QCOMPARE(denied->code, u"FORBIDDEN"_s);
    QCOMPARE(locked->status(), Channel::Status::Errored);
    QVERIFY(barrier->done());
}

void tst_ClientChat::channelListShowsUnreadAndLastMessage()
{
    const auto topic = uniqueTopic();
    auto [alice, bob, a, b] = twoUsers(topic);
    QVERIFY(a && b);
    auto *list = bob->channels();
    QAbstractItemModelTester tester(list, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(list->rowCount(), 1);
    const auto at = [list](int role) { return list->index(0).data(role); };
    QCOMPARE(at(Confab::ChannelListModel::ChannelTypeRole).toString(), u"public"_s);
    QCOMPARE(at(Confab::ChannelListModel::UnreadCountRole).toInt(), 0);

    a->sendMessage(u"one"_s);
    a->sendMessage(u"two @bob"_s);
    QTRY_COMPARE(at(Confab::ChannelListModel::UnreadCountRole).toInt(), 2);
    QTRY_COMPARE(at(Confab::ChannelListModel::LastMessageRole).toString(), u"two @bob"_s);
    QCOMPARE(at(Confab::ChannelListModel::MentionCountRole).toInt(), 1);
    QVERIFY(at(Confab::ChannelListModel::LastActivityRole).toDateTime().isValid());
    b->markAllRead();
    QTRY_COMPARE(at(Confab::ChannelListModel::UnreadCountRole).toInt(), 0);
    QCOMPARE(at(Confab::ChannelListModel::MentionCountRole).toInt(), 0);
}

QTEST_GUILESS_MAIN(tst_ClientChat)
#include "tst_clientchat.moc"
