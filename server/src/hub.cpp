#include "hub.h"

#include "metrics.h"
#include "nativecodec.h"

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
    QString topic;
    // Contiguous for fast fan-out; index gives O(1) lookup and swap-removal.
    std::vector<Member> members;
    QHash<quint64, size_t> index;
    PresenceTracker presence;
};

namespace {

bool diffIncludesActor(Dialect dialect)
{
    switch (dialect) {
    case Dialect::Native:
        return NativeCodec::PresenceDiffIncludesActor;
    }
    return false;
}

} // namespace

Hub::Hub(Metrics &metrics) : m_metrics(metrics) {}
Hub::~Hub() = default;

bool Hub::join(Subscriber *subscriber, const QString &topic, bool self)
{
    auto &slot = m_channels[topic];
    if (!slot) {
        slot = std::make_shared<Channel>();
        slot->topic = topic;
    }
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
    removeMember(*channel, subscriber->subscriberId());
    if (channel->members.empty())
        m_channels.remove(topic); // empty channels are deleted
    return LeaveResult::Left;
}

bool Hub::isMember(const Subscriber *subscriber, const QString &topic) const
{
    const auto it = m_channels.constFind(topic);
    return it != m_channels.cend() && (*it)->index.contains(subscriber->subscriberId());
}

template<typename Encode>
int Hub::fanOut(Channel &channel, const Subscriber *skip, Encode &&encode, qint64 receivedAtNs,
                SkipRule skipRule)
{
    // Encode at most once per dialect; every recipient of that dialect gets the same string.
    std::array<std::optional<QString>, DialectCount> encoded;
    int delivered = 0;
    for (const auto &member : channel.members) {
        Subscriber *s = member.subscriber;
        if (s == skip
            && (skipRule == SkipRule::Always || !diffIncludesActor(s->dialect())))
            continue;
        auto &frame = encoded[size_t(s->dialect())];
        if (!frame)
            frame = encode(s->dialect());
        s->deliver(*frame);
        m_metrics.observeDeliveryLatency(monotonicNs() - receivedAtNs);
        ++delivered;
    }
    m_metrics.framesOut(quint64(delivered));
    return delivered;
}

int Hub::broadcast(const Subscriber *sender, const QString &topic, const QString &event,
                   const QJsonValue &payload, qint64 receivedAtNs)
{
    const auto it = m_channels.find(topic);
    if (it == m_channels.end())
        return 0;
    auto channel = *it;
    const Subscriber *skip = nullptr;
    if (sender) {
        const auto pos = channel->index.constFind(sender->subscriberId());
        if (pos != channel->index.cend() && !channel->members[*pos].self)
            skip = sender;
    }
    m_metrics.broadcast();
    return fanOut(
        *channel, skip,
        [&](Dialect) { return NativeCodec::broadcast(topic, event, payload); }, receivedAtNs,
        SkipRule::Always);
}

PresenceEntry Hub::track(Subscriber *subscriber, const QString &topic, const QString &key,
                         const QJsonObject &meta, qint64 receivedAtNs)
{
    auto channel = m_channels.value(topic);
    Q_ASSERT(channel && channel->index.contains(subscriber->subscriberId()));
    if (!channel)
        return {};
    const auto result = channel->presence.track(subscriber->subscriberId(), key, meta,
                                                u"pres_"_s + QString::number(++m_nextPresenceRef));
    m_metrics.presenceUpdate();
    const QList<PresenceKeyChange> joins{
        PresenceKeyChange{key, {result.entry}, channel->presence.entries(key)}};
    fanOut(
        *channel, subscriber,
        [&](Dialect) { return NativeCodec::presenceDiff(topic, joins, {}); }, receivedAtNs,
        SkipRule::UnlessDialectIncludesActor);
    return result.entry;
}

bool Hub::untrack(Subscriber *subscriber, const QString &topic, const std::optional<QString> &key,
                  qint64 receivedAtNs)
{
    auto channel = m_channels.value(topic);
    if (!channel)
        return false;
    const auto leaves = channel->presence.untrack(subscriber->subscriberId(), key);
    if (leaves.isEmpty())
        return false;
    m_metrics.presenceUpdate();
    fanOut(
        *channel, subscriber,
        [&](Dialect) { return NativeCodec::presenceDiff(topic, {}, leaves); }, receivedAtNs,
        SkipRule::UnlessDialectIncludesActor);
    return true;
}

const PresenceTracker *Hub::presence(const QString &topic) const
{
    const auto it = m_channels.constFind(topic);
    return it == m_channels.cend() ? nullptr : &(*it)->presence;
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
