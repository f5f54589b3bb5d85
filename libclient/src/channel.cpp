#include "ConfabClient/channel.h"

#include "ConfabClient/client.h"
#include "ConfabClient/messagemodel.h"
#include "ConfabClient/presencemodel.h"
#include "ConfabClient/reply.h"
#include "reply_p.h"
#include "channel_p.h"
#include "client_p.h"
#include "logging_p.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QSet>
#include <QtCore/QUuid>

#include <algorithm>
#include <limits>

using namespace Qt::StringLiterals;

namespace Confab {

namespace P = Confab::Protocol;

namespace {

bool isAuthCode(const QString &code)
{
    return code.startsWith("AUTH_"_L1);
}

// A join refused for one of these will be refused again: it waits for subscribe(), a new token
// or (IDENTITY_REQUIRED) the user, instead of retrying with back-off.
bool isRefusal(const QString &code)
{
    return isAuthCode(code) || code == P::Errors::Forbidden || code == P::Errors::NotFound
        || code == P::Errors::InvalidTopic || code == P::Errors::IdentityRequired;
}

// Chat messages queued for a channel refused with one of these can never be delivered there:
// they fail (and can be retried by hand) rather than wait forever.
bool failsQueuedMessages(const QString &code)
{
    return code == P::Errors::Forbidden || code == P::Errors::NotFound || code == P::Errors::InvalidTopic
        || code == P::Errors::AuthChannelDenied;
}

// message:send refusals that a later resend (same client_id) can overcome.
bool isRetryableSendError(const QString &code)
{
    return code == P::Errors::StorageUnavailable || code == P::Errors::RateLimited;
}

// Typing indicator timings (docs/protocol.md "Typing"): the server expires a start after 3 s.
constexpr int TypingDebounceMs = 300; // one start per burst of keystrokes
constexpr int TypingRenewMs = 2000;   // well inside the server's 3 s, so the indicator never blinks
constexpr int TypingIdleMs = 3000;    // no keystroke for this long: the user stopped

// Replies created and finished within one API call must still let the caller connect first.
void finishSoon(Reply *reply, Reply::Status status, const QString &code = {}, const QString &message = {})
{
    ReplyControl::finishLater(reply, status, {}, code, message);
}

// Completes \a reply from a server reply payload `{status, response}`.
void finishFromPayload(Reply *reply, const QJsonObject &payload)
{
    if (!reply)
        return;
    const auto response = payload.value("response"_L1).toObject();
    if (payload.value("status"_L1).toString() == "ok"_L1)
        ReplyControl::finish(reply, Reply::Status::Ok, response, {}, {});
    else
        ReplyControl::finish(reply, Reply::Status::Error, response, response.value("code"_L1).toString(),
                      response.value("reason"_L1).toString());
}

QSet<QString> refsOf(const QJsonArray &entries)
{
    QSet<QString> refs;
    for (const auto &e : entries)
        refs.insert(e.toObject().value("presence_ref"_L1).toString());
    return refs;
}

QJsonArray withRefs(const QJsonArray &entries, const QSet<QString> &refs, bool keep)
{
    QJsonArray out;
    for (const auto &e : entries) {
        if (refs.contains(e.toObject().value("presence_ref"_L1).toString()) == keep)
            out.append(e);
    }
    return out;
}

} // namespace

// ---- ChannelConfig -------------------------------------------------------------------------

ChannelConfig ChannelConfig::fromVariantMap(const QVariantMap &options)
{
    ChannelConfig config;
    const auto broadcast = options.value(u"broadcast"_s).toMap();
    const auto presence = options.value(u"presence"_s).toMap();
    config.self = options.value(u"self"_s, broadcast.value(u"self"_s, false)).toBool();
    config.ack = options.value(u"ack"_s, broadcast.value(u"ack"_s, false)).toBool();
    config.presenceKey = options.value(u"presenceKey"_s, presence.value(u"key"_s)).toString();
    config.chat = options.value(u"chat"_s, false).toBool();
    config.pageSize = options.value(u"pageSize"_s, 50).toInt();
    return config;
}

// ---- ChannelPrivate ------------------------------------------------------------------------

ChannelPrivate::ChannelPrivate(Channel *q, Client *client, const QString &topic, const ChannelConfig &config)
    : q(q), client(client), topic(topic), config(config)
{
    rejoinTimer.setSingleShot(true);
    QObject::connect(&rejoinTimer, &QTimer::timeout, q, [this] { join(); });
    model = new PresenceModel(q);
    messages = new MessageModel(q);
    messages->setOwnUserId(client->userId());
    this->config.pageSize = std::clamp(this->config.pageSize, 1, 100);
    sendRetryTimer.setSingleShot(true);
    QObject::connect(&sendRetryTimer, &QTimer::timeout, q, [this] { pump(); });
    typingIdle.setSingleShot(true);
    typingIdle.setInterval(TypingIdleMs);
    QObject::connect(&typingIdle, &QTimer::timeout, q, [this] { stopTyping(); });
    typingRenew.setInterval(TypingRenewMs);
    QObject::connect(&typingRenew, &QTimer::timeout, q, [this] { sendTypingStart(); });
    typingDelay.setSingleShot(true);
    QObject::connect(&typingDelay, &QTimer::timeout, q, [this] { sendTypingStart(); });
}

ClientPrivate *ChannelPrivate::clientPrivate() const
{
    return client->d.get();
}

bool ChannelPrivate::connected() const
{
    return client->state() == Client::State::Connected;
}

void ChannelPrivate::setStatus(Channel::Status newStatus, const QString &code, const QString &message)
{
    const bool changed = status != newStatus || errorCode != code || errorMessage != message;
    status = newStatus;
    errorCode = code;
    errorMessage = message;
    if (changed)
        Q_EMIT q->statusChanged(status);
}

void ChannelPrivate::join()
{
    // joinsReady: hello, when there is one, goes first (the client lets us join after it).
    if (!wanted || !connected() || !clientPrivate()->joinsReady || joinInFlight || joinRef)
        return;
    joinInFlight = true;
    setStatus(Channel::Status::Joining);
    QPointer<Channel> guard(q);
    clientPrivate()->fetchToken(q, [this, guard](const QString &token) {
        if (!guard)
            return;
        if (!wanted || !connected()) {
            joinInFlight = false;
            return;
        }
        QJsonObject cfg{{u"broadcast"_s, QJsonObject{{u"self"_s, config.self}, {u"ack"_s, config.ack}}}};
        if (!config.presenceKey.isEmpty())
            cfg.insert(u"presence"_s, QJsonObject{{u"key"_s, config.presenceKey}});
        if (config.chat)
            cfg.insert(u"chat"_s, chatJoinConfig());
        QJsonObject payload{{u"config"_s, cfg}};
        if (!token.isEmpty())
            payload.insert(u"access_token"_s, token);
        auto *cp = clientPrivate();
        if (config.chat && cp->helloSession != cp->session && (!token.isEmpty() || !cp->userId.isEmpty()))
            cp->sendHello(token); // no hello yet on this connection (token provider): right before the join
        auto ref = std::make_shared<QString>();
        ClientPrivate::Pending pending;
        pending.channel = q;
        pending.onReply = [this, guard, ref, token](const QJsonObject &reply) {
            if (!guard)
                return;
            joinInFlight = false;
            joinPendingRef.reset();
            // unsubscribe() came after this join was sent: its leave, right behind the join on
            // the wire, undoes it (and rejoins if subscribe() came again meanwhile).
            if (!wanted || leaveInFlight)
                return;
            const auto response = reply.value("response"_L1).toObject();
            const bool ok = reply.value("status"_L1).toString() == "ok"_L1;
            // A join that timed out here may have reached the server: it then says we are in.
            if (!ok && config.chat && response.value("code"_L1).toString() == P::Errors::AlreadyJoined) {
                // A chat join's reply carries the counts and starts the catch-up; to get them,
                // leave and join again (the server reads the two in this order).
                clientPrivate()->post(topic, QString(P::Events::Leave), {}, std::nullopt);
                join();
            } else if (ok || response.value("code"_L1).toString() == P::Errors::AlreadyJoined) {
                joinRef = *ref;
                onJoined(!ok, response);
            } else {
                onJoinRefused(response.value("code"_L1).toString(), response.value("reason"_L1).toString(), token);
            }
        };
        pending.onTimeout = [this, guard] {
            if (!guard)
                return;
            joinInFlight = false;
            joinPendingRef.reset();
            setStatus(Channel::Status::TimedOut, u"TIMEOUT"_s, u"The server did not answer the join in time"_s);
            scheduleRejoin();
        };
        pending.onLost = [this, guard](const QString &, const QString &) {
            if (!guard)
                return;
            joinInFlight = false; // connectionLost() sets the status; connectionUp() rejoins
            joinPendingRef.reset();
        };
        *ref = clientPrivate()->request(topic, QString(P::Events::Join), payload, std::nullopt, std::move(pending));
        joinPendingRef = *ref;
        joinToken = token;
    });
}

void ChannelPrivate::onJoined(bool alreadyJoined, const QJsonObject &response)
{
    rejoinAttempt = 0;
    authBlocked = false;
    ownRef.reset(); // refs die with the connection; the re-track below gets a new one
    if (alreadyJoined) // we missed the presence_state that follows a fresh join
        clientPrivate()->post(topic, QString(P::Events::PresenceState), {}, joinRef);
    if (config.chat)
        onChatJoined(response.value("chat"_L1).toObject());
    flush(); // what waited goes first, before anything the handlers below send
    if (config.chat) {
        sendRetryTimer.stop(); // a fresh membership: no reason to wait any longer
        pump();
    }
    // Handlers of these signals often call track(); collect that into the one (re)track
    // below instead of sending it twice.
    QPointer<Channel> guard(q);
    deferTrack = true;
    setStatus(Channel::Status::Subscribed);
    if (guard)
        Q_EMIT q->subscribed();
    if (!guard)
        return;
    deferTrack = false;
    if (trackedMeta && joinRef)
        sendTrack(nullptr);
}

void ChannelPrivate::onJoinRefused(const QString &code, const QString &reason, const QString &usedToken)
{
    qCInfo(lcClient).noquote() << "join of" << topic << "refused:" << code << reason;
    QPointer<Channel> guard(q);
    setStatus(Channel::Status::Errored, code, reason);
    Q_EMIT q->errorOccurred(code, reason);
    if (!guard)
        return;
    if (isAuthCode(code) && !clientPrivate()->tokenProvider && clientPrivate()->token != usedToken) {
        join(); // setAuth() came while this join was on the wire: try the new token
        return;
    }
    if (isRefusal(code)) {
        // Retrying with the same token cannot help: wait for setAuth() (or a reconnect with a
        // token provider, or subscribe()). What was waiting to be sent cannot be sent: say so now.
        authBlocked = true;
        failBuffered(code, reason);
        failTrackReplies(code, reason);
        if (config.chat && failsQueuedMessages(code))
            failAllQueued(code, reason);
        return;
    }
    scheduleRejoin();
}

void ChannelPrivate::scheduleRejoin()
{
    if (!wanted || !connected())
        return;
    ++rejoinAttempt;
    const auto &backoff = clientPrivate()->backoff;
    rejoinTimer.start(backoff ? backoff(rejoinAttempt) : Client::defaultBackoff(rejoinAttempt));
}

void ChannelPrivate::onFrame(const QString &event, const QJsonObject &payload)
{
    if (event == P::Events::Broadcast) {
        Q_EMIT q->broadcastReceived(payload.value("event"_L1).toString(), payload.value("payload"_L1));
    } else if (event == P::Events::PresenceState) {
        applyState(payload);
    } else if (event == P::Events::PresenceDiff) {
        applyDiff(payload);
    } else if (event == P::Events::Close) {
        const auto code = payload.value("code"_L1).toString();
        const auto reason = payload.value("reason"_L1).toString();
        qCInfo(lcClient).noquote() << "server closed" << topic << code << reason;
        joinRef.reset();
        clearPresence();
        clearTypers();
        Q_EMIT q->errorOccurred(code, reason);
        if (code == P::Errors::AuthTokenExpired && clientPrivate()->tokenProvider && wanted) {
            join(); // the provider has a fresh token for us
            return;
        }
        authBlocked = isAuthCode(code);
        setStatus(Channel::Status::Closed, code, reason);
    } else if (event == P::Events::Error) {
        Q_EMIT q->errorOccurred(payload.value("code"_L1).toString(), payload.value("reason"_L1).toString());
    } else if (!config.chat) {
        return;
    } else if (event == P::Events::Message) {
        onMessage(payload);
    } else if (event == P::Events::MessageEdited) {
        messages->applyEdited(payload);
    } else if (event == P::Events::MessageDeleted) {
        onDeleted(payload);
    } else if (event == P::Events::Reaction) {
        messages->applyReactions(payload.value("id"_L1).toString(), payload.value("reactions"_L1).toObject());
    } else if (event == P::Events::Read) {
        onRead(payload);
    } else if (event == P::Events::Typing) {
        onTyping(payload);
    } else if (event == P::Events::TypingState) {
        setTypers(payload.value("users"_L1).toArray());
    }
}

void ChannelPrivate::applyState(const QJsonObject &state)
{
    // Like the SDK: a full state is compared with what we had, so that a rejoin after a
    // disconnect reports who left and who came meanwhile.
    const auto old = std::exchange(presence, state);
    for (auto it = old.begin(); it != old.end(); ++it) {
        const auto now = state.value(it.key()).toArray();
        const auto left = withRefs(it.value().toArray(), refsOf(now), false);
        if (!left.isEmpty())
            Q_EMIT q->presenceLeft(it.key(), now, left);
    }
    for (auto it = state.begin(); it != state.end(); ++it) {
        const auto joined = withRefs(it.value().toArray(), refsOf(old.value(it.key()).toArray()), false);
        if (!joined.isEmpty())
            Q_EMIT q->presenceJoined(it.key(), it.value().toArray(), joined);
    }
    model->setState(presence);
    Q_EMIT q->presenceSynced();
}

void ChannelPrivate::applyDiff(const QJsonObject &diff)
{
    // Leaves first, by ref; then joins. A native diff lists every entry of a joined key, so
    // the key's entries become exactly that list (which also picks up re-tracked metas).
    const auto leaves = diff.value("leaves"_L1).toObject();
    for (auto it = leaves.begin(); it != leaves.end(); ++it) {
        const auto before = presence.value(it.key()).toArray();
        const auto gone = refsOf(it.value().toArray());
        const auto now = withRefs(before, gone, false);
        const auto left = withRefs(before, gone, true);
        if (now.isEmpty())
            presence.remove(it.key());
        else
            presence.insert(it.key(), now);
        model->setEntries(it.key(), now);
        if (!left.isEmpty())
            Q_EMIT q->presenceLeft(it.key(), now, left);
    }
    const auto joins = diff.value("joins"_L1).toObject();
    for (auto it = joins.begin(); it != joins.end(); ++it) {
        const auto current = it.value().toArray();
        const auto joined = withRefs(current, refsOf(presence.value(it.key()).toArray()), false);
        presence.insert(it.key(), current);
        model->setEntries(it.key(), current);
        if (!joined.isEmpty())
            Q_EMIT q->presenceJoined(it.key(), current, joined);
    }
    Q_EMIT q->presenceSynced();
}

void ChannelPrivate::setOwnEntry(const QString &key, const QString &ref, const QJsonObject &meta)
{
    if (ownRef && ownKey != key)
        removeOwnEntry();
    const QJsonObject entry{{u"presence_ref"_s, ref}, {u"meta"_s, meta}};
    QJsonArray current;
    bool replaced = false;
    for (const auto &e : presence.value(key).toArray()) {
        if (e.toObject().value("presence_ref"_L1).toString() == ref) {
            current.append(entry);
            replaced = true;
        } else {
            current.append(e);
        }
    }
    if (!replaced)
        current.append(entry);
    ownRef = ref;
    ownKey = key;
    presence.insert(key, current);
    model->setEntries(key, current);
    if (!replaced)
        Q_EMIT q->presenceJoined(key, current, QJsonArray{entry});
    Q_EMIT q->presenceSynced();
}

void ChannelPrivate::removeOwnEntry()
{
    if (!ownRef)
        return;
    const auto ref = *std::exchange(ownRef, std::nullopt);
    const auto before = presence.value(ownKey).toArray();
    const auto now = withRefs(before, {ref}, false);
    const auto left = withRefs(before, {ref}, true);
    if (left.isEmpty())
        return;
    if (now.isEmpty())
        presence.remove(ownKey);
    else
        presence.insert(ownKey, now);
    model->setEntries(ownKey, now);
    Q_EMIT q->presenceLeft(ownKey, now, left);
    Q_EMIT q->presenceSynced();
}

void ChannelPrivate::clearPresence()
{
    ownRef.reset();
    if (presence.isEmpty())
        return;
    applyState({});
}

void ChannelPrivate::sendBroadcast(const QString &event, const QJsonValue &payload, Reply *reply)
{
    QJsonObject body{{u"type"_s, u"broadcast"_s}, {u"event"_s, event}};
    if (!payload.isUndefined())
        body.insert(u"payload"_s, payload);
    auto *cp = clientPrivate();
    if (!config.ack) {
        cp->post(topic, QString(P::Events::Broadcast), body, joinRef);
        if (reply)
            finishSoon(reply, Reply::Status::Ok);
        return;
    }
    QPointer<Reply> target(reply);
    ClientPrivate::Pending pending;
    pending.channel = q;
    pending.onReply = [target](const QJsonObject &answer) { finishFromPayload(target, answer); };
    pending.onTimeout = [target] {
        if (target)
            ReplyControl::finish(target, Reply::Status::TimedOut, {}, u"TIMEOUT"_s, u"The server did not confirm in time"_s);
    };
    pending.onLost = [target](const QString &code, const QString &message) {
        if (target)
            ReplyControl::finish(target, Reply::Status::Error, {}, code, message);
    };
    cp->request(topic, QString(P::Events::Broadcast), body, joinRef, std::move(pending));
}

void ChannelPrivate::sendTrack(Reply *reply)
{
    if (reply)
        trackReplies.append(reply);
    QJsonObject inner{{u"meta"_s, trackedMeta.value_or(QJsonObject())}};
    if (!config.presenceKey.isEmpty())
        inner.insert(u"key"_s, config.presenceKey);
    const QJsonObject body{{u"type"_s, u"presence"_s}, {u"event"_s, u"track"_s}, {u"payload"_s, inner}};
    QPointer<Channel> guard(q);
    ClientPrivate::Pending pending;
    pending.channel = q;
    const auto meta = trackedMeta.value_or(QJsonObject());
    pending.onReply = [this, guard, meta](const QJsonObject &payload) {
        if (!guard)
            return;
        const auto response = payload.value("response"_L1).toObject();
        if (payload.value("status"_L1).toString() == "ok"_L1 && response.contains("presence_ref"_L1))
            setOwnEntry(response.value("key"_L1).toString(), response.value("presence_ref"_L1).toString(), meta);
        // One answer settles every track() made since: they all asked for the current meta.
        const auto replies = std::exchange(trackReplies, {});
        for (const auto &r : replies)
            finishFromPayload(r, payload);
    };
    pending.onTimeout = [this, guard] {
        if (guard)
            failTrackReplies(u"TIMEOUT"_s, u"The server did not confirm the presence in time"_s);
    };
    // A lost connection keeps the replies waiting: the rejoin re-tracks and answers them.
    cp()->request(topic, QString(P::Events::Presence), body, joinRef, std::move(pending));
}

ClientPrivate *ChannelPrivate::cp() const
{
    return clientPrivate();
}

void ChannelPrivate::failTrackReplies(const QString &code, const QString &message)
{
    const auto replies = std::exchange(trackReplies, {});
    for (const auto &r : replies) {
        if (r)
            ReplyControl::finish(r, Reply::Status::Error, {}, code, message);
    }
}

void ChannelPrivate::flush()
{
    const auto pushes = std::exchange(buffer, {});
    clientPrivate()->releaseBufferSlots(int(pushes.size()));
    for (const auto &push : pushes)
        sendBroadcast(push.event, push.payload, push.reply);
}

void ChannelPrivate::failBuffered(const QString &code, const QString &message)
{
    const auto pushes = std::exchange(buffer, {});
    clientPrivate()->releaseBufferSlots(int(pushes.size()));
    for (const auto &push : pushes) {
        if (push.reply)
            ReplyControl::finish(push.reply, Reply::Status::Error, {}, code, message);
    }
}

void ChannelPrivate::connectionUp()
{
    if (!wanted)
        return;
    if (authBlocked && !clientPrivate()->tokenProvider)
        return; // the same token would be refused again; setAuth() rejoins
    rejoinAttempt = 0;
    join();
}

void ChannelPrivate::connectionLost()
{
    joinRef.reset();
    joinInFlight = false;
    rejoinTimer.stop();
    // Our typing indicator died with the connection; others' come back in typing_state.
    typingActive = false;
    typingStartSent = false;
    typingIdle.stop();
    typingRenew.stop();
    typingDelay.stop();
    clearTypers();
    if (wanted && !authBlocked && status != Channel::Status::Joining)
        setStatus(Channel::Status::Joining, u"CONNECTION_LOST"_s, u"Waiting for the connection to come back"_s);
}

void ChannelPrivate::tokenChanged(const QString &token)
{
    if (!wanted || !connected())
        return;
    if (joinRef) {
        QPointer<Channel> guard(q);
        ClientPrivate::Pending pending;
        pending.channel = q;
        pending.onReply = [guard](const QJsonObject &payload) {
            if (!guard || payload.value("status"_L1).toString() == "ok"_L1)
                return;
            const auto response = payload.value("response"_L1).toObject();
            Q_EMIT guard->errorOccurred(response.value("code"_L1).toString(), response.value("reason"_L1).toString());
        };
        clientPrivate()->request(topic, QString(P::Events::AccessToken), {{u"access_token"_s, token}}, joinRef,
                                 std::move(pending));
    } else if (authBlocked || status == Channel::Status::Errored || status == Channel::Status::Closed) {
        authBlocked = false;
        join();
    }
}

// ---- ChannelPrivate: chat -------------------------------------------------------------------

bool ChannelPrivate::isOwnUser(const QString &userId) const
{
    const auto &own = clientPrivate()->userId;
    return !own.isEmpty() && userId == own;
}

QJsonObject ChannelPrivate::chatJoinConfig() const
{
    // Omitted on the first join: there is nothing to catch up with, the latest page is loaded.
    const auto highest = messages->highestSeq();
    return highest > 0 ? QJsonObject{{u"since_seq"_s, highest}} : QJsonObject();
}

void ChannelPrivate::onChatJoined(const QJsonObject &chat)
{
    const auto type = chat.value("type"_L1).toString();
    const bool typeChanged = !type.isEmpty() && type != channelType;
    if (typeChanged)
        channelType = type;
    // Others' read positions, when the server sends them (see docs/protocol.md; for readBy).
    const auto reads = chat.value("reads"_L1);
    if (reads.isArray()) {
        for (const auto &r : reads.toArray()) {
            const auto o = r.toObject();
            messages->applyRead(o.value("user"_L1).toObject().value("id"_L1).toString(), o.value("seq"_L1).toInteger());
        }
    } else if (reads.isObject()) {
        const auto o = reads.toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            messages->applyRead(it.key(), it.value().toInteger());
    }
    const qint64 last = chat.value("last_seq"_L1).toInteger();
    // Replayed messages follow this reply; they are within last_seq, so they count as already
    // in `unread` (only messages past lastSeq add to it).
    setChatCounts(std::max(lastSeq, last), chat.value("read_seq"_L1).toInteger(), chat.value("unread"_L1).toInteger(),
                  chat.value("mentions"_L1).toInteger());
    if (typeChanged)
        Q_EMIT q->chatInfoChanged();
    if (chat.value("gap"_L1).toBool()) {
        // Too much was missed to replay: start again from the latest page (our unconfirmed
        // rows stay). Older pages come with loadOlder().
        qCInfo(lcClientChat) << "catch-up gap in" << topic << "- reloading the latest page";
        messages->clearConfirmed();
        loadPage(0, config.pageSize, nullptr);
    } else if (messages->highestSeq() == 0) {
        if (last > 0)
            loadPage(0, config.pageSize, nullptr);
        else
            messages->setHasOlder(false);
    }
}

void ChannelPrivate::setChatCounts(qint64 last, qint64 read, qint64 unreadCount, qint64 mentionCount)
{
    if (last == lastSeq && read == readSeq && unreadCount == unread && mentionCount == mentions)
        return;
    lastSeq = last;
    readSeq = read;
    unread = std::max<qint64>(0, unreadCount);
    mentions = std::max<qint64>(0, mentionCount);
    Q_EMIT q->chatInfoChanged();
}

void ChannelPrivate::applyUnread(const QJsonObject &counts)
{
    setChatCounts(std::max(lastSeq, counts.value("last_seq"_L1).toInteger()),
                  std::max(readSeq, counts.value("read_seq"_L1).toInteger()), counts.value("unread"_L1).toInteger(),
                  counts.value("mentions"_L1).toInteger());
}

void ChannelPrivate::onMessage(const QJsonObject &message)
{
    const qint64 seq = message.value("seq"_L1).toInteger();
    if (seq <= 0)
        return;
    const auto authorId = message.value("author"_L1).toObject().value("id"_L1).toString();
    const auto clientId = message.value("client_id"_L1).toString();
    const bool own = isOwnUser(authorId);
    bool isNew;
    if (own && !clientId.isEmpty()
        && (clientPrivate()->indexOfQueued(clientId) >= 0 || sendReplies.contains(clientId))) {
        // Ours, back before its ack (a catch-up after the ack was lost): that is the ack.
        confirmOwn(clientId, message, message);
        isNew = true;
    } else {
        isNew = messages->insertMessage(message);
    }
    if (seq > lastSeq) {
        qint64 newUnread = unread;
        qint64 newMentions = mentions;
        const bool deleted = message.value("deleted"_L1).toBool();
        if (!own && seq > readSeq && !deleted) {
            ++newUnread;
            const auto ownId = clientPrivate()->userId;
            if (!ownId.isEmpty() && message.value("mentions"_L1).toArray().contains(QJsonValue(ownId)))
                ++newMentions;
        }
        setChatCounts(seq, readSeq, newUnread, newMentions);
    }
    if (isNew && !own)
        Q_EMIT q->messageReceived(message);
}

void ChannelPrivate::onDeleted(const QJsonObject &payload)
{
    const auto id = payload.value("id"_L1).toString();
    const auto row = messages->indexOfMessage(id);
    if (row >= 0) {
        const auto at = messages->index(row);
        const bool counted = !at.data(MessageModel::DeletedRole).toBool() && !at.data(MessageModel::OwnRole).toBool()
            && at.data(MessageModel::SeqRole).toLongLong() > readSeq;
        const bool mentioned = at.data(MessageModel::MentionsMeRole).toBool();
        messages->applyDeleted(id, QDateTime::fromString(payload.value("deleted_at"_L1).toString(), Qt::ISODateWithMs));
        if (counted) // the server no longer counts it either
            setChatCounts(lastSeq, readSeq, unread - 1, mentioned ? mentions - 1 : mentions);
    }
}

void ChannelPrivate::onRead(const QJsonObject &payload)
{
    const auto userId = payload.value("user"_L1).toObject().value("id"_L1).toString();
    const qint64 seq = payload.value("seq"_L1).toInteger();
    if (!isOwnUser(userId)) {
        messages->applyRead(userId, seq);
        return;
    }
    // Another device of ours read further.
    if (seq <= readSeq)
        return;
    readSeq = seq;
    recountUnread();
    Q_EMIT q->chatInfoChanged();
}

void ChannelPrivate::recountUnread()
{
    if (readSeq >= lastSeq) {
        setChatCounts(lastSeq, readSeq, 0, 0);
        return;
    }
    const auto lowest = messages->lowestSeq();
    if (lowest == 0 || lowest > readSeq + 1) {
        // The model does not hold everything after the read position: ask the server.
        client->refreshUnread();
        return;
    }
    qint64 count = 0;
    qint64 mentioned = 0;
    for (int row = messages->confirmedCount() - 1; row >= 0; --row) {
        const auto at = messages->index(row);
        if (at.data(MessageModel::SeqRole).toLongLong() <= readSeq)
            break;
        if (at.data(MessageModel::OwnRole).toBool() || at.data(MessageModel::DeletedRole).toBool())
            continue;
        ++count;
        if (at.data(MessageModel::MentionsMeRole).toBool())
            ++mentioned;
    }
    setChatCounts(lastSeq, readSeq, count, mentioned);
}

void ChannelPrivate::setTypers(const QJsonArray &users)
{
    QList<Typer> now;
    for (const auto &u : users) {
        const auto o = u.toObject();
        const auto id = o.value("id"_L1).toString();
        if (!id.isEmpty() && !isOwnUser(id))
            now.append({id, o.value("name"_L1).toString()});
    }
    const bool same = now.size() == typers.size()
        && std::equal(now.cbegin(), now.cend(), typers.cbegin(),
                      [](const Typer &a, const Typer &b) { return a.id == b.id && a.name == b.name; });
    if (same)
        return;
    typers = now;
    Q_EMIT q->typingUsersChanged();
}

void ChannelPrivate::onTyping(const QJsonObject &payload)
{
    const auto user = payload.value("user"_L1).toObject();
    const auto id = user.value("id"_L1).toString();
    if (id.isEmpty() || isOwnUser(id))
        return;
    const auto it = std::find_if(typers.begin(), typers.end(), [&id](const Typer &t) { return t.id == id; });
    if (payload.value("typing"_L1).toBool()) {
        if (it != typers.end())
            return;
        typers.append({id, user.value("name"_L1).toString()});
    } else {
        if (it == typers.end())
            return;
        typers.erase(it);
    }
    Q_EMIT q->typingUsersChanged();
}

void ChannelPrivate::clearTypers()
{
    if (typers.isEmpty())
        return;
    typers.clear();
    Q_EMIT q->typingUsersChanged();
}

void ChannelPrivate::sendTypingStart()
{
    if (!typingActive)
        return;
    if (typingStartSent && lastTypingStart.isValid() && lastTypingStart.elapsed() < TypingDebounceMs)
        return;
    if (lastTypingStart.isValid() && lastTypingStart.elapsed() < TypingDebounceMs) {
        // A start went out moments ago (then a stop): hold this one back.
        typingDelay.start(int(TypingDebounceMs - lastTypingStart.elapsed()));
        return;
    }
    if (!joinRef || !connected())
        return;
    clientPrivate()->post(topic, QString(P::Events::TypingStart), {}, joinRef);
    typingStartSent = true;
    lastTypingStart.start();
}

void ChannelPrivate::stopTyping()
{
    if (!typingActive)
        return;
    typingActive = false;
    typingIdle.stop();
    typingRenew.stop();
    typingDelay.stop();
    if (typingStartSent && joinRef && connected())
        clientPrivate()->post(topic, QString(P::Events::TypingStop), {}, joinRef);
    typingStartSent = false;
}

Reply *ChannelPrivate::chatRequest(QLatin1StringView event, const QJsonObject &payload,
                                   std::function<void(const QJsonObject &)> onOk)
{
    auto *reply = ReplyControl::create(q);
    if (!config.chat) {
        finishSoon(reply, Reply::Status::Error, u"NOT_CHAT"_s, u"Chat needs a channel made with ChannelConfig::chat"_s);
        return reply;
    }
    if (!wanted) {
        finishSoon(reply, Reply::Status::Error, u"NOT_SUBSCRIBED"_s, u"subscribe() first"_s);
        return reply;
    }
    if (!joinRef || !connected()) {
        finishSoon(reply, Reply::Status::Error, u"NOT_JOINED"_s, u"The channel is not joined yet"_s);
        return reply;
    }
    QPointer<Reply> target(reply);
    QPointer<Channel> guard(q);
    ClientPrivate::Pending pending;
    pending.channel = q;
    pending.onReply = [guard, target, onOk = std::move(onOk)](const QJsonObject &answer) {
        if (guard && onOk && answer.value("status"_L1).toString() == "ok"_L1)
            onOk(answer.value("response"_L1).toObject());
        finishFromPayload(target, answer);
    };
    pending.onTimeout = [target] {
        ReplyControl::finish(target, Reply::Status::TimedOut, {}, u"TIMEOUT"_s, u"The server did not answer in time"_s);
    };
    pending.onLost = [target](const QString &code, const QString &message) {
        ReplyControl::finish(target, Reply::Status::Error, {}, code, message);
    };
    clientPrivate()->request(topic, QString(event), payload, joinRef, std::move(pending));
    return reply;
}

void ChannelPrivate::loadPage(qint64 before, int limit, Reply *reply)
{
    QJsonObject payload{{u"limit"_s, std::clamp(limit, 1, 100)}};
    if (before > 0)
        payload.insert(u"before"_s, before);
    QPointer<Reply> target(reply);
    auto *request = chatRequest(P::Events::History, payload, [this](const QJsonObject &response) {
        const auto page = response.value("messages"_L1).toArray();
        for (const auto &value : page) {
            // Our own queued messages the server already has (their ack was lost).
            const auto m = value.toObject();
            const auto clientId = m.value("client_id"_L1).toString();
            if (!clientId.isEmpty() && isOwnUser(m.value("author"_L1).toObject().value("id"_L1).toString())
                && (clientPrivate()->indexOfQueued(clientId) >= 0 || sendReplies.contains(clientId)))
                confirmOwn(clientId, m, m);
        }
        messages->insertMessages(page);
        messages->setHasOlder(response.value("has_more"_L1).toBool());
        const auto last = response.value("last_seq"_L1).toInteger();
        if (last > lastSeq)
            setChatCounts(last, readSeq, unread, mentions);
    });
    if (!target)
        return;
    // Hand the internal request's outcome to the caller's reply.
    QObject::connect(request, &Reply::finished, target, [request, target] {
        ReplyControl::finish(target, request->status(), request->response(), request->errorCode(), request->errorMessage());
    });
}

void ChannelPrivate::syncOutboxRows()
{
    if (!config.chat)
        return;
    auto *cp = clientPrivate();
    QSet<QString> queued;
    for (const auto &m : std::as_const(cp->outbox)) {
        if (m.topic != topic)
            continue;
        queued.insert(m.clientId);
        const auto row = messages->indexOfClientId(m.clientId);
        if (row >= messages->confirmedCount())
            continue;
        if (row >= 0) {
            // The server has it already (a page came first): the entry is done.
            continue;
        }
        messages->addPending(m.clientId, m.body, m.meta, m.createdAt, cp->userName);
        if (m.failed)
            messages->failPending(m.clientId, m.errorCode, m.errorMessage);
    }
    QStringList gone;
    for (int row = messages->confirmedCount(); row < messages->rowCount(); ++row) {
        const auto id = messages->index(row).data(MessageModel::ClientIdRole).toString();
        if (!queued.contains(id))
            gone.append(id);
    }
    for (const auto &id : std::as_const(gone))
        messages->removePending(id);
    pump();
}

void ChannelPrivate::pump()
{
    if (!config.chat || !wanted || !joinRef || !connected() || !inFlight.isEmpty() || sendRetryTimer.isActive())
        return;
    auto *cp = clientPrivate();
    const QueuedMessage *next = nullptr;
    for (const auto &m : std::as_const(cp->outbox)) {
        if (m.topic == topic && !m.failed) {
            next = &m;
            break;
        }
    }
    if (!next) {
        if (autoCreated) {
            // Opened only to deliver these: done.
            QPointer<Channel> guard(q);
            QMetaObject::invokeMethod(
                q,
                [guard] {
                    if (guard && guard->d->autoCreated)
                        guard->client()->removeChannel(guard);
                },
                Qt::QueuedConnection);
        }
        return;
    }
    // One message in flight per channel: a refusal or a lost connection can then never let a
    // later message overtake an earlier one. Resends carry the same client_id.
    const auto clientId = next->clientId;
    QJsonObject payload{{u"client_id"_s, clientId}, {u"body"_s, next->body}};
    if (!next->meta.isEmpty())
        payload.insert(u"meta"_s, next->meta);
    inFlight = clientId;
    qCDebug(lcClientChat) << "sending" << clientId << "to" << topic;
    QPointer<Channel> guard(q);
    ClientPrivate::Pending pending;
    pending.channel = q;
    pending.onReply = [this, guard, clientId](const QJsonObject &answer) {
        if (guard)
            onSendAnswer(clientId, answer);
    };
    pending.onTimeout = [this, guard, clientId] {
        if (!guard)
            return;
        if (inFlight == clientId)
            inFlight.clear();
        // It may have been stored: the resend (same client_id) gets the original answer.
        retrySendLater(int(std::max<qint64>(200, clientPrivate()->requestTimeout / 4)));
    };
    pending.onLost = [this, guard, clientId](const QString &, const QString &) {
        if (guard && inFlight == clientId)
            inFlight.clear(); // sent again after the rejoin
    };
    cp->request(topic, QString(P::Events::MessageSend), payload, joinRef, std::move(pending));
}

void ChannelPrivate::retrySendLater(int delayMs)
{
    sendRetryTimer.start(std::max(50, delayMs));
}

void ChannelPrivate::onSendAnswer(const QString &clientId, const QJsonObject &payload)
{
    if (inFlight == clientId)
        inFlight.clear();
    const auto response = payload.value("response"_L1).toObject();
    if (payload.value("status"_L1).toString() == "ok"_L1) {
        sendRetryAttempt = 0;
        confirmOwn(clientId, response);
        pump();
        return;
    }
    const auto code = response.value("code"_L1).toString();
    const auto reason = response.value("reason"_L1).toString();
    if (isRetryableSendError(code)) {
        ++sendRetryAttempt;
        const auto retryAfter = response.value("retry_after"_L1).toInt();
        const auto &backoff = clientPrivate()->backoff;
        const auto delay = retryAfter > 0 ? retryAfter
                                          : int((backoff ? backoff(sendRetryAttempt)
                                                         : Client::defaultBackoff(sendRetryAttempt)).count());
        qCInfo(lcClientChat).noquote() << "send to" << topic << "refused for now:" << code << "- again in" << delay << "ms";
        retrySendLater(delay);
        return;
    }
    if (code == P::Errors::NotJoined) {
        // The server no longer counts us in (closed meanwhile): rejoin; the message stays queued.
        joinRef.reset();
        join();
        return;
    }
    qCInfo(lcClientChat).noquote() << "send to" << topic << "refused:" << code << reason;
    failQueued(clientId, code, reason);
    pump();
}

void ChannelPrivate::confirmOwn(const QString &clientId, const QJsonObject &ack, const QJsonObject &message)
{
    clientPrivate()->removeQueued(clientId);
    messages->confirmPending(clientId, ack);
    if (!message.isEmpty())
        messages->insertMessage(message); // the full copy: fills in what the ack lacks
    const qint64 seq = ack.value("seq"_L1).toInteger();
    if (seq > lastSeq)
        setChatCounts(seq, readSeq, unread, mentions);
    QJsonObject response{{u"id"_s, ack.value("id"_L1)},
                         {u"seq"_s, ack.value("seq"_L1)},
                         {u"ts"_s, ack.value("ts"_L1)},
                         {u"client_id"_s, clientId}};
    if (ack.value("duplicate"_L1).toBool())
        response.insert(u"duplicate"_s, true);
    finishSendReplies(clientId, Reply::Status::Ok, response);
}

void ChannelPrivate::failQueued(const QString &clientId, const QString &code, const QString &message)
{
    auto *cp = clientPrivate();
    const auto at = cp->indexOfQueued(clientId);
    if (at >= 0) {
        // Kept (as failed) so that a restart still shows it and it can be retried.
        auto &entry = cp->outbox[at];
        entry.failed = true;
        entry.errorCode = code;
        entry.errorMessage = message;
        cp->saveQueue();
    }
    messages->failPending(clientId, code, message);
    finishSendReplies(clientId, Reply::Status::Error, {}, code, message);
}

void ChannelPrivate::failAllQueued(const QString &code, const QString &message)
{
    QStringList ids;
    for (const auto &m : std::as_const(clientPrivate()->outbox)) {
        if (m.topic == topic && !m.failed)
            ids.append(m.clientId);
    }
    for (const auto &id : std::as_const(ids))
        failQueued(id, code, message);
    pump(); // an auto-created channel has nothing left to do
}

void ChannelPrivate::finishSendReplies(const QString &clientId, Reply::Status status, const QJsonObject &response,
                                       const QString &code, const QString &message)
{
    const auto replies = sendReplies.take(clientId);
    for (const auto &reply : replies)
        ReplyControl::finish(reply, status, response, code, message);
}

void ChannelPrivate::detachChat()
{
    stopTyping();
    sendRetryTimer.stop();
    const auto all = std::exchange(sendReplies, {});
    for (auto it = all.cbegin(); it != all.cend(); ++it) {
        for (const auto &reply : it.value())
            ReplyControl::finish(reply, Reply::Status::Error, {}, u"CHANNEL_REMOVED"_s,
                                 u"The channel was removed; the message stays queued"_s);
    }
}

// ---- Channel -------------------------------------------------------------------------------

Channel::Channel(Client *client, const QString &topic, const ChannelConfig &config)
    : QObject(client), d(std::make_unique<ChannelPrivate>(this, client, topic, config))
{
}

Channel::~Channel() = default;

QString Channel::topic() const
{
    return d->topic;
}

ChannelConfig Channel::config() const
{
    return d->config;
}

Channel::Status Channel::status() const
{
    return d->status;
}

QString Channel::errorCode() const
{
    return d->errorCode;
}

QString Channel::errorMessage() const
{
    return d->errorMessage;
}

Client *Channel::client() const
{
    return d->client;
}

void Channel::subscribe()
{
    if (d->wanted && (d->joinRef || d->joinInFlight))
        return;
    d->wanted = true;
    d->authBlocked = false;
    if (d->leaveInFlight) {
        d->setStatus(Status::Joining); // the leave's answer rejoins: the last wish wins
        return;
    }
    if (d->connected())
        d->join();
    else
        d->setStatus(Status::Joining);
}

Reply *Channel::unsubscribe()
{
    auto *reply = ReplyControl::create(this);
    d->stopTyping(); // before wanted goes: the stop still reaches the channel
    d->clearTypers();
    d->wanted = false;
    d->rejoinTimer.stop();
    d->failBuffered(u"NOT_SUBSCRIBED"_s, u"The channel was unsubscribed"_s);
    d->failTrackReplies(u"NOT_SUBSCRIBED"_s, u"The channel was unsubscribed"_s);
    // A join still on the wire counts as joined: the server will have answered it by the time
    // it reads this leave.
    if ((!d->joinRef && !d->joinPendingRef) || !d->connected()) {
        d->joinRef.reset();
        d->clearPresence();
        d->setStatus(Status::Closed);
        finishSoon(reply, Reply::Status::Ok);
        return reply;
    }
    QPointer<Reply> target(reply);
    QPointer<Channel> guard(this);
    ClientPrivate::Pending pending;
    pending.channel = this;
    pending.onReply = [this, guard, target](const QJsonObject &payload) {
        if (!guard)
            return;
        d->leaveInFlight = false;
        d->joinRef.reset();
        d->clearPresence();
        // Whether the server said ok or "not a member", we are out; it is the reply's to tell.
        finishFromPayload(target, payload);
        if (d->wanted)
            d->join(); // subscribe() again while the leave was on the wire
        else
            d->setStatus(Status::Closed);
    };
    pending.onTimeout = [this, guard, target] {
        if (guard) {
            d->leaveInFlight = false;
            d->joinRef.reset();
            d->clearPresence();
        }
        ReplyControl::finish(target, Reply::Status::TimedOut, {}, u"TIMEOUT"_s, u"The server did not confirm the leave in time"_s);
        if (guard) {
            if (d->wanted)
                d->join();
            else
                d->setStatus(Status::Closed);
        }
    };
    pending.onLost = [this, guard, target](const QString &, const QString &) {
        // The connection is gone, and with it the membership.
        if (guard)
            d->leaveInFlight = false;
        if (target)
            ReplyControl::finish(target, Reply::Status::Ok, {}, {}, {});
    };
    d->leaveInFlight = true;
    d->clientPrivate()->request(d->topic, QString(Protocol::Events::Leave), {}, d->joinRef, std::move(pending));
    return reply;
}

Reply *Channel::send(const QString &event, const QJsonValue &payload)
{
    auto *reply = ReplyControl::create(this);
    if (event.isEmpty()) {
        finishSoon(reply, Reply::Status::Error, u"INVALID_EVENT"_s, u"A broadcast needs an event name"_s);
        return reply;
    }
    if (!d->wanted) {
        finishSoon(reply, Reply::Status::Error, u"NOT_SUBSCRIBED"_s, u"subscribe() before sending"_s);
        return reply;
    }
    if (d->joinRef && d->connected()) {
        d->sendBroadcast(event, payload, reply);
        return reply;
    }
    auto *cp = d->clientPrivate();
    if (!cp->reserveBufferSlot()) {
        const auto message = u"%1 pushes are already waiting for the connection"_s.arg(cp->bufferLimit);
        cp->setError(u"BUFFER_FULL"_s, message);
        finishSoon(reply, Reply::Status::Error, u"BUFFER_FULL"_s, message);
        return reply;
    }
    d->buffer.append({event, payload, reply});
    return reply;
}

Reply *Channel::track(const QJsonObject &meta)
{
    auto *reply = ReplyControl::create(this);
    if (!d->wanted) {
        finishSoon(reply, Reply::Status::Error, u"NOT_SUBSCRIBED"_s, u"subscribe() before tracking"_s);
        return reply;
    }
    const bool wasTracked = d->trackedMeta.has_value();
    d->trackedMeta = meta;
    if (!wasTracked)
        Q_EMIT trackedChanged();
    if (d->joinRef && d->connected() && !d->deferTrack)
        d->sendTrack(reply);
    else
        d->trackReplies.append(reply); // answered by the (re)track after the next join
    return reply;
}

Reply *Channel::untrack()
{
    auto *reply = ReplyControl::create(this);
    const bool wasTracked = d->trackedMeta.has_value();
    d->trackedMeta.reset();
    d->failTrackReplies(u"CANCELLED"_s, u"untrack() was called before the presence was confirmed"_s);
    if (wasTracked)
        Q_EMIT trackedChanged();
    if (!d->joinRef || !d->connected()) {
        finishSoon(reply, Reply::Status::Ok); // nothing is tracked on the server
        return reply;
    }
    QPointer<Reply> target(reply);
    QPointer<Channel> guard(this);
    ClientPrivate::Pending pending;
    pending.channel = this;
    pending.onReply = [this, guard, target](const QJsonObject &payload) {
        if (guard && payload.value("status"_L1).toString() == "ok"_L1)
            d->removeOwnEntry();
        finishFromPayload(target, payload);
    };
    pending.onTimeout = [target] {
        if (target)
            ReplyControl::finish(target, Reply::Status::TimedOut, {}, u"TIMEOUT"_s, u"The server did not confirm in time"_s);
    };
    pending.onLost = [target](const QString &, const QString &) {
        if (target) // the server drops a closed connection's presence anyway
            ReplyControl::finish(target, Reply::Status::Ok, {}, {}, {});
    };
    d->clientPrivate()->request(d->topic, QString(Protocol::Events::Presence),
                                {{u"type"_s, u"presence"_s}, {u"event"_s, u"untrack"_s}}, d->joinRef,
                                std::move(pending));
    return reply;
}

bool Channel::isTracked() const
{
    return d->trackedMeta.has_value();
}

QJsonObject Channel::presenceState() const
{
    return d->presence;
}

PresenceModel *Channel::presence() const
{
    return d->model;
}

QMetaObject::Connection Channel::onBroadcast(const QString &event, const QObject *context,
                                             std::function<void(const QJsonValue &)> callback)
{
    return connect(this, &Channel::broadcastReceived, context,
                   [event, callback = std::move(callback)](const QString &name, const QJsonValue &payload) {
                       if (event.isEmpty() || name == event)
                           callback(payload);
                   });
}

Reply *Channel::setStatus(const QString &status, const QString &text)
{
    auto meta = d->trackedMeta.value_or(QJsonObject());
    meta.insert(u"status"_s, status);
    if (text.isEmpty())
        meta.remove(u"status_text"_s);
    else
        meta.insert(u"status_text"_s, text);
    return track(meta);
}

bool Channel::isChat() const
{
    return d->config.chat;
}

MessageModel *Channel::messages() const
{
    return d->messages;
}

QString Channel::channelType() const
{
    return d->channelType;
}

qint64 Channel::lastSeq() const
{
    return d->lastSeq;
}

qint64 Channel::readSeq() const
{
    return d->readSeq;
}

int Channel::unreadCount() const
{
    return int(std::min<qint64>(d->unread, std::numeric_limits<int>::max()));
}

int Channel::mentionCount() const
{
    return int(std::min<qint64>(d->mentions, std::numeric_limits<int>::max()));
}

QVariantList Channel::typingUsers() const
{
    QVariantList users;
    for (const auto &t : d->typers)
        users.append(QVariantMap{{u"id"_s, t.id}, {u"name"_s, t.name.isEmpty() ? t.id : t.name}});
    return users;
}

Reply *Channel::sendMessage(const QString &body, const QJsonObject &meta)
{
    auto *reply = ReplyControl::create(this);
    if (!d->config.chat) {
        finishSoon(reply, Reply::Status::Error, u"NOT_CHAT"_s, u"Chat needs a channel made with ChannelConfig::chat"_s);
        return reply;
    }
    if (!d->wanted) {
        finishSoon(reply, Reply::Status::Error, u"NOT_SUBSCRIBED"_s, u"subscribe() before sending"_s);
        return reply;
    }
    if (body.trimmed().isEmpty()) {
        finishSoon(reply, Reply::Status::Error, u"INVALID_PAYLOAD"_s, u"A message needs a body"_s);
        return reply;
    }
    d->stopTyping();
    auto *cp = d->clientPrivate();
    cp->ensureQueue();
    QueuedMessage message;
    message.topic = d->topic;
    // Matches the protocol's client_id charset: hex digits and dashes.
    message.clientId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    message.body = body;
    message.meta = meta;
    message.createdAt = QDateTime::currentDateTimeUtc();
    // On disk before it is on the wire: whatever happens next, it is not lost.
    cp->enqueue(message);
    d->messages->addPending(message.clientId, body, meta, message.createdAt, cp->userName);
    d->sendReplies[message.clientId].append(reply);
    d->pump();
    return reply;
}

Reply *Channel::retryMessage(const QString &clientId)
{
    auto *reply = ReplyControl::create(this);
    auto *cp = d->clientPrivate();
    const auto at = cp->indexOfQueued(clientId);
    if (at < 0 || cp->outbox.at(at).topic != d->topic) {
        finishSoon(reply, Reply::Status::Error, u"UNKNOWN_MESSAGE"_s, u"No unconfirmed message has this client id"_s);
        return reply;
    }
    d->sendReplies[clientId].append(reply);
    if (cp->outbox.at(at).failed) {
        // Back of the queue, as if sent now; the same client_id, so a copy the server did
        // store after all is not stored twice.
        auto entry = cp->outbox.takeAt(at);
        entry.failed = false;
        entry.errorCode.clear();
        entry.errorMessage.clear();
        cp->outbox.append(entry);
        cp->saveQueue();
        d->messages->retryPending(clientId);
    }
    d->pump();
    return reply;
}

bool Channel::discardMessage(const QString &clientId)
{
    auto *cp = d->clientPrivate();
    const auto at = cp->indexOfQueued(clientId);
    if (at < 0 || cp->outbox.at(at).topic != d->topic || d->inFlight == clientId)
        return false;
    cp->removeQueued(clientId);
    d->messages->removePending(clientId);
    d->finishSendReplies(clientId, Reply::Status::Error, {}, u"DISCARDED"_s, u"The message was discarded"_s);
    return true;
}

Reply *Channel::editMessage(const QString &messageId, const QString &body)
{
    return d->chatRequest(Protocol::Events::MessageEdit, {{u"id"_s, messageId}, {u"body"_s, body}},
                          [this, body](const QJsonObject &response) {
                              auto applied = response;
                              applied.insert(u"body"_s, body);
                              d->messages->applyEdited(applied);
                          });
}

Reply *Channel::deleteMessage(const QString &messageId)
{
    return d->chatRequest(Protocol::Events::MessageDelete, {{u"id"_s, messageId}},
                          [this](const QJsonObject &response) { d->onDeleted(response); });
}

Reply *Channel::addReaction(const QString &messageId, const QString &emoji)
{
    return d->chatRequest(Protocol::Events::ReactionAdd, {{u"id"_s, messageId}, {u"emoji"_s, emoji}},
                          [this](const QJsonObject &response) {
                              d->messages->applyReactions(response.value("id"_L1).toString(),
                                                          response.value("reactions"_L1).toObject());
                          });
}

Reply *Channel::removeReaction(const QString &messageId, const QString &emoji)
{
    return d->chatRequest(Protocol::Events::ReactionRemove, {{u"id"_s, messageId}, {u"emoji"_s, emoji}},
                          [this](const QJsonObject &response) {
                              d->messages->applyReactions(response.value("id"_L1).toString(),
                                                          response.value("reactions"_L1).toObject());
                          });
}

Reply *Channel::markRead(qint64 seq)
{
    return d->chatRequest(Protocol::Events::Read, {{u"seq"_s, std::max<qint64>(0, seq)}},
                          [this](const QJsonObject &response) {
                              d->setChatCounts(d->lastSeq, std::max(d->readSeq, response.value("read_seq"_L1).toInteger()),
                                               response.value("unread"_L1).toInteger(),
                                               response.value("mentions"_L1).toInteger());
                          });
}

Reply *Channel::markAllRead()
{
    return markRead(d->lastSeq);
}

Reply *Channel::loadOlder(int limit)
{
    auto *reply = ReplyControl::create(this);
    const auto lowest = d->messages->lowestSeq();
    if (d->config.chat && d->wanted && d->joinRef && lowest == 1) {
        d->messages->setHasOlder(false);
        finishSoon(reply, Reply::Status::Ok); // the first message is here: nothing is older
        return reply;
    }
    d->loadPage(lowest, limit, reply);
    return reply;
}

void Channel::setTyping(bool typing)
{
    if (!d->config.chat)
        return;
    if (!typing) {
        d->stopTyping();
        return;
    }
    d->typingIdle.start();
    if (d->typingActive)
        return; // the renew timer keeps it alive
    d->typingActive = true;
    d->typingStartSent = false;
    d->typingRenew.start();
    d->sendTypingStart();
}

} // namespace Confab
