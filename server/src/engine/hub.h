#pragma once

#include "engine/codec.h"
#include "engine/presencetracker.h"
#include "engine/subscriber.h"
#include "storage/messagestore.h"

#include <QtCore/QHash>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QSet>
#include <QtCore/QString>

#include <array>
#include <memory>
#include <optional>

namespace Confab::Server {

class Metrics;

//! \brief The authoritative state of this node's channels: members, presence and typing.
//!
//! Knows no wire format and no socket: it talks to Subscribers and asks each dialect's codec
//! (registered by its door) to encode a delivery once per dialect present (see fanOut()). Every
//! door and the REST API go through it, so there is one place where delivery rules live.
//! Single-threaded: all calls come from the thread that owns it.
//!
//! Lifetime: owned by the Server; every Subscriber leaves (or is destroyed) before the hub is.
class Hub
{
public:
    using Codecs = std::array<const DialectCodec *, DialectCount>;
    //! \param codecs one per Dialect, each outliving the hub
    Hub(Metrics &metrics, Codecs codecs);
    ~Hub();
    Hub(const Hub &) = delete;
    Hub &operator=(const Hub &) = delete;

    enum class LeaveResult { Left, NotMember, ChannelNotFound };

    //! \brief Adds \a subscriber to \a topic; false when it is already a member.
    //! \param self whether the subscriber receives its own broadcasts
    bool join(Subscriber *subscriber, const QString &topic, bool self);

    //! \brief Untracks the subscriber's presence and typing (others are told), then removes it.
    LeaveResult leave(Subscriber *subscriber, const QString &topic);

    [[nodiscard]] bool isMember(const Subscriber *subscriber, const QString &topic) const;

    //! \brief Delivers a broadcast to every member of \a topic, except \a sender unless it
    //! joined with self. \a sender is null for server-side (REST) broadcasts, which reach all.
    //! \param rawPayload the payload's JSON text exactly as the sender wrote it (empty: none)
    //! \param receivedAtNs monotonicNs() when the request arrived, for the latency histogram
    //! \return the number of frames delivered on this node
    int broadcast(const Subscriber *sender, const QString &topic, const QString &event,
                  const QByteArray &rawPayload, qint64 receivedAtNs);

    //! \brief Tracks presence; the subscriber must be a member. Returns the stored entry. An
    //! entry whose meta has `"status":"invisible"` is kept but never shown to others.
    PresenceEntry track(Subscriber *subscriber, const QString &topic, const QString &key,
                        const QJsonObject &meta, qint64 receivedAtNs);

    //! \brief Untracks one key of the subscriber, or all of them; returns whether any was removed.
    bool untrack(Subscriber *subscriber, const QString &topic, const std::optional<QString> &key,
                 qint64 receivedAtNs);

    //! \brief The presence of \a topic, or null when the channel does not exist.
    [[nodiscard]] const PresenceTracker *presence(const QString &topic) const;
    //! \brief The presence state as subscriber \a viewerId may see it: every key with its
    //! entries, others' invisible entries left out (0: a viewer with no entries of its own).
    [[nodiscard]] QList<QPair<QString, QList<PresenceEntry>>> presenceState(const QString &topic,
                                                                            quint64 viewerId) const;

    //! \name Chat
    //! @{
    //! \brief Delivers a stored chat event (`message`, `message:edited`, …) to every member of
    //! \a topic except subscriber \a exceptId (the one that caused it, which got a reply
    //! instead; 0 for none). An id, not a pointer: the sender may be gone by the commit.
    int deliverChat(quint64 exceptId, const QString &topic, QLatin1StringView event,
                    const QJsonObject &payload, qint64 messageSeq, qint64 receivedAtNs);
    //! \brief Which user a subscriber is (for mentions); an empty id forgets it.
    void setUser(Subscriber *subscriber, const QString &userId);
    //! \brief Sends `mention` on `$system` to every connection of \a userId; returns how many.
    int notifyUser(const QString &userId, QLatin1StringView event, const QJsonObject &payload);
    //! \brief Typing starts (or is renewed) for \a user in \a topic until \a expiresAtMs
    //! (monotonic ms); the others (all but subscriber \a actorId) are told when it starts, not
    //! when renewed.
    void startTyping(const QString &topic, const ChatUser &user, qint64 expiresAtMs, quint64 actorId);
    void stopTyping(const QString &topic, const QString &userId, quint64 actorId);
    //! \brief Ends every typing indicator that expired by \a nowMs (the server's sweep).
    void expireTyping(qint64 nowMs);

    //! \brief Presence of a client without a connection (HTTP): kept until \a expiresAtMs
    //! (monotonic ms) unless posted again. \a owner names it (e.g. "http:alice").
    PresenceEntry trackExternal(const QString &topic, const QString &owner, const QString &key,
                                const QJsonObject &meta, qint64 expiresAtMs);
    bool untrackExternal(const QString &topic, const QString &owner);
    //! \brief Removes external presence past its expiry (the server's sweep).
    void expireExternal(qint64 nowMs);

    //! \brief Something waiting for the next chat message of a topic (HTTP long-poll).
    class MessageWatcher
    {
    public:
        virtual ~MessageWatcher() = default;
        virtual void messageArrived(const QString &topic, const QJsonObject &message) = 0;
    };
    void addWatcher(const QString &topic, MessageWatcher *watcher);
    void removeWatcher(const QString &topic, MessageWatcher *watcher);
    //! @}

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
    [[nodiscard]] QList<ChatUser> typingUsers(const QString &topic) const;
    //! @}

private:
    struct Channel;
    //! Whether the skipped subscriber (the actor) is skipped for every dialect, or only for
    //! dialects whose presence diffs exclude the actor (Phoenix includes it, native does not).
    enum class SkipRule { Always, UnlessDialectIncludesActor };
    template<typename Encode>
    int fanOut(Channel &channel, quint64 skipId, Encode &&encode, qint64 receivedAtNs,
               SkipRule skipRule, qint64 messageSeq = 0);
    void removeMember(Channel &channel, quint64 subscriberId);
    void sendTyping(Channel &channel, quint64 skipId, const ChatUser &user, bool typing);
    std::shared_ptr<Channel> ensureChannel(const QString &topic);
    void dropIfEmpty(const QString &topic);
    PresenceEntry trackOwner(Channel &channel, quint64 owner, quint64 actorId, const QString &key,
                             const QJsonObject &meta, qint64 receivedAtNs);
    bool untrackOwner(Channel &channel, quint64 owner, quint64 actorId, const std::optional<QString> &key,
                      qint64 receivedAtNs);

    Metrics &m_metrics;
    Codecs m_codecs;
    QHash<QString, std::shared_ptr<Channel>> m_channels;
    QHash<QString, QSet<Subscriber *>> m_users; // user id → its connections, for mentions
    QHash<const Subscriber *, QString> m_userOf;
    QHash<QString, quint64> m_externalOwners; // "http:alice" → an owner id no connection has
    QMultiHash<QString, MessageWatcher *> m_watchers;
    qsizetype m_memberships = 0;
    quint64 m_nextPresenceRef = 0;
};

//! \brief True when a presence meta hides its entry from others.
[[nodiscard]] bool isInvisible(const QJsonObject &meta);

} // namespace Confab::Server
