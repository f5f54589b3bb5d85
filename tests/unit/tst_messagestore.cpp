#include "storage/messagestore.h"
#include "ops/serverconfig.h"
#include "storage/sqlmessagestore.h"

#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QMutex>
#include <QtCore/QProcess>
#include <QtCore/QSet>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtCore/QUuid>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtTest/QtTest>

#include <cstdio>

using namespace Confab::Server;
using namespace Qt::StringLiterals;

//! MessageStore on real SQLite files in temporary directories: semantics of every operation,
//! group commit, durability (including a killed process) and the threading contract.
class tst_MessageStore : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void topicKinds_data();
    void topicKinds();
    void mentions_data();
    void mentions();
    void wireForm();

    void appendAssignsSeqPerChannel();
    void duplicateClientIdReturnsOriginal();
    void concurrentAppendsFromManyThreads();
    void editRules();
    void removeRules();
    void reactionRules();
    void historyPaging();
    void historyLimits();
    void readPositionsAndUnread();
    void unreadSummary();
    void channelAccess();
    void privateChannels();

    void openErrors();
    void openUnwritableDir();
    void schemaIsVersioned();
    void fullSyncModes_data();
    void fullSyncModes();
    void ackedIsVisibleToAnotherConnection();
    void ackedSurvivesKilledProcess();
    void failedCommitFailsWholeBatch();
    void failedRequestLeavesBatchAndNoGap();
    void answersInOrderOnContextThread();
    void destroyedContextGetsNoAnswer();
    void flushAndHealth();
    void batchSizesAndSyncModes_data();
    void batchSizesAndSyncModes();

private:
    std::unique_ptr<MessageStore> openStore(const QString &dir, bool fullSync = true);
};

namespace {

constexpr int WaitMs = 15'000;

ChatUser user(const QString &id)
{
    return {id, id.toUpper()};
}

//! Synchronous calls on an asynchronous store: issue, then run the event loop until answered.
class Sync
{
public:
    explicit Sync(MessageStore *store) : m_store(store) {}

    StoreResult<AppendResult> append(const QString &topic, const QString &clientId,
                                     const QString &author, const QString &body,
                                     const QStringList &mentions = {}, const QJsonObject &meta = {})
    {
        return wait<AppendResult>([&](const QObject *c, auto done) {
            m_store->append(c, AppendRequest{topic, clientId, user(author), body, mentions, meta}, done);
        });
    }
    StoreResult<StoredMessage> edit(const QString &topic, const QString &id, const QString &userId,
                                    const QString &body, const QStringList &mentions = {})
    {
        return wait<StoredMessage>([&](const QObject *c, auto done) {
            m_store->edit(c, topic, id, userId, body, mentions, done);
        });
    }
    StoreResult<StoredMessage> remove(const QString &topic, const QString &id, const QString &userId)
    {
        return wait<StoredMessage>([&](const QObject *c, auto done) { m_store->remove(c, topic, id, userId, done); });
    }
    StoreResult<StoredMessage> react(const QString &topic, const QString &id, const QString &userId,
                                     const QString &emoji, bool add = true)
    {
        return wait<StoredMessage>([&](const QObject *c, auto done) {
            m_store->react(c, topic, id, userId, emoji, add, done);
        });
    }
    StoreResult<HistoryPage> history(const QString &topic, std::optional<qint64> before = {},
                                     std::optional<qint64> after = {}, int limit = 50)
    {
        return wait<HistoryPage>([&](const QObject *c, auto done) {
            m_store->history(c, HistoryRequest{topic, before, after, limit}, done);
        });
    }
    StoreResult<ReadState> markRead(const QString &topic, const QString &userId, qint64 seq)
    {
        return wait<ReadState>([&](const QObject *c, auto done) { m_store->markRead(c, topic, userId, seq, done); });
    }
    StoreResult<ReadState> readState(const QString &topic, const QString &userId)
    {
        return wait<ReadState>([&](const QObject *c, auto done) { m_store->readState(c, topic, userId, done); });
    }
    StoreResult<QMap<QString, ReadState>> unread(const QString &userId)
    {
        return wait<QMap<QString, ReadState>>(
            [&](const QObject *c, auto done) { m_store->unreadSummary(c, userId, done); });
    }
    StoreResult<ChannelAccess> access(const QString &topic, const QString &userId)
    {
        return wait<ChannelAccess>([&](const QObject *c, auto done) { m_store->access(c, topic, userId, done); });
    }
    StoreResult<ChannelAccess> createPrivate(const QString &topic, const QString &owner,
                                             const QStringList &members)
    {
        return wait<ChannelAccess>([&](const QObject *c, auto done) {
            m_store->createPrivate(c, topic, owner, members, done);
        });
    }
    StoreResult<ChannelAccess> invite(const QString &topic, const QString &byUser, const QString &userId)
    {
        return wait<ChannelAccess>([&](const QObject *c, auto done) {
            m_store->invite(c, topic, byUser, userId, done);
        });
    }

    //! Every message of \a topic, ascending, paging with `after`.
    QList<StoredMessage> all(const QString &topic)
    {
        QList<StoredMessage> messages;
        qint64 after = 0;
        for (;;) {
            const auto page = history(topic, {}, after, 100);
            if (!page.ok())
                return messages;
            messages += page.value.messages;
            if (!page.value.hasMore || page.value.messages.isEmpty())
                return messages;
            after = page.value.messages.constLast().seq;
        }
    }

private:
    template<typename T, typename Issue>
    StoreResult<T> wait(Issue issue)
    {
        std::optional<StoreResult<T>> result;
        QObject context;
        // An event loop that the answer quits: QTest::qWaitFor() polls with 10 ms sleeps, which
        // would dominate every call here.
        QEventLoop loop;
        issue(&context, MessageStore::Done<T>([&result, &loop](const StoreResult<T> &r) {
                  result = r;
                  loop.quit();
              }));
        QTimer::singleShot(WaitMs, &loop, &QEventLoop::quit);
        if (!result)
            loop.exec();
        if (!result) {
            StoreResult<T> timedOut;
            timedOut.error = StoreError::Unavailable;
            timedOut.message = u"test: timed out waiting for the store"_s;
            return timedOut;
        }
        return *result;
    }

    MessageStore *m_store;
};

QList<qint64> seqsOf(const QList<StoredMessage> &messages)
{
    QList<qint64> seqs;
    for (const auto &m : messages)
        seqs.append(m.seq);
    return seqs;
}

QList<qint64> range(qint64 from, qint64 to)
{
    QList<qint64> r;
    for (qint64 i = from; i <= to; ++i)
        r.append(i);
    return r;
}

//! A second, independent connection to the same file (as another process would have).
class RawConnection
{
public:
    explicit RawConnection(const QString &path)
        : m_name(u"raw-%1"_s.arg(QUuid::createUuid().toString(QUuid::WithoutBraces)))
    {
        auto db = QSqlDatabase::addDatabase(u"QSQLITE"_s, m_name);
        db.setDatabaseName(path);
        m_ok = db.open();
        if (m_ok)
            exec(u"PRAGMA busy_timeout = 5000"_s);
    }
    ~RawConnection()
    {
        {
            auto db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    [[nodiscard]] bool ok() const { return m_ok; }
    bool exec(const QString &sql)
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql)) {
            qWarning() << "raw connection:" << sql << q.lastError().text();
            return false;
        }
        return true;
    }
    QVariant scalar(const QString &sql)
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql) || !q.next()) {
            qWarning() << "raw connection:" << sql << q.lastError().text();
            return {};
        }
        return q.value(0);
    }

private:
    QString m_name;
    bool m_ok = false;
};

QString dbPath(const QTemporaryDir &dir)
{
    return dir.filePath(u"confab.db"_s);
}

// The crash test runs this binary again in this mode: it appends, prints what was acknowledged,
// keeps appending, and is killed by the parent with SIGKILL, so nothing shuts down cleanly.
int crashChild()
{
    StorageConfig config;
    config.dataDir = qEnvironmentVariable("CONFAB_STORE_CRASH_CHILD");
    const int acksWanted = qEnvironmentVariableIntValue("CONFAB_STORE_CRASH_ACKS");
    QString error;
    auto store = openMessageStore(config, &error);
    if (!store) {
        std::fprintf(stderr, "open failed: %s\n", qPrintable(error));
        return 2;
    }
    QObject context;
    int issued = 0;
    int acked = 0;
    std::function<void()> issueNext = [&] {
        const int n = ++issued;
        store->append(&context,
                      AppendRequest{u"room:crash"_s, u"c%1"_s.arg(n), user(u"alice"_s), u"m%1"_s.arg(n), {}, {}},
                      [&](const StoreResult<AppendResult> &r) {
                          if (!r.ok())
                              return;
                          if (acked < acksWanted) {
                              std::printf("acked %lld %s\n", r.value.message.seq,
                                          qPrintable(r.value.message.id));
                              if (++acked == acksWanted)
                                  std::printf("all\n");
                              std::fflush(stdout);
                          }
                          issueNext(); // keep writing until killed
                      });
    };
    // Several in flight, so the kill lands in the middle of batches.
    for (int i = 0; i < 8; ++i)
        issueNext();
    return QCoreApplication::exec();
}

} // namespace

