#include "ConfabClient/presencemodel.h"

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab {

struct PresenceModel::Private
{
    struct Row
    {
        QString key;
        QJsonArray entries; // [{presence_ref, meta}, …], in the order the server lists them
    };
    QList<Row> rows; // sorted by key, so views are stable whatever order updates come in

    qsizetype find(const QString &key) const
    {
        const auto it = std::lower_bound(rows.cbegin(), rows.cend(), key,
                                         [](const Row &r, const QString &k) { return r.key < k; });
        return it != rows.cend() && it->key == key ? it - rows.cbegin() : -1;
    }
    //! The entry whose chat status is the most available (docs/protocol.md "Presence status").
    static QJsonObject bestMeta(const QJsonArray &entries)
    {
        auto rank = [](const QString &status) {
            if (status.isEmpty() || status == "online"_L1)
                return 0;
            if (status == "away"_L1)
                return 1;
            if (status == "dnd"_L1)
                return 2;
            return 3; // invisible (others never see it; we see our own)
        };
        QJsonObject best;
        int bestRank = 4;
        for (const auto &e : entries) {
            const auto meta = e.toObject().value("meta"_L1).toObject();
            const int r = rank(meta.value("status"_L1).toString());
            if (r < bestRank) {
                best = meta;
                bestRank = r;
            }
        }
        return best;
    }
    qsizetype insertionPoint(const QString &key) const
    {
        return std::lower_bound(rows.cbegin(), rows.cend(), key,
                                [](const Row &r, const QString &k) { return r.key < k; })
            - rows.cbegin();
    }
};

PresenceModel::PresenceModel(QObject *parent) : QAbstractListModel(parent), d(std::make_unique<Private>()) {}

PresenceModel::~PresenceModel() = default;

int PresenceModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->rows.size());
}

QVariant PresenceModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto &row = d->rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case KeyRole:
        return row.key;
    case MetaRole:
        return row.entries.isEmpty() ? QVariantMap()
                                     : row.entries.last().toObject().value("meta"_L1).toObject().toVariantMap();
    case MetasRole: {
        QVariantList metas;
        for (const auto &e : row.entries)
            metas.append(e.toObject().value("meta"_L1).toObject().toVariantMap());
        return metas;
    }
    case DeviceCountRole:
        return int(row.entries.size());
    case StatusRole: {
        const auto status = Private::bestMeta(row.entries).value("status"_L1).toString();
        return status.isEmpty() ? u"online"_s : status;
    }
    case StatusTextRole:
        return Private::bestMeta(row.entries).value("status_text"_L1).toString();
    case RefsRole: {
        QStringList refs;
        for (const auto &e : row.entries)
            refs.append(e.toObject().value("presence_ref"_L1).toString());
        return refs;
    }
    }
    return {};
}

QHash<int, QByteArray> PresenceModel::roleNames() const
{
    return {{KeyRole, "presenceKey"}, {MetaRole, "meta"}, {MetasRole, "metas"},
            {DeviceCountRole, "deviceCount"}, {RefsRole, "presenceRefs"},
            {StatusRole, "status"}, {StatusTextRole, "statusText"}};
}

int PresenceModel::indexOfKey(const QString &key) const
{
    return int(d->find(key));
}

QJsonArray PresenceModel::metas(const QString &key) const
{
    QJsonArray out;
    const auto row = d->find(key);
    if (row < 0)
        return out;
    for (const auto &e : d->rows.at(row).entries)
        out.append(e.toObject().value("meta"_L1));
    return out;
}

QStringList PresenceModel::keys() const
{
    QStringList out;
    for (const auto &row : d->rows)
        out.append(row.key);
    return out;
}

void PresenceModel::setState(const QJsonObject &state)
{
    // Row by row rather than a reset: after a rejoin most members are unchanged, and views
    // keep their positions.
    for (const auto &key : keys()) {
        if (!state.contains(key))
            setEntries(key, {});
    }
    for (auto it = state.begin(); it != state.end(); ++it)
        setEntries(it.key(), it.value().toArray());
}

void PresenceModel::setEntries(const QString &key, const QJsonArray &entries)
{
    const auto row = d->find(key);
    if (row < 0) {
        if (entries.isEmpty())
            return;
        const auto at = d->insertionPoint(key);
        beginInsertRows({}, int(at), int(at));
        d->rows.insert(at, {key, entries});
        endInsertRows();
        Q_EMIT countChanged();
        return;
    }
    if (entries.isEmpty()) {
        beginRemoveRows({}, int(row), int(row));
        d->rows.removeAt(row);
        endRemoveRows();
        Q_EMIT countChanged();
        return;
    }
    if (d->rows.at(row).entries == entries)
        return;
    d->rows[row].entries = entries;
    const auto changed = index(int(row));
    Q_EMIT dataChanged(changed, changed, {MetaRole, MetasRole, DeviceCountRole, RefsRole, StatusRole, StatusTextRole});
}

} // namespace Confab
