#pragma once

#include <ConfabClient/confabclient_export.h>

#include <QtCore/QAbstractListModel>
#include <QtCore/QString>

#include <memory>

namespace Confab {

//! \brief The Confab servers announcing themselves on the LAN, one row each (docs/protocol.md
//! "LAN discovery").
//!
//! Servers send a small UDP beacon every 2 s to a well-known port (41234 unless configured) and a
//! farewell when they stop. While `active`, this model listens on `port` and lists every server
//! heard: a row appears with the first beacon, is refreshed by each one, and goes `expiryInterval`
//! (7 s) after the last beacon, or at once on the farewell. The host of a row is the address the beacon came
//! from (what a beacon says about itself is not trusted for that); the port and sign-in mode are
//! the beacon's.
//!
//! Several applications on one computer can listen at once (the port is bound shared). From QML:
//! \code
//! ServerDiscovery { id: lan; active: true }
//! ListView { model: lan; delegate: Text { required property string name; required property url url; text: name } }
//! \endcode
class CONFABCLIENT_EXPORT ServerDiscovery : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(bool active READ isActive WRITE setActive NOTIFY activeChanged)
    Q_PROPERTY(int port READ port WRITE setPort NOTIFY portChanged)
    Q_PROPERTY(int expiryInterval READ expiryInterval WRITE setExpiryInterval NOTIFY expiryIntervalChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)
public:
    //! \brief Data roles; role names in QML are given in parentheses.
    enum Roles {
        NameRole = Qt::UserRole + 1, //!< (name) the server's name, as it announces it
        HostRole,                    //!< (host) the address the beacon came from, e.g. "192.168.1.20"
        PortRole,                    //!< (port) the server's WebSocket/HTTP port
        UrlRole,                     //!< (url) `ws://host:port/` as a string, for Client's url
        AuthRole,                    //!< (auth) sign-in: `open`, `password` (join password) or `token`
        LastSeenRole,                //!< (lastSeen) QDateTime of the latest beacon
    };
    Q_ENUM(Roles)

    //! \brief The UDP port servers announce on unless configured otherwise (`--discovery-port`).
    static constexpr int DefaultPort = 41234;
    //! \brief How long a server stays listed after its last beacon, in ms: servers beacon every
    //! 2 s, so a server is dropped only after missing three in a row (docs/protocol.md).
    static constexpr int DefaultExpiryInterval = 7000;

    //! \brief An inactive model on DefaultPort.
    explicit ServerDiscovery(QObject *parent = nullptr);
    ~ServerDiscovery() override;

    //! \brief Whether it is listening.
    [[nodiscard]] bool isActive() const;
    //! \brief Starts (binds `port`) or stops listening. Stopping empties the list. When the port
    //! cannot be bound, `active` stays false and `errorString` says why.
    void setActive(bool active);

    //! \brief The UDP port listened on (default DefaultPort).
    [[nodiscard]] int port() const;
    //! \brief Changes the port; while active, listening moves there (and the list starts empty).
    void setPort(int port);

    //! \brief How long, in ms, a server stays listed after its last beacon (default
    //! DefaultExpiryInterval, 7000).
    [[nodiscard]] int expiryInterval() const;
    //! \brief Sets expiryInterval() to \a milliseconds (at least 1; other values are ignored).
    //! Applies to the servers already listed too: those not heard from for that long go at once.
    void setExpiryInterval(int milliseconds);

    //! \brief Why the last attempt to listen failed; empty after a successful one.
    [[nodiscard]] QString errorString() const;

    //! \brief The number of servers listed; 0 under a valid \a parent (the model is a flat list).
    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    //! \brief The \a role (see Roles; Qt::DisplayRole is the name) of the server at \a index.
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    //! \brief The role names QML uses, listed in Roles.
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

Q_SIGNALS:
    //! \brief `active` changed.
    void activeChanged();
    //! \brief `port` changed.
    void portChanged();
    //! \brief `expiryInterval` changed.
    void expiryIntervalChanged();
    //! \brief The number of rows (the `count` property) changed.
    void countChanged();
    //! \brief `errorString` changed.
    void errorStringChanged();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab
