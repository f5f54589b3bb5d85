#pragma once

#include "ConfabClient/channel.h"

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QPointer>
#include <QtCore/QTimer>

#include <optional>

namespace Confab {

class ClientPrivate;
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
    void onJoined(bool alreadyJoined);
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
};

} // namespace Confab
