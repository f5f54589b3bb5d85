#include "native/session.h"

#include "engine/chatrules.h"
#include "engine/hub.h"
#include "ops/logging.h"
#include "ops/metrics.h"
#include "native/nativecodec.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QRegularExpression>

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
struct Address
{
    std::optional<QString> ref;
    QString topic;
};

Address peekAddress(const QString &message)
{
    static const QRegularExpression head(
        uR"re(^\s*\[\s*(?:null|"[^"\\]{0,64}")\s*,\s*(null|"[^"\\]{0,64}")\s*,\s*"([^"\\]{1,255})")re"_s);
    const auto m = head.match(QStringView(message).left(512));
    if (!m.hasMatch())
        return {};
    Address a;
    const auto ref = m.captured(1);
    if (ref != "null"_L1)
        a.ref = ref.mid(1, ref.size() - 2);
    a.topic = m.captured(2);
    return a;
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

// Presence keys are identifiers; they are repeated in every presence frame, so keep them short.
constexpr qsizetype MaxPresenceKeyLength = 255;

} // namespace

Session::Session(quint64 id, QWebSocket *socket, const SessionContext &context, QObject *parent)
    : QObject(parent),
      m_id(id),
      m_clientId(u"client-"_s + QString::number(id)),
      m_socket(socket),
      m_context(context),
      m_bucket(context.config.limits.messagesPerMinute, monotonicMs()),
      m_strikes(context.config.limits.maxRejectsPerMinute),
      m_lastActivityMs(monotonicMs())
{
    m_socket->setParent(this);
    m_expiryTimer.setSingleShot(true);
    connect(&m_expiryTimer, &QTimer::timeout, this, &Session::expireTokens);
    connect(m_socket, &QWebSocket::textMessageReceived, this, &Session::onText);
    connect(m_socket, &QWebSocket::binaryMessageReceived, this, &Session::onBinary);
    // Queued: a socket can report its end while the hub is fanning out to it; the session
    // must not leave channels (and change the member list) in the middle of that loop.
    connect(m_socket, &QWebSocket::disconnected, this, &Session::onDisconnected, Qt::QueuedConnection);
}

Session::~Session()
{
    leaveAll();
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
    if (m_closing)
        return;
    m_socket->sendTextMessage(frame);
    const auto buffered = m_socket->bytesToWrite();
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
    if (m_closing)
        return;
    m_closing = true;
    m_socket->close(code, reason);
    // A peer that never answers the close (or never reads at all) must not keep the socket.
    QTimer::singleShot(CloseGrace, m_socket, &QWebSocket::abort);
}

void Session::reject(QLatin1StringView code, const QString &reason, const std::optional<QString> &ref,
                     const QString &topic, const QJsonObject &extra)
{
    m_context.metrics.rejected(QString(code));
    logEvent(lcSession(), QtDebugMsg, "frame.rejected",
             {{u"client"_s, m_clientId}, {u"code"_s, QString(code)}, {u"topic"_s, topic}});
    if (!topic.isEmpty()) {
        sendFrame(P::errorReplyFrame(ref, topic, code, reason, extra));
    } else {
        QJsonObject payload = extra;
        payload.insert(u"code"_s, QString(code));
        payload.insert(u"reason"_s, reason);
        sendFrame(P::Frame{std::nullopt, std::nullopt, QString(P::Topics::System), QString(Ev::Error), payload});
    }
    if (m_strikes.strike(monotonicMs())) {
        m_context.metrics.rejected(u"ABUSE_CLOSED"_s);
        logEvent(lcSession(), QtInfoMsg, "session.closed_for_abuse",
                 {{u"client"_s, m_clientId},
                  {u"peer"_s, m_socket->peerAddress().toString()},
                  {u"limit"_s, m_context.config.limits.maxRejectsPerMinute}});
        close(QWebSocketProtocol::CloseCodePolicyViolated, u"Too many rejected frames"_s);
    }
}

void Session::onText(const QString &message)
{
    if (m_closing)
        return;
    const qint64 receivedAt = monotonicNs();
    m_lastActivityMs = receivedAt / 1'000'000;
    m_context.metrics.frameIn();

    const QByteArray utf8 = message.toUtf8();
    const auto limit = m_context.config.limits.maxMessageBytes;
    if (utf8.size() > limit) {
        const auto address = peekAddress(message);
        reject(Err::MessageTooLarge,
               u"Frame of %1 bytes exceeds the limit of %2 bytes"_s.arg(utf8.size()).arg(limit),
               address.ref, address.topic, {{u"limit"_s, qint64(limit)}});
        return;
    }
    auto decoded = P::decodeFrame(utf8);
    if (!decoded.ok()) {
        reject(decoded.error.code, decoded.error.reason, decoded.error.ref, decoded.error.topic);
        return;
    }
    handleFrame(*decoded.frame, receivedAt);
}

void Session::onBinary(const QByteArray &)
{
    if (m_closing)
        return;
    m_lastActivityMs = monotonicMs();
    m_context.metrics.frameIn();
    reject(Err::UnsupportedFrame, u"Binary frames are not supported; send JSON text frames"_s,
           std::nullopt, {});
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
            reject(Err::InvalidTopic, u"Only heartbeat, hello and unread may be sent on $system"_s, frame.ref, frame.topic);
        return;
    }

    // Heartbeats above are exempt: they are the client's liveness, not its traffic.
    const qint64 now = receivedAtNs / 1'000'000;
    if (!m_bucket.tryTake(now)) {
        const auto retryAfter = m_bucket.retryAfterMs(now);
        reject(Err::RateLimited,
               u"More than %1 messages a minute; retry after %2 ms"_s
                   .arg(m_context.config.limits.messagesPerMinute)
                   .arg(retryAfter),
               frame.ref, frame.topic, {{u"retry_after"_s, retryAfter}});
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
        reject(Err::UnknownEvent, u"Unknown event \"%1\""_s.arg(frame.event), frame.ref, frame.topic);
}

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
        reject(Err::InvalidPayload, error, frame.ref, frame.topic);
        return;
    }
    const auto keyValue = presence.value("key"_L1);
    if (keyValue.isString()) {
        if (keyValue.toString().size() > MaxPresenceKeyLength) {
            reject(Err::InvalidPayload,
                   u"config.presence.key must be at most %1 characters"_s.arg(MaxPresenceKeyLength),
                   frame.ref, frame.topic);
            return;
        }
        membership.presenceKey = keyValue.toString();
    } else if (!keyValue.isUndefined() && !keyValue.isNull()) {
        reject(Err::InvalidPayload, u"config.presence.key must be a string"_s, frame.ref, frame.topic);
        return;
    }
    const auto tokenValue = p.value("access_token"_L1);
    if (!tokenValue.isUndefined() && !tokenValue.isNull() && !tokenValue.isString()) {
        reject(Err::InvalidPayload, u"access_token must be a string"_s, frame.ref, frame.topic);
        return;
    }
    membership.chat = config.contains("chat"_L1);
    if (chat.contains("since_seq"_L1)) {
        const auto since = chat.value("since_seq"_L1);
        if (!since.isDouble() || since.toDouble() < 0 || since.toDouble() != double(since.toInteger())) {
            reject(Err::InvalidPayload, u"config.chat.since_seq must be a whole number >= 0"_s, frame.ref, frame.topic);
            return;
        }
        plan.sinceSeq = since.toInteger();
    }
    const auto kind = topicKind(frame.topic);
    if (!kind.valid) {
        reject(Err::InvalidTopic, u"DM topics are dm:<lower id>:<higher id>"_s, frame.ref, frame.topic);
        return;
    }
    membership.kind = kind.type;

    if (m_memberships.contains(frame.topic) || m_pendingJoins.contains(frame.topic)) {
        reject(Err::AlreadyJoined, u"Already joined this channel"_s, frame.ref, frame.topic);
        return;
    }
    const int maxChannels = m_context.config.limits.maxChannelsPerConnection;
    if (m_memberships.size() + m_pendingJoins.size() >= maxChannels) {
        reject(Err::ChannelLimit,
               u"A connection may join at most %1 channels"_s.arg(maxChannels), frame.ref,
               frame.topic, {{u"limit"_s, maxChannels}});
        return;
    }

    if (const auto *verifier = m_context.verifier) {
        const auto token = tokenValue.toString();
        if (token.isEmpty()) {
            reject(Err::AuthTokenRequired, u"Access token required"_s, frame.ref, frame.topic);
            return;
        }
        auto result = verifier->verify(token.toUtf8());
        if (!result.ok()) {
            logEvent(lcAuth(), QtInfoMsg, "auth.join_refused",
                     {{u"client"_s, m_clientId}, {u"topic"_s, frame.topic},
                      {u"code"_s, QString(result.error.code)}});
            reject(result.error.code, result.error.reason, frame.ref, frame.topic);
            return;
        }
        if (!channelAllowed(result.claims->channels, frame.topic)) {
            logEvent(lcAuth(), QtInfoMsg, "auth.channel_denied",
                     {{u"client"_s, m_clientId}, {u"topic"_s, frame.topic},
                      {u"user"_s, result.claims->subject}});
            reject(Err::AuthChannelDenied, u"Access denied to this channel"_s, frame.ref, frame.topic);
            return;
        }
        // In JWT mode the token says who this is; the first token sets the connection's user.
        const ChatUser fromToken{result.claims->subject,
                                 result.claims->name.isEmpty() ? result.claims->subject : result.claims->name};
        if (!adoptUser(fromToken, frame))
            return;
        membership.claims = std::move(result.claims);
    } else if (!declaredUser.isEmpty() && !m_user) {
        const auto user = readUser(declaredUser);
        if (!user) {
            reject(Err::InvalidPayload, u"config.user needs an id of 1-64 of A-Z a-z 0-9 _ . - and a name of at most 100"_s,
                   frame.ref, frame.topic);
            return;
        }
        if (!adoptUser(*user, frame))
            return;
    }

    if (kind.type == "public"_L1) {
        continueJoin(std::move(plan));
        return;
    }
    // Private channels and DMs: the store knows who may come in.
    if (!m_user) {
        reject(Err::IdentityRequired, u"Say who you are (hello) before joining a private channel or DM"_s,
               frame.ref, frame.topic);
        return;
    }
    m_pendingJoins.insert(frame.topic);
    m_context.store.access(this, frame.topic, m_user->id,
                           [this, plan = std::move(plan)](const StoreResult<ChannelAccess> &result) mutable {
                               const auto topic = plan.request.topic;
                               m_pendingJoins.remove(topic);
                               if (m_finished || m_closing)
                                   return;
                               if (!result.ok()) {
                                   rejectStore(plan.request, result.error, result.message);
                               } else if (!result.value.exists) {
                                   reject(Err::NotFound, u"No such private channel; create it with channel:create"_s,
                                          plan.request.ref, topic);
                               } else if (!result.value.allowed) {
                                   reject(Err::Forbidden, u"Only its members may join this channel"_s, plan.request.ref, topic);
                               } else {
                                   continueJoin(std::move(plan));
                               }
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
    if (!m_user) {
        failJoin(frame, generation, Err::IdentityRequired,
                 u"Chat needs to know who you are: send hello, or config.user / an access token with the join"_s);
        return;
    }
    // The read position, then the replay. Joined to the hub first, so nothing committed
    // meanwhile is missed: it is held and sent after the replay, without repeats.
    const auto topic = frame.topic;
    const auto since = plan.sinceSeq;
    const auto kind = plan.membership.kind;
    m_context.store.readState(this, topic, m_user->id,
                              [this, frame, generation, since, kind](const StoreResult<ReadState> &state) {
        if (!state.ok()) {
            failJoin(frame, generation, Err::StorageUnavailable, state.message);
            return;
        }
        QJsonObject info{{u"type"_s, kind},
                         {u"last_seq"_s, state.value.lastSeq},
                         {u"read_seq"_s, state.value.readSeq},
                         {u"unread"_s, state.value.unread},
                         {u"mentions"_s, state.value.mentions}};
        const qint64 missed = since ? std::max<qint64>(0, state.value.lastSeq - *since) : 0;
        if (!since || missed == 0) {
            info.insert(u"replay"_s, 0);
            completeChatJoin(frame.topic, generation, info, {});
            return;
        }
        if (missed > m_context.config.chat.catchupLimit) {
            info.insert(u"gap"_s, true);
            info.insert(u"replay"_s, 0);
            completeChatJoin(frame.topic, generation, info, {});
            return;
        }
        HistoryRequest request{frame.topic, std::nullopt, since, int(missed)};
        m_context.store.history(this, request, [this, frame, generation, info](const StoreResult<HistoryPage> &page) mutable {
            if (!page.ok()) {
                failJoin(frame, generation, Err::StorageUnavailable, page.message);
                return;
            }
            info.insert(u"replay"_s, page.value.messages.size());
            completeChatJoin(frame.topic, generation, info, page.value.messages);
        });
    });
}

void Session::completeChatJoin(const QString &topic, quint64 generation, const QJsonObject &chatInfo,
                               const QList<StoredMessage> &replay)
{
    // Others' read positions come with the join, so "seen by" is right from the start.
    m_context.store.readPositions(this, topic, [this, topic, generation, chatInfo, replay](
                                                   const StoreResult<QMap<QString, qint64>> &reads) {
        QJsonObject positions;
        if (reads.ok()) {
            for (auto it = reads.value.cbegin(); it != reads.value.cend(); ++it)
                positions.insert(it.key(), it.value());
        }
        auto info = chatInfo;
        info.insert(u"reads"_s, positions);
        finishChatJoin(topic, generation, info, replay);
    });
}

void Session::finishChatJoin(const QString &topic, quint64 generation, const QJsonObject &chatInfo,
                             const QList<StoredMessage> &replay)
{
    auto it = m_memberships.find(topic);
    if (m_finished || it == m_memberships.end() || it->generation != generation)
        return; // left, or rejoined, while this was being looked up
    it->joining = false;
    it->replayedUpTo = replay.isEmpty() ? 0 : replay.constLast().seq;
    const auto held = std::exchange(it->held, {});
    const qint64 replayedUpTo = it->replayedUpTo;
    if (it->joinRef) // a join with a null ref asked for no reply
        sendFrame(P::replyFrame(it->joinRef, topic, true, {{u"chat"_s, chatInfo}}));
    sendPresenceState(topic);
    send(m_context.hub.typingStateFrame(topic));
    m_context.metrics.framesOut();
    for (const auto &message : replay) {
        send(NativeCodec::event(topic, "message"_L1, message.toJson()));
        m_context.metrics.framesOut();
    }
    for (const auto &frame : held) {
        if (frame.seq > 0 && frame.seq <= replayedUpTo)
            continue;
        send(frame.frame);
    }
}

void Session::failJoin(const P::Frame &request, quint64 generation, QLatin1StringView code, const QString &reason)
{
    const auto it = m_memberships.find(request.topic);
    if (m_finished || it == m_memberships.end() || it->generation != generation)
        return;
    m_memberships.erase(it);
    m_context.hub.leave(this, request.topic);
    armExpiryTimer();
    reject(code, reason, request.ref, request.topic);
}

void Session::sendPresenceState(const QString &topic)
{
    send(m_context.hub.presenceStateFrame(topic, this));
    m_context.metrics.framesOut();
}

void Session::handleLeave(const P::Frame &frame)
{
    if (!m_memberships.contains(frame.topic)) {
        if (m_context.hub.hasChannel(frame.topic))
            reject(Err::NotJoined, u"Not a member of this channel"_s, frame.ref, frame.topic);
        else
            reject(Err::ChannelNotFound, u"Channel not found"_s, frame.ref, frame.topic);
        return;
    }
    m_context.hub.leave(this, frame.topic); // untracks presence first: others get the leave diff
    m_memberships.remove(frame.topic);
    armExpiryTimer();
    replyOk(frame);
}

void Session::handleBroadcast(const P::Frame &frame, qint64 receivedAtNs)
{
    const auto it = m_memberships.constFind(frame.topic);
    if (it == m_memberships.cend()) {
        reject(Err::NotJoined, u"Not joined to channel"_s, frame.ref, frame.topic);
        return;
    }
    const auto &p = frame.payload;
    const auto type = p.value("type"_L1);
    if (!type.isUndefined() && type != QJsonValue(u"broadcast"_s)) {
        reject(Err::InvalidPayload, u"payload.type must be \"broadcast\""_s, frame.ref, frame.topic);
        return;
    }
    const auto event = p.value("event"_L1);
    if (!event.isString() || event.toString().isEmpty()
        || event.toString().size() > P::Bounds::MaxEventLength) {
        reject(Err::InvalidPayload,
               u"payload.event must be a non-empty string of at most %1 characters"_s.arg(P::Bounds::MaxEventLength),
               frame.ref, frame.topic);
        return;
    }
    const int recipients = m_context.hub.broadcast(this, frame.topic, event.toString(),
                                                   p.value("payload"_L1), receivedAtNs);
    if (it->ack)
        replyOk(frame, {{u"recipientCount"_s, recipients}});
}

void Session::handlePresence(const P::Frame &frame, qint64 receivedAtNs)
{
    const auto it = m_memberships.constFind(frame.topic);
    if (it == m_memberships.cend()) {
        reject(Err::NotJoined, u"Not joined to channel"_s, frame.ref, frame.topic);
        return;
    }
    const auto &p = frame.payload;
    QString error;
    QJsonObject inner;
    if (!readObject(p, "payload"_L1, inner, u"payload.payload"_s, error)) {
        reject(Err::InvalidPayload, error, frame.ref, frame.topic);
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
            reject(Err::InvalidPayload, u"presence key must be a string"_s, frame.ref, frame.topic);
            return;
        }
    }
    if (key && key->size() > MaxPresenceKeyLength) {
        reject(Err::InvalidPayload,
               u"presence key must be at most %1 characters"_s.arg(MaxPresenceKeyLength), frame.ref,
               frame.topic);
        return;
    }

    const auto event = p.value("event"_L1).toString();
    if (event == "track"_L1) {
        QJsonObject meta;
        if (!readObject(inner, "meta"_L1, meta, u"payload.payload.meta"_s, error)) {
            reject(Err::InvalidPayload, error, frame.ref, frame.topic);
            return;
        }
        const auto limit = m_context.config.limits.maxPresenceMetaBytes;
        if (const auto refused = checkPresenceMeta(meta, limit)) {
            reject(refused->code, refused->message, frame.ref, frame.topic,
                   refused->code == Err::PresenceTooLarge ? QJsonObject{{u"limit"_s, qint64(limit)}} : QJsonObject());
            return;
        }
        const QString resolved = key ? *key : it->presenceKey.value_or(m_clientId);
        // The tracker gets no diff of its own track, so the reply tells it its entry (the SDK
        // ignores the extra fields). Native diffs skip the actor, so replying after the diff
        // went out keeps the reply-before-diff order on this socket.
        const auto entry = m_context.hub.track(this, frame.topic, resolved, meta, receivedAtNs);
        replyOk(frame, {{u"presence_ref"_s, entry.ref}, {u"key"_s, entry.key}});
    } else if (event == "untrack"_L1) {
        replyOk(frame); // untracking nothing is still ok
        m_context.hub.untrack(this, frame.topic, key, receivedAtNs);
    } else {
        reject(Err::InvalidPayload, u"payload.event must be \"track\" or \"untrack\""_s, frame.ref,
               frame.topic);
    }
}

void Session::handlePresenceState(const P::Frame &frame)
{
    if (!m_memberships.contains(frame.topic)) {
        reject(Err::NotJoined, u"Not joined to channel"_s, frame.ref, frame.topic);
        return;
    }
    sendPresenceState(frame.topic);
}

void Session::handleAccessToken(const P::Frame &frame)
{
    auto it = m_memberships.find(frame.topic);
    if (it == m_memberships.end()) {
        reject(Err::NotJoined, u"Not joined to channel"_s, frame.ref, frame.topic);
        return;
    }
    const auto tokenValue = frame.payload.value("access_token"_L1);
    if (!tokenValue.isString()) {
        reject(Err::InvalidPayload, u"access_token must be a string"_s, frame.ref, frame.topic);
        return;
    }
    const auto *verifier = m_context.verifier;
    if (!verifier) { // open mode: there is nothing to refresh
        replyOk(frame);
        return;
    }
    if (tokenValue.toString().isEmpty()) {
        reject(Err::AuthTokenRequired, u"Access token required"_s, frame.ref, frame.topic);
        return;
    }
    auto result = verifier->verify(tokenValue.toString().toUtf8());
    if (!result.ok()) {
        // The channel stays open under its current token, which still expires on its own.
        reject(result.error.code, result.error.reason, frame.ref, frame.topic);
        return;
    }
    if (it->claims && it->claims->subject != result.claims->subject) {
        reject(Err::AuthInvalidToken, u"Token is for another user than the channel's"_s, frame.ref,
               frame.topic);
        return;
    }
    if (!channelAllowed(result.claims->channels, frame.topic)) {
        // The user's rights changed: the channel is closed, not merely refused a refresh.
        reject(Err::AuthChannelDenied, u"Access denied to this channel"_s, frame.ref, frame.topic);
        closeChannel(frame.topic, Err::AuthChannelDenied, u"Access denied to this channel"_s);
        return;
    }
    it->claims = std::move(result.claims);
    armExpiryTimer();
    replyOk(frame);
}

void Session::handleHello(const P::Frame &frame)
{
    const auto &p = frame.payload;
    ChatUser user;
    if (const auto *verifier = m_context.verifier) {
        const auto token = p.value("access_token"_L1).toString();
        if (token.isEmpty()) {
            reject(Err::AuthTokenRequired, u"Access token required"_s, frame.ref, frame.topic);
            return;
        }
        const auto result = verifier->verify(token.toUtf8());
        if (!result.ok()) {
            reject(result.error.code, result.error.reason, frame.ref, frame.topic);
            return;
        }
        user = ChatUser{result.claims->subject,
                        result.claims->name.isEmpty() ? result.claims->subject : result.claims->name};
    } else {
        const auto declared = readUser(p.value("user"_L1).toObject());
        if (!declared) {
            reject(Err::InvalidPayload, u"user needs an id of 1-64 of A-Z a-z 0-9 _ . - and a name of at most 100"_s,
                   frame.ref, frame.topic);
            return;
        }
        user = *declared;
    }
    if (!adoptUser(user, frame))
        return;
    replyOk(frame, {{u"user"_s, userJson()}});
}

bool Session::adoptUser(const ChatUser &user, const P::Frame &frame)
{
    if (m_user && m_user->id != user.id) {
        // One connection is one user: messages, reads and mentions are attributed to it.
        reject(Err::AuthInvalidToken, u"This connection is already %1"_s.arg(m_user->id), frame.ref, frame.topic);
        return false;
    }
    m_user = user;
    m_context.hub.setUser(this, user.id);
    return true;
}

QJsonObject Session::userJson() const
{
    return m_user ? QJsonObject{{u"id"_s, m_user->id}, {u"name"_s, m_user->name}} : QJsonObject();
}

void Session::rejectStore(const P::Frame &frame, StoreError error, const QString &message)
{
    switch (error) {
    case StoreError::None:
        return;
    case StoreError::NotFound:
        reject(Err::NotFound, message, frame.ref, frame.topic);
        return;
    case StoreError::Forbidden:
        reject(Err::Forbidden, message, frame.ref, frame.topic);
        return;
    case StoreError::MessageDeleted:
        reject(Err::MessageDeleted, message, frame.ref, frame.topic);
        return;
    case StoreError::AlreadyExists:
        reject(Err::AlreadyExists, message, frame.ref, frame.topic);
        return;
    case StoreError::Invalid:
        reject(Err::InvalidPayload, message, frame.ref, frame.topic);
        return;
    case StoreError::Unavailable:
        logEvent(lcSession(), QtWarningMsg, "storage.unavailable", {{u"client"_s, m_clientId}, {u"error"_s, message}});
        reject(Err::StorageUnavailable, u"The message store could not commit; nothing was stored, retry"_s,
               frame.ref, frame.topic);
        return;
    }
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
        if (m.claims && m.claims->expiry && (!earliest || *m.claims->expiry < *earliest))
            earliest = m.claims->expiry;
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
        if (it->claims && it->claims->expiry && *it->claims->expiry <= now)
            expired.append(it.key());
    }
    for (const auto &topic : std::as_const(expired)) {
        logEvent(lcAuth(), QtInfoMsg, "auth.token_expired",
                 {{u"client"_s, m_clientId}, {u"topic"_s, topic}});
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