std::unique_ptr<MessageStore> tst_MessageStore::openStore(const QString &dir, bool fullSync)
{
    StorageConfig config;
    config.dataDir = dir;
    config.fullSync = fullSync;
    QString error;
    auto store = openMessageStore(config, &error);
    if (!store)
        qWarning() << "openMessageStore:" << error;
    return store;
}

void tst_MessageStore::topicKinds_data()
{
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("type");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QStringList>("users");

    const QString id64(64, u'x');
    const QString id65(65, u'x');
    QTest::newRow("public") << u"room:lobby"_s << u"public"_s << true << QStringList{};
    QTest::newRow("plain") << u"lobby"_s << u"public"_s << true << QStringList{};
    QTest::newRow("dm") << u"dm:alice:bob"_s << u"dm"_s << true << QStringList{u"alice"_s, u"bob"_s};
    QTest::newRow("dm reversed") << u"dm:bob:alice"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm self") << u"dm:alice:alice"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm one user") << u"dm:alice"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm three users") << u"dm:a:b:c"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm empty first") << u"dm::bob"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm empty second") << u"dm:alice:"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm bare") << u"dm:"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm space") << u"dm:al ice:bob"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm non-ascii") << u"dm:alice:bøb"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm 64") << (u"dm:a:"_s + id64) << u"dm"_s << true << QStringList{u"a"_s, id64};
    QTest::newRow("dm 65") << (u"dm:a:"_s + id65) << u"dm"_s << false << QStringList{};
    QTest::newRow("dm byte order upper first") << u"dm:Zed:alice"_s << u"dm"_s << true
                                               << QStringList{u"Zed"_s, u"alice"_s};
    QTest::newRow("dm byte order lower first") << u"dm:alice:Zed"_s << u"dm"_s << false << QStringList{};
    QTest::newRow("dm punctuation") << u"dm:a.b:a_c"_s << u"dm"_s << true << QStringList{u"a.b"_s, u"a_c"_s};
    QTest::newRow("private") << u"private:team"_s << u"private"_s << true << QStringList{};
    QTest::newRow("private with colon") << u"private:a:b"_s << u"private"_s << true << QStringList{};
    QTest::newRow("private empty name") << u"private:"_s << u"public"_s << true << QStringList{};
    QTest::newRow("case matters") << u"Private:team"_s << u"public"_s << true << QStringList{};
    QTest::newRow("dm prefix only") << u"dmx:a:b"_s << u"public"_s << true << QStringList{};
}

void tst_MessageStore::topicKinds()
{
    QFETCH(QString, topic);
    QFETCH(QString, type);
    QFETCH(bool, valid);
    QFETCH(QStringList, users);
    const TopicKind kind = topicKind(topic);
    QCOMPARE(kind.type, type);
    QCOMPARE(kind.valid, valid);
    QCOMPARE(kind.dmUsers, users);
}

void tst_MessageStore::mentions_data()
{
    QTest::addColumn<QString>("body");
    QTest::addColumn<QStringList>("expected");

    QTest::newRow("one") << u"hi @bob"_s << QStringList{u"bob"_s};
    QTest::newRow("start") << u"@bob hi"_s << QStringList{u"bob"_s};
    QTest::newRow("sentence end") << u"hi @bob."_s << QStringList{u"bob"_s};
    QTest::newRow("ellipsis") << u"well @bob..."_s << QStringList{u"bob"_s};
    QTest::newRow("dash end") << u"@bob- see"_s << QStringList{u"bob"_s};
    QTest::newRow("dotted id") << u"ask @bob.smith now"_s << QStringList{u"bob.smith"_s};
    QTest::newRow("dotted id, full stop") << u"ask @bob.smith."_s << QStringList{u"bob.smith"_s};
    QTest::newRow("charset") << u"@b.o-b_1!"_s << QStringList{u"b.o-b_1"_s};
    QTest::newRow("comma and bang") << u"@bob, @carol!"_s << QStringList{u"bob"_s, u"carol"_s};
    QTest::newRow("unique in order") << u"@carol @bob @carol @alice @bob"_s
                                     << QStringList{u"carol"_s, u"bob"_s, u"alice"_s};
    QTest::newRow("email") << u"mail a@b.c please"_s << QStringList{};
    QTest::newRow("after identity char") << u"x@bob _@bob .@bob -@bob 1@bob"_s << QStringList{};
    QTest::newRow("parenthesis") << u"(@bob)"_s << QStringList{u"bob"_s};
    QTest::newRow("double at") << u"@@bob"_s << QStringList{u"bob"_s};
    QTest::newRow("apostrophe") << u"@bob's idea"_s << QStringList{u"bob"_s};
    QTest::newRow("newline") << u"@bob\n@carol"_s << QStringList{u"bob"_s, u"carol"_s};
    QTest::newRow("lone at") << u"@ nobody @"_s << QStringList{};
    QTest::newRow("only punctuation") << u"@- @. @.-"_s << QStringList{};
    QTest::newRow("64 chars") << (u"@"_s + QString(64, u'a')) << QStringList{QString(64, u'a')};
    QTest::newRow("65 chars") << (u"@"_s + QString(65, u'a')) << QStringList{};
    QTest::newRow("non-ascii stops") << u"@bøb"_s << QStringList{u"b"_s};
    QTest::newRow("non-ascii first") << u"@øle"_s << QStringList{};
    QTest::newRow("case kept") << u"@Bob @bob"_s << QStringList{u"Bob"_s, u"bob"_s};
    QTest::newRow("none") << u"no mentions here"_s << QStringList{};
}

void tst_MessageStore::mentions()
{
    QFETCH(QString, body);
    QFETCH(QStringList, expected);
    QCOMPARE(parseMentions(body), expected);
}

void tst_MessageStore::wireForm()
{
    StoredMessage m;
    m.id = u"6f1c2d3e-0000-4000-8000-000000000001"_s;
    m.seq = 45;
    m.ts = QDateTime(QDate(2026, 11, 22), QTime(10, 0, 0, 123), Qt::UTC);
    m.clientId = u"c-7f3a"_s;
    m.author = ChatUser{u"alice"_s, u"Alice"_s};
    m.body = u"hi @bob"_s;
    m.mentions = {u"bob"_s};

    const QJsonObject plain{
        {u"id"_s, m.id},
        {u"seq"_s, 45},
        {u"ts"_s, u"2026-11-22T10:00:00.123Z"_s},
        {u"client_id"_s, u"c-7f3a"_s},
        {u"author"_s, QJsonObject{{u"id"_s, u"alice"_s}, {u"name"_s, u"Alice"_s}}},
        {u"body"_s, u"hi @bob"_s},
        {u"mentions"_s, QJsonArray{u"bob"_s}},
        {u"reactions"_s, QJsonObject{}},
    };
    QCOMPARE(m.toJson(), plain);

    // A time given in another zone is still written as UTC.
    m.ts = QDateTime(QDate(2026, 11, 22), QTime(12, 0, 0, 5), Qt::OffsetFromUTC, 2 * 3600);
    QCOMPARE(m.toJson().value(u"ts"_s).toString(), u"2026-11-22T10:00:00.005Z"_s);

    m.meta = QJsonObject{{u"k"_s, 1}};
    m.editedAt = QDateTime(QDate(2026, 11, 22), QTime(10, 1, 0, 0), Qt::UTC);
    m.deletedAt = QDateTime(QDate(2026, 11, 22), QTime(10, 2, 3, 40), Qt::UTC);
    m.body.clear();
    m.reactions = {{u"👍"_s, {u"bob"_s, u"carol"_s}}, {u"🎉"_s, {u"alice"_s}}};
    const QJsonObject full = m.toJson();
    QCOMPARE(full.value(u"meta"_s).toObject(), (QJsonObject{{u"k"_s, 1}}));
    QCOMPARE(full.value(u"edited_at"_s).toString(), u"2026-11-22T10:01:00.000Z"_s);
    QCOMPARE(full.value(u"deleted"_s), QJsonValue(true));
    QCOMPARE(full.value(u"deleted_at"_s).toString(), u"2026-11-22T10:02:03.040Z"_s);
    QCOMPARE(full.value(u"body"_s).toString(), QString());
    QCOMPARE(full.value(u"reactions"_s).toObject(),
             (QJsonObject{{u"👍"_s, QJsonArray{u"bob"_s, u"carol"_s}}, {u"🎉"_s, QJsonArray{u"alice"_s}}}));
}

