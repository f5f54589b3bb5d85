#pragma once

#include "auth/identity.h"

#include <QtCore/QDateTime>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QMap>
#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <functional>
#include <memory>
#include <optional>

namespace Confab::Server {

struct StorageConfig;

//! \brief A chat message as stored (docs/protocol.md "Messages").
struct StoredMessage
{
    QString id;       //!< UUID, assigned by the store
    qint64 seq = 0;   //!< per channel, from 1, no gaps
    QDateTime ts;     //!< UTC, millisecond precision
    QString clientId; //!< the author's idempotency key
    ChatUser author;
    QString body;          //!< empty once deleted
    QStringList mentions;  //!< user ids mentioned in the body
    QJsonObject meta;
    std::optional<QDateTime> editedAt;
    std::optional<QDateTime> deletedAt;
    QMap<QString, QStringList> reactions; //!< emoji → user ids, in the order they reacted

    //! \brief The wire form: `{id, seq, ts, client_id, author{id,name}, body, mentions, meta?,
    //! edited_at?, deleted?, deleted_at?, reactions}`.
    [[nodiscard]] QJsonObject toJson() const;
};

//! \brief Why a store operation did not happen. Nothing is changed when it fails.
enum class StoreError {
    None,
    NotFound,       //!< unknown message id, or private channel that does not exist
    Forbidden,      //!< not the author, or not a member
    MessageDeleted, //!< editing or reacting to a deleted message
    AlreadyExists,  //!< creating a channel that exists
    Invalid,        //!< e.g. a read position beyond the channel's end
    Unavailable,    //!< the database failed (disk full, locked, gone); retry later
};

//! \brief A result, or an error with a message for people.
template<typename T>
struct StoreResult
{
    T value{};
    StoreError error = StoreError::None;
    QString message;
    [[nodiscard]] bool ok() const { return error == StoreError::None; }
};

//! \brief What `message:send` asks to store.
struct AppendRequest
{
    QString topic;
    QString clientId;
    ChatUser author;
    QString body;
    QStringList mentions;
    QJsonObject meta;
};

struct AppendResult
{
    StoredMessage message;
    bool duplicate = false; //!< the client id was seen before: this is the original message
};

struct HistoryRequest
{
    QString topic;
    std::optional<qint64> before; //!< newest `limit` messages with seq < before
    std::optional<qint64> after;  //!< oldest `limit` messages with seq > after (wins over before)
    int limit = 50;
};

struct HistoryPage
{
    QList<StoredMessage> messages; //!< ascending seq
    bool hasMore = false;          //!< more exist beyond this page in the direction asked
    qint64 lastSeq = 0;            //!< the channel's last seq now
};

//! \brief A user's position in a channel (`read` and the chat join reply).
struct ReadState
{
    qint64 lastSeq = 0;
    qint64 readSeq = 0;
    qint64 unread = 0;   //!< others' messages after readSeq, not deleted
    qint64 mentions = 0; //!< of those, the ones mentioning the user
};

//! \brief Channel kinds (docs/protocol.md "Channel kinds and access").
struct ChannelAccess
{
    QString type;       //!< "public", "private" or "dm"
    bool exists = true; //!< private channels exist once created
    bool allowed = true;
    QString owner;
    QStringList members; //!< private: its members; dm: the two users; public: empty
};

//! \brief Durable chat storage: messages, reactions, read positions, private channels.
//!
//! Every operation is asynchronous: it runs on the store's own thread and \a done is called on
//! \a context's thread afterwards (never if \a context is destroyed first). An operation that
//! changes data has committed when \a done sees ok(), so acknowledging then is safe. Operations
//! issued from one thread are executed in the order they were issued.
class MessageStore
{
public:
    template<typename T>
    using Done = std::function<void(const StoreResult<T> &)>;

    virtual ~MessageStore() = default;

    //! \brief Assigns id, seq and ts and stores; or, for a (topic, author, clientId) seen
    //! before, returns that message with duplicate set and changes nothing.
    virtual void append(const QObject *context, const AppendRequest &request, Done<AppendResult> done) = 0;
    //! \brief Author only; sets editedAt and the new mentions.
    virtual void edit(const QObject *context, const QString &topic, const QString &messageId,
                      const QString &userId, const QString &body, const QStringList &mentions,
                      Done<StoredMessage> done) = 0;
    //! \brief Author only; clears the body, sets deletedAt.
    virtual void remove(const QObject *context, const QString &topic, const QString &messageId,
                        const QString &userId, Done<StoredMessage> done) = 0;
    virtual void history(const QObject *context, const HistoryRequest &request, Done<HistoryPage> done) = 0;
    //! \brief Adds or removes one reaction; the result is the message with all its reactions.
    virtual void react(const QObject *context, const QString &topic, const QString &messageId,
                       const QString &userId, const QString &emoji, bool add, Done<StoredMessage> done) = 0;
    //! \brief Moves the read position forward (never back); Invalid beyond the last seq.
    virtual void markRead(const QObject *context, const QString &topic, const QString &userId,
                          qint64 seq, Done<ReadState> done) = 0;
    //! \brief The user's position; the first call for a (topic, user) starts it at the end.
    virtual void readState(const QObject *context, const QString &topic, const QString &userId,
                           Done<ReadState> done) = 0;
    //! \brief Every channel the user has a read position in.
    virtual void unreadSummary(const QObject *context, const QString &userId,
                               Done<QMap<QString, ReadState>> done) = 0;
    //! \brief Every user's read position in \a topic (for "seen by").
    virtual void readPositions(const QObject *context, const QString &topic,
                               Done<QMap<QString, qint64>> done) = 0;
    //! \brief Who may use \a topic, decided for \a userId (see ChannelAccess).
    virtual void access(const QObject *context, const QString &topic, const QString &userId,
                        Done<ChannelAccess> done) = 0;
    virtual void createPrivate(const QObject *context, const QString &topic, const QString &owner,
                               const QStringList &members, Done<ChannelAccess> done) = 0;
    //! \brief \a byUser must be a member.
    virtual void invite(const QObject *context, const QString &topic, const QString &byUser,
                        const QString &userId, Done<ChannelAccess> done) = 0;

    //! \brief Blocks until everything issued so far is committed (shutdown, tests).
    virtual void flush() = 0;
    //! \brief For /health: the store's kind ("sqlite"), where it is, and the last round-trip.
    [[nodiscard]] virtual QJsonObject health() const = 0;
};

//! \brief The channel kind a topic's name gives ("public", "private", "dm"); for "dm" with the
//! two users, and whether the name is a valid DM name (`dm:<a>:<b>` with a < b).
struct TopicKind
{
    QString type;
    QStringList dmUsers;
    bool valid = true;
};
[[nodiscard]] TopicKind topicKind(const QString &topic);

//! \brief Extracts `@id` mentions from a message body (ids as in docs/protocol.md "Identity").
[[nodiscard]] QStringList parseMentions(const QString &body);

//! \brief Opens the configured store (SQLite in the data directory). Null with \a error set when
//! it cannot be opened or migrated.
[[nodiscard]] std::unique_ptr<MessageStore> openMessageStore(const StorageConfig &config, QString *error);

} // namespace Confab::Server
