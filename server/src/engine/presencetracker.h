#pragma once

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>

#include <optional>

namespace Confab::Server {

//! \brief One presence entry: a connection's tracked state under a key (a user on a device).
struct PresenceEntry
{
    quint64 owner = 0; //!< the connection that tracked it
    QString key;       //!< usually the user id; several entries may share one key
    QString ref;       //!< stable for the entry's lifetime; clients deduplicate by it
    QJsonObject meta;

    friend bool operator==(const PresenceEntry &, const PresenceEntry &) = default;
};

//! \brief A key whose entries changed: the entries that changed, and all of the key's entries
//! after the change. Dialects pick what they need (native joins list all, Phoenix only new).
struct PresenceKeyChange
{
    QString key;
    QList<PresenceEntry> changed;
    QList<PresenceEntry> current;
};

//! \brief Presence of one channel: key → entries, at most one entry per (connection, key).
//! Pure data with no clock and no sockets, so it is unit-tested on its own.
class PresenceTracker
{
public:
    //! \brief The result of track(): the entry as stored and whether it is new.
    struct TrackResult
    {
        PresenceEntry entry;
        bool added = false; //!< false: an existing entry's meta was replaced (same ref)
    };

    //! \brief Tracks \a owner under \a key. A re-track by the same owner and key replaces the
    //! meta and keeps the ref; otherwise a new entry gets \a newRef.
    TrackResult track(quint64 owner, const QString &key, const QJsonObject &meta,
                      const QString &newRef);

    //! \brief Removes \a owner's entry under \a key, or all of its entries when \a key is
    //! nullopt. Returns one change per key that lost an entry (empty when nothing was removed).
    QList<PresenceKeyChange> untrack(quint64 owner, const std::optional<QString> &key = {});

    [[nodiscard]] QList<PresenceEntry> entries(const QString &key) const;
    [[nodiscard]] QStringList keys() const; //!< sorted
    [[nodiscard]] qsizetype keyCount() const { return m_byKey.size(); }
    [[nodiscard]] qsizetype entryCount() const { return m_entryCount; }
    [[nodiscard]] bool isEmpty() const { return m_entryCount == 0; }
    [[nodiscard]] bool hasOwner(quint64 owner) const { return m_keysByOwner.contains(owner); }

private:
    QHash<QString, QList<PresenceEntry>> m_byKey;  // entries per key, in tracking order
    QHash<quint64, QStringList> m_keysByOwner;     // so a closing connection is removed fast
    qsizetype m_entryCount = 0;
};

} // namespace Confab::Server
