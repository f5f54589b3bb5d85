#include "ConfabClient/channel.h"

#include "ConfabClient/client.h"
#include "ConfabClient/presencemodel.h"
#include "ConfabClient/reply.h"
#include "reply_p.h"
#include "channel_p.h"
#include "client_p.h"
#include "logging_p.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QSet>

using namespace Qt::StringLiterals;

namespace Confab {

namespace P = Confab::Protocol;

namespace {

bool isAuthCode(const QString &code)
{
    return code.startsWith("AUTH_"_L1);
}

// Replies created and finished within one API call must still let the caller connect first.
void finishSoon(Reply *reply, Reply::Status status, const QString &code = {}, const QString &message = {})
{
    QMetaObject::invokeMethod(
        reply, [reply, status, code, message] { ReplyControl::finish(reply, status, {}, code, message); },
        Qt::QueuedConnection);
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
    return config;
}

// ---- ChannelPrivate ------------------------------------------------------------------------

ChannelPrivate::ChannelPrivate(Channel *q, Client *client, const QString &topic, const ChannelConfig &config)
    : q(q), client(client), topic(topic), config(config)
{
    rejoinTimer.setSingleShot(true);
    QObject::connect(&rejoinTimer, &QTimer::timeout, q, [this] { join(); });
    model = new PresenceModel(q);
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
    if (!wanted || !connected() || joinInFlight || joinRef)
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
        QJsonObject payload{{u"config"_s, cfg}};
        if (!token.isEmpty())
            payload.insert(u"access_token"_s, token);
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
            if (ok || response.value("code"_L1).toString() == P::Errors::AlreadyJoined) {
                joinRef = *ref;
                onJoined(!ok);
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

void ChannelPrivate::onJoined(bool alreadyJoined)
{
    rejoinAttempt = 0;
    authBlocked = false;
    ownRef.reset(); // refs die with the connection; the re-track below gets a new one
    if (alreadyJoined) // we missed the presence_state that follows a fresh join
        clientPrivate()->post(topic, QString(P::Events::PresenceState), {}, joinRef);
    flush(); // what waited goes first, before anything the handlers below send
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
    if (isAuthCode(code)) {
        // Retrying with the same token cannot help: wait for setAuth() (or a reconnect with a
        // token provider). What was waiting to be sent cannot be sent: say so now.
        authBlocked = true;
        failBuffered(code, reason);
        failTrackReplies(code, reason);
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
        Q_EMIT q->errorOccurred(code, reason);
        if (code == P::Errors::AuthTokenExpired && clientPrivate()->tokenProvider && wanted) {
            join(); // the provider has a fresh token for us
            return;
        }
        authBlocked = isAuthCode(code);
        setStatus(Channel::Status::Closed, code, reason);
    } else if (event == P::Events::Error) {
        Q_EMIT q->errorOccurred(payload.value("code"_L1).toString(), payload.value("reason"_L1).toString());
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

} // namespace Confab
