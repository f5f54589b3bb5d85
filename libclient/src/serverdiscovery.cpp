#include "ConfabClient/serverdiscovery.h"

#include "logging_p.h"

#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTimer>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkDatagram>
#include <QtNetwork/QUdpSocket>

#include <algorithm>
#include <memory>
#include <optional>

using namespace Qt::StringLiterals;

namespace Confab {

Q_LOGGING_CATEGORY(lcClientDiscovery, "confab.client.discovery", QtInfoMsg)

namespace {

// A beacon is about 150 bytes; anything much larger is not one, and is not parsed.
constexpr qsizetype MaxDatagramBytes = 1024;
// Bounds the list (and the memory) should something flood the port with fake servers.
constexpr qsizetype MaxServers = 256;
constexpr qsizetype MaxNameLength = 100;
constexpr qsizetype MaxIdLength = 64;

struct Beacon
{
    QString id;
    QString name;
    int port = 0;
    QString auth;
    bool bye = false;
};

//! The beacon in \a data, or nothing when it is not a valid Confab beacon.
std::optional<Beacon> parseBeacon(const QByteArray &data)
{
    if (data.size() > MaxDatagramBytes)
        return std::nullopt;
    QJsonParseError error;
    const auto doc = QJsonDocument::fromJson(data, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    const QJsonObject object = doc.object();
    // Later versions may add fields; version 1's fields keep their meaning, so any version
    // from 1 on is read.
    const QJsonValue version = object.value("version"_L1);
    if (object.value("service"_L1).toString() != "confab"_L1 || !version.isDouble() || version.toDouble() < 1)
        return std::nullopt;
    Beacon beacon;
    const QJsonValue id = object.value("id"_L1);
    const QJsonValue port = object.value("port"_L1);
    const QJsonValue name = object.value("name"_L1);
    const QJsonValue auth = object.value("auth"_L1);
    if (!id.isString() || id.toString().isEmpty() || id.toString().size() > MaxIdLength)
        return std::nullopt;
    if (!port.isDouble() || port.toDouble() != double(port.toInt()) || port.toInt() < 1 || port.toInt() > 65535)
        return std::nullopt;
    if (!name.isString() || name.toString().size() > MaxNameLength)
        return std::nullopt;
    const QString authMode = auth.toString();
    if (authMode != "open"_L1 && authMode != "password"_L1 && authMode != "token"_L1)
        return std::nullopt;
    const QJsonValue bye = object.value("bye"_L1);
    if (!bye.isUndefined() && !bye.isBool())
        return std::nullopt;
    beacon.id = id.toString();
    beacon.port = port.toInt();
    beacon.name = name.toString();
    beacon.auth = authMode;
    beacon.bye = bye.toBool();
    return beacon;
}

} // namespace

struct ServerDiscovery::Private
{
    struct Server
    {
        QString id;
        QString name;
        QHostAddress host;
        int port = 0;
        QString auth;
        QDateTime lastSeen;
        qint64 lastSeenMs = 0; // on `clock`, for expiry (wall clocks jump)
    };

    ServerDiscovery *q;
    std::unique_ptr<QUdpSocket> socket;
    // Fires when the server heard from longest ago is due to go (see scheduleExpiry()).
    QTimer expiry;
    QElapsedTimer clock;
    QList<Server> servers;
    int port = DefaultPort;
    // The default lets two beacons be lost (UDP, Wi-Fi) without the row flickering out of the list.
    int expiryMs = DefaultExpiryInterval;
    QString error;

    void setError(const QString &message)
    {
        if (error == message)
            return;
        error = message;
        Q_EMIT q->errorStringChanged();
    }

    bool listen()
    {
        auto udp = std::make_unique<QUdpSocket>();
        // Shared, so the app, a second instance of it and other tools can all listen at once.
        if (!udp->bind(QHostAddress::AnyIPv4, quint16(port),
                       QUdpSocket::ShareAddress | QUdpSocket::ReuseAddressHint)) {
            setError(u"Cannot listen on UDP port %1: %2"_s.arg(port).arg(udp->errorString()));
            qCWarning(lcClientDiscovery).noquote() << error;
            return false;
        }
        QObject::connect(udp.get(), &QUdpSocket::readyRead, q, [this] { readDatagrams(); });
        socket = std::move(udp);
        setError({});
        qCDebug(lcClientDiscovery) << "listening on UDP port" << port;
        return true;
    }

    void close()
    {
        socket.reset();
        expiry.stop();
        if (servers.isEmpty())
            return;
        q->beginResetModel();
        servers.clear();
        q->endResetModel();
        Q_EMIT q->countChanged();
    }

    void readDatagrams()
    {
        while (socket && socket->hasPendingDatagrams()) {
            const QNetworkDatagram datagram = socket->receiveDatagram(MaxDatagramBytes + 1);
            const auto beacon = parseBeacon(datagram.data());
            if (!beacon) {
                qCDebug(lcClientDiscovery) << "ignored a datagram that is not a Confab beacon from"
                                           << datagram.senderAddress();
                continue;
            }
            handle(*beacon, datagram.senderAddress());
        }
    }