void tst_MessageStore::appendAssignsSeqPerChannel()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());

    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    QSet<QString> ids;
    const QList<std::pair<QString, qint64>> plan{{u"room:a"_s, 1}, {u"room:b"_s, 1}, {u"room:a"_s, 2},
                                                 {u"room:a"_s, 3}, {u"room:b"_s, 2}, {u"dm:alice:bob"_s, 1}};
    int n = 0;
    for (const auto &[topic, seq] : plan) {
        ++n;
        const auto r = s.append(topic, u"c%1"_s.arg(n), u"alice"_s, u"hello %1"_s.arg(n), {u"bob"_s},
                                QJsonObject{{u"n"_s, n}});
        QVERIFY2(r.ok(), qPrintable(r.message));
        QCOMPARE(r.value.message.seq, seq);
        QVERIFY(!r.value.duplicate);
        QVERIFY(!QUuid::fromString(r.value.message.id).isNull());
        QCOMPARE(QUuid::fromString(r.value.message.id).toString(QUuid::WithoutBraces), r.value.message.id);
        ids.insert(r.value.message.id);
        QCOMPARE(r.value.message.ts.timeSpec(), Qt::UTC);
        QVERIFY(r.value.message.ts.toMSecsSinceEpoch() >= before);
        QVERIFY(r.value.message.ts.toMSecsSinceEpoch() <= QDateTime::currentMSecsSinceEpoch());
        QCOMPARE(r.value.message.author, user(u"alice"_s));
        QCOMPARE(r.value.message.mentions, QStringList{u"bob"_s});
        QCOMPARE(r.value.message.clientId, u"c%1"_s.arg(n));
    }
    QCOMPARE(ids.size(), plan.size());

    const auto a = s.history(u"room:a"_s);
    QVERIFY(a.ok());
    QCOMPARE(seqsOf(a.value.messages), (QList<qint64>{1, 2, 3}));
    QCOMPARE(a.value.lastSeq, 3);
    // What history returns is what append returned (round trip through the database).
    const StoredMessage &first = a.value.messages.constFirst();
    QCOMPARE(first.body, u"hello 1"_s);
    QCOMPARE(first.meta, (QJsonObject{{u"n"_s, 1}}));
    QCOMPARE(first.mentions, QStringList{u"bob"_s});
    QCOMPARE(first.ts.timeSpec(), Qt::UTC);
    QVERIFY(!first.editedAt);
    QVERIFY(!first.deletedAt);
    QCOMPARE(s.history(u"room:b"_s).value.lastSeq, 2);
}

void tst_MessageStore::duplicateClientIdReturnsOriginal()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());

    const auto original = s.append(u"room:a"_s, u"c-1"_s, u"alice"_s, u"hello @bob"_s, {u"bob"_s});
    QVERIFY(original.ok());
    QVERIFY(s.react(u"room:a"_s, original.value.message.id, u"bob"_s, u"👍"_s).ok());

    const auto again = s.append(u"room:a"_s, u"c-1"_s, u"alice"_s, u"something else"_s);
    QVERIFY(again.ok());
    QVERIFY(again.value.duplicate);
    QCOMPARE(again.value.message.id, original.value.message.id);
    QCOMPARE(again.value.message.seq, original.value.message.seq);
    QCOMPARE(again.value.message.ts, original.value.message.ts);
    QCOMPARE(again.value.message.body, u"hello @bob"_s);
    QCOMPARE(again.value.message.mentions, QStringList{u"bob"_s});
    QCOMPARE(again.value.message.reactions.value(u"👍"_s), QStringList{u"bob"_s});

    auto page = s.history(u"room:a"_s);
    QCOMPARE(page.value.messages.size(), 1);
    QCOMPARE(page.value.lastSeq, 1);
    QCOMPARE(page.value.messages.constFirst().body, u"hello @bob"_s);

    // The key is per author and per channel.
    const auto otherAuthor = s.append(u"room:a"_s, u"c-1"_s, u"bob"_s, u"mine"_s);
    QVERIFY(!otherAuthor.value.duplicate);
    QCOMPARE(otherAuthor.value.message.seq, 2);
    const auto otherTopic = s.append(u"room:b"_s, u"c-1"_s, u"alice"_s, u"there"_s);
    QVERIFY(!otherTopic.value.duplicate);
    QCOMPARE(otherTopic.value.message.seq, 1);

    // Without a client id nothing is deduplicated.
    QCOMPARE(s.append(u"room:a"_s, QString(), u"alice"_s, u"x"_s).value.message.seq, 3);
    QCOMPARE(s.append(u"room:a"_s, QString(), u"alice"_s, u"x"_s).value.message.seq, 4);

    // Reopened, the key still holds.
    store.reset();
    store = openStore(dir.path());
    Sync s2(store.get());
    const auto afterReopen = s2.append(u"room:a"_s, u"c-1"_s, u"alice"_s, u"third try"_s);
    QVERIFY(afterReopen.value.duplicate);
    QCOMPARE(afterReopen.value.message.id, original.value.message.id);
    QCOMPARE(s2.history(u"room:a"_s).value.lastSeq, 4);
}

