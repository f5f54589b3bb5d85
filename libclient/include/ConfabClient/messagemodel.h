#pragma once

#include <ConfabClient/confabclient_export.h>

#include <QtCore/QAbstractListModel>
#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>

#include <memory>

namespace Confab {

class Channel;
class Reply;

//! \brief A chat channel's messages: `channel.messages`. Owned by its Channel.
//!
//! Rows are the confirmed messages in `seq` order (the server's order), followed by this
//! client's unconfirmed ones (state Pending or Failed) in the order they were sent. When the
//! server acknowledges a message, its row moves to its `seq` position and becomes Sent.
//! A message that arrives more than once (live, in a catch-up replay, in a history page) is
//! one row: rows are keyed by `seq`, and an own message is matched to its pending row by
//! `client_id`.
//!
//! The update methods (insertMessage(), addPending(), …) are what the owning Channel calls as
//! frames arrive; they are public so that a model can be driven without a server (tests).
class CONFABCLIENT_EXPORT MessageModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(bool hasOlder READ hasOlder NOTIFY hasOlderChanged)
    Q_PROPERTY(qint64 highestSeq READ highestSeq NOTIFY countChanged)
    Q_PROPERTY(qint64 lowestSeq READ lowestSeq NOTIFY countChanged)
public:
    //! \brief Where a message is, for its author's client.
    enum class State {
        Pending, //!< kept in the on-disk queue; sent (again) until the server acknowledges it
        Sent,    //!< the server stored it (it has an id and a seq); every message of others is Sent
        Failed,  //!< the server refused it (errorCode() says why); Channel::retryMessage() or
                 //!< Channel::discardMessage()
    };
    Q_ENUM(State)

    //! \brief Data roles; role names in QML are given in parentheses.
    enum Roles {
        MessageIdRole = Qt::UserRole + 1, //!< (messageId) the server's id (UUID), empty while unconfirmed
        SeqRole,          //!< (seq) position in the channel, from 1; 0 while unconfirmed
        ClientIdRole,     //!< (clientId) the author's idempotency key
        AuthorIdRole,     //!< (authorId) the author's user id
        AuthorNameRole,   //!< (authorName) the author's display name
        BodyRole,         //!< (body) the text; empty once deleted (Qt::DisplayRole too)
        TimestampRole,    //!< (timestamp) QDateTime (UTC): the server's time, or when it was sent while unconfirmed
        EditedRole,       //!< (edited) the body was edited
        EditedAtRole,     //!< (editedAt) QDateTime of the last edit, or invalid
        DeletedRole,      //!< (deleted) the author deleted it (the body is gone)
        StateRole,        //!< (state) State as an int
        ErrorCodeRole,    //!< (errorCode) why it failed (State::Failed), e.g. `MESSAGE_TOO_LARGE`
        ErrorMessageRole, //!< (errorMessage) the failure's text for people
        ReactionsRole,    //!< (reactions) QVariantMap: emoji → QStringList of user ids
        ReadByRole,       //!< (readBy) QStringList: users whose read position is at or past this
                          //!< message, except its author and this client's user
        MentionsMeRole,   //!< (mentionsMe) the body mentions this client's user (`@id`)
        OwnRole,          //!< (own) written by this client's user
        MentionsRole,     //!< (mentions) QStringList: every user id the body mentions
        MetaRole,         //!< (meta) QVariantMap: the meta object given to Channel::sendMessage()
    };
    Q_ENUM(Roles)

    //! \brief An empty model; \a parent is normally the Channel that owns it.
    explicit MessageModel(QObject *parent = nullptr);
    ~MessageModel() override;

    //! \brief Number of messages; 0 under a valid \a parent (the model is a flat list).
    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    //! \brief The \a role (see Roles) of the message at \a index.
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    //! \brief The role names QML uses, listed in Roles.
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

