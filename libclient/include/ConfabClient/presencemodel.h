#pragma once

#include <ConfabClient/confabclient_export.h>

#include <QtCore/QAbstractListModel>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>

#include <memory>

namespace Confab {

//! \brief Who is in a channel: one row per presence key (a user), with the metas of each of
//! their entries (one per device). Owned by its Channel, kept current from presence_state and
//! presence_diff.
class CONFABCLIENT_EXPORT PresenceModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    //! \brief Data roles; role names in QML are given in parentheses.
    enum Roles {
        KeyRole = Qt::UserRole + 1, //!< (presenceKey) the key, e.g. a user id
        MetaRole,                   //!< (meta) the meta of the key's most recent entry, a map
        MetasRole,                  //!< (metas) every entry's meta, a list of maps
        DeviceCountRole,            //!< (deviceCount) number of entries under the key
        RefsRole,                   //!< (presenceRefs) the entries' refs
        StatusRole,                 //!< (status) chat status of the key's most available entry:
                                    //!< `online` > `away` > `dnd` (meta `status`, default `online`;
                                    //!< `invisible` only when every entry is, i.e. our own)
        StatusTextRole,             //!< (statusText) that entry's meta `status_text`, or empty
    };
    Q_ENUM(Roles)

    //! \brief An empty model (each Channel makes its own).
    explicit PresenceModel(QObject *parent = nullptr);
    ~PresenceModel() override;

    //! \brief The number of presence keys; 0 under a valid \a parent (the model is a flat list).
    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    //! \brief The \a role (see Roles; Qt::DisplayRole is the key) of the key at \a index.
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    //! \brief The role names QML uses, listed in Roles.
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

    //! \brief Row of \a key, or -1.
    [[nodiscard]] Q_INVOKABLE int indexOfKey(const QString &key) const;
    //! \brief The metas of \a key's entries (empty when absent).
    [[nodiscard]] Q_INVOKABLE QJsonArray metas(const QString &key) const;
    //! \brief Every presence key, in row order (sorted).
    [[nodiscard]] QStringList keys() const;

    //! \brief Replaces everything (a `presence_state`).
    void setState(const QJsonObject &state);
    //! \brief Sets the entries of one key (empty \a entries removes it). Entries are
    //! `{presence_ref, meta}` objects.
    void setEntries(const QString &key, const QJsonArray &entries);

Q_SIGNALS:
    //! \brief The number of rows (the `count` property) changed.
    void countChanged();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab
