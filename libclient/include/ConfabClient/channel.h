#pragma once

#include <ConfabClient/confabclient_export.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QObject>
#include <QtCore/QVariantList>
#include <QtCore/QVariantMap>

#include <functional>
#include <memory>

namespace Confab {

class ChannelPrivate;
class Client;
class MessageModel;
class PresenceModel;
class Reply;

//! \brief How a channel is joined. Sent with every (re)join.
struct CONFABCLIENT_EXPORT ChannelConfig
{
    Q_GADGET
    Q_PROPERTY(bool self MEMBER self)
    Q_PROPERTY(bool ack MEMBER ack)
    Q_PROPERTY(QString presenceKey MEMBER presenceKey)
    Q_PROPERTY(bool chat MEMBER chat)
    Q_PROPERTY(int pageSize MEMBER pageSize)
public:
    bool self = false;   //!< receive your own broadcasts
    bool ack = false;    //!< the server confirms each broadcast; send() then reports recipientCount
    QString presenceKey; //!< the key track() uses (e.g. the user id); empty: the server's default
    //! \brief Join for chat (persistent messages, Channel::messages()): needs the user to be
    //! known (Client::setUser() or a token).
    bool chat = false;
    //! \brief Chat: messages loaded by the first join and after a gap in the catch-up (1–100).
    int pageSize = 50;

    //! \brief From QML/JS style options: `{self, ack, presenceKey, chat, pageSize}` (also
    //! `{broadcast: {self, ack}, presence: {key}}`, the realtime-message SDK's shape).
    static ChannelConfig fromVariantMap(const QVariantMap &options);
    //! \brief Equal when every field is equal.
    friend bool operator==(const ChannelConfig &, const ChannelConfig &) = default;
};

//! \brief One topic on a Client: subscribe, broadcast events, presence, and chat.
//!
//! Channels are made by Client::channel() and owned by the client. A channel keeps wanting what
//! it was last asked (subscribed or not): across reconnects the client rejoins it with the same
//! config and re-tracks its presence, and pushes made while it is not joined are buffered.
//!
//! **Chat** (ChannelConfig::chat): the channel keeps messages() current. Every (re)join asks the
//! server for what was missed since the highest seq it has (a catch-up replay; after too long
//! away it reloads the latest page instead). sendMessage() writes the message to the client's
//! on-disk queue first and sends queued messages one at a time, in order, each with its own
//! `client_id`, until the server acknowledges it; a resend after a lost connection carries the
//! same `client_id`, so the server stores it once.
//! \code
//! auto *room = client.channel(u"room:lobby"_s, {.chat = true});
//! room->subscribe();
//! room->sendMessage(u"hi @bob"_s);   // a Pending row in room->messages() at once
//! \endcode
class CONFABCLIENT_EXPORT Channel : public QObject
{
    Q_OBJECT
    Q_MOC_INCLUDE("ConfabClient/presencemodel.h")
    Q_MOC_INCLUDE("ConfabClient/messagemodel.h")
    Q_PROPERTY(QString topic READ topic CONSTANT)
    Q_PROPERTY(Status status READ status NOTIFY statusChanged)
    Q_PROPERTY(bool subscribed READ isSubscribed NOTIFY statusChanged)
    Q_PROPERTY(QString errorCode READ errorCode NOTIFY statusChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY statusChanged)
    Q_PROPERTY(bool tracked READ isTracked NOTIFY trackedChanged)
    Q_PROPERTY(Confab::PresenceModel *presence READ presence CONSTANT)
    Q_PROPERTY(bool chat READ isChat CONSTANT)
    Q_PROPERTY(Confab::MessageModel *messages READ messages CONSTANT)
    Q_PROPERTY(QString channelType READ channelType NOTIFY chatInfoChanged)
    Q_PROPERTY(qint64 lastSeq READ lastSeq NOTIFY chatInfoChanged)
    Q_PROPERTY(qint64 readSeq READ readSeq NOTIFY chatInfoChanged)
    Q_PROPERTY(int unreadCount READ unreadCount NOTIFY chatInfoChanged)
    Q_PROPERTY(int mentionCount READ mentionCount NOTIFY chatInfoChanged)
    Q_PROPERTY(QVariantList typingUsers READ typingUsers NOTIFY typingUsersChanged)
public:
    //! \brief Where the channel is.
    enum class Status {
        Idle,       //!< not subscribed and not asked to be
        Joining,    //!< join sent (or waiting for the connection)
        Subscribed, //!< joined: broadcasts and presence flow
        TimedOut,   //!< the join got no answer in time; retried with back-off
        Closed,     //!< unsubscribed, or closed by the server (errorCode() says why)
        Errored,    //!< the join was refused: errorCode() is the server's code. AUTH_* codes are
                    //!< not retried until the token changes (Client::setAuth())
    };
    Q_ENUM(Status)

