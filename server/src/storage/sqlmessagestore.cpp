#include "storage/sqlmessagestore.h"

#include "ops/logging.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QLoggingCategory>
#include <QtCore/QMutex>
#include <QtCore/QThread>
#include <QtCore/QUuid>
#include <QtCore/QWaitCondition>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <unordered_map>
#include <vector>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

Q_LOGGING_CATEGORY(lcStore, "confab.server.store")

// One transaction's requests are answered only after its commit, so a bigger batch makes every
// request in it wait longer; 1000 small statements commit in milliseconds and amortise the fsync.
constexpr int DefaultMaxBatch = 1000;
// Another process (sqlite3 shell, backup, a second server by mistake) may hold the write lock
// briefly; waiting this long beats failing a whole batch with Unavailable.
constexpr int BusyTimeoutMs = 5000;
// docs/protocol.md "history": limit 1..100.
constexpr int MaxHistoryLimit = 100;

// Schema steps, one list per version, applied in order in one transaction on open. A released
// step is never edited: change the schema by appending a step. Kept in SQLite's dialect; a
// PostgreSQL store gets its own list (there, reactions.id is an identity column).
//
// Times are integer milliseconds since the epoch, UTC. Read positions and mentions are keyed
// user first, so one index serves both "this user in this channel" and "all of this user's
// channels" (unread summary). reactions.id orders a message's reactions as they were added.
const std::vector<std::vector<const char *>> &migrations()
{
    static const std::vector<std::vector<const char *>> steps{
        {
            "CREATE TABLE channels ("
            " topic TEXT PRIMARY KEY,"
            " type TEXT NOT NULL CHECK (type IN ('public', 'private', 'dm')),"
            " owner TEXT,"
            " last_seq INTEGER NOT NULL DEFAULT 0,"
            " created_at INTEGER NOT NULL)",
            "CREATE TABLE messages ("
            " topic TEXT NOT NULL REFERENCES channels (topic),"
            " seq INTEGER NOT NULL,"
            " id TEXT NOT NULL UNIQUE,"
            " client_id TEXT," // NULL: not idempotent (NULLs never collide in UNIQUE)
            " author_id TEXT NOT NULL,"
            " author_name TEXT NOT NULL,"
            " body TEXT NOT NULL,"
            " mentions TEXT NOT NULL DEFAULT '[]',"
            " meta TEXT,"
            " ts INTEGER NOT NULL,"
            " edited_at INTEGER,"
            " deleted_at INTEGER,"
            " PRIMARY KEY (topic, seq),"
            " UNIQUE (topic, author_id, client_id))",
            "CREATE TABLE reactions ("
            " id INTEGER PRIMARY KEY,"
            " message_id TEXT NOT NULL REFERENCES messages (id),"
            " emoji TEXT NOT NULL,"
            " user_id TEXT NOT NULL,"
            " created_at INTEGER NOT NULL,"
            " UNIQUE (message_id, emoji, user_id))",
            "CREATE TABLE read_positions ("
            " user_id TEXT NOT NULL,"
            " topic TEXT NOT NULL REFERENCES channels (topic),"
            " read_seq INTEGER NOT NULL,"
            " PRIMARY KEY (user_id, topic)) WITHOUT ROWID",
            "CREATE TABLE members ("
            " topic TEXT NOT NULL REFERENCES channels (topic),"
            " user_id TEXT NOT NULL,"
            " added_at INTEGER NOT NULL,"
            " PRIMARY KEY (topic, user_id)) WITHOUT ROWID",
            "CREATE TABLE mentions ("
            " user_id TEXT NOT NULL,"
            " topic TEXT NOT NULL,"
            " seq INTEGER NOT NULL,"
            " PRIMARY KEY (user_id, topic, seq),"
            " FOREIGN KEY (topic, seq) REFERENCES messages (topic, seq)) WITHOUT ROWID",
            // edit and delete replace a message's mention rows
            "CREATE INDEX mentions_by_message ON mentions (topic, seq)",
        },
        {
            // Version 2: a channel's read positions, for "seen by" on a chat join.
            "CREATE INDEX read_positions_by_topic ON read_positions (topic, read_seq)",
        },
    };
    return steps;
}

// The columns rowToMessage() reads, in its order.
#define CONFAB_MESSAGE_COLUMNS \
    "id, seq, ts, client_id, author_id, author_name, body, mentions, meta, edited_at, deleted_at"

//! A statement failed: the request (or the batch) becomes StoreError::Unavailable.
struct SqlFailure
{
    QString message;
};

template<typename T>
StoreResult<T> failure(StoreError error, const QString &message)
{
    StoreResult<T> result;
    result.error = error;
    result.message = message;
    return result;
}

template<typename T>
StoreResult<T> success(T value)
{
    StoreResult<T> result;
    result.value = std::move(value);
    return result;
}

QDateTime fromMs(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC);
}

QString jsonText(const QStringList &list)
{
    return QString::fromUtf8(QJsonDocument(QJsonArray::fromStringList(list)).toJson(QJsonDocument::Compact));
}

