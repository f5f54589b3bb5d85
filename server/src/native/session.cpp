#include "native/session.h"

#include "engine/chatrules.h"
#include "engine/hub.h"
#include "engine/policy.h"
#include "native/nativecodec.h"
#include "ops/logging.h"
#include "ops/metrics.h"

#include <ConfabProtocol/codes.h>
#include <ConfabProtocol/json.h>

#include <QtCore/QJsonArray>
#include <QtCore/QRegularExpression>
#include <QtNetwork/QTcpSocket>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace P = Confab::Protocol;
namespace Ev = Confab::Protocol::Events;
namespace Err = Confab::Protocol::Errors;

namespace {

qint64 monotonicMs()
{
    return monotonicNs() / 1'000'000;
}

// An oversized frame is not parsed, but its head usually names its ref and topic; reading them
// lets the error reach the request that caused it instead of timing out on the client.
P::DecodeError peekAddress(const QString &message)
{
    static const QRegularExpression head(
        uR"re(^\s*\[\s*(?:null|"[^"\\]{0,64}")\s*,\s*(null|"[^"\\]{0,64}")\s*(?:,\s*("[^"\\]{1,255}"))?)re"_s);
    P::DecodeError address;
    const auto m = head.match(QStringView(message).left(512));
    if (!m.hasMatch())
        return address;
    const auto ref = m.captured(1);
    if (ref != "null"_L1)
        address.ref = ref.mid(1, ref.size() - 2);
    const auto topic = m.captured(2);
    if (topic.size() > 2 && P::isValidTopic(QStringView(topic).sliced(1, topic.size() - 2)))
        address.topic = topic.mid(1, topic.size() - 2);
    return address;
}

// Reads an optional boolean member; false with \a error set when present with another type.
bool readBool(const QJsonObject &o, QLatin1StringView key, bool &out, const QString &path, QString &error)
{
    const auto v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return true;
    if (!v.isBool()) {
        error = path + " must be a boolean"_L1;
        return false;
    }
    out = v.toBool();
    return true;
}

bool readObject(const QJsonObject &o, QLatin1StringView key, QJsonObject &out, const QString &path,
                QString &error)
{
    const auto v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return true;
    if (!v.isObject()) {
        error = path + " must be an object"_L1;
        return false;
    }
    out = v.toObject();
    return true;
}

constexpr auto CloseTokenExpired = QWebSocketProtocol::CloseCode(4001);

// How long a closing peer has to answer our close frame before the socket is dropped.
constexpr std::chrono::seconds CloseGrace{5};

Failure invalid(const QString &message)
{
    return {Err::InvalidPayload, message};
}

} // namespace

Session::Session(quint64 id, std::unique_ptr<QWebSocket> webSocket, std::unique_ptr<QTcpSocket> tcp,
                 IpLimits::Slot slot, const SessionContext &context)
    : QObject(nullptr),
      m_id(id),
      m_clientId(u"client-"_s + QString::number(id)),
      m_context(context),
      m_slot(std::move(slot)),
      m_tcp(tcp.release()),
      m_webSocket(std::move(webSocket)),
      m_bucket(context.config.limits.messagesPerMinute, monotonicMs()),
      m_strikes(context.config.limits.maxRejectsPerMinute),
      m_lastActivityMs(monotonicMs())
{
    m_caller.origin = m_clientId;
    m_expiryTimer.setSingleShot(true);
    connect(&m_expiryTimer, &QTimer::timeout, this, &Session::expireTokens);
    connect(m_webSocket.get(), &QWebSocket::textMessageReceived, this, &Session::onText);
    connect(m_webSocket.get(), &QWebSocket::binaryMessageReceived, this, &Session::onBinary);
    // Queued: a socket can report its end while the hub is fanning out to it; the session
    // must not leave channels (and change the member list) in the middle of that loop.
    connect(m_webSocket.get(), &QWebSocket::disconnected, this, &Session::onDisconnected, Qt::QueuedConnection);
    // Direct: Qt closes the TCP socket right after this signal (also when it closes by itself,
    // 1009 for an oversized frame), and the close must not turn into a reset.
    connect(m_webSocket.get(), &QWebSocket::aboutToClose, this, [this] {
        if (m_tcp && m_context.closeGracefully)
            m_context.closeGracefully(m_tcp);
    }, Qt::DirectConnection);
}

Session::~Session()
{
    // A live session being destroyed (server teardown) leaves first; a finished one already has.
    if (!m_finished) {
        m_finished = true;
        leaveAll();
    }
    m_expiryTimer.stop();
    if (m_webSocket)
        m_webSocket->disconnect(this);
    m_webSocket.reset();
    delete m_tcp.data(); // after the WebSocket that used it; null if it went with it
}

void Session::deliver(const QString &topic, const QString &frame, qint64 messageSeq)
{
    const auto it = m_memberships.find(topic);
    if (it != m_memberships.end()) {
        if (it->joining) {
            it->held.append({frame, messageSeq}); // sent after the join's reply and replay
            return;
        }
        if (messageSeq > 0 && messageSeq <= it->replayedUpTo)
            return; // already sent in the catch-up replay
    }
    send(frame);
}

void Session::send(const QString &frame)
{
    if (m_closing || m_finished || m_webSocket->state() != QAbstractSocket::ConnectedState)
        return;
    m_webSocket->sendTextMessage(frame);
    const auto buffered = m_webSocket->bytesToWrite();
    const auto limit = m_context.config.limits.maxSendBufferBytes;
    if (buffered > limit) {
        m_context.metrics.rejected(u"SLOW_CONSUMER"_s);
        logEvent(lcSession(), QtInfoMsg, "session.slow_consumer",
                 {{u"client"_s, m_clientId}, {u"buffered"_s, buffered}, {u"limit"_s, qint64(limit)}});
        close(QWebSocketProtocol::CloseCodePolicyViolated,
              u"SLOW_CONSUMER: more than %1 bytes waiting to be sent"_s.arg(limit));
    }
}

void Session::sendFrame(const P::Frame &frame)
{
    send(QString::fromUtf8(P::encodeFrame(frame)));
    m_context.metrics.framesOut();
}

void Session::replyOk(const P::Frame &request, const QJsonObject &response)
{
    if (request.ref)
        sendFrame(P::replyFrame(request.ref, request.topic, true, response));
}

void Session::close(QWebSocketProtocol::CloseCode code, const QString &reason)
{
    if (m_closing || m_finished)
        return;
    m_closing = true;
    // Lost already (its disconnected() is queued, so the session has not finished yet): there
    // is nobody to send a close frame to, and Qt would try to write one to a closed socket.
    if (m_webSocket->state() != QAbstractSocket::ConnectedState)
        return;
    m_webSocket->close(code, reason);
    // A peer that never answers the close (or never reads at all) must not keep the socket.
    QTimer::singleShot(CloseGrace, m_webSocket.get(), &QWebSocket::abort);
}

void Session::abort()
{
    if (!m_finished)
        m_webSocket->abort();
}

void Session::reject(const Failure &failure, const std::optional<QString> &ref, const QString &topic)
{
    m_context.metrics.rejected(QString(failure.code));
    logEvent(lcSession(), QtDebugMsg, "frame.rejected",
             {{u"client"_s, m_clientId}, {u"code"_s, QString(failure.code)}, {u"topic"_s, topic}});
    sendFrame(P::rejectionFrame(P::DecodeError{failure.code, failure.message, ref, topic}, failure.extra));
    if (m_strikes.strike(monotonicMs())) {
        m_context.metrics.rejected(u"ABUSE_CLOSED"_s);
        logEvent(lcSession(), QtInfoMsg, "session.closed_for_abuse",
                 {{u"client"_s, m_clientId},
                  {u"peer"_s, m_slot.peer().toString()},
                  {u"limit"_s, m_context.config.limits.maxRejectsPerMinute}});
        close(QWebSocketProtocol::CloseCodePolicyViolated, u"Too many rejected frames"_s);
    }
}

void Session::onText(const QString &message)
{
    if (m_closing || m_finished)
        return;
    const qint64 receivedAt = monotonicNs();
    m_lastActivityMs = receivedAt / 1'000'000;
    m_context.metrics.frameIn();

    const QByteArray utf8 = message.toUtf8();
    const auto limit = m_context.config.limits.maxMessageBytes;
    if (utf8.size() > limit) {
        const auto address = peekAddress(message);
        reject({Err::MessageTooLarge, u"Frame of %1 bytes exceeds the limit of %2 bytes"_s.arg(utf8.size()).arg(limit),
                {{u"limit"_s, qint64(limit)}}},
               address.ref, address.topic);
        return;
    }
    auto decoded = P::decodeFrame(utf8);
    if (!decoded.ok()) {
        reject({decoded.error.code, decoded.error.reason}, decoded.error.ref, decoded.error.topic);
        return;
    }
    handleFrame(*decoded.frame, receivedAt);
}

void Session::onBinary(const QByteArray &)
{
    if (m_closing || m_finished)
        return;
    m_lastActivityMs = monotonicMs();
    m_context.metrics.frameIn();
    reject({Err::UnsupportedFrame, u"Binary frames are not supported; send JSON text frames"_s}, std::nullopt, {});
}

void Session::handleFrame(const P::Frame &frame, qint64 receivedAtNs)
{
    if (frame.topic == P::Topics::System) {
        if (frame.event == Ev::Heartbeat)
            replyOk(frame); // a null ref asks for no reply; idle time is reset either way
        else if (frame.event == Ev::Hello)
            handleHello(frame);
        else if (frame.event == Ev::Unread)
            handleUnread(frame);
        else
            reject({Err::InvalidTopic, u"Only heartbeat, hello and unread may be sent on $system"_s}, frame.ref,
                   frame.topic);
        return;
    }

    // Heartbeats above are exempt: they are the client's liveness, not its traffic.
    const qint64 now = receivedAtNs / 1'000'000;
    if (!m_bucket.tryTake(now)) {
        const auto retryAfter = m_bucket.retryAfterMs(now);
        reject({Err::RateLimited,
                u"More than %1 messages a minute; retry after %2 ms"_s.arg(m_context.config.limits.messagesPerMinute)
                    .arg(retryAfter),
                {{u"retry_after"_s, retryAfter}}},
               frame.ref, frame.topic);
        return;
    }

    if (frame.event == Ev::Join)
        handleJoin(frame);
    else if (frame.event == Ev::Leave)
        handleLeave(frame);
    else if (frame.event == Ev::Broadcast)
        handleBroadcast(frame, receivedAtNs);
    else if (frame.event == Ev::Presence)
        handlePresence(frame, receivedAtNs);
    else if (frame.event == Ev::PresenceState)
        handlePresenceState(frame);
    else if (frame.event == Ev::AccessToken)
        handleAccessToken(frame);
    else if (frame.event.contains(u':') || frame.event == Ev::History || frame.event == Ev::Read)
        handleChat(frame, receivedAtNs);
    else
        reject({Err::UnknownEvent, u"Unknown event \"%1\""_s.arg(frame.event)}, frame.ref, frame.topic);
}

// ---- Joining ---------------------------------------------------------------------------------

