#pragma once

#include "presencetracker.h"
#include "subscriber.h"

#include <QtCore/QHash>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QString>

#include <memory>
#include <optional>

namespace Confab::Server {

class Metrics;

//! \brief The authoritative state of this node's channels: members and presence.
//!
//! Knows no wire format and no socket: it talks to Subscribers and asks the dialect codecs to
//! encode each delivery once per dialect present (see fanOut()). Every protocol session and the
//! REST API go through it, so there is one place where delivery rules live.
//! Single-threaded: all calls come from the thread that owns it.
class Hub
{
public:
    explicit Hub(Metrics &metrics);
    ~Hub();
    Hub(const Hub &) = delete;
    Hub &operator=(const Hub &) = delete;

    enum class LeaveResult { Left, NotMember, ChannelNotFound };

    //! \brief Adds \a subscriber to \a topic; false when it is already a member.
    //! \param self whether the subscriber receives its own broadcasts
    bool join(Subscriber *subscriber, const QString &topic, bool self);

    //! \brief Untracks the subscriber's presence (diffs go to the others), then removes it.
    LeaveResult leave(Subscriber *subscriber, const QString &topic);

    [[nodiscard]] bool isMember(const Subscriber *subscriber, const QString &topic) const;

    //! \brief Delivers a broadcast to every member of \a topic, except \a sender unless it
    //! joined with self. \a sender is null for server-side (REST) broadcasts, which reach all.
    //! \param receivedAtNs monotonicNs() when the request arrived, for the latency histogram
    //! \return the number of frames delivered on this node
    int broadcast(const Subscriber *sender, const QString &topic, const QString &event,
                  const QJsonValue &payload, qint64 receivedAtNs);

    //! \brief Tracks presence; the subscriber must be a member. Returns the stored entry.
    PresenceEntry track(Subscriber *subscriber, const QString &topic, const QString &key,
                        const QJsonObject &meta, qint64 receivedAtNs);

    //! \brief Untracks one key of the subscriber, or all of them; returns whether any was removed.
    bool untrack(Subscriber *subscriber, const QString &topic, const std::optional<QString> &key,
                 qint64 receivedAtNs);

    //! \brief The presence of \a topic, or null when the channel does not exist.
    [[nodiscard]] const PresenceTracker *presence(const QString &topic) const;

    //! \name Introspection for REST, metrics and tests
    //! @{
    struct ChannelInfo
    {
        QString topic;
        int memberCount = 0;
        qsizetype presenceKeys = 0;
        qsizetype presenceEntries = 0;
    };
    [[nodiscard]] bool hasChannel(const QString &topic) const;
    [[nodiscard]] qsizetype channelCount() const;
    [[nodiscard]] qsizetype membershipCount() const { return m_memberships; }
    [[nodiscard]] qsizetype presenceEntryCount() const;
    [[nodiscard]] QList<ChannelInfo> channels() const; //!< sorted by topic
    [[nodiscard]] std::optional<ChannelInfo> channel(const QString &topic) const;
    [[nodiscard]] QStringList memberClientIds(const QString &topic) const; //!< sorted
    //! @}

private:
    struct Channel;
    //! Whether the skipped subscriber (the actor) is skipped for every dialect, or only for
    //! dialects whose presence diffs exclude the actor (Phoenix includes it, native does not).
    enum class SkipRule { Always, UnlessDialectIncludesActor };
    template<typename Encode>
    int fanOut(Channel &channel, const Subscriber *skip, Encode &&encode, qint64 receivedAtNs,
               SkipRule skipRule);
    void removeMember(Channel &channel, quint64 subscriberId);

    Metrics &m_metrics;
    QHash<QString, std::shared_ptr<Channel>> m_channels;
    qsizetype m_memberships = 0;
    quint64 m_nextPresenceRef = 0;
};

} // namespace Confab::Server
