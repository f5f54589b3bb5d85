#include "engine/hub.h"

#include "ops/metrics.h"

#include <QtCore/QJsonArray>

#include <algorithm>
#include <array>
#include <vector>

using namespace Qt::StringLiterals;

namespace Confab::Server {

struct Hub::Channel
{
    struct Member
    {
        Subscriber *subscriber;
        bool self;
    };
    struct Typing
    {
        ChatUser user;
        qint64 expiresAtMs = 0;
    };
    QHash<quint64, qint64> externalExpiry; // owner → monotonic ms, for HTTP presence
    QString topic;
    // Contiguous for fast fan-out; index gives O(1) lookup and swap-removal.
    std::vector<Member> members;
    QHash<quint64, size_t> index;
    PresenceTracker presence;
    QHash<QString, Typing> typing; // by user id: one indicator per user, whatever their devices
};

namespace {

// External (HTTP) presence owners get ids no connection can have: connections count from 1.
constexpr quint64 ExternalOwnerBase = quint64(1) << 62;

QList<PresenceEntry> visibleOnly(const QList<PresenceEntry> &entries)
{
    QList<PresenceEntry> out;
    for (const auto &e : entries) {
        if (!isInvisible(e.meta))
            out.append(e);
    }
    return out;
}

} // namespace

bool isInvisible(const QJsonObject &meta)
{
    return meta.value("status"_L1).toString() == "invisible"_L1;
}

Hub::Hub(Metrics &metrics, Codecs codecs) : m_metrics(metrics), m_codecs(codecs)
{
    for ([[maybe_unused]] const auto *codec : m_codecs)
        Q_ASSERT(codec);
}
Hub::~Hub() = default;

std::shared_ptr<Hub::Channel> Hub::ensureChannel(const QString &topic)
{
    auto &slot = m_channels[topic];
    if (!slot) {
        slot = std::make_shared<Channel>();
        slot->topic = topic;
    }
    return slot;
}

void Hub::dropIfEmpty(const QString &topic)
{
    // Empty channels are deleted; presence posted over HTTP keeps a channel alive on its own.
    const auto it = m_channels.constFind(topic);
    if (it != m_channels.cend() && (*it)->members.empty() && (*it)->presence.isEmpty() && (*it)->typing.isEmpty())
        m_channels.remove(topic);
}

bool Hub::join(Subscriber *subscriber, const QString &topic, bool self)
{
    auto slot = ensureChannel(topic);
    const auto id = subscriber->subscriberId();
    if (slot->index.contains(id))
        return false;
    slot->index.insert(id, slot->members.size());
    slot->members.push_back({subscriber, self});
    ++m_memberships;
    return true;
}

void Hub::removeMember(Channel &channel, quint64 subscriberId)
{
    const auto it = channel.index.find(subscriberId);
    if (it == channel.index.end())
        return;
    const size_t pos = *it;
    channel.index.erase(it);
    if (pos + 1 != channel.members.size()) {
        channel.members[pos] = channel.members.back();
        channel.index[channel.members[pos].subscriber->subscriberId()] = pos;
    }
    channel.members.pop_back();
    --m_memberships;
}

Hub::LeaveResult Hub::leave(Subscriber *subscriber, const QString &topic)
{
    const auto it = m_channels.find(topic);
    if (it == m_channels.end())
        return LeaveResult::ChannelNotFound;
    auto channel = *it; // keep alive while fanning out
    if (!channel->index.contains(subscriber->subscriberId()))
        return LeaveResult::NotMember;

    untrack(subscriber, topic, std::nullopt, monotonicNs());
    stopTyping(topic, m_userOf.value(subscriber), subscriber->subscriberId());
    removeMember(*channel, subscriber->subscriberId());
    dropIfEmpty(topic);
    return LeaveResult::Left;
}

bool Hub::isMember(const Subscriber *subscriber, const QString &topic) const
{
    const auto it = m_channels.constFind(topic);
    return it != m_channels.cend() && (*it)->index.contains(subscriber->subscriberId());
}

template<typename Encode>
int Hub::fanOut(Channel &channel, quint64 skipId, Encode &&encode, qint64 receivedAtNs,
                SkipRule skipRule, qint64 messageSeq)
{
    // Encode at most once per dialect; every recipient of that dialect gets the same string.
    std::array<std::optional<QString>, DialectCount> encoded;
    int delivered = 0;
    for (const auto &member : channel.members) {
        Subscriber *s = member.subscriber;
        const auto &codec = *m_codecs[size_t(s->dialect())];
        if (skipId != 0 && s->subscriberId() == skipId
            && (skipRule == SkipRule::Always || !codec.presenceDiffIncludesActor()))
            continue;
        auto &frame = encoded[size_t(s->dialect())];
        if (!frame)
            frame = encode(codec);
        s->deliver(channel.topic, *frame, messageSeq);
        m_metrics.observeDeliveryLatency(monotonicNs() - receivedAtNs);
        ++delivered;
    }
    m_metrics.framesOut(quint64(delivered));
    return delivered;
}

int Hub::broadcast(const Subscriber *sender, const QString &topic, const QString &event,
                   const QByteArray &rawPayload, qint64 receivedAtNs)
{
    const auto it = m_channels.find(topic);
    if (it == m_channels.end())
        return 0;
    auto channel = *it;
    quint64 skip = 0;
    if (sender) {
        const auto pos = channel->index.constFind(sender->subscriberId());
        if (pos != channel->index.cend() && !channel->members[*pos].self)
            skip = sender->subscriberId();
    }
    m_metrics.broadcast();
    return fanOut(
        *channel, skip, [&](const DialectCodec &codec) { return codec.broadcast(topic, event, rawPayload); },
        receivedAtNs, SkipRule::Always);
}

PresenceEntry Hub::track(Subscriber *subscriber, const QString &topic, const QString &key,
                         const QJsonObject &meta, qint64 receivedAtNs)
{
    auto channel = m_channels.value(topic);
    Q_ASSERT(channel && channel->index.contains(subscriber->subscriberId()));
    if (!channel)
        return {};
    return trackOwner(*channel, subscriber->subscriberId(), subscriber->subscriberId(), key, meta, receivedAtNs);
}

PresenceEntry Hub::trackOwner(Channel &channel, quint64 owner, quint64 actorId, const QString &key,
                              const QJsonObject &meta, qint64 receivedAtNs)
{
    std::optional<PresenceEntry> before;
    for (const auto &e : channel.presence.entries(key)) {
        if (e.owner == owner)
            before = e;
    }
    const auto result = channel.presence.track(owner, key, meta,
                                               u"pres_"_s + QString::number(++m_nextPresenceRef));
    m_metrics.presenceUpdate();
    const auto visible = visibleOnly(channel.presence.entries(key));
    const bool wasShown = before && !isInvisible(before->meta);
    // Others see an invisible entry as absent: going invisible is a leave, coming back a join.
    QList<PresenceKeyChange> joins, leaves;
    if (!isInvisible(meta))
        joins.append(PresenceKeyChange{key, {result.entry}, visible});
    else if (wasShown)
        leaves.append(PresenceKeyChange{key, {*before}, visible});
    if (!joins.isEmpty() || !leaves.isEmpty()) {
        const auto &topic = channel.topic;
        fanOut(
            channel, actorId, [&](const DialectCodec &codec) { return codec.presenceDiff(topic, joins, leaves); },
            receivedAtNs, SkipRule::UnlessDialectIncludesActor);
    }
    return result.entry;
}

bool Hub::untrack(Subscriber *subscriber, const QString &topic, const std::optional<QString> &key,
                  qint64 receivedAtNs)
{
    auto channel = m_channels.value(topic);
    if (!channel)
        return false;
    return untrackOwner(*channel, subscriber->subscriberId(), subscriber->subscriberId(), key, receivedAtNs);
}

bool Hub::untrackOwner(Channel &channel, quint64 owner, quint64 actorId, const std::optional<QString> &key,
                       qint64 receivedAtNs)
{
    auto leaves = channel.presence.untrack(owner, key);
    if (leaves.isEmpty())
        return false;
    m_metrics.presenceUpdate();
    // Invisible entries were never shown, so their removal is not news to anyone.
    QList<PresenceKeyChange> shown;
    for (auto &change : leaves) {
        change.changed = visibleOnly(change.changed);
        change.current = visibleOnly(change.current);
        if (!change.changed.isEmpty())
            shown.append(change);
    }
    if (!shown.isEmpty()) {
        const auto &topic = channel.topic;
        fanOut(
            channel, actorId, [&](const DialectCodec &codec) { return codec.presenceDiff(topic, {}, shown); },
            receivedAtNs, SkipRule::UnlessDialectIncludesActor);
    }
    return true;
}

PresenceEntry Hub::trackExternal(const QString &topic, const QString &owner, const QString &key,
                                 const QJsonObject &meta, qint64 expiresAtMs)
{
    auto &id = m_externalOwners[owner];
    if (id == 0)
        id = ExternalOwnerBase + quint64(m_externalOwners.size());
    auto channel = ensureChannel(topic);
    channel->externalExpiry.insert(id, expiresAtMs);
    return trackOwner(*channel, id, 0, key, meta, monotonicNs());
}

bool Hub::untrackExternal(const QString &topic, const QString &owner)
{
    const auto id = m_externalOwners.value(owner);
    auto channel = m_channels.value(topic);
    if (!id || !channel)
        return false;
    channel->externalExpiry.remove(id);
    const bool removed = untrackOwner(*channel, id, 0, std::nullopt, monotonicNs());
    dropIfEmpty(topic);
    return removed;
}

void Hub::expireExternal(qint64 nowMs)
{
    QStringList touched;
    for (const auto &channel : std::as_const(m_channels)) {
        QList<quint64> expired;
        for (auto it = channel->externalExpiry.cbegin(); it != channel->externalExpiry.cend(); ++it) {
            if (it.value() <= nowMs)
                expired.append(it.key());
        }
        for (const auto owner : std::as_const(expired)) {
            channel->externalExpiry.remove(owner);
            untrackOwner(*channel, owner, 0, std::nullopt, monotonicNs());
        }
        if (!expired.isEmpty())
            touched.append(channel->topic);
    }
    for (const auto &topic : std::as_const(touched))
        dropIfEmpty(topic);
}

void Hub::addWatcher(const QString &topic, MessageWatcher *watcher)
{
    m_watchers.insert(topic, watcher);
}

void Hub::removeWatcher(const QString &topic, MessageWatcher *watcher)
{
    m_watchers.remove(topic, watcher);
}

const PresenceTracker *Hub::presence(const QString &topic) const
{
    const auto it = m_channels.constFind(topic);
    return it == m_channels.cend() ? nullptr : &(*it)->presence;
}

QList<QPair<QString, QList<PresenceEntry>>> Hub::presenceState(const QString &topic, quint64 viewerId) const
{
    QList<QPair<QString, QList<PresenceEntry>>> state;
    const auto *tracker = presence(topic);
    if (!tracker)
        return state;
    for (const auto &key : tracker->keys()) {
        QList<PresenceEntry> shown;
        for (const auto &e : tracker->entries(key)) {
            if (!isInvisible(e.meta) || (viewerId != 0 && e.owner == viewerId))
                shown.append(e);
        }
        if (!shown.isEmpty())
            state.append({key, shown});
    }
    return state;
}

int Hub::deliverChat(quint64 exceptId, const QString &topic, QLatin1StringView event,
                     const QJsonObject &payload, qint64 messageSeq, qint64 receivedAtNs)
{
    if (event == "message"_L1 && m_watchers.contains(topic)) {
        // Long-polls answer once and go: take them all before telling any.
        const auto watchers = m_watchers.values(topic);
        m_watchers.remove(topic);
        for (auto *watcher : watchers)
            watcher->messageArrived(topic, payload);
    }
    const auto it = m_channels.find(topic);
    if (it == m_channels.end())
        return 0;
    auto channel = *it;
    return fanOut(
        *channel, exceptId, [&](const DialectCodec &codec) { return codec.event(topic, event, payload); },
        receivedAtNs, SkipRule::Always, messageSeq);
}

void Hub::setUser(Subscriber *subscriber, const QString &userId)
{
    const auto old = m_userOf.take(subscriber);
    if (!old.isEmpty()) {
        auto it = m_users.find(old);
        if (it != m_users.end()) {
            it->remove(subscriber);
            if (it->isEmpty())
                m_users.erase(it);
        }
    }
    if (userId.isEmpty())
        return;
    m_userOf.insert(subscriber, userId);
    m_users[userId].insert(subscriber);
}

int Hub::notifyUser(const QString &userId, QLatin1StringView event, const QJsonObject &payload)
{
    const auto it = m_users.constFind(userId);
    if (it == m_users.cend())
        return 0;
    const QString systemTopic = u"$system"_s;
    std::array<std::optional<QString>, DialectCount> encoded;
    for (auto *subscriber : *it) {
        auto &frame = encoded[size_t(subscriber->dialect())];
        if (!frame)
            frame = m_codecs[size_t(subscriber->dialect())]->event(systemTopic, event, payload);
        subscriber->deliver(systemTopic, *frame, 0);
    }
    m_metrics.framesOut(quint64(it->size()));
    return int(it->size());
}

void Hub::sendTyping(Channel &channel, quint64 skipId, const ChatUser &user, bool typing)
{
    const QJsonObject payload{{u"user"_s, QJsonObject{{u"id"_s, user.id}, {u"name"_s, user.name}}},
                              {u"typing"_s, typing}};
    fanOut(
        channel, skipId, [&](const DialectCodec &codec) { return codec.event(channel.topic, "typing"_L1, payload); },
        monotonicNs(), SkipRule::Always);
}

void Hub::startTyping(const QString &topic, const ChatUser &user, qint64 expiresAtMs, quint64 actorId)
{
    auto channel = ensureChannel(topic);
    auto it = channel->typing.find(user.id);
    if (it != channel->typing.end()) {
        it->expiresAtMs = expiresAtMs; // a renewal is not news
        return;
    }
    channel->typing.insert(user.id, Channel::Typing{user, expiresAtMs});
    sendTyping(*channel, actorId, user, true);
}

void Hub::stopTyping(const QString &topic, const QString &userId, quint64 actorId)
{
    auto channel = m_channels.value(topic);
    if (!channel || userId.isEmpty())
        return;
    const auto it = channel->typing.find(userId);
    if (it == channel->typing.end())
        return;
    const auto user = it->user;
    channel->typing.erase(it);
    sendTyping(*channel, actorId, user, false);
    dropIfEmpty(topic);
}

void Hub::expireTyping(qint64 nowMs)
{
    for (const auto &channel : std::as_const(m_channels)) {
        if (channel->typing.isEmpty())
            continue;
        QList<ChatUser> expired;
        for (auto it = channel->typing.begin(); it != channel->typing.end();) {
            if (it->expiresAtMs <= nowMs) {
                expired.append(it->user);
                it = channel->typing.erase(it);
            } else {
                ++it;
            }
        }
        auto keepAlive = channel; // a stop cannot remove it mid-loop, but be safe with fan-out
        for (const auto &user : std::as_const(expired))
            sendTyping(*keepAlive, 0, user, false);
    }
    // Channels kept only by an HTTP client's typing go once it ends.
    const auto topics = m_channels.keys();
    for (const auto &topic : topics)
        dropIfEmpty(topic);
}

QList<ChatUser> Hub::typingUsers(const QString &topic) const
{
    QList<ChatUser> users;
    const auto it = m_channels.constFind(topic);
    if (it == m_channels.cend())
        return users;
    for (const auto &t : std::as_const((*it)->typing))
        users.append(t.user);
    std::sort(users.begin(), users.end(), [](const ChatUser &a, const ChatUser &b) { return a.id < b.id; });
    return users;
}

bool Hub::hasChannel(const QString &topic) const
{
    return m_channels.contains(topic);
}

qsizetype Hub::channelCount() const
{
    return m_channels.size();
}

qsizetype Hub::presenceEntryCount() const
{
    qsizetype n = 0;
    for (const auto &c : m_channels)
        n += c->presence.entryCount();
    return n;
}

std::optional<Hub::ChannelInfo> Hub::channel(const QString &topic) const
{
    const auto it = m_channels.constFind(topic);
    if (it == m_channels.cend())
        return std::nullopt;
    const auto &c = **it;
    return ChannelInfo{c.topic, int(c.members.size()), c.presence.keyCount(), c.presence.entryCount()};
}

QList<Hub::ChannelInfo> Hub::channels() const
{
    QList<ChannelInfo> out;
    out.reserve(m_channels.size());
    for (const auto &c : m_channels)
        out.append(ChannelInfo{c->topic, int(c->members.size()), c->presence.keyCount(),
                               c->presence.entryCount()});
    std::sort(out.begin(), out.end(),
              [](const ChannelInfo &a, const ChannelInfo &b) { return a.topic < b.topic; });
    return out;
}

QStringList Hub::memberClientIds(const QString &topic) const
{
    QStringList ids;
    const auto it = m_channels.constFind(topic);
    if (it == m_channels.cend())
        return ids;
    for (const auto &m : (*it)->members)
        ids.append(m.subscriber->clientId());
    ids.sort();
    return ids;
}

} // namespace Confab::Server