void tst_MessageStore::concurrentAppendsFromManyThreads()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);

    constexpr int Threads = 4;
    constexpr int RequestersPerThread = 10;
    constexpr int PerRequester = 5; // 4 × 10 × 5 = 200
    constexpr int Total = Threads * RequestersPerThread * PerRequester;

    QMutex mutex;
    QList<qint64> seqs;
    QSet<QString> ids;
    QHash<QString, QString> bodyById;
    int wrongThread = 0;
    int failed = 0;

    std::vector<std::unique_ptr<QThread>> threads;
    std::vector<std::unique_ptr<QObject>> requesters;
    for (int t = 0; t < Threads; ++t) {
        threads.push_back(std::make_unique<QThread>());
        threads.back()->start();
        for (int r = 0; r < RequestersPerThread; ++r) {
            requesters.push_back(std::make_unique<QObject>());
            requesters.back()->moveToThread(threads.back().get());
        }
    }
    MessageStore *raw = store.get();
    for (size_t i = 0; i < requesters.size(); ++i) {
        QObject *requester = requesters[i].get();
        // Issue from the requester's own thread, all at once, without waiting for answers.
        QMetaObject::invokeMethod(requester, [&, requester, i] {
            for (int k = 0; k < PerRequester; ++k) {
                const QString body = u"r%1-%2"_s.arg(i).arg(k);
                raw->append(requester,
                            AppendRequest{u"room:busy"_s, u"c%1-%2"_s.arg(i).arg(k), user(u"u%1"_s.arg(i)), body, {}, {}},
                            [&, requester, body](const StoreResult<AppendResult> &r) {
                                QMutexLocker lock(&mutex);
                                if (QThread::currentThread() != requester->thread())
                                    ++wrongThread;
                                if (!r.ok()) {
                                    ++failed;
                                    return;
                                }
                                seqs.append(r.value.message.seq);
                                ids.insert(r.value.message.id);
                                bodyById.insert(r.value.message.id, body);
                            });
            }
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(([&] { QMutexLocker lock(&mutex); return qsizetype(seqs.size() + failed); }()),
                              qsizetype(Total), WaitMs);
    // Deleted on their own threads, which run deferred deletes as they finish.
    for (auto &requester : requesters)
        requester.release()->deleteLater();
    for (auto &thread : threads) {
        thread->quit();
        thread->wait();
    }

    QCOMPARE(failed, 0);
    QCOMPARE(wrongThread, 0);
    std::sort(seqs.begin(), seqs.end());
    QCOMPARE(seqs, range(1, Total));
    QCOMPARE(ids.size(), qsizetype(Total));

    // Destroy the store and read everything back through a second instance.
    store.reset();
    store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QList<StoredMessage> all = s.all(u"room:busy"_s);
    QCOMPARE(seqsOf(all), range(1, Total));
    for (const auto &m : all)
        QCOMPARE(m.body, bodyById.value(m.id));
}

void tst_MessageStore::editRules()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QString topic = u"room:a"_s;
    const auto m = s.append(topic, u"c1"_s, u"alice"_s, u"hello @bob"_s, {u"bob"_s}).value.message;
    QVERIFY(s.react(topic, m.id, u"carol"_s, u"👍"_s).ok());

    const auto forbidden = s.edit(topic, m.id, u"bob"_s, u"hacked"_s);
    QCOMPARE(forbidden.error, StoreError::Forbidden);
    QCOMPARE(s.edit(topic, u"no-such-id"_s, u"alice"_s, u"x"_s).error, StoreError::NotFound);
    QCOMPARE(s.edit(u"room:other"_s, m.id, u"alice"_s, u"x"_s).error, StoreError::NotFound);
    auto unchanged = s.history(topic).value.messages.constFirst();
    QCOMPARE(unchanged.body, u"hello @bob"_s);
    QVERIFY(!unchanged.editedAt);

    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    const auto edited = s.edit(topic, m.id, u"alice"_s, u"hello @carol"_s, {u"carol"_s});
    QVERIFY2(edited.ok(), qPrintable(edited.message));
    QCOMPARE(edited.value.body, u"hello @carol"_s);
    QCOMPARE(edited.value.mentions, QStringList{u"carol"_s});
    QVERIFY(edited.value.editedAt);
    QVERIFY(edited.value.editedAt->toMSecsSinceEpoch() >= before);
    QCOMPARE(edited.value.seq, m.seq);
    QCOMPARE(edited.value.ts, m.ts);
    QCOMPARE(edited.value.reactions.value(u"👍"_s), QStringList{u"carol"_s});

    const auto read = s.history(topic).value.messages.constFirst();
    QCOMPARE(read.body, u"hello @carol"_s);
    QCOMPARE(read.mentions, QStringList{u"carol"_s});
    QCOMPARE(read.editedAt, edited.value.editedAt);
    QCOMPARE(read.toJson().value(u"edited_at"_s).toString(),
             edited.value.editedAt->toString(Qt::ISODateWithMs));

    QVERIFY(s.remove(topic, m.id, u"alice"_s).ok());
    const auto deleted = s.edit(topic, m.id, u"alice"_s, u"resurrect"_s);
    QCOMPARE(deleted.error, StoreError::MessageDeleted);
    QCOMPARE(s.history(topic).value.messages.constFirst().body, QString());
    // Another user's edit of a deleted message is still Forbidden: they learn nothing more.
    QCOMPARE(s.edit(topic, m.id, u"bob"_s, u"x"_s).error, StoreError::Forbidden);
}

void tst_MessageStore::removeRules()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QString topic = u"room:a"_s;
    const auto m = s.append(topic, u"c1"_s, u"alice"_s, u"secret @bob"_s, {u"bob"_s}).value.message;
    QVERIFY(s.react(topic, m.id, u"bob"_s, u"👀"_s).ok());

    QCOMPARE(s.remove(topic, m.id, u"bob"_s).error, StoreError::Forbidden);
    QCOMPARE(s.remove(topic, u"nope"_s, u"alice"_s).error, StoreError::NotFound);
    QCOMPARE(s.remove(u"room:b"_s, m.id, u"alice"_s).error, StoreError::NotFound);
    QCOMPARE(s.history(topic).value.messages.constFirst().body, u"secret @bob"_s);

    const auto removed = s.remove(topic, m.id, u"alice"_s);
    QVERIFY(removed.ok());
    QVERIFY(removed.value.deletedAt);
    QVERIFY(removed.value.body.isEmpty());
    QVERIFY(removed.value.mentions.isEmpty());
    QCOMPARE(removed.value.seq, m.seq);
    QCOMPARE(removed.value.toJson().value(u"deleted"_s), QJsonValue(true));

    // Deleting again is idempotent: same answer, same deleted_at.
    const auto again = s.remove(topic, m.id, u"alice"_s);
    QVERIFY(again.ok());
    QCOMPARE(again.value.deletedAt, removed.value.deletedAt);

    QCOMPARE(s.react(topic, m.id, u"bob"_s, u"👍"_s).error, StoreError::MessageDeleted);
    QCOMPARE(s.react(topic, m.id, u"bob"_s, u"👀"_s, false).error, StoreError::MessageDeleted);

    const auto read = s.history(topic).value.messages.constFirst();
    QVERIFY(read.body.isEmpty());
    QVERIFY(read.mentions.isEmpty());
    QCOMPARE(read.deletedAt, removed.value.deletedAt);
    QCOMPARE(read.reactions.value(u"👀"_s), QStringList{u"bob"_s}); // kept, unchanged
    QCOMPARE(read.toJson().value(u"deleted_at"_s).toString(),
             removed.value.deletedAt->toString(Qt::ISODateWithMs));
}

void tst_MessageStore::reactionRules()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QString topic = u"room:a"_s;
    const auto m = s.append(topic, u"c1"_s, u"alice"_s, u"vote"_s).value.message;
    QVERIFY(m.reactions.isEmpty());

    QVERIFY(s.react(topic, m.id, u"carol"_s, u"👍"_s).ok());
    QVERIFY(s.react(topic, m.id, u"bob"_s, u"👍"_s).ok());
    QVERIFY(s.react(topic, m.id, u"alice"_s, u"🎉"_s).ok());
    auto r = s.react(topic, m.id, u"alice"_s, u"👍"_s);
    QVERIFY(r.ok());
    // In the order they reacted, not alphabetical.
    QCOMPARE(r.value.reactions.value(u"👍"_s), (QStringList{u"carol"_s, u"bob"_s, u"alice"_s}));
    QCOMPARE(r.value.reactions.value(u"🎉"_s), QStringList{u"alice"_s});

    // Adding twice is idempotent, and keeps the original position.
    r = s.react(topic, m.id, u"carol"_s, u"👍"_s);
    QVERIFY(r.ok());
    QCOMPARE(r.value.reactions.value(u"👍"_s), (QStringList{u"carol"_s, u"bob"_s, u"alice"_s}));

    r = s.react(topic, m.id, u"bob"_s, u"👍"_s, false);
    QVERIFY(r.ok());
    QCOMPARE(r.value.reactions.value(u"👍"_s), (QStringList{u"carol"_s, u"alice"_s}));
    // Removing what is not there is fine too.
    r = s.react(topic, m.id, u"bob"_s, u"👍"_s, false);
    QVERIFY(r.ok());
    QCOMPARE(r.value.reactions.size(), 2);
    // The last user gone, the emoji is gone.
    r = s.react(topic, m.id, u"alice"_s, u"🎉"_s, false);
    QCOMPARE(r.value.reactions.keys(), QStringList{u"👍"_s});

    QCOMPARE(s.react(topic, u"nope"_s, u"bob"_s, u"👍"_s).error, StoreError::NotFound);
    QCOMPARE(s.react(u"room:b"_s, m.id, u"bob"_s, u"👍"_s).error, StoreError::NotFound);
    QCOMPARE(s.react(topic, m.id, u"bob"_s, QString()).error, StoreError::Invalid);

    const auto read = s.history(topic).value.messages.constFirst();
    QCOMPARE(read.reactions, (QMap<QString, QStringList>{{u"👍"_s, {u"carol"_s, u"alice"_s}}}));
}

