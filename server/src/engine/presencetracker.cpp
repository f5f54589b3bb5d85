#include "engine/presencetracker.h"

#include <algorithm>

namespace Confab::Server {

PresenceTracker::TrackResult PresenceTracker::track(quint64 owner, const QString &key,
                                                    const QJsonObject &meta, const QString &newRef)
{
    auto &list = m_byKey[key];
    const auto it = std::find_if(list.begin(), list.end(),
                                 [owner](const PresenceEntry &e) { return e.owner == owner; });
    if (it != list.end()) {
        it->meta = meta;
        return {*it, false};
    }
    list.append(PresenceEntry{owner, key, newRef, meta});
    m_keysByOwner[owner].append(key);
    ++m_entryCount;
    return {list.constLast(), true};
}

QList<PresenceKeyChange> PresenceTracker::untrack(quint64 owner, const std::optional<QString> &key)
{
    QList<PresenceKeyChange> changes;
    const auto ownerIt = m_keysByOwner.find(owner);
    if (ownerIt == m_keysByOwner.end())
        return changes;

    const QStringList keys = key ? QStringList{*key} : *ownerIt;
    for (const auto &k : keys) {
        if (!ownerIt->contains(k))
            continue;
        auto listIt = m_byKey.find(k);
        if (listIt == m_byKey.end())
            continue;
        PresenceKeyChange change{k, {}, {}};
        auto &list = *listIt;
        for (auto e = list.begin(); e != list.end();) {
            if (e->owner == owner) {
                change.changed.append(*e);
                e = list.erase(e);
                --m_entryCount;
            } else {
                ++e;
            }
        }
        change.current = list;
        if (list.isEmpty())
            m_byKey.erase(listIt);
        ownerIt->removeAll(k);
        if (!change.changed.isEmpty())
            changes.append(std::move(change));
    }
    if (ownerIt->isEmpty())
        m_keysByOwner.erase(ownerIt);
    return changes;
}

QList<PresenceEntry> PresenceTracker::entries(const QString &key) const
{
    return m_byKey.value(key);
}

QStringList PresenceTracker::keys() const
{
    auto k = m_byKey.keys();
    k.sort();
    return k;
}

} // namespace Confab::Server