    ~Channel() override;

    //! \brief The topic the channel was made for, e.g. `room:lobby`.
    [[nodiscard]] QString topic() const;
    //! \brief The config it joins with, as given to Client::channel().
    [[nodiscard]] ChannelConfig config() const;
    //! \brief Where the channel is; statusChanged() on every change.
    [[nodiscard]] Status status() const;
    //! \brief Whether status() is Status::Subscribed.
    [[nodiscard]] bool isSubscribed() const { return status() == Status::Subscribed; }
    //! \brief The last error: a server code such as `AUTH_TOKEN_EXPIRED`, or empty.
    [[nodiscard]] QString errorCode() const;
    //! \brief The last error's text for people, or empty.
    [[nodiscard]] QString errorMessage() const;
    //! \brief The client that owns the channel.
    [[nodiscard]] Client *client() const;

    //! \brief Joins now, or as soon as the client is connected; rejoins after every reconnect.
    Q_INVOKABLE void subscribe();
    //! \brief Leaves; the reply finishes when the server confirms (at once if not joined).
    Q_INVOKABLE Confab::Reply *unsubscribe();

    //! \brief Broadcasts \a event with \a payload to the channel. With ChannelConfig::ack the
    //! reply finishes when the server confirms (response `recipientCount`); without, it finishes
    //! ok once the frame is written. While not joined, the push waits in the client's bounded
    //! buffer (Reply error `BUFFER_FULL` when it is full).
    Q_INVOKABLE Confab::Reply *send(const QString &event, const QJsonValue &payload = {});

    //! \brief Tracks this connection's presence under the configured key with \a meta; the
    //! client re-tracks it after every rejoin until untrack().
    Q_INVOKABLE Confab::Reply *track(const QJsonObject &meta = {});
    //! \brief Removes this connection's presence.
    Q_INVOKABLE Confab::Reply *untrack();
    //! \brief Whether presence is wanted: track() was called and untrack() was not since.
    [[nodiscard]] bool isTracked() const;

    //! \brief Presence as the server last described it: `{key: [{presence_ref, meta}, …]}`.
    [[nodiscard]] Q_INVOKABLE QJsonObject presenceState() const;
    //! \brief The same presence as a list model (one row per key).
    [[nodiscard]] PresenceModel *presence() const;

    //! \brief Tracks presence with the chat status: track() with the current meta plus
    //! `status` (`online`, `away`, `dnd`, `invisible`) and `status_text` (removed when \a text
    //! is empty).
    Q_INVOKABLE Confab::Reply *setStatus(const QString &status, const QString &text = {});

    // ---- Chat ----------------------------------------------------------------------------

    //! \brief Whether the channel joins for chat (ChannelConfig::chat).
    [[nodiscard]] bool isChat() const;
    //! \brief The messages (empty unless isChat()).
    [[nodiscard]] MessageModel *messages() const;
    //! \brief `public`, `private` or `dm`, from the last chat join (empty before).
    [[nodiscard]] QString channelType() const;
    //! \brief The channel's newest seq as far as this client knows.
    [[nodiscard]] qint64 lastSeq() const;
    //! \brief This user's read position (shared by all their devices).
    [[nodiscard]] qint64 readSeq() const;
    //! \brief Others' messages after readSeq() (deleted ones not counted).
    [[nodiscard]] int unreadCount() const;
    //! \brief Of the unread messages, those that mention this user.
    [[nodiscard]] int mentionCount() const;
    //! \brief Who is typing now, except this user: a list of `{id, name}` maps.
    [[nodiscard]] QVariantList typingUsers() const;

    //! \brief Sends a chat message. A Pending row appears in messages() at once and the message
    //! is written to the on-disk queue before anything is sent; it is sent when the channel is
    //! joined (now, or after the next (re)join, also after an application restart), in the
    //! order of sendMessage() calls.
    //!
    //! The reply finishes ok when the server acknowledges (response `{id, seq, ts, client_id}`,
    //! plus `duplicate: true` for a resend the server already had), or with the server's error
    //! when it refuses the message for good (e.g. `MESSAGE_TOO_LARGE`, `FORBIDDEN`); the row is
    //! then Failed (see retryMessage(), discardMessage()). Lost connections, timeouts and
    //! `STORAGE_UNAVAILABLE` do not finish it: the message stays Pending and is sent again.
    //! Client-side errors: `NOT_CHAT`, `NOT_SUBSCRIBED`, `INVALID_PAYLOAD` (empty body).
    Q_INVOKABLE Confab::Reply *sendMessage(const QString &body, const QJsonObject &meta = {});
    //! \brief Queues the Failed message \a clientId again (same client_id), at the end of the
    //! queue; the reply finishes as sendMessage()'s does (`UNKNOWN_MESSAGE` if there is no
    //! unconfirmed message \a clientId).
    Q_INVOKABLE Confab::Reply *retryMessage(const QString &clientId);
    //! \brief Removes the unconfirmed message \a clientId from the queue and messages(). False
    //! when there is none, or when it is on the wire right now (its fate is the server's).
    Q_INVOKABLE bool discardMessage(const QString &clientId);
    //! \brief Replaces the body of the own message \a messageId (response `{id, seq, edited_at}`).
    Q_INVOKABLE Confab::Reply *editMessage(const QString &messageId, const QString &body);
    //! \brief Deletes the own message \a messageId (response `{id, seq, deleted_at}`).
    Q_INVOKABLE Confab::Reply *deleteMessage(const QString &messageId);
    //! \brief Adds this user's \a emoji to \a messageId (response `{id, seq, reactions}`).
    Q_INVOKABLE Confab::Reply *addReaction(const QString &messageId, const QString &emoji);
    //! \brief Removes this user's \a emoji from \a messageId.
    Q_INVOKABLE Confab::Reply *removeReaction(const QString &messageId, const QString &emoji);
    //! \brief Moves this user's read position to \a seq (never back; response `{read_seq,
    //! unread, mentions}`); readSeq(), unreadCount() and mentionCount() follow.
    Q_INVOKABLE Confab::Reply *markRead(qint64 seq);
    //! \brief markRead(lastSeq()).
    Q_INVOKABLE Confab::Reply *markAllRead();
    //! \brief Loads up to \a limit (1–100) messages older than the oldest in messages() (the
    //! latest ones when it is empty); MessageModel::hasOlder() says whether more exist.
    Q_INVOKABLE Confab::Reply *loadOlder(int limit = 50);
    //! \brief Whether the user is typing: call with true on every keystroke, false when the
    //! input is cleared. `typing:start` goes out at most once per 300 ms and is renewed every
    //! 2 s while calls keep coming; `typing:stop` follows false, sendMessage(), or 3 s without
    //! a call.
    Q_INVOKABLE void setTyping(bool typing);

    //! \brief Calls \a callback for every broadcast named \a event (all events when \a event is
    //! empty) until \a context is destroyed or the returned connection is disconnected.
    QMetaObject::Connection onBroadcast(const QString &event, const QObject *context,
                                       std::function<void(const QJsonValue &payload)> callback);

Q_SIGNALS:
    //! \brief status() changed to \a status (subscribed, errorCode and errorMessage may have too).
    void statusChanged(Confab::Channel::Status status);
    //! \brief The join succeeded (also after every rejoin).
    void subscribed();
    //! \brief The server refused or closed the channel (\a code e.g. `AUTH_TOKEN_EXPIRED`).
    void errorOccurred(const QString &code, const QString &message);
    //! \brief A broadcast arrived: \a event is its name, \a payload what the sender sent.
    void broadcastReceived(const QString &event, const QJsonValue &payload);
    //! \brief Presence was replaced or changed; presenceState() is current.
    void presenceSynced();
    //! \brief Entries joined under \a key: \a current are all of the key's entries now,
    //! \a joined the new ones (each `{presence_ref, meta}`).
    void presenceJoined(const QString &key, const QJsonArray &current, const QJsonArray &joined);
    //! \brief Entries left \a key; \a current is empty when the key has gone.
    void presenceLeft(const QString &key, const QJsonArray &current, const QJsonArray &left);
    //! \brief isTracked() changed.
    void trackedChanged();
    //! \brief channelType(), lastSeq(), readSeq(), unreadCount() or mentionCount() changed.
    void chatInfoChanged();
    //! \brief typingUsers() changed.
    void typingUsersChanged();
    //! \brief A message of another user arrived (live or in a catch-up), in its wire form.
    void messageReceived(const QJsonObject &message);

private:
    Channel(Client *client, const QString &topic, const ChannelConfig &config);
    friend class Client;
    friend class ClientPrivate;
    friend class ChannelPrivate;
    std::unique_ptr<ChannelPrivate> d;
};

} // namespace Confab

Q_DECLARE_METATYPE(Confab::ChannelConfig)