void tst_MessageStore::historyPaging()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QString topic = u"room:paged"_s;
    QStringList ids;
    for (int i = 1; i <= 10; ++i)
        ids.append(s.append(topic, u"c%1"_s.arg(i), i % 2 ? u"alice"_s : u"bob"_s, u"m%1"_s.arg(i)).value.message.id);
    QVERIFY(s.remove(topic, ids.at(4), u"alice"_s).ok()); // seq 5
    QVERIFY(s.react(topic, ids.at(5), u"carol"_s, u"👍"_s).ok()); // seq 6
    QVERIFY(s.react(topic, ids.at(6), u"carol"_s, u"🎉"_s).ok()); // seq 7
    QVERIFY(s.react(topic, ids.at(6), u"dave"_s, u"🎉"_s).ok());

    struct Case
    {
        std::optional<qint64> before, after;
        int limit;
        QList<qint64> seqs;
        bool hasMore;
    };
    const QList<Case> cases{
        {{}, {}, 50, range(1, 10), false},
        {{}, {}, 10, range(1, 10), false},
        {{}, {}, 3, {8, 9, 10}, true},
        {8, {}, 3, {5, 6, 7}, true},
        {4, {}, 3, {1, 2, 3}, false},
        {5, {}, 3, {2, 3, 4}, true},
        {2, {}, 3, {1}, false},
        {1, {}, 3, {}, false},
        {11, {}, 100, range(1, 10), false},
        {{}, 0, 3, {1, 2, 3}, true},
        {{}, 7, 3, {8, 9, 10}, false},
        {{}, 6, 3, {7, 8, 9}, true},
        {{}, 10, 3, {}, false},
        {{}, 99, 3, {}, false},
        {2, 5, 3, {6, 7, 8}, true}, // after wins over before
        {{}, {}, 0, {10}, true},    // limit clamped to 1
        {{}, {}, -5, {10}, true},
    };
    for (const Case &c : cases) {
        const auto page = s.history(topic, c.before, c.after, c.limit);
        QVERIFY(page.ok());
        const QByteArray what = "before=" + QByteArray::number(c.before.value_or(-1)) + " after="
            + QByteArray::number(c.after.value_or(-1)) + " limit=" + QByteArray::number(c.limit);
        QVERIFY2(seqsOf(page.value.messages) == c.seqs, what.constData());
        QVERIFY2(page.value.hasMore == c.hasMore, what.constData());
        QCOMPARE(page.value.lastSeq, 10);
    }

    const auto page = s.history(topic, 8, {}, 3).value.messages;
    QCOMPARE(page.at(0).seq, 5);
    QVERIFY(page.at(0).deletedAt);
    QVERIFY(page.at(0).body.isEmpty());
    QCOMPARE(page.at(0).toJson().value(u"deleted"_s), QJsonValue(true));
    QCOMPARE(page.at(1).reactions, (QMap<QString, QStringList>{{u"👍"_s, {u"carol"_s}}}));
    QCOMPARE(page.at(2).reactions, (QMap<QString, QStringList>{{u"🎉"_s, {u"carol"_s, u"dave"_s}}}));
    QCOMPARE(page.at(2).body, u"m7"_s);
    // Every message carries a reactions object, even an empty one.
    QVERIFY(s.history(topic, {}, 7, 1).value.messages.constFirst().toJson().value(u"reactions"_s).isObject());

    // A channel nobody wrote to: empty, not an error.
    const auto empty = s.history(u"room:quiet"_s);
    QVERIFY(empty.ok());
    QVERIFY(empty.value.messages.isEmpty());
    QCOMPARE(empty.value.lastSeq, 0);
    QVERIFY(!empty.value.hasMore);
    QCOMPARE(s.history(u"private:none"_s).error, StoreError::NotFound);
    QCOMPARE(s.history(u"dm:bob:alice"_s).error, StoreError::Invalid);
}

void tst_MessageStore::historyLimits()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    for (int i = 1; i <= 150; ++i)
        store->append(nullptr, AppendRequest{u"room:big"_s, u"c%1"_s.arg(i), user(u"alice"_s), u"m"_s, {}, {}}, {});
    store->flush();
    auto page = s.history(u"room:big"_s, {}, {}, 1000);
    QCOMPARE(seqsOf(page.value.messages), range(51, 150));
    QVERIFY(page.value.hasMore);
    page = s.history(u"room:big"_s, 51, {}, 100);
    QCOMPARE(seqsOf(page.value.messages), range(1, 50));
    QVERIFY(!page.value.hasMore);
    page = s.history(u"room:big"_s);
    QCOMPARE(seqsOf(page.value.messages), range(101, 150)); // default 50
    QVERIFY(page.value.hasMore);
}

void tst_MessageStore::readPositionsAndUnread()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QString topic = u"room:r"_s;
    s.append(topic, u"a1"_s, u"alice"_s, u"one"_s);
    s.append(topic, u"a2"_s, u"alice"_s, u"two"_s);

    // First contact starts at the end.
    auto state = s.readState(topic, u"carol"_s);
    QVERIFY(state.ok());
    QCOMPARE(state.value.lastSeq, 2);
    QCOMPARE(state.value.readSeq, 2);
    QCOMPARE(state.value.unread, 0);
    QCOMPARE(state.value.mentions, 0);

    s.append(topic, u"a3"_s, u"alice"_s, u"hey @carol"_s, {u"carol"_s});          // 3
    s.append(topic, u"c1"_s, u"carol"_s, u"mine @carol"_s, {u"carol"_s});         // 4: own
    const auto b1 = s.append(topic, u"b1"_s, u"bob"_s, u"@carol look"_s, {u"carol"_s}).value.message; // 5
    const auto b2 = s.append(topic, u"b2"_s, u"bob"_s, u"gone"_s).value.message; // 6
    s.append(topic, u"b3"_s, u"bob"_s, u"plain"_s);                              // 7
    state = s.readState(topic, u"carol"_s);
    QCOMPARE(state.value.readSeq, 2); // the second call does not move it
    QCOMPARE(state.value.lastSeq, 7);
    QCOMPARE(state.value.unread, 4);   // 3, 5, 6, 7
    QCOMPARE(state.value.mentions, 2); // 3, 5

    QVERIFY(s.remove(topic, b2.id, u"bob"_s).ok());
    state = s.readState(topic, u"carol"_s);
    QCOMPARE(state.value.unread, 3);
    QVERIFY(s.remove(topic, b1.id, u"bob"_s).ok());
    state = s.readState(topic, u"carol"_s);
    QCOMPARE(state.value.unread, 2);
    QCOMPARE(state.value.mentions, 1);

    // An edit that drops the mention drops it from the count; one that adds it adds it.
    const auto a3 = s.history(topic, 4, 2, 1).value.messages.constFirst();
    QCOMPARE(a3.seq, 3);
    QVERIFY(s.edit(topic, a3.id, u"alice"_s, u"hey all"_s, {}).ok());
    QCOMPARE(s.readState(topic, u"carol"_s).value.mentions, 0);
    QVERIFY(s.edit(topic, a3.id, u"alice"_s, u"hey @carol @carol"_s, {u"carol"_s, u"carol"_s}).ok());
    QCOMPARE(s.readState(topic, u"carol"_s).value.mentions, 1);

    state = s.markRead(topic, u"carol"_s, 5);
    QVERIFY(state.ok());
    QCOMPARE(state.value.readSeq, 5);
    QCOMPARE(state.value.unread, 1); // 7
    QCOMPARE(state.value.mentions, 0);

    // Never backwards.
    state = s.markRead(topic, u"carol"_s, 3);
    QVERIFY(state.ok());
    QCOMPARE(state.value.readSeq, 5);

    // Out of range: Invalid, and nothing moves.
    QCOMPARE(s.markRead(topic, u"carol"_s, 8).error, StoreError::Invalid);
    QCOMPARE(s.markRead(topic, u"carol"_s, -1).error, StoreError::Invalid);
    QCOMPARE(s.readState(topic, u"carol"_s).value.readSeq, 5);

    state = s.markRead(topic, u"carol"_s, 7);
    QCOMPARE(state.value.unread, 0);

    // markRead before any readState creates the position where asked.
    state = s.markRead(topic, u"dave"_s, 4);
    QVERIFY(state.ok());
    QCOMPARE(state.value.readSeq, 4);
    QCOMPARE(state.value.unread, 1); // 5 and 6 are deleted: only 7
    QCOMPARE(state.value.mentions, 0);
}

void tst_MessageStore::unreadSummary()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    s.append(u"room:a"_s, u"1"_s, u"alice"_s, u"x"_s);
    QVERIFY(s.readState(u"room:a"_s, u"bob"_s).ok());
    QVERIFY(s.readState(u"dm:alice:bob"_s, u"bob"_s).ok());
    s.append(u"room:a"_s, u"2"_s, u"alice"_s, u"@bob"_s, {u"bob"_s});
    s.append(u"room:a"_s, u"3"_s, u"alice"_s, u"y"_s);
    s.append(u"dm:alice:bob"_s, u"4"_s, u"alice"_s, u"psst @bob"_s, {u"bob"_s});
    s.append(u"room:elsewhere"_s, u"5"_s, u"alice"_s, u"z"_s); // bob has no position here

    const auto summary = s.unread(u"bob"_s);
    QVERIFY(summary.ok());
    QCOMPARE(summary.value.keys(), (QStringList{u"dm:alice:bob"_s, u"room:a"_s}));
    const ReadState a = summary.value.value(u"room:a"_s);
    QCOMPARE(a.lastSeq, 3);
    QCOMPARE(a.readSeq, 1);
    QCOMPARE(a.unread, 2);
    QCOMPARE(a.mentions, 1);
    const ReadState dm = summary.value.value(u"dm:alice:bob"_s);
    QCOMPARE(dm.lastSeq, 1);
    QCOMPARE(dm.readSeq, 0);
    QCOMPARE(dm.unread, 1);
    QCOMPARE(dm.mentions, 1);

    QVERIFY(s.unread(u"nobody"_s).value.isEmpty());
}

