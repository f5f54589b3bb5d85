#pragma once

#include "ConfabClient/channel.h"
#include "ConfabClient/reply.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QPointer>
#include <QtCore/QTimer>

#include <optional>

namespace Confab {

class ClientPrivate;
class MessageModel;
class Reply;

//! A channel's wishes (subscribed, tracked), its state on the server, its buffered pushes and
//! its presence. The client drives it through connectionUp()/connectionLost() and onFrame().
class ChannelPrivate
{
public:
    ChannelPrivate(Channel *q, Client *client, const QString &topic, const ChannelConfig &config);

    ClientPrivate *clientPrivate() const;
    ClientPrivate *cp() const;
    bool connected() const;

    void setStatus(Channel::Status status, const QString &code = {}, const QString &message = {});
    void join();
    void onJoined(bool alreadyJoined, const QJsonObject &response);
    void onJoinRefused(const QString &code, const QString &reason, const QString &usedToken);
    void scheduleRejoin();
    void onFrame(const QString &event, const QJsonObject &payload);
    void applyState(const QJsonObject &state);
    void applyDiff(const QJsonObject &diff);
    void clearPresence();
    //! Our own entry: the server sends no diff of our own track, its reply names the entry.
    void setOwnEntry(const QString &key, const QString &ref, const QJsonObject &meta);
    void removeOwnEntry();

    //! Sends one broadcast now (the channel is joined).
    void sendBroadcast(const QString &event, const QJsonValue &payload, Reply *reply);
    void sendTrack(Reply *reply);
    void flush();
    void failBuffered(const QString &code, const QString &message);
    void failTrackReplies(const QString &code, const QString &message);

    //! The client connected: join if wanted.
    void connectionUp();
    //! The connection dropped: back to Joining (if wanted); replies in flight were failed.
    void connectionLost();
    //! The token changed on a live connection.
    void tokenChanged(const QString &token);

    // ---- Chat (docs/protocol.md "Chat") ----
    //! `config.chat` of a join: the highest seq we have, so the server replays what follows.
    QJsonObject chatJoinConfig() const;
    //! The join's `response.chat`: counts, read positions, and a gap or a first page to load.
    void onChatJoined(const QJsonObject &chat);
    void onMessage(const QJsonObject &message);
    void onRead(const QJsonObject &payload);
    void onDeleted(const QJsonObject &payload);
    void setTypers(const QJsonArray &users);
    void onTyping(const QJsonObject &payload);
    //! One chat request that needs the channel joined; \a onOk applies its response.
    Reply *chatRequest(QLatin1StringView event, const QJsonObject &payload,
                       std::function<void(const QJsonObject &response)> onOk = {});
    //! `history` before \a before (0: the latest page); fills the model and hasOlder.
    void loadPage(qint64 before, int limit, Reply *reply);
    //! Makes the model's unconfirmed rows match the client's queue for this topic.
    void syncOutboxRows();
    //! Sends the next queued message of this topic, if joined and nothing is in flight.
    void pump();
    void onSendAnswer(const QString &clientId, const QJsonObject &payload);
    void retrySendLater(int delayMs);
    //! The server has \a clientId (\a ack: `{id, seq, ts, client_id}`; \a message when it came
    //! back as a message): out of the queue, the row Sent, the replies finished.
    void confirmOwn(const QString &clientId, const QJsonObject &ack, const QJsonObject &message = {});
    void failQueued(const QString &clientId, const QString &code, const QString &message);
    void failAllQueued(const QString &code, const QString &message);
    void finishSendReplies(const QString &clientId, Reply::Status status, const QJsonObject &response,
                           const QString &code = {}, const QString &message = {});
    void applyUnread(const QJsonObject &counts);
    //! unread and mentions from the model when it holds everything after readSeq, else asked.
    void recountUnread();
    void setChatCounts(qint64 last, qint64 read, qint64 unreadCount, qint64 mentionCount);
    void sendTypingStart();
    void stopTyping();
    void clearTypers();
    //! The channel is being removed: replies waiting on queued messages end (the messages stay).
    void detachChat();
    bool isOwnUser(const QString &userId) const;

    Channel *q;
    Client *client;
    QString topic;
    ChannelConfig config;
    Channel::Status status = Channel::Status::Idle;
    QString errorCode;
    QString errorMessage;
    bool wanted = false;              // subscribe() and no unsubscribe() since
    std::optional<QString> joinRef;   // ref of the join the server accepted, on this connection
    bool joinInFlight = false;        // from join() until its answer (including a token fetch)
    std::optional<QString> joinPendingRef; // the join frame on the wire, awaiting its reply
    QString joinToken;                // the token that join carried
    bool leaveInFlight = false;       // a leave is on the wire: a join reply before it is void
    bool authBlocked = false;         // refused for an AUTH_* reason: wait for a new token
    int rejoinAttempt = 0;
    QTimer rejoinTimer;
    std::optional<QJsonObject> trackedMeta; // re-tracked after every join until untrack()
    std::optional<QString> ownRef;          // our entry on the server, from the track reply
    QString ownKey;
    bool deferTrack = false;                // inside subscribed(): one track is sent after it
    QList<QPointer<Reply>> trackReplies;    // track() calls waiting for the next (re)track

    struct Buffered
    {
        QString event;
        QJsonValue payload;
        QPointer<Reply> reply;
    };
    QList<Buffered> buffer;

    QJsonObject presence; // key → [{presence_ref, meta}, …]
    PresenceModel *model = nullptr;

    // Chat
    MessageModel *messages = nullptr;
    QString channelType;
    qint64 lastSeq = 0;
    qint64 readSeq = 0;
    qint64 unread = 0;
    qint64 mentions = 0;
    bool autoCreated = false;             // opened by the client to deliver queued messages
    QHash<QString, QList<QPointer<Reply>>> sendReplies; // client_id → replies to finish on ack
    QString inFlight;                     // client_id of the message:send awaiting its answer
    QTimer sendRetryTimer;                // a retryable refusal: send again after a pause
    int sendRetryAttempt = 0;
    struct Typer
    {
        QString id;
        QString name;
    };
    QList<Typer> typers;                  // others typing now
    bool typingActive = false;            // setTyping(true) and not stopped since
    bool typingStartSent = false;         // a typing:start went out for this burst
    QElapsedTimer lastTypingStart;
    QTimer typingIdle;                    // stop after 3 s without setTyping(true)
    QTimer typingRenew;                   // renew the start every 2 s while typing
    QTimer typingDelay;                   // a start held back by the 300 ms debounce
};

} // namespace Confab