void Session::handleJoin(const P::Frame &frame)
{
    QString error;
    QJsonObject config, broadcast, presence, chat, declaredUser;
    JoinPlan plan{frame, {}, std::nullopt};
    Membership &membership = plan.membership;
    const auto &p = frame.payload;
    if (!readObject(p, "config"_L1, config, u"config"_s, error)
        || !readObject(config, "broadcast"_L1, broadcast, u"config.broadcast"_s, error)
        || !readObject(config, "presence"_L1, presence, u"config.presence"_s, error)
        || !readObject(config, "chat"_L1, chat, u"config.chat"_s, error)
        || !readObject(config, "user"_L1, declaredUser, u"config.user"_s, error)
        || !readBool(broadcast, "self"_L1, membership.self, u"config.broadcast.self"_s, error)
        || !readBool(broadcast, "ack"_L1, membership.ack, u"config.broadcast.ack"_s, error)) {
        reject(invalid(error), frame.ref, frame.topic);
        return;
    }
    const auto keyValue = presence.value("key"_L1);
    if (keyValue.isString()) {
        membership.presenceKey = keyValue.toString();
    } else if (!keyValue.isUndefined() && !keyValue.isNull()) {
        reject(invalid(u"config.presence.key must be a string"_s), frame.ref, frame.topic);
        return;
    }
    const auto tokenValue = p.value("access_token"_L1);
    if (!tokenValue.isUndefined() && !tokenValue.isNull() && !tokenValue.isString()) {
        reject(invalid(u"access_token must be a string"_s), frame.ref, frame.topic);
        return;
    }
    membership.chat = config.contains("chat"_L1);
    if (chat.contains("since_seq"_L1)) {
        const auto since = chat.value("since_seq"_L1);
        if (!since.isDouble() || since.toDouble() < 0 || since.toDouble() != double(since.toInteger())) {
            reject(invalid(u"config.chat.since_seq must be a whole number >= 0"_s), frame.ref, frame.topic);
            return;
        }
        plan.sinceSeq = since.toInteger();
    }
    if (const auto badName = Policy::checkTopic(frame.topic)) {
        reject(*badName, frame.ref, frame.topic);
        return;
    }
    if (m_memberships.contains(frame.topic) || m_pendingJoins.contains(frame.topic)) {
        reject({Err::AlreadyJoined, u"Already joined this channel"_s}, frame.ref, frame.topic);
        return;
    }
    const int maxChannels = m_context.config.limits.maxChannelsPerConnection;
    if (m_memberships.size() + m_pendingJoins.size() >= maxChannels) {
        reject({Err::ChannelLimit, u"A connection may join at most %1 channels"_s.arg(maxChannels),
                {{u"limit"_s, maxChannels}}},
               frame.ref, frame.topic);
        return;
    }

    // Who joins: in JWT mode the join's token says it, and the first token sets the connection's
    // user; in open mode a declared config.user does (once).
    const auto &policy = m_context.policy;
    if (policy.tokensRequired()) {
        const auto caller = policy.fromToken(tokenValue.toString().toUtf8(), m_clientId);
        if (!caller.ok()) {
            reject(caller.failure, frame.ref, frame.topic);
            return;
        }
        if (!adoptCaller(*caller.value, frame))
            return;
        membership.caller = *caller.value;
    } else {
        if (!declaredUser.isEmpty() && !m_caller.user) {
            const auto declared = policy.withDeclaredUser(m_caller, declaredUser);
            if (!declared.ok()) {
                reject(declared.failure, frame.ref, frame.topic);
                return;
            }
            if (!adoptCaller(*declared.value, frame))
                return;
        }
        membership.caller = m_caller;
    }

    m_pendingJoins.insert(frame.topic);
    // Copied first: the plan moves into the callback below, and argument order is unspecified.
    const Caller caller = membership.caller;
    const QString topic = frame.topic;
    policy.authorize(caller, topic, Right::Read, this,
                     [this, plan = std::move(plan)](const std::optional<Failure> &denied) mutable {
        m_pendingJoins.remove(plan.request.topic);
        if (m_finished || m_closing)
            return;
        if (denied) {
            reject(*denied, plan.request.ref, plan.request.topic);
            return;
        }
        continueJoin(std::move(plan));
    });
}

void Session::continueJoin(JoinPlan plan)
{
    const auto &frame = plan.request;
    const bool joined = m_context.hub.join(this, frame.topic, plan.membership.self);
    Q_ASSERT(joined); // the session's own bookkeeping said it was not a member
    Q_UNUSED(joined);
    const quint64 generation = ++m_nextJoinGeneration;
    plan.membership.generation = generation;
    plan.membership.joining = plan.membership.chat;
    plan.membership.joinRef = frame.ref;
    m_memberships.insert(frame.topic, plan.membership);
    armExpiryTimer();
    if (!plan.membership.chat) {
        // The reply must come first: clients record the join before reading presence_state.
        replyOk(frame);
        sendPresenceState(frame.topic);
        return;
    }
    // Joined to the hub first, so nothing committed meanwhile is missed: it is held and sent
    // after the replay, without repeats.
    m_context.chat.joinState(callerFor(frame.topic), frame.topic, plan.sinceSeq, this,
                             [this, frame, generation](const Outcome<ChatService::JoinState> &state) {
        if (!state.ok())
            failJoin(frame, generation, state.failure);
        else
            finishChatJoin(frame.topic, generation, *state.value);
    });
}