void tst_MessageStore::channelAccess()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());

    auto a = s.access(u"room:lobby"_s, u"anyone"_s);
    QVERIFY(a.ok());
    QCOMPARE(a.value.type, u"public"_s);
    QVERIFY(a.value.exists);
    QVERIFY(a.value.allowed);
    QVERIFY(a.value.members.isEmpty());

    a = s.access(u"dm:alice:bob"_s, u"alice"_s);
    QCOMPARE(a.value.type, u"dm"_s);
    QVERIFY(a.value.exists);
    QVERIFY(a.value.allowed);
    QCOMPARE(a.value.members, (QStringList{u"alice"_s, u"bob"_s}));
    QVERIFY(s.access(u"dm:alice:bob"_s, u"bob"_s).value.allowed);
    a = s.access(u"dm:alice:bob"_s, u"mallory"_s);
    QVERIFY(a.value.exists);
    QVERIFY(!a.value.allowed);
    a = s.access(u"dm:bob:alice"_s, u"alice"_s);
    QCOMPARE(a.value.type, u"dm"_s);
    QVERIFY(!a.value.allowed);

    // A DM channel's row is made on first use: the read position needs it.
    QVERIFY(s.readState(u"dm:alice:bob"_s, u"alice"_s).ok());
    QCOMPARE(s.append(u"dm:bob:alice"_s, u"x"_s, u"bob"_s, u"hi"_s).error, StoreError::Invalid);
    QCOMPARE(s.readState(u"dm:bob:alice"_s, u"bob"_s).error, StoreError::Invalid);

    a = s.access(u"private:none"_s, u"alice"_s);
    QCOMPARE(a.value.type, u"private"_s);
    QVERIFY(!a.value.exists);
    QVERIFY(!a.value.allowed);
}

void tst_MessageStore::privateChannels()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QString team = u"private:team"_s;

    QCOMPARE(s.append(team, u"x"_s, u"alice"_s, u"early"_s).error, StoreError::NotFound);
    QCOMPARE(s.readState(team, u"alice"_s).error, StoreError::NotFound);
    QCOMPARE(s.markRead(team, u"alice"_s, 0).error, StoreError::NotFound);
    QCOMPARE(s.invite(team, u"alice"_s, u"bob"_s).error, StoreError::NotFound);

    auto created = s.createPrivate(team, u"alice"_s, {u"carol"_s, u"alice"_s, u"bob"_s, u"carol"_s});
    QVERIFY2(created.ok(), qPrintable(created.message));
    QCOMPARE(created.value.type, u"private"_s);
    QVERIFY(created.value.exists);
    QVERIFY(created.value.allowed);
    QCOMPARE(created.value.owner, u"alice"_s);
    QCOMPARE(created.value.members, (QStringList{u"alice"_s, u"bob"_s, u"carol"_s}));

    QCOMPARE(s.createPrivate(team, u"mallory"_s, {}).error, StoreError::AlreadyExists);
    QCOMPARE(s.access(team, u"alice"_s).value.owner, u"alice"_s); // unchanged
    QCOMPARE(s.createPrivate(u"room:public"_s, u"alice"_s, {}).error, StoreError::Invalid);
    QCOMPARE(s.createPrivate(u"private:bad"_s, u"alice"_s, {u"not valid"_s}).error, StoreError::Invalid);
    QVERIFY(!s.access(u"private:bad"_s, u"alice"_s).value.exists);

    auto a = s.access(team, u"bob"_s);
    QVERIFY(a.value.exists);
    QVERIFY(a.value.allowed);
    QCOMPARE(a.value.members, (QStringList{u"alice"_s, u"bob"_s, u"carol"_s}));
    a = s.access(team, u"dave"_s);
    QVERIFY(a.value.exists);
    QVERIFY(!a.value.allowed);
    QVERIFY(a.value.members.isEmpty()); // not shown to outsiders

    QCOMPARE(s.invite(team, u"dave"_s, u"erin"_s).error, StoreError::Forbidden);
    QVERIFY(!s.access(team, u"erin"_s).value.allowed);
    QCOMPARE(s.invite(team, u"bob"_s, u"bad id!"_s).error, StoreError::Invalid);
    QCOMPARE(s.invite(u"room:lobby"_s, u"bob"_s, u"dave"_s).error, StoreError::Invalid);

    auto invited = s.invite(team, u"bob"_s, u"dave"_s); // any member may invite
    QVERIFY(invited.ok());
    QCOMPARE(invited.value.members, (QStringList{u"alice"_s, u"bob"_s, u"carol"_s, u"dave"_s}));
    QVERIFY(s.access(team, u"dave"_s).value.allowed);
    invited = s.invite(team, u"alice"_s, u"dave"_s); // again: idempotent
    QVERIFY(invited.ok());
    QCOMPARE(invited.value.members.size(), 4);

    QCOMPARE(s.append(team, u"x"_s, u"dave"_s, u"now"_s).value.message.seq, 1);
    QCOMPARE(s.history(team).value.lastSeq, 1);

    // "private:" with no name is an ordinary public channel.
    QVERIFY(s.access(u"private:"_s, u"anyone"_s).value.allowed);
}

void tst_MessageStore::openErrors()
{
    QTemporaryDir dir;
    QString error;

    StorageConfig config;
    config.dataDir.clear();
    QVERIFY(!openMessageStore(config, &error));
    QVERIFY2(error.contains(u"data directory"_s), qPrintable(error));

    // A file where the directory should be.
    const QString file = dir.filePath(u"not-a-dir"_s);
    {
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("x");
    }
    config.dataDir = file;
    error.clear();
    QVERIFY(!openMessageStore(config, &error));
    QVERIFY2(error.contains(u"not a directory"_s), qPrintable(error));
    config.dataDir = file + u"/sub"_s;
    error.clear();
    QVERIFY(!openMessageStore(config, &error));
    QVERIFY(!error.isEmpty());

    // A corrupt database file.
    const QString corrupt = dir.filePath(u"corrupt"_s);
    QVERIFY(QDir().mkpath(corrupt));
    {
        QFile f(corrupt + u"/confab.db"_s);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(8192, 'Z'));
    }
    config.dataDir = corrupt;
    error.clear();
    QVERIFY(!openMessageStore(config, &error));
    QVERIFY2(error.contains(u"not a database"_s), qPrintable(error));

    // A schema newer than this code.
    const QString newer = dir.filePath(u"newer"_s);
    config.dataDir = newer;
    QVERIFY(openMessageStore(config, &error)); // creates it, closes it
    {
        RawConnection raw(newer + u"/confab.db"_s);
        QVERIFY(raw.ok());
        QVERIFY(raw.exec(u"INSERT INTO schema_version (version, applied_at) VALUES (%1, 0)"_s
                             .arg(SqlMessageStore::schemaVersion() + 1)));
    }
    error.clear();
    QVERIFY(!openMessageStore(config, &error));
    QVERIFY2(error.contains(u"newer"_s), qPrintable(error));

    // The data directory is created, parents included.
    config.dataDir = dir.filePath(u"deep/er/data"_s);
    QVERIFY(openMessageStore(config, &error));
    QVERIFY(QFile::exists(config.dataDir + u"/confab.db"_s));
}

void tst_MessageStore::openUnwritableDir()
{
    // A data directory that cannot be used: a regular file stands where it should be (this
    // fails for root too, unlike a directory without write permission).
    QTemporaryDir dir;
    const QString blocked = dir.filePath(u"blocked"_s);
    QFile file(blocked);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.close();
    for (const QString &dataDir : QStringList{blocked, blocked + u"/below"_s}) {
        StorageConfig config;
        config.dataDir = dataDir;
        QString error;
        QVERIFY2(!openMessageStore(config, &error), qPrintable(dataDir));
        QVERIFY2(!error.isEmpty(), qPrintable(dataDir));
    }
}

void tst_MessageStore::schemaIsVersioned()
{
    QTemporaryDir dir;
    {
        auto store = openStore(dir.path());
        QVERIFY(store);
    }
    {
        auto store = openStore(dir.path()); // reopening applies nothing twice
        QVERIFY(store);
        RawConnection raw(dbPath(dir));
        QCOMPARE(raw.scalar(u"SELECT COUNT(*) FROM schema_version"_s).toInt(), SqlMessageStore::schemaVersion());
        QCOMPARE(raw.scalar(u"SELECT MAX(version) FROM schema_version"_s).toInt(), SqlMessageStore::schemaVersion());
        QCOMPARE(raw.scalar(u"PRAGMA journal_mode"_s).toString(), u"wal"_s);
        // The indexes the queries rely on exist.
        for (const QString &index : {u"mentions_by_message"_s})
            QCOMPARE(raw.scalar(u"SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = '%1'"_s.arg(index)).toInt(), 1);
    }
}

void tst_MessageStore::fullSyncModes_data()
{
    QTest::addColumn<bool>("fullSync");
    QTest::newRow("full") << true;
    QTest::newRow("normal") << false;
}

void tst_MessageStore::fullSyncModes()
{
    QFETCH(bool, fullSync);
    QTemporaryDir dir;
    {
        auto store = openStore(dir.path(), fullSync);
        QVERIFY(store);
        Sync s(store.get());
        for (int i = 1; i <= 20; ++i)
            QCOMPARE(s.append(u"room:s"_s, u"c%1"_s.arg(i), u"alice"_s, u"m"_s).value.message.seq, i);
    }
    auto store = openStore(dir.path(), !fullSync);
    QVERIFY(store);
    Sync s(store.get());
    QCOMPARE(seqsOf(s.all(u"room:s"_s)), range(1, 20));
}

void tst_MessageStore::ackedIsVisibleToAnotherConnection()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    RawConnection raw(dbPath(dir));
    QVERIFY(raw.ok());

    QObject context;
    int acked = 0;
    int visibleAtAck = 0;
    constexpr int N = 100;
    for (int i = 1; i <= N; ++i) {
        store->append(&context, AppendRequest{u"room:w"_s, u"c%1"_s.arg(i), user(u"alice"_s), u"m"_s, {}, {}},
                      [&](const StoreResult<AppendResult> &r) {
                          if (!r.ok())
                              return;
                          ++acked;
                          // Acknowledged means committed: another connection already sees it.
                          const qint64 seen = raw.scalar(u"SELECT COUNT(*) FROM messages WHERE topic = 'room:w' AND seq = %1"_s
                                                             .arg(r.value.message.seq)).toLongLong();
                          visibleAtAck += int(seen);
                      });
    }
    QTRY_COMPARE_WITH_TIMEOUT(acked, N, WaitMs);
    QCOMPARE(visibleAtAck, N);
    QCOMPARE(raw.scalar(u"SELECT last_seq FROM channels WHERE topic = 'room:w'"_s).toInt(), N);
}

void tst_MessageStore::ackedSurvivesKilledProcess()
{
    QTemporaryDir dir;
    constexpr int Acks = 300;
    QProcess child;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(u"CONFAB_STORE_CRASH_CHILD"_s, dir.path());
    env.insert(u"CONFAB_STORE_CRASH_ACKS"_s, QString::number(Acks));
    child.setProcessEnvironment(env);
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(), {});
    QVERIFY(child.waitForStarted());

    QByteArray out;
    QVERIFY(QTest::qWaitFor([&] {
        child.waitForReadyRead(50);
        out += child.readAllStandardOutput();
        return out.contains("all\n") || child.state() == QProcess::NotRunning;
    }, 60'000));
    QVERIFY2(out.contains("all\n"), out.constData());
    // No shutdown of any kind: the process is gone mid-write, WAL and all.
    child.kill();
    QVERIFY(child.waitForFinished());

    QHash<qint64, QString> acked;
    for (const QByteArray &line : out.split('\n')) {
        const QList<QByteArray> parts = line.split(' ');
        if (parts.size() == 3 && parts.at(0) == "acked")
            acked.insert(parts.at(1).toLongLong(), QString::fromLatin1(parts.at(2)));
    }
    QCOMPARE(acked.size(), Acks);

    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    const QList<StoredMessage> all = s.all(u"room:crash"_s);
    QVERIFY(all.size() >= Acks);
    // Whatever the kill interrupted is either all there or not there: never a gap.
    QCOMPARE(seqsOf(all), range(1, all.size()));
    for (const auto &m : all) {
        if (acked.contains(m.seq))
            QCOMPARE(m.id, acked.value(m.seq));
    }
    for (auto it = acked.cbegin(); it != acked.cend(); ++it)
        QVERIFY(it.key() <= all.size());
    qInfo("crash: %d acknowledged, %lld stored after SIGKILL", Acks, qlonglong(all.size()));
}

void tst_MessageStore::failedCommitFailsWholeBatch()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    QVERIFY(s.append(u"room:a"_s, u"c0"_s, u"alice"_s, u"before"_s).ok());
    QCOMPARE(s.readState(u"room:a"_s, u"bob"_s).value.readSeq, 1);
    QVERIFY(s.append(u"room:a"_s, u"c0b"_s, u"alice"_s, u"before too"_s).ok());

    // Make the commit itself fail: a deferred foreign key is checked only at COMMIT, and a
    // trigger breaks it whenever a message says "poison".
    RawConnection raw(dbPath(dir));
    QVERIFY(raw.ok());
    QVERIFY(raw.exec(u"CREATE TABLE poison (ref TEXT REFERENCES channels (topic) DEFERRABLE INITIALLY DEFERRED)"_s));
    QVERIFY(raw.exec(u"CREATE TRIGGER poison_messages AFTER INSERT ON messages WHEN NEW.body = 'poison'"
                     " BEGIN INSERT INTO poison VALUES ('no such channel'); END"_s));

    // Hold the write lock so that the requests below queue up and become one batch.
    QVERIFY(raw.exec(u"BEGIN IMMEDIATE"_s));
    QObject context;
    QList<StoreError> errors(5, StoreError::None);
    int answers = 0;
    auto record = [&](int i) {
        return [&, i](const auto &r) {
            errors[i] = r.error;
            ++answers;
        };
    };
    store->access(&context, u"room:a"_s, u"bob"_s, record(0));
    QTRY_COMPARE(store->health().value(u"queued"_s).toInt(), 0); // the worker waits for the lock
    store->append(&context, AppendRequest{u"room:a"_s, u"c1"_s, user(u"alice"_s), u"innocent"_s, {}, {}}, record(1));
    store->append(&context, AppendRequest{u"room:b"_s, u"c2"_s, user(u"alice"_s), u"poison"_s, {}, {}}, record(2));
    store->createPrivate(&context, u"private:x"_s, u"alice"_s, {}, record(3));
    store->markRead(&context, u"room:a"_s, u"bob"_s, 2, record(4));
    QCOMPARE(store->health().value(u"queued"_s).toInt(), 4);
    QVERIFY(raw.exec(u"COMMIT"_s));

    QTRY_COMPARE_WITH_TIMEOUT(answers, 5, WaitMs);
    QCOMPARE(errors.at(0), StoreError::None);
    for (int i = 1; i < 5; ++i)
        QCOMPARE(errors.at(i), StoreError::Unavailable);

    // Nothing of the batch is visible.
    QCOMPARE(seqsOf(s.history(u"room:a"_s).value.messages), (QList<qint64>{1, 2}));
    QCOMPARE(s.history(u"room:a"_s).value.lastSeq, 2);
    QCOMPARE(s.history(u"room:b"_s).value.lastSeq, 0);
    QVERIFY(!s.access(u"private:x"_s, u"alice"_s).value.exists);
    QCOMPARE(s.readState(u"room:a"_s, u"bob"_s).value.readSeq, 1);
    QCOMPARE(raw.scalar(u"SELECT COUNT(*) FROM poison"_s).toInt(), 0);

    // The store carries on, and a retry with the same client id is not a duplicate.
    QVERIFY(raw.exec(u"DROP TRIGGER poison_messages"_s));
    const auto retry = s.append(u"room:a"_s, u"c1"_s, u"alice"_s, u"innocent"_s);
    QVERIFY(retry.ok());
    QVERIFY(!retry.value.duplicate);
    QCOMPARE(retry.value.message.seq, 3);
}