    qsizetype indexOf(const QString &id) const
    {
        for (qsizetype i = 0; i < servers.size(); ++i) {
            if (servers.at(i).id == id)
                return i;
        }
        return -1;
    }

    void remove(qsizetype row)
    {
        q->beginRemoveRows({}, int(row), int(row));
        servers.removeAt(row);
        q->endRemoveRows();
        Q_EMIT q->countChanged();
    }

    void handle(const Beacon &beacon, QHostAddress sender)
    {
        bool isV4 = false;
        const quint32 v4 = sender.toIPv4Address(&isV4);
        if (isV4)
            sender = QHostAddress(v4);
        const qsizetype row = indexOf(beacon.id);
        if (beacon.bye) {
            if (row >= 0)
                remove(row);
            return;
        }
        if (row < 0) {
            if (servers.size() >= MaxServers)
                return;
            // The first address a server is heard from stays its host: a server on two networks
            // beacons on both, and the row should not flip between them.
            const int at = int(servers.size());
            q->beginInsertRows({}, at, at);
            servers.append(Server{beacon.id, beacon.name, sender, beacon.port, beacon.auth,
                                  QDateTime::currentDateTimeUtc(), clock.elapsed()});
            q->endInsertRows();
            Q_EMIT q->countChanged();
            if (!expiry.isActive())
                scheduleExpiry();
            return;
        }
        Server &server = servers[row];
        server.name = beacon.name;
        server.port = beacon.port;
        server.auth = beacon.auth;
        server.lastSeen = QDateTime::currentDateTimeUtc();
        server.lastSeenMs = clock.elapsed();
        const QModelIndex index = q->index(int(row));
        Q_EMIT q->dataChanged(index, index);
    }

    // A refresh does not reschedule: when the timer fires, expire() drops whoever is due and
    // schedules the next one from the (refreshed) times.
    void scheduleExpiry()
    {
        if (servers.isEmpty()) {
            expiry.stop();
            return;
        }
        qint64 oldest = servers.constFirst().lastSeenMs;
        for (const Server &server : std::as_const(servers))
            oldest = std::min(oldest, server.lastSeenMs);
        const qint64 due = oldest + expiryMs - clock.elapsed();
        expiry.start(int(std::clamp<qint64>(due, 0, expiryMs)));
    }

    void expire()
    {
        const qint64 now = clock.elapsed();
        for (qsizetype row = servers.size() - 1; row >= 0; --row) {
            if (now - servers.at(row).lastSeenMs >= expiryMs)
                remove(row);
        }
        scheduleExpiry();
    }
};

ServerDiscovery::ServerDiscovery(QObject *parent)
    : QAbstractListModel(parent), d(std::make_unique<Private>())
{
    d->q = this;
    d->clock.start();
    d->expiry.setSingleShot(true);
    // Precise: a row goes no earlier than expiryInterval after its last beacon (QTimer never
    // fires early), and only a timer's slack later.
    d->expiry.setTimerType(Qt::PreciseTimer);
    connect(&d->expiry, &QTimer::timeout, this, [this] { d->expire(); });
}

ServerDiscovery::~ServerDiscovery() = default;

bool ServerDiscovery::isActive() const
{
    return d->socket != nullptr;
}

void ServerDiscovery::setActive(bool active)
{
    if (active == isActive())
        return;
    if (active) {
        if (!d->listen())
            return;
    } else {
        d->close();
    }
    Q_EMIT activeChanged();
}

int ServerDiscovery::port() const
{
    return d->port;
}

void ServerDiscovery::setPort(int port)
{
    if (port == d->port || port < 0 || port > 65535)
        return;
    d->port = port;
    Q_EMIT portChanged();
    if (isActive()) {
        d->close();
        if (!d->listen())
            Q_EMIT activeChanged();
    }
}

int ServerDiscovery::expiryInterval() const
{
    return d->expiryMs;
}

void ServerDiscovery::setExpiryInterval(int milliseconds)
{
    if (milliseconds == d->expiryMs || milliseconds < 1)
        return;
    d->expiryMs = milliseconds;
    Q_EMIT expiryIntervalChanged();
    if (!d->servers.isEmpty())
        d->scheduleExpiry();
}

QString ServerDiscovery::errorString() const
{
    return d->error;
}

int ServerDiscovery::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->servers.size());
}

QVariant ServerDiscovery::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto &server = d->servers.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case NameRole:
        return server.name;
    case HostRole:
        return server.host.toString();
    case PortRole:
        return server.port;
    case UrlRole: {
        QUrl url;
        url.setScheme(u"ws"_s);
        url.setHost(server.host.toString());
        url.setPort(server.port);
        url.setPath(u"/"_s);
        // A string: QML binds it to `string` and `url` properties alike (and QVariant::toUrl()
        // reads it back in C++).
        return url.toString();
    }
    case AuthRole:
        return server.auth;
    case LastSeenRole:
        return server.lastSeen;
    default:
        return {};
    }
}

QHash<int, QByteArray> ServerDiscovery::roleNames() const
{
    return {{NameRole, "name"}, {HostRole, "host"},   {PortRole, "port"},
            {UrlRole, "url"},   {AuthRole, "auth"},   {LastSeenRole, "lastSeen"}};
}

} // namespace Confab