void Session::finishChatJoin(const QString &topic, quint64 generation, const ChatService::JoinState &state)
{
    auto it = m_memberships.find(topic);
    if (m_finished || it == m_memberships.end() || it->generation != generation)
        return; // left, or rejoined, while this was being looked up
    it->joining = false;
    it->replayedUpTo = state.replay.isEmpty() ? 0 : state.replay.constLast().seq;
    const auto held = std::exchange(it->held, {});
    const qint64 replayedUpTo = it->replayedUpTo;
    if (it->joinRef) // a join with a null ref asked for no reply
        sendFrame(P::replyFrame(it->joinRef, topic, true, {{u"chat"_s, state.info}}));
    sendPresenceState(topic);
    QJsonArray typers;
    for (const auto &u : m_context.hub.typingUsers(topic))
        typers.append(QJsonObject{{u"id"_s, u.id}, {u"name"_s, u.name}});
    send(NativeCodec::serverEvent(topic, Ev::TypingState, QJsonObject{{u"users"_s, typers}}));
    m_context.metrics.framesOut();
    for (const auto &message : state.replay) {
        send(NativeCodec::serverEvent(topic, Ev::Message, message.toJson()));
        m_context.metrics.framesOut();
    }
    for (const auto &frame : held) {
        if (frame.seq > 0 && frame.seq <= replayedUpTo)
            continue;
        send(frame.frame);
    }
}

void Session::failJoin(const P::Frame &request, quint64 generation, const Failure &failure)
{
    const auto it = m_memberships.find(request.topic);
    if (m_finished || it == m_memberships.end() || it->generation != generation)
        return;
    m_memberships.erase(it);
    m_context.hub.leave(this, request.topic);
    armExpiryTimer();
    reject(failure, request.ref, request.topic);
}

void Session::sendPresenceState(const QString &topic)
{
    send(NativeCodec::presenceState(topic, m_context.hub.presenceState(topic, m_id)));
    m_context.metrics.framesOut();
}

void Session::handleLeave(const P::Frame &frame)
{
    if (!m_memberships.contains(frame.topic)) {
        if (m_context.hub.hasChannel(frame.topic))
            reject({Err::NotJoined, u"Not a member of this channel"_s}, frame.ref, frame.topic);
        else
            reject({Err::ChannelNotFound, u"Channel not found"_s}, frame.ref, frame.topic);
        return;
    }
    m_context.hub.leave(this, frame.topic); // untracks presence first: others get the leave diff
    m_memberships.remove(frame.topic);
    armExpiryTimer();
    replyOk(frame);
}

// ---- Broadcast and presence --------------------------------------------------------------------

void Session::handleBroadcast(const P::Frame &frame, qint64 receivedAtNs)
{
    // Rights were decided by the Policy when the channel was joined (and again on each token
    // refresh); membership is that decision.
    const auto it = m_memberships.constFind(frame.topic);
    if (it == m_memberships.cend()) {
        reject({Err::NotJoined, u"Not joined to channel"_s}, frame.ref, frame.topic);
        return;
    }
    const auto &p = frame.payload;
    const auto type = p.value("type"_L1);
    if (!type.isUndefined() && type != QJsonValue(u"broadcast"_s)) {
        reject(invalid(u"payload.type must be \"broadcast\""_s), frame.ref, frame.topic);
        return;
    }
    const auto event = p.value("event"_L1);
    if (!event.isString() || event.toString().isEmpty() || event.toString().size() > P::Bounds::MaxEventLength) {
        reject(invalid(u"payload.event must be a non-empty string of at most %1 characters"_s.arg(
                   P::Bounds::MaxEventLength)),
               frame.ref, frame.topic);
        return;
    }
    // The sender's payload is relayed as its bytes, never re-encoded: key order, number
    // formatting and escapes reach the others as they were sent.
    const auto raw = P::Json::objectMember(frame.rawPayload, u"payload");
    const QByteArray payload = raw ? raw->toByteArray() : QByteArray();
    const int recipients = m_context.hub.broadcast(this, frame.topic, event.toString(), payload, receivedAtNs);
    if (it->ack)
        replyOk(frame, {{u"recipientCount"_s, recipients}});
}