void tst_MessageStore::failedRequestLeavesBatchAndNoGap()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    Sync s(store.get());
    QVERIFY(s.append(u"room:a"_s, u"c0"_s, u"alice"_s, u"first"_s).ok());

    // A statement that fails outright (not at commit) fails only its own request.
    RawConnection raw(dbPath(dir));
    QVERIFY(raw.exec(u"CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.body = 'bad'"
                     " BEGIN SELECT RAISE(ABORT, 'refused by test'); END"_s));
    QVERIFY(raw.exec(u"BEGIN IMMEDIATE"_s));
    QObject context;
    QList<StoreResult<AppendResult>> results(4);
    int answers = 0;
    store->access(&context, u"room:a"_s, u"x"_s, [&](const auto &) { ++answers; });
    QTRY_COMPARE(store->health().value(u"queued"_s).toInt(), 0);
    const QStringList bodies{u"ok1"_s, u"bad"_s, u"ok2"_s};
    for (int i = 0; i < bodies.size(); ++i) {
        store->append(&context, AppendRequest{u"room:a"_s, u"c%1"_s.arg(i + 1), user(u"alice"_s), bodies.at(i), {}, {}},
                      [&, i](const StoreResult<AppendResult> &r) {
                          results[i] = r;
                          ++answers;
                      });
    }
    QCOMPARE(store->health().value(u"queued"_s).toInt(), 3);
    QVERIFY(raw.exec(u"COMMIT"_s));
    QTRY_COMPARE_WITH_TIMEOUT(answers, 4, WaitMs);

    QVERIFY(results.at(0).ok());
    QCOMPARE(results.at(1).error, StoreError::Unavailable);
    QVERIFY2(results.at(1).message.contains(u"refused by test"_s), qPrintable(results.at(1).message));
    QVERIFY(results.at(2).ok());
    // The failed request's seq was rolled back with it: no gap.
    QCOMPARE(results.at(0).value.message.seq, 2);
    QCOMPARE(results.at(2).value.message.seq, 3);
    QCOMPARE(seqsOf(s.all(u"room:a"_s)), range(1, 3));
}

void tst_MessageStore::answersInOrderOnContextThread()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);

    QObject context;
    QStringList order;
    QString id;
    store->append(&context, AppendRequest{u"room:o"_s, u"c1"_s, user(u"alice"_s), u"v1"_s, {}, {}},
                  [&](const StoreResult<AppendResult> &r) {
                      QCOMPARE(QThread::currentThread(), context.thread());
                      order.append(u"append"_s);
                      id = r.value.message.id;
                  });
    // Issued before the append was answered, yet it sees it: one thread, one order.
    store->history(&context, HistoryRequest{u"room:o"_s, {}, {}, 50}, [&](const StoreResult<HistoryPage> &r) {
        order.append(u"history:%1"_s.arg(r.value.messages.size()));
    });
    store->react(&context, u"room:o"_s, u"unknown"_s, u"bob"_s, u"👍"_s, true,
                 [&](const StoreResult<StoredMessage> &r) {
                     order.append(r.error == StoreError::NotFound ? u"react:notfound"_s : u"react:?"_s);
                 });
    store->readState(&context, u"room:o"_s, u"bob"_s, [&](const StoreResult<ReadState> &r) {
        order.append(u"read:%1"_s.arg(r.value.readSeq));
    });
    QTRY_COMPARE(order.size(), 4);
    QCOMPARE(order, (QStringList{u"append"_s, u"history:1"_s, u"react:notfound"_s, u"read:1"_s}));

    // A null context and an empty callback are allowed: the work is still done.
    store->append(nullptr, AppendRequest{u"room:o"_s, u"c2"_s, user(u"alice"_s), u"v2"_s, {}, {}}, {});
    store->append(&context, AppendRequest{u"room:o"_s, u"c3"_s, user(u"alice"_s), u"v3"_s, {}, {}}, {});
    store->flush();
    Sync s(store.get());
    QCOMPARE(s.history(u"room:o"_s).value.lastSeq, 3);
}

void tst_MessageStore::destroyedContextGetsNoAnswer()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    int called = 0;

    // Destroyed before the store answers (most likely still queued).
    for (int i = 0; i < 50; ++i) {
        auto *context = new QObject;
        store->append(context, AppendRequest{u"room:d"_s, u"a%1"_s.arg(i), user(u"alice"_s), u"m"_s, {}, {}},
                      [&called, context](const StoreResult<AppendResult> &) { ++called; Q_UNUSED(context); });
        delete context;
    }
    // Destroyed after the answer was posted but before it ran.
    auto *late = new QObject;
    store->append(late, AppendRequest{u"room:d"_s, u"late"_s, user(u"alice"_s), u"m"_s, {}, {}},
                  [&called](const StoreResult<AppendResult> &) { ++called; });
    store->flush();
    delete late;
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    QCOMPARE(called, 0);

    // The work itself was done.
    Sync s(store.get());
    QCOMPARE(s.history(u"room:d"_s).value.lastSeq, 51);
}

void tst_MessageStore::flushAndHealth()
{
    QTemporaryDir dir;
    auto store = openStore(dir.path());
    QVERIFY(store);
    QJsonObject health = store->health();
    QCOMPARE(health.value(u"kind"_s).toString(), u"sqlite"_s);
    QCOMPARE(health.value(u"path"_s).toString(), QDir(dir.path()).absoluteFilePath(u"confab.db"_s));
    QVERIFY(health.value(u"lastCommitMs"_s).isDouble());
    QCOMPARE(health.value(u"pending"_s).toInt(), 0);

    for (int i = 0; i < 300; ++i)
        store->append(nullptr, AppendRequest{u"room:f"_s, u"c%1"_s.arg(i), user(u"alice"_s), u"m"_s, {}, {}}, {});
    const int pendingNow = store->health().value(u"pending"_s).toInt();
    QVERIFY(pendingNow >= 0 && pendingNow <= 300);
    store->flush();
    health = store->health();
    QCOMPARE(health.value(u"pending"_s).toInt(), 0);
    QCOMPARE(health.value(u"queued"_s).toInt(), 0);
    QVERIFY(health.value(u"lastCommitMs"_s).toDouble() > 0);

    // flush() means committed: another connection sees all of it at once.
    RawConnection raw(dbPath(dir));
    QCOMPARE(raw.scalar(u"SELECT COUNT(*) FROM messages WHERE topic = 'room:f'"_s).toInt(), 300);
    store->flush(); // nothing issued: returns at once
}

void tst_MessageStore::batchSizesAndSyncModes_data()
{
    QTest::addColumn<int>("maxBatch");
    QTest::addColumn<bool>("fullSync");
    QTest::newRow("one transaction per request, full sync") << 1 << true;
    QTest::newRow("group commit, full sync") << 1000 << true;
    QTest::newRow("one transaction per request, normal sync") << 1 << false;
    QTest::newRow("group commit, normal sync") << 1000 << false;
}

void tst_MessageStore::batchSizesAndSyncModes()
{
    // With group commit off or on, in either sync mode, concurrent requesters that each keep one
    // append in flight (as chatting sessions do) all get answered, with no failure and no gap in
    // the seqs. How fast each combination is, is confab-storebench's question (bench/).
    QFETCH(int, maxBatch);
    QFETCH(bool, fullSync);
    constexpr int Requesters = 20;
    constexpr int Total = 100;
    QTemporaryDir dir;
    QString error;
    auto store = SqlMessageStore::open(dbPath(dir), fullSync, &error);
    QVERIFY2(store, qPrintable(error));
    store->setMaxBatchSize(maxBatch);

    std::vector<std::unique_ptr<QObject>> requesters;
    int issued = 0;
    int failed = 0;
    QList<qint64> seqs;
    std::function<void(QObject *)> next = [&](QObject *requester) {
        if (issued >= Total)
            return;
        const int n = ++issued;
        store->append(requester,
                      AppendRequest{u"room:batch"_s, u"c%1"_s.arg(n), user(u"u%1"_s.arg(n % Requesters)),
                                    u"message %1"_s.arg(n), {}, {}},
                      [&, requester](const StoreResult<AppendResult> &r) {
                          if (r.ok())
                              seqs.append(r.value.message.seq);
                          else
                              ++failed;
                          next(requester);
                      });
    };
    for (int i = 0; i < Requesters; ++i) {
        requesters.push_back(std::make_unique<QObject>());
        next(requesters.back().get());
    }
    QTRY_COMPARE_WITH_TIMEOUT(seqs.size() + failed, qsizetype(Total), WaitMs);
    QCOMPARE(failed, 0);
    std::sort(seqs.begin(), seqs.end());
    QCOMPARE(seqs, range(1, Total));
    Sync s(store.get());
    QCOMPARE(seqsOf(s.all(u"room:batch"_s)), range(1, Total));
}

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    if (qEnvironmentVariableIsSet("CONFAB_STORE_CRASH_CHILD"))
        return crashChild();
    tst_MessageStore test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_messagestore.moc"