    //! \brief Row of the message with server id \a messageId, or -1.
    [[nodiscard]] Q_INVOKABLE int indexOfMessage(const QString &messageId) const;
    //! \brief Row of the message with sequence number \a seq, or -1.
    [[nodiscard]] Q_INVOKABLE int indexOfSeq(qint64 seq) const;
    //! \brief Row of this client's message with \a clientId (unconfirmed rows first), or -1.
    [[nodiscard]] Q_INVOKABLE int indexOfClientId(const QString &clientId) const;
    //! \brief Every role of \a row by its QML name (an empty map for a bad row).
    [[nodiscard]] Q_INVOKABLE QVariantMap get(int row) const;
    //! \brief Number of confirmed (Sent) rows; they come first.
    [[nodiscard]] int confirmedCount() const;
    //! \brief The highest confirmed seq, or 0.
    [[nodiscard]] qint64 highestSeq() const;
    //! \brief The lowest confirmed seq, or 0.
    [[nodiscard]] qint64 lowestSeq() const;
    //! \brief Whether older messages exist on the server than the first row (from the last
    //! history page's `has_more`); loadOlder() fetches them.
    [[nodiscard]] bool hasOlder() const;
    //! \brief The channel that owns the model, or null.
    [[nodiscard]] Channel *channel() const;
    //! \brief Loads up to \a limit messages older than the first row (Channel::loadOlder()).
    Q_INVOKABLE Confab::Reply *loadOlder(int limit = 50);

    // ---- Updates: the owning Channel calls these as frames arrive -------------------------

    //! \brief The user this client is: decides the own, mentionsMe and readBy roles.
    void setOwnUserId(const QString &userId);
    //! \brief The user this client is (setOwnUserId()).
    [[nodiscard]] QString ownUserId() const;
    //! \brief Adds or updates a confirmed message (the wire form of docs/protocol.md
    //! "Messages"). An own unconfirmed row with the same `client_id` becomes this message and
    //! moves to its seq position. Returns true when the message is new to the model (a new row,
    //! or a pending row confirmed); false for a message it already had (then it is updated:
    //! a newer edit, a deletion, the reactions).
    bool insertMessage(const QJsonObject &message);
    //! \brief insertMessage() for each of \a messages (a history page or replay), inserting
    //! runs of new rows in one go. Returns how many were new.
    int insertMessages(const QJsonArray &messages);
    //! \brief Appends an unconfirmed row for a message this client is sending.
    void addPending(const QString &clientId, const QString &body, const QJsonObject &meta,
                    const QDateTime &createdAt, const QString &authorName = {});
    //! \brief The server acknowledged \a clientId with \a ack (`{id, seq, ts}`): the row becomes
    //! Sent and moves to its seq position (or goes, when that seq is already a row). Returns
    //! false when there is no such unconfirmed row.
    bool confirmPending(const QString &clientId, const QJsonObject &ack);
    //! \brief The unconfirmed row \a clientId becomes Failed with \a code and \a message.
    void failPending(const QString &clientId, const QString &code, const QString &message);
    //! \brief The unconfirmed row \a clientId is Pending again (a retry) and moves to the end.
    void retryPending(const QString &clientId);
    //! \brief Removes the unconfirmed row \a clientId (discarded).
    void removePending(const QString &clientId);
    //! \brief Applies `message:edited` (or an edit's reply plus its body): the fields present
    //! in \a message (`body`, `edited_at`, `mentions`) replace those of the message with its `id`.
    void applyEdited(const QJsonObject &message);
    //! \brief Marks the message \a messageId deleted (its body is removed).
    void applyDeleted(const QString &messageId, const QDateTime &deletedAt = {});
    //! \brief Replaces the reactions of \a messageId with \a reactions (emoji → user ids).
    void applyReactions(const QString &messageId, const QJsonObject &reactions);
    //! \brief \a userId has read up to \a seq (positions only move forward).
    void applyRead(const QString &userId, qint64 seq);
    //! \brief Removes every confirmed row (a gap in the catch-up); unconfirmed rows stay.
    void clearConfirmed();
    //! \brief Sets hasOlder().
    void setHasOlder(bool hasOlder);

Q_SIGNALS:
    //! \brief The number of rows (the `count` property) changed, or highestSeq()/lowestSeq().
    void countChanged();
    //! \brief hasOlder() changed.
    void hasOlderChanged();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab
