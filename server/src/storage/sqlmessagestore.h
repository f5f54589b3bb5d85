#pragma once

#include "storage/messagestore.h"

#include <memory>

namespace Confab::Server {

//! \brief MessageStore on SQLite through QtSql (driver QSQLITE).
//!
//! All database work happens on one dedicated thread with its own connection. Requests are
//! queued to it; the thread takes everything queued (group commit), runs it in one transaction,
//! commits once and only then answers each request on its context's thread. A request that fails
//! on its own (NotFound, Forbidden, …) is rolled back to a savepoint and changes nothing; if the
//! commit fails, every request of the batch is answered StoreError::Unavailable and nothing of
//! the batch is stored.
//!
//! Choices the interface leaves open: removing a message that is already deleted succeeds again
//! with the original deletedAt (clients resend unacknowledged requests); a deleted message keeps
//! its reactions; access() lists a private channel's members only to its members; an append
//! without a client id is never treated as a duplicate.
class SqlMessageStore final : public MessageStore
{
public:
    //! \brief Opens (creating if needed) and migrates the database at \a path, blocking until
    //! done. Null with \a error set when it cannot be opened, is not a database, or has a schema
    //! newer than schemaVersion().
    //! \param fullSync fsync every commit (synchronous=FULL) rather than only at checkpoints.
    [[nodiscard]] static std::unique_ptr<SqlMessageStore> open(const QString &path, bool fullSync,
                                                               QString *error);
    //! \brief Finishes everything queued, closes the database and stops the thread.
    ~SqlMessageStore() override;

    //! \brief The schema version this code creates and understands.
    [[nodiscard]] static int schemaVersion();

    //! \brief At most this many requests share one transaction (default 1000; 1 disables group
    //! commit, for comparison in benchmarks). Takes effect from the next batch.
    void setMaxBatchSize(int requests);

    void append(const QObject *context, const AppendRequest &request, Done<AppendResult> done) override;
    void edit(const QObject *context, const QString &topic, const QString &messageId,
              const QString &userId, const QString &body, const QStringList &mentions,
              Done<StoredMessage> done) override;
    void remove(const QObject *context, const QString &topic, const QString &messageId,
                const QString &userId, Done<StoredMessage> done) override;
    void history(const QObject *context, const HistoryRequest &request, Done<HistoryPage> done) override;
    void react(const QObject *context, const QString &topic, const QString &messageId,
               const QString &userId, const QString &emoji, bool add, Done<StoredMessage> done) override;
    void markRead(const QObject *context, const QString &topic, const QString &userId, qint64 seq,
                  Done<ReadState> done) override;
    void readState(const QObject *context, const QString &topic, const QString &userId,
                   Done<ReadState> done) override;
    void unreadSummary(const QObject *context, const QString &userId,
                       Done<QMap<QString, ReadState>> done) override;
    void readPositions(const QObject *context, const QString &topic,
                       Done<QMap<QString, qint64>> done) override;
    void access(const QObject *context, const QString &topic, const QString &userId,
                Done<ChannelAccess> done) override;
    void createPrivate(const QObject *context, const QString &topic, const QString &owner,
                       const QStringList &members, Done<ChannelAccess> done) override;
    void invite(const QObject *context, const QString &topic, const QString &byUser,
                const QString &userId, Done<ChannelAccess> done) override;

    void flush() override;
    [[nodiscard]] QJsonObject health() const override;

private:
    SqlMessageStore(const QString &path, bool fullSync);

    class Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab::Server