QVariant jsonText(const QJsonObject &object)
{
    if (object.isEmpty())
        return {};
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

QStringList uniqueIds(const QStringList &ids)
{
    QStringList unique;
    for (const QString &id : ids) {
        if (!id.isEmpty() && !unique.contains(id))
            unique.append(id);
    }
    return unique;
}

// docs/protocol.md "Identity": 1–64 of A-Z a-z 0-9 _ . - (as in messagestore.cpp)
bool isIdentity(const QString &id)
{
    if (id.isEmpty() || id.size() > 64)
        return false;
    return std::all_of(id.cbegin(), id.cend(), [](QChar c) {
        const char16_t u = c.unicode();
        return (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9')
            || u == u'_' || u == u'.' || u == u'-';
    });
}

//! The worker thread's connection: prepared statements are cached for the connection's life.
class Connection
{
public:
    explicit Connection(QString name) : m_name(std::move(name)) {}
    ~Connection()
    {
        m_statements.clear();
        if (m_db.isValid()) {
            m_db.close();
            m_db = QSqlDatabase();
            QSqlDatabase::removeDatabase(m_name);
        }
    }
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    [[nodiscard]] bool isOpen() const { return m_db.isOpen(); }

    bool open(const QString &path, bool fullSync, QString *error)
    {
        if (!QSqlDatabase::isDriverAvailable(u"QSQLITE"_s)) {
            *error = u"the Qt SQLite driver (QSQLITE) is not installed (Debian: libqt6sql6-sqlite)"_s;
            return false;
        }
        m_db = QSqlDatabase::addDatabase(u"QSQLITE"_s, m_name);
        m_db.setDatabaseName(path);
        if (!m_db.open()) {
            *error = m_db.lastError().text();
            return false;
        }
        try {
            // busy_timeout first: the other pragmas may already need a lock.
            runOnce(u"PRAGMA busy_timeout = %1"_s.arg(BusyTimeoutMs));
            QSqlQuery &mode = run("PRAGMA journal_mode = WAL");
            const QString journal = mode.next() ? mode.value(0).toString() : QString();
            mode.finish();
            if (journal.compare("wal"_L1, Qt::CaseInsensitive) != 0) {
                // Durability still holds (commit before ack); only readers block the writer.
                logEvent(lcStore(), QtWarningMsg, "store.no_wal",
                         {{u"path"_s, path}, {u"journal_mode"_s, journal}});
            }
            run(fullSync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
            run("PRAGMA foreign_keys = ON");
            return migrate(error);
        } catch (const SqlFailure &failed) {
            *error = failed.message;
            return false;
        }
    }

    //! Prepares (once) and executes \a sql with positional arguments; throws SqlFailure.
    QSqlQuery &run(const char *sql, std::initializer_list<QVariant> args = {})
    {
        auto it = m_statements.find(sql);
        if (it == m_statements.end()) {
            QSqlQuery query(m_db);
            query.setForwardOnly(true);
            if (!query.prepare(QString::fromLatin1(sql)))
                throw SqlFailure{query.lastError().text()};
            it = m_statements.emplace(sql, std::move(query)).first;
        }
        QSqlQuery &query = it->second;
        int i = 0;
        for (const QVariant &arg : args)
            query.bindValue(i++, arg);
        if (!query.exec())
            throw SqlFailure{query.lastError().text()};
        return query;
    }

    //! Like run() for statements whose failure the caller handles (transaction control).
    bool tryRun(const char *sql, QString *error)
    {
        try {
            run(sql).finish();
            return true;
        } catch (const SqlFailure &failed) {
            *error = failed.message;
            return false;
        }
    }

    //! Executes \a sql without caching it (pragmas with arguments, migration steps).
    void runOnce(const QString &sql)
    {
        QSqlQuery query(m_db);
        if (!query.exec(sql))
            throw SqlFailure{query.lastError().text()};
    }

    //! Resets every statement: SQLite refuses COMMIT and ROLLBACK TO while one is mid-result.
    void finishAll()
    {
        for (auto &[sql, query] : m_statements)
            query.finish();
    }

    qint64 scalar(const char *sql, std::initializer_list<QVariant> args, qint64 fallback = 0)
    {
        QSqlQuery &query = run(sql, args);
        const qint64 value = query.next() ? query.value(0).toLongLong() : fallback;
        query.finish();
        return value;
    }

private:
    bool migrate(QString *error)
    {
        const auto &steps = migrations();
        const qint64 known = qint64(steps.size());
        // IMMEDIATE: two processes opening one file at once must not both apply a step.
        if (!tryRun("BEGIN IMMEDIATE", error))
            return false;
        try {
            run("CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
            const qint64 current = scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version", {});
            if (current > known) {
                *error = u"database schema version %1 is newer than this server knows (%2); "
                         "upgrade the server"_s.arg(current).arg(known);
                QString ignored;
                tryRun("ROLLBACK", &ignored);
                return false;
            }
            for (qint64 version = current + 1; version <= known; ++version) {
                for (const char *statement : steps.at(size_t(version - 1)))
                    runOnce(QString::fromLatin1(statement));
                run("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    {version, QDateTime::currentMSecsSinceEpoch()});
            }
            finishAll();
            if (!tryRun("COMMIT", error)) {
                QString ignored;
                tryRun("ROLLBACK", &ignored);
                return false;
            }
            if (current < known) {
                logEvent(lcStore(), QtInfoMsg, "store.migrated",
                         {{u"from"_s, current}, {u"to"_s, known}});
            }
            return true;
        } catch (const SqlFailure &failed) {
            *error = failed.message;
            finishAll();
            QString ignored;
            tryRun("ROLLBACK", &ignored);
            return false;
        }
    }

    QString m_name;
    QSqlDatabase m_db;
    // Keyed by the literal's address: every call site passes a string literal.
    std::unordered_map<const char *, QSqlQuery> m_statements;
};

//! The operations, run on the worker thread inside the batch transaction. Each checks before it
//! writes where it can; the batch's savepoint undoes anything else a failed request did.
class Operations
{
public:
    explicit Operations(Connection &db) : m_db(db) {}

    StoreResult<AppendResult> append(const AppendRequest &request)
    {
        const TopicKind kind = topicKind(request.topic);
        if (!kind.valid)
            return failure<AppendResult>(StoreError::Invalid, u"not a valid DM topic"_s);

        if (!request.clientId.isEmpty()) {
            QSqlQuery &q = m_db.run("SELECT " CONFAB_MESSAGE_COLUMNS " FROM messages"
                                    " WHERE topic = ? AND author_id = ? AND client_id = ?",
                                    {request.topic, request.author.id, request.clientId});
            if (q.next()) {
                StoredMessage original = rowToMessage(q);
                q.finish();
                loadReactions(original);
                return success(AppendResult{std::move(original), true});
            }
        }

        const auto seq = nextSeq(request.topic, kind);
        if (!seq)
            return failure<AppendResult>(StoreError::NotFound, u"no such private channel"_s);

        StoredMessage message;
        message.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
        message.seq = *seq;
        message.ts = fromMs(QDateTime::currentMSecsSinceEpoch());
        message.clientId = request.clientId;
        message.author = request.author;
        message.body = request.body;
        message.mentions = uniqueIds(request.mentions);
        message.meta = request.meta;
        m_db.run("INSERT INTO messages (topic, seq, id, client_id, author_id, author_name, body,"
                 " mentions, meta, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 {request.topic, message.seq, message.id,
                  request.clientId.isEmpty() ? QVariant() : QVariant(request.clientId),
                  message.author.id, message.author.name, message.body, jsonText(message.mentions),
                  jsonText(message.meta), message.ts.toMSecsSinceEpoch()});
        insertMentions(request.topic, message.seq, message.mentions);
        return success(AppendResult{std::move(message), false});
    }

    StoreResult<StoredMessage> edit(const QString &topic, const QString &messageId,
                                    const QString &userId, const QString &body,
                                    const QStringList &mentions)
    {
        auto found = authoredMessage(topic, messageId, userId);
        if (!found.ok())
            return found;
        StoredMessage &message = found.value;
        if (message.deletedAt)
            return failure<StoredMessage>(StoreError::MessageDeleted, u"the message was deleted"_s);

        message.body = body;
        message.mentions = uniqueIds(mentions);
        message.editedAt = fromMs(QDateTime::currentMSecsSinceEpoch());
        m_db.run("UPDATE messages SET body = ?, mentions = ?, edited_at = ? WHERE id = ?",
                 {message.body, jsonText(message.mentions), message.editedAt->toMSecsSinceEpoch(),
                  message.id});
        m_db.run("DELETE FROM mentions WHERE topic = ? AND seq = ?", {topic, message.seq});
        insertMentions(topic, message.seq, message.mentions);
        return found;
    }

    StoreResult<StoredMessage> remove(const QString &topic, const QString &messageId,
                                      const QString &userId)
    {
        auto found = authoredMessage(topic, messageId, userId);
        if (!found.ok())
            return found;
        StoredMessage &message = found.value;
        // Deleting again answers like the first time: clients resend unacknowledged requests
        // after a reconnect, and the message is deleted either way.
        if (message.deletedAt)
            return found;

        message.body.clear();
        message.mentions.clear();
        message.deletedAt = fromMs(QDateTime::currentMSecsSinceEpoch());
        // Reactions stay: they are not the author's content, and the tombstone keeps its place.
        m_db.run("UPDATE messages SET body = '', mentions = '[]', deleted_at = ? WHERE id = ?",
                 {message.deletedAt->toMSecsSinceEpoch(), message.id});
        m_db.run("DELETE FROM mentions WHERE topic = ? AND seq = ?", {topic, message.seq});
        return found;
    }

    StoreResult<HistoryPage> history(const HistoryRequest &request)
    {
        const TopicKind kind = topicKind(request.topic);
        if (!kind.valid)
            return failure<HistoryPage>(StoreError::Invalid, u"not a valid DM topic"_s);
        const auto lastSeq = channelLastSeq(request.topic);
        if (!lastSeq && kind.type == "private"_L1)
            return failure<HistoryPage>(StoreError::NotFound, u"no such private channel"_s);

        HistoryPage page;
        page.lastSeq = lastSeq.value_or(0);
        const int limit = std::clamp(request.limit, 1, MaxHistoryLimit);
        // One row more than asked tells whether there are more.
        QSqlQuery *q = nullptr;
        if (request.after) {
            q = &m_db.run("SELECT " CONFAB_MESSAGE_COLUMNS " FROM messages"
                          " WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                          {request.topic, *request.after, limit + 1});
        } else if (request.before) {
            q = &m_db.run("SELECT " CONFAB_MESSAGE_COLUMNS " FROM messages"
                          " WHERE topic = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                          {request.topic, *request.before, limit + 1});
        } else {
            q = &m_db.run("SELECT " CONFAB_MESSAGE_COLUMNS " FROM messages"
                          " WHERE topic = ? ORDER BY seq DESC LIMIT ?",
                          {request.topic, limit + 1});
        }
        while (q->next())
            page.messages.append(rowToMessage(*q));
        q->finish();
        if (page.messages.size() > limit) {
            page.hasMore = true;
            page.messages.removeLast();
        }
        if (!request.after)
            std::reverse(page.messages.begin(), page.messages.end());
        loadReactions(request.topic, page.messages);
        return success(std::move(page));
    }

    StoreResult<StoredMessage> react(const QString &topic, const QString &messageId,
                                     const QString &userId, const QString &emoji, bool add)
    {
        if (emoji.isEmpty() || userId.isEmpty())
            return failure<StoredMessage>(StoreError::Invalid, u"empty emoji or user"_s);
        auto found = findMessage(topic, messageId);
        if (!found.ok())
            return found;
        StoredMessage &message = found.value;
        if (message.deletedAt)
            return failure<StoredMessage>(StoreError::MessageDeleted, u"the message was deleted"_s);
        if (add) {
            m_db.run("INSERT INTO reactions (message_id, emoji, user_id, created_at)"
                     " VALUES (?, ?, ?, ?) ON CONFLICT (message_id, emoji, user_id) DO NOTHING",
                     {message.id, emoji, userId, QDateTime::currentMSecsSinceEpoch()});
        } else {
            m_db.run("DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?",
                     {message.id, emoji, userId});
        }
        loadReactions(message);
        return found;
    }

    StoreResult<ReadState> markRead(const QString &topic, const QString &userId, qint64 seq)
    {
        const auto lastSeq = usableChannel(topic);
        if (!lastSeq.ok())
            return failure<ReadState>(lastSeq.error, lastSeq.message);
        if (seq < 0 || seq > lastSeq.value) {
            return failure<ReadState>(StoreError::Invalid,
                                      u"read position %1 is outside 0..%2"_s.arg(seq).arg(lastSeq.value));
        }
        // Forward only: a device that read less must not move the user's position back.
        m_db.run("INSERT INTO read_positions (user_id, topic, read_seq) VALUES (?, ?, ?)"
                 " ON CONFLICT (user_id, topic) DO UPDATE SET read_seq = excluded.read_seq"
                 " WHERE read_positions.read_seq < excluded.read_seq",
                 {userId, topic, seq});
        return success(readStateOf(topic, userId));
    }

    StoreResult<ReadState> readState(const QString &topic, const QString &userId)
    {
        const auto lastSeq = usableChannel(topic);
        if (!lastSeq.ok())
            return failure<ReadState>(lastSeq.error, lastSeq.message);
        m_db.run("INSERT INTO read_positions (user_id, topic, read_seq) VALUES (?, ?, ?)"
                 " ON CONFLICT (user_id, topic) DO NOTHING",
                 {userId, topic, lastSeq.value});
        return success(readStateOf(topic, userId));
    }

    StoreResult<QMap<QString, ReadState>> unreadSummary(const QString &userId)
    {
        QMap<QString, ReadState> summary;
        QSqlQuery &q = m_db.run(
            "SELECT p.topic, c.last_seq, p.read_seq,"
            " (SELECT COUNT(*) FROM messages m WHERE m.topic = p.topic AND m.seq > p.read_seq"
            "  AND m.author_id <> p.user_id AND m.deleted_at IS NULL),"
            " (SELECT COUNT(*) FROM mentions x JOIN messages m ON m.topic = x.topic AND m.seq = x.seq"
            "  WHERE x.user_id = p.user_id AND x.topic = p.topic AND x.seq > p.read_seq"
            "  AND m.author_id <> p.user_id AND m.deleted_at IS NULL)"
            " FROM read_positions p JOIN channels c ON c.topic = p.topic WHERE p.user_id = ?",
            {userId});
        while (q.next()) {
            summary.insert(q.value(0).toString(),
                           ReadState{q.value(1).toLongLong(), q.value(2).toLongLong(),
                                     q.value(3).toLongLong(), q.value(4).toLongLong()});
        }
        q.finish();
        return success(std::move(summary));
    }

    StoreResult<QMap<QString, qint64>> readPositions(const QString &topic)
    {
        QMap<QString, qint64> positions;
        QSqlQuery &q = m_db.run("SELECT user_id, read_seq FROM read_positions WHERE topic = ?", {topic});
        while (q.next())
            positions.insert(q.value(0).toString(), q.value(1).toLongLong());
        q.finish();
        return success(std::move(positions));
    }

    StoreResult<ChannelAccess> access(const QString &topic, const QString &userId)
    {
        const TopicKind kind = topicKind(topic);
        ChannelAccess access;
        access.type = kind.type;
        if (kind.type == "dm"_L1) {
            access.allowed = kind.valid && kind.dmUsers.contains(userId);
            access.members = kind.dmUsers;
            // Only its two users create the row, so strangers' probing leaves no trace.
            if (access.allowed)
                ensureChannel(topic, kind);
        } else if (kind.type == "private"_L1) {
            privateAccess(topic, userId, &access);
        }
        return success(std::move(access));
    }

    StoreResult<ChannelAccess> createPrivate(const QString &topic, const QString &owner,
                                             const QStringList &members)
    {
        if (topicKind(topic).type != "private"_L1)
            return failure<ChannelAccess>(StoreError::Invalid, u"not a private: topic"_s);
        QStringList all = uniqueIds(QStringList{owner} + members);
        if (!std::all_of(all.cbegin(), all.cend(), isIdentity) || !isIdentity(owner))
            return failure<ChannelAccess>(StoreError::Invalid, u"invalid user id"_s);
        if (channelLastSeq(topic))
            return failure<ChannelAccess>(StoreError::AlreadyExists, u"the channel exists"_s);

        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        m_db.run("INSERT INTO channels (topic, type, owner, last_seq, created_at)"
                 " VALUES (?, 'private', ?, 0, ?)",
                 {topic, owner, now});
        for (const QString &member : std::as_const(all))
            addMember(topic, member, now);
        all.sort();
        return success(ChannelAccess{u"private"_s, true, true, owner, all});
    }

    StoreResult<ChannelAccess> invite(const QString &topic, const QString &byUser,
                                      const QString &userId)
    {
        if (topicKind(topic).type != "private"_L1)
            return failure<ChannelAccess>(StoreError::Invalid, u"only private channels have members"_s);
        ChannelAccess access;
        access.type = u"private"_s;
        privateAccess(topic, byUser, &access);
        if (!access.exists)
            return failure<ChannelAccess>(StoreError::NotFound, u"no such private channel"_s);
        if (!access.allowed)
            return failure<ChannelAccess>(StoreError::Forbidden, u"not a member"_s);
        if (!isIdentity(userId))
            return failure<ChannelAccess>(StoreError::Invalid, u"invalid user id"_s);
        if (!access.members.contains(userId)) {
            addMember(topic, userId, QDateTime::currentMSecsSinceEpoch());
            access.members.append(userId);
            access.members.sort();
        }
        return success(std::move(access));
    }

private:
    static StoredMessage rowToMessage(const QSqlQuery &q)
    {
        StoredMessage m;
        m.id = q.value(0).toString();
        m.seq = q.value(1).toLongLong();
        m.ts = fromMs(q.value(2).toLongLong());
        m.clientId = q.value(3).toString();
        m.author = ChatUser{q.value(4).toString(), q.value(5).toString()};
        m.body = q.value(6).toString();
        const QJsonArray mentions = QJsonDocument::fromJson(q.value(7).toString().toUtf8()).array();
        for (const QJsonValue &id : mentions)
            m.mentions.append(id.toString());
        if (!q.isNull(8))
            m.meta = QJsonDocument::fromJson(q.value(8).toString().toUtf8()).object();
        if (!q.isNull(9))
            m.editedAt = fromMs(q.value(9).toLongLong());
        if (!q.isNull(10))
            m.deletedAt = fromMs(q.value(10).toLongLong());
        return m;
    }

    StoreResult<StoredMessage> findMessage(const QString &topic, const QString &messageId)
    {
        QSqlQuery &q = m_db.run("SELECT " CONFAB_MESSAGE_COLUMNS " FROM messages"
                                " WHERE id = ? AND topic = ?",
                                {messageId, topic});
        if (!q.next()) {
            q.finish();
            return failure<StoredMessage>(StoreError::NotFound, u"no such message"_s);
        }
        StoredMessage m = rowToMessage(q);
        q.finish();
        loadReactions(m);
        return success(std::move(m));
    }

    StoreResult<StoredMessage> authoredMessage(const QString &topic, const QString &messageId,
                                               const QString &userId)
    {
        auto found = findMessage(topic, messageId);
        if (found.ok() && found.value.author.id != userId)
            return failure<StoredMessage>(StoreError::Forbidden, u"not the author"_s);
        return found;
    }

    void loadReactions(StoredMessage &m)
    {
        m.reactions.clear();
        QSqlQuery &q = m_db.run("SELECT emoji, user_id FROM reactions WHERE message_id = ? ORDER BY id",
                                {m.id});
        while (q.next())
            m.reactions[q.value(0).toString()].append(q.value(1).toString());
    }

    // A page's reactions in one query, not one per message.
    void loadReactions(const QString &topic, QList<StoredMessage> &messages)
    {
        if (messages.isEmpty())
            return;
        QHash<QString, StoredMessage *> byId;
        for (StoredMessage &m : messages)
            byId.insert(m.id, &m);
        QSqlQuery &q = m_db.run("SELECT r.message_id, r.emoji, r.user_id"
                                " FROM messages m JOIN reactions r ON r.message_id = m.id"
                                " WHERE m.topic = ? AND m.seq BETWEEN ? AND ? ORDER BY r.id",
                                {topic, messages.constFirst().seq, messages.constLast().seq});
        while (q.next()) {
            if (StoredMessage *m = byId.value(q.value(0).toString()))
                m->reactions[q.value(1).toString()].append(q.value(2).toString());
        }
    }

    std::optional<qint64> channelLastSeq(const QString &topic)
    {
        QSqlQuery &q = m_db.run("SELECT last_seq FROM channels WHERE topic = ?", {topic});
        std::optional<qint64> last;
        if (q.next())
            last = q.value(0).toLongLong();
        q.finish();
        return last;
    }

    // Public and DM channels come into being on first use; private ones only by createPrivate.
    void ensureChannel(const QString &topic, const TopicKind &kind)
    {
        m_db.run("INSERT INTO channels (topic, type, owner, last_seq, created_at)"
                 " VALUES (?, ?, NULL, 0, ?) ON CONFLICT (topic) DO NOTHING",
                 {topic, kind.type, QDateTime::currentMSecsSinceEpoch()});
    }

    // The channel's last seq, creating a public or DM channel's row; NotFound for a private
    // channel never created, Invalid for a malformed DM name.
    StoreResult<qint64> usableChannel(const QString &topic)
    {
        const TopicKind kind = topicKind(topic);
        if (!kind.valid)
            return failure<qint64>(StoreError::Invalid, u"not a valid DM topic"_s);
        if (const auto last = channelLastSeq(topic))
            return success(*last);
        if (kind.type == "private"_L1)
            return failure<qint64>(StoreError::NotFound, u"no such private channel"_s);
        ensureChannel(topic, kind);
        return success(qint64(0));
    }

    std::optional<qint64> nextSeq(const QString &topic, const TopicKind &kind)
    {
        // The row is the counter: on PostgreSQL the UPDATE's row lock keeps seqs unique and
        // gapless across server nodes too, and a rolled-back request gives its seq back.
        for (int attempt = 0; attempt < 2; ++attempt) {
            QSqlQuery &q = m_db.run("UPDATE channels SET last_seq = last_seq + 1 WHERE topic = ?"
                                    " RETURNING last_seq",
                                    {topic});
            std::optional<qint64> seq;
            if (q.next())
                seq = q.value(0).toLongLong();
            q.finish();
            if (seq || kind.type == "private"_L1)
                return seq;
            ensureChannel(topic, kind);
        }
        throw SqlFailure{u"channel row missing after creating it"_s};
    }

    void insertMentions(const QString &topic, qint64 seq, const QStringList &mentions)
    {
        for (const QString &user : mentions) {
            m_db.run("INSERT INTO mentions (user_id, topic, seq) VALUES (?, ?, ?)"
                     " ON CONFLICT DO NOTHING",
                     {user, topic, seq});
        }
    }

    void addMember(const QString &topic, const QString &userId, qint64 now)
    {
        m_db.run("INSERT INTO members (topic, user_id, added_at) VALUES (?, ?, ?)"
                 " ON CONFLICT (topic, user_id) DO NOTHING",
                 {topic, userId, now});
    }

    // Fills exists, allowed, owner and (for members only) the member list.
    void privateAccess(const QString &topic, const QString &userId, ChannelAccess *access)
    {
        QSqlQuery &channel = m_db.run("SELECT owner FROM channels WHERE topic = ? AND type = 'private'",
                                      {topic});
        access->exists = channel.next();
        access->allowed = false;
        if (!access->exists) {
            channel.finish();
            return;
        }
        access->owner = channel.value(0).toString();
        channel.finish();
        QStringList members;
        QSqlQuery &q = m_db.run("SELECT user_id FROM members WHERE topic = ? ORDER BY user_id", {topic});
        while (q.next())
            members.append(q.value(0).toString());
        access->allowed = members.contains(userId);
        // Who is in a private channel is for its members to know.
        if (access->allowed)
            access->members = members;
    }

    ReadState readStateOf(const QString &topic, const QString &userId)
    {
        QSqlQuery &q = m_db.run(
            "SELECT c.last_seq, p.read_seq,"
            " (SELECT COUNT(*) FROM messages m WHERE m.topic = p.topic AND m.seq > p.read_seq"
            "  AND m.author_id <> p.user_id AND m.deleted_at IS NULL),"
            " (SELECT COUNT(*) FROM mentions x JOIN messages m ON m.topic = x.topic AND m.seq = x.seq"
            "  WHERE x.user_id = p.user_id AND x.topic = p.topic AND x.seq > p.read_seq"
            "  AND m.author_id <> p.user_id AND m.deleted_at IS NULL)"
            " FROM read_positions p JOIN channels c ON c.topic = p.topic"
            " WHERE p.user_id = ? AND p.topic = ?",
            {userId, topic});
        ReadState state;
        if (q.next()) {
            state = ReadState{q.value(0).toLongLong(), q.value(1).toLongLong(),
                              q.value(2).toLongLong(), q.value(3).toLongLong()};
        }
        q.finish();
        return state;
    }

    Connection &m_db;
};

//! Carries an answer to its context's thread.
//!
//! Posting to a context that its own thread has just destroyed would be a use-after-free, so a
//! destroyed() connection, made while the context was surely alive, clears the pointer under
//! the mutex that posting holds. Once posted, Qt discards the call if the context dies first.
class Reply
{
public:
    static std::shared_ptr<Reply> to(const QObject *context)
    {
        auto reply = std::make_shared<Reply>();
        if (!context)
            return reply;
        reply->m_context = const_cast<QObject *>(context);
        reply->m_watch = QObject::connect(context, &QObject::destroyed,
                                          [weak = std::weak_ptr<Reply>(reply)] {
                                              if (const auto self = weak.lock()) {
                                                  QMutexLocker lock(&self->m_mutex);
                                                  self->m_context = nullptr;
                                              }
                                          });
        return reply;
    }
    Reply() = default;
    ~Reply()
    {
        if (m_watch)
            QObject::disconnect(m_watch);
    }
    Reply(const Reply &) = delete;
    Reply &operator=(const Reply &) = delete;

    void post(std::function<void()> call)
    {
        QMutexLocker lock(&m_mutex);
        if (m_context)
            QMetaObject::invokeMethod(m_context, std::move(call), Qt::QueuedConnection);
    }

private:
    QMutex m_mutex;
    QObject *m_context = nullptr;
    QMetaObject::Connection m_watch;
};

//! One queued request.
struct Job
{
    //! On the worker, inside the batch's transaction; false: roll this request back.
    std::function<bool(Operations &)> run;
    //! Posts the answer; with \a committed false it becomes Unavailable with \a why.
    std::function<void(bool committed, const QString &why)> answer;
};

std::atomic<quint64> g_connectionCounter{0};

} // namespace

class SqlMessageStore::Private
{
public:
    Private(const QString &path, bool fullSync) : path(path), fullSync(fullSync) {}

    template<typename T, typename Work>
    void submit(const QObject *context, MessageStore::Done<T> done, Work work)
    {
        auto result = std::make_shared<StoreResult<T>>();
        Job job;
        job.run = [result, work = std::move(work)](Operations &ops) {
            try {
                *result = work(ops);
            } catch (const SqlFailure &failed) {
                logEvent(lcStore(), QtWarningMsg, "store.request_failed", {{u"error"_s, failed.message}});
                *result = failure<T>(StoreError::Unavailable, u"storage unavailable: "_s + failed.message);
            }
            return result->ok();
        };
        job.answer = [result, reply = Reply::to(context), done = std::move(done)](
                         bool committed, const QString &why) mutable {
            if (!committed)
                *result = failure<T>(StoreError::Unavailable, u"storage unavailable: "_s + why);
            if (done)
                reply->post([done = std::move(done), answer = std::move(*result)] { done(answer); });
        };
        QMutexLocker lock(&mutex);
        queue.push_back(std::move(job));
        ++issued;
        workAvailable.wakeOne();
    }

    void workerMain();
    void runBatch(Connection &db, std::vector<Job> &batch);

    const QString path;
    const bool fullSync;
    std::unique_ptr<QThread> thread;
    std::atomic<int> maxBatch{DefaultMaxBatch};
    std::atomic<qint64> lastCommitNs{-1};

    mutable QMutex mutex;
    QWaitCondition workAvailable; // queue not empty, or stopping
    QWaitCondition progressed;    // opened, or a batch was answered
    std::deque<Job> queue;
    quint64 issued = 0;   // requests queued so far
    quint64 answered = 0; // requests whose batch has ended and been answered
    bool stopping = false;
    enum class OpenState { Pending, Open, Failed } openState = OpenState::Pending;
    QString openError;
};

void SqlMessageStore::Private::workerMain()
{
    // QtSql's connection names are process-wide, but this counter exists once per library that
    // links the server core (the app's host and a test fixture can both be in one process): the
    // store's address makes the name unique whichever copy counts.
    Connection db(u"confab-store-%1-%2"_s.arg(quintptr(this), 0, 16).arg(++g_connectionCounter));
    QString error;
    const bool opened = db.open(path, fullSync, &error);
    {
        QMutexLocker lock(&mutex);
        openState = opened ? OpenState::Open : OpenState::Failed;
        openError = error;
        progressed.wakeAll();
    }
    if (opened) {
        logEvent(lcStore(), QtInfoMsg, "store.opened",
                 {{u"path"_s, path}, {u"schema"_s, schemaVersion()}, {u"full_sync"_s, fullSync}});
    }

    for (;;) {
        std::vector<Job> batch;
        {
            QMutexLocker lock(&mutex);
            while (queue.empty() && !stopping)
                workAvailable.wait(&mutex);
            if (queue.empty())
                break; // stopping, and everything issued has been answered
            const auto n = std::min(queue.size(), size_t(std::max(1, maxBatch.load())));
            batch.reserve(n);
            std::move(queue.begin(), queue.begin() + qsizetype(n), std::back_inserter(batch));
            queue.erase(queue.begin(), queue.begin() + qsizetype(n));
        }
        runBatch(db, batch);
        {
            QMutexLocker lock(&mutex);
            answered += batch.size();
            progressed.wakeAll();
        }
    }
}

void SqlMessageStore::Private::runBatch(Connection &db, std::vector<Job> &batch)
{
    auto failAll = [&batch](const QString &why) {
        for (Job &job : batch)
            job.answer(false, why);
    };
    if (!db.isOpen())
        return failAll(u"the database is not open"_s);

    QString error;
    // IMMEDIATE takes the write lock now (waiting up to busy_timeout) instead of failing at the
    // first write when another connection got there in between.
    if (!db.tryRun("BEGIN IMMEDIATE", &error))
        return failAll(error);

    auto abandon = [&](const QString &why) {
        logEvent(lcStore(), QtWarningMsg, "store.batch_failed",
                 {{u"error"_s, why}, {u"requests"_s, qint64(batch.size())}});
        db.finishAll();
        QString ignored;
        db.tryRun("ROLLBACK", &ignored);
        failAll(why);
    };

    Operations ops(db);
    for (Job &job : batch) {
        // A request that fails alone (NotFound, a failed statement) must leave nothing behind
        // while the rest of the batch still commits.
        if (!db.tryRun("SAVEPOINT request", &error))
            return abandon(error);
        if (!job.run(ops)) {
            db.finishAll();
            // Some errors (disk full, I/O) make SQLite roll the whole transaction back; then the
            // savepoint is gone too and the batch cannot commit.
            if (!db.tryRun("ROLLBACK TO request", &error))
                return abandon(error);
        }
        if (!db.tryRun("RELEASE request", &error))
            return abandon(error);
    }

    db.finishAll();
    QElapsedTimer timer;
    timer.start();
    const bool committed = db.tryRun("COMMIT", &error);
    lastCommitNs.store(timer.nsecsElapsed());
    if (!committed)
        return abandon(error);
    for (Job &job : batch)
        job.answer(true, {});
}

SqlMessageStore::SqlMessageStore(const QString &path, bool fullSync)
    : d(std::make_unique<Private>(path, fullSync))
{
    d->thread.reset(QThread::create([this] { d->workerMain(); }));
    d->thread->setObjectName(u"confab-store"_s);
    d->thread->start();
}

SqlMessageStore::~SqlMessageStore()
{
    {
        QMutexLocker lock(&d->mutex);
        d->stopping = true;
        d->workAvailable.wakeAll();
    }
    d->thread->wait();
}

std::unique_ptr<SqlMessageStore> SqlMessageStore::open(const QString &path, bool fullSync,
                                                       QString *error)
{
    std::unique_ptr<SqlMessageStore> store(new SqlMessageStore(path, fullSync));
    QMutexLocker lock(&store->d->mutex);
    while (store->d->openState == Private::OpenState::Pending)
        store->d->progressed.wait(&store->d->mutex);
    if (store->d->openState == Private::OpenState::Open)
        return store;
    if (error)
        *error = u"storage: %1: %2"_s.arg(path, store->d->openError);
    lock.unlock();
    return nullptr;
}

int SqlMessageStore::schemaVersion()
{
    return int(migrations().size());
}

void SqlMessageStore::setMaxBatchSize(int requests)
{
    d->maxBatch.store(std::max(1, requests));
}

void SqlMessageStore::append(const QObject *context, const AppendRequest &request,
                             Done<AppendResult> done)
{
    d->submit<AppendResult>(context, std::move(done),
                            [request](Operations &ops) { return ops.append(request); });
}

void SqlMessageStore::edit(const QObject *context, const QString &topic, const QString &messageId,
                           const QString &userId, const QString &body, const QStringList &mentions,
                           Done<StoredMessage> done)
{
    d->submit<StoredMessage>(context, std::move(done),
                             [=](Operations &ops) { return ops.edit(topic, messageId, userId, body, mentions); });
}

void SqlMessageStore::remove(const QObject *context, const QString &topic, const QString &messageId,
                             const QString &userId, Done<StoredMessage> done)
{
    d->submit<StoredMessage>(context, std::move(done),
                             [=](Operations &ops) { return ops.remove(topic, messageId, userId); });
}

void SqlMessageStore::history(const QObject *context, const HistoryRequest &request,
                              Done<HistoryPage> done)
{
    d->submit<HistoryPage>(context, std::move(done),
                           [request](Operations &ops) { return ops.history(request); });
}

void SqlMessageStore::react(const QObject *context, const QString &topic, const QString &messageId,
                            const QString &userId, const QString &emoji, bool add,
                            Done<StoredMessage> done)
{
    d->submit<StoredMessage>(context, std::move(done), [=](Operations &ops) {
        return ops.react(topic, messageId, userId, emoji, add);
    });
}

void SqlMessageStore::markRead(const QObject *context, const QString &topic, const QString &userId,
                               qint64 seq, Done<ReadState> done)
{
    d->submit<ReadState>(context, std::move(done),
                         [=](Operations &ops) { return ops.markRead(topic, userId, seq); });
}

void SqlMessageStore::readState(const QObject *context, const QString &topic, const QString &userId,
                                Done<ReadState> done)
{
    d->submit<ReadState>(context, std::move(done),
                         [=](Operations &ops) { return ops.readState(topic, userId); });
}

void SqlMessageStore::unreadSummary(const QObject *context, const QString &userId,
                                    Done<QMap<QString, ReadState>> done)
{
    d->submit<QMap<QString, ReadState>>(context, std::move(done),
                                        [=](Operations &ops) { return ops.unreadSummary(userId); });
}

void SqlMessageStore::readPositions(const QObject *context, const QString &topic,
                                    Done<QMap<QString, qint64>> done)
{
    d->submit<QMap<QString, qint64>>(context, std::move(done),
                                     [=](Operations &ops) { return ops.readPositions(topic); });
}

void SqlMessageStore::access(const QObject *context, const QString &topic, const QString &userId,
                             Done<ChannelAccess> done)
{
    d->submit<ChannelAccess>(context, std::move(done),
                             [=](Operations &ops) { return ops.access(topic, userId); });
}

void SqlMessageStore::createPrivate(const QObject *context, const QString &topic,
                                    const QString &owner, const QStringList &members,
                                    Done<ChannelAccess> done)
{
    d->submit<ChannelAccess>(context, std::move(done),
                             [=](Operations &ops) { return ops.createPrivate(topic, owner, members); });
}

void SqlMessageStore::invite(const QObject *context, const QString &topic, const QString &byUser,
                             const QString &userId, Done<ChannelAccess> done)
{
    d->submit<ChannelAccess>(context, std::move(done),
                             [=](Operations &ops) { return ops.invite(topic, byUser, userId); });
}

void SqlMessageStore::flush()
{
    QMutexLocker lock(&d->mutex);
    const quint64 target = d->issued;
    while (d->answered < target)
        d->progressed.wait(&d->mutex);
}

QJsonObject SqlMessageStore::health() const
{
    qint64 pending = 0;
    qint64 queued = 0;
    {
        QMutexLocker lock(&d->mutex);
        pending = qint64(d->issued - d->answered);
        queued = qint64(d->queue.size());
    }
    // 0 until the first batch commits. Microsecond resolution: with synchronous=NORMAL a commit
    // takes well under a millisecond.
    const qint64 ns = std::max<qint64>(0, d->lastCommitNs.load());
    const double lastCommit = std::round(double(ns) / 1000.0) / 1000.0;
    return {{u"kind"_s, u"sqlite"_s},
            {u"path"_s, d->path},
            {u"lastCommitMs"_s, lastCommit},
            {u"pending"_s, pending},  // issued, not yet answered
            {u"queued"_s, queued}};   // of those, not yet taken into a transaction
}

#undef CONFAB_MESSAGE_COLUMNS

} // namespace Confab::Server