void Session::handlePresence(const P::Frame &frame, qint64 receivedAtNs)
{
    const auto it = m_memberships.constFind(frame.topic);
    if (it == m_memberships.cend()) {
        reject({Err::NotJoined, u"Not joined to channel"_s}, frame.ref, frame.topic);
        return;
    }
    const auto &p = frame.payload;
    QString error;
    QJsonObject inner;
    if (!readObject(p, "payload"_L1, inner, u"payload.payload"_s, error)) {
        reject(invalid(error), frame.ref, frame.topic);
        return;
    }
    // The key may come with the presence payload; an empty string is a valid key.
    std::optional<QString> key;
    for (const auto &v : {inner.value("key"_L1), p.value("key"_L1)}) {
        if (v.isString()) {
            key = v.toString();
            break;
        }
        if (!v.isUndefined() && !v.isNull()) {
            reject(invalid(u"presence key must be a string"_s), frame.ref, frame.topic);
            return;
        }
    }

    const auto event = p.value("event"_L1).toString();
    if (event == "track"_L1) {
        QJsonObject meta;
        if (!readObject(inner, "meta"_L1, meta, u"payload.payload.meta"_s, error)) {
            reject(invalid(error), frame.ref, frame.topic);
            return;
        }
        if (const auto refused = checkPresenceMeta(meta, m_context.config.limits.maxPresenceMetaBytes)) {
            reject(*refused, frame.ref, frame.topic);
            return;
        }
        // Who may be shown as whom is the Policy's: in JWT mode only as yourself.
        const auto resolved = m_context.policy.presenceKey(callerFor(frame.topic), key ? key : it->presenceKey,
                                                           m_clientId);
        if (!resolved.ok()) {
            reject(resolved.failure, frame.ref, frame.topic);
            return;
        }
        // The tracker gets no diff of its own track, so the reply tells it its entry (the SDK
        // ignores the extra fields). Native diffs skip the actor, so replying after the diff
        // went out keeps the reply-before-diff order on this socket.
        const auto entry = m_context.hub.track(this, frame.topic, *resolved.value, meta, receivedAtNs);
        replyOk(frame, {{u"presence_ref"_s, entry.ref}, {u"key"_s, entry.key}});
    } else if (event == "untrack"_L1) {
        std::optional<QString> untrackKey;
        if (key) {
            const auto resolved = m_context.policy.presenceKey(callerFor(frame.topic), key, m_clientId);
            if (!resolved.ok()) {
                reject(resolved.failure, frame.ref, frame.topic);
                return;
            }
            untrackKey = *resolved.value;
        }
        replyOk(frame); // untracking nothing is still ok
        m_context.hub.untrack(this, frame.topic, untrackKey, receivedAtNs);
    } else {
        reject(invalid(u"payload.event must be \"track\" or \"untrack\""_s), frame.ref, frame.topic);
    }
}

void Session::handlePresenceState(const P::Frame &frame)
{
    if (!m_memberships.contains(frame.topic)) {
        reject({Err::NotJoined, u"Not joined to channel"_s}, frame.ref, frame.topic);
        return;
    }
    sendPresenceState(frame.topic);
}

// ---- Identity and tokens -----------------------------------------------------------------------

void Session::handleAccessToken(const P::Frame &frame)
{
    auto it = m_memberships.find(frame.topic);
    if (it == m_memberships.end()) {
        reject({Err::NotJoined, u"Not joined to channel"_s}, frame.ref, frame.topic);
        return;
    }
    const auto tokenValue = frame.payload.value("access_token"_L1);
    if (!tokenValue.isString()) {
        reject(invalid(u"access_token must be a string"_s), frame.ref, frame.topic);
        return;
    }
    const auto &policy = m_context.policy;
    if (!policy.tokensRequired()) { // open mode: there is nothing to refresh
        replyOk(frame);
        return;
    }
    const auto caller = policy.fromToken(tokenValue.toString().toUtf8(), m_clientId);
    if (!caller.ok()) {
        // The channel stays open under its current token, which still expires on its own.
        reject(caller.failure, frame.ref, frame.topic);
        return;
    }
    if (it->caller.user && caller.value->user && it->caller.user->id != caller.value->user->id) {
        reject({Err::AuthInvalidToken, u"Token is for another user than the channel's"_s}, frame.ref, frame.topic);
        return;
    }
    if (const auto denied = policy.mayName(*caller.value, frame.topic)) {
        // The user's rights changed: the channel is closed, not merely refused a refresh.
        reject(*denied, frame.ref, frame.topic);
        closeChannel(frame.topic, denied->code, denied->message);
        return;
    }
    it->caller = *caller.value;
    armExpiryTimer();
    replyOk(frame);
}

void Session::handleHello(const P::Frame &frame)
{
    const auto &p = frame.payload;
    const auto &policy = m_context.policy;
    Outcome<Caller> caller;
    if (policy.tokensRequired()) {
        caller = policy.fromToken(p.value("access_token"_L1).toString().toUtf8(), m_clientId);
    } else {
        const auto declared = p.value("user"_L1).toObject();
        caller = declared.isEmpty()
            ? Outcome<Caller>::fail(Err::InvalidPayload,
                                    u"user needs an id of 1-64 of A-Z a-z 0-9 _ . - and a name of at most 100"_s)
            : policy.withDeclaredUser(m_caller, declared);
    }
    if (!caller.ok()) {
        reject(caller.failure, frame.ref, frame.topic);
        return;
    }
    if (!adoptCaller(*caller.value, frame))
        return;
    replyOk(frame, {{u"user"_s, QJsonObject{{u"id"_s, m_caller.user->id}, {u"name"_s, m_caller.user->name}}}});
}

bool Session::adoptCaller(const Caller &caller, const P::Frame &frame)
{
    if (!caller.user)
        return true;
    if (m_caller.user && m_caller.user->id != caller.user->id) {
        // One connection is one user: messages, reads and mentions are attributed to it.
        reject({Err::AuthInvalidToken, u"This connection is already %1"_s.arg(m_caller.user->id)}, frame.ref,
               frame.topic);
        return false;
    }
    const bool isNew = !m_caller.user;
    m_caller = caller;
    m_caller.origin = m_clientId;
    if (isNew)
        m_context.hub.setUser(this, caller.user->id);
    return true;
}

Caller Session::callerFor(const QString &topic) const
{
    const auto it = m_memberships.constFind(topic);
    if (m_context.policy.tokensRequired() && it != m_memberships.cend())
        return it->caller; // the token this channel was joined (or last refreshed) with
    return m_caller;
}

void Session::closeChannel(const QString &topic, QLatin1StringView code, const QString &reason)
{
    if (!m_memberships.remove(topic))
        return;
    m_context.hub.leave(this, topic);
    armExpiryTimer();
    sendFrame(P::Frame{std::nullopt, std::nullopt, topic, QString(Ev::Close),
                       {{u"code"_s, QString(code)}, {u"reason"_s, reason}}});
}

void Session::armExpiryTimer()
{
    std::optional<QDateTime> earliest;
    for (const auto &m : std::as_const(m_memberships)) {
        if (m.caller.expiry && (!earliest || *m.caller.expiry < *earliest))
            earliest = m.caller.expiry;
    }
    if (!earliest) {
        m_expiryTimer.stop();
        return;
    }
    const auto ms = std::max<qint64>(0, QDateTime::currentDateTimeUtc().msecsTo(*earliest));
    // QTimer takes int milliseconds; far-future expiries are re-armed when the timer fires.
    m_expiryTimer.start(int(std::min<qint64>(ms + 1, 24LL * 3600 * 1000)));
}

void Session::expireTokens()
{
    const auto now = QDateTime::currentDateTimeUtc();
    QStringList expired;
    for (auto it = m_memberships.cbegin(); it != m_memberships.cend(); ++it) {
        if (it->caller.expiry && *it->caller.expiry <= now)
            expired.append(it.key());
    }
    for (const auto &topic : std::as_const(expired)) {
        logEvent(lcAuth(), QtInfoMsg, "auth.token_expired", {{u"client"_s, m_clientId}, {u"topic"_s, topic}});
        m_context.metrics.rejected(QString(Err::AuthTokenExpired));
        closeChannel(topic, Err::AuthTokenExpired, u"Token expired"_s);
    }
    // The realtime-message SDK ignores chan:close, so its channel would sit dead. When expiry
    // leaves the connection with no channel, close it: every client then reconnects and
    // rejoins with a fresh token (the SDK asks its accessToken() callback again).
    if (!expired.isEmpty() && m_memberships.isEmpty()) {
        close(CloseTokenExpired, u"AUTH_TOKEN_EXPIRED: the token of every joined channel expired"_s);
        return;
    }
    armExpiryTimer();
}

void Session::leaveAll()
{
    const auto topics = m_memberships.keys();
    for (const auto &topic : topics)
        m_context.hub.leave(this, topic); // each leave sends the presence leaves to the others
    m_memberships.clear();
    m_context.hub.setUser(this, {});
}

void Session::onDisconnected()
{
    if (m_finished)
        return;
    m_finished = true;
    m_expiryTimer.stop();
    leaveAll();
    Q_EMIT finished(this);
}

} // namespace Confab::Server
