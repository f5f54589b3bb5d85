#include <ConfabHost/localserver.h>

#include "server.h"
#include "ops/serverconfig.h"
#include "serverthread.h"

#include <QtCore/QDir>
#include <QtCore/QStandardPaths>
#include <QtCore/QSysInfo>
#include <QtNetwork/QNetworkInterface>
#include <QtNetwork/QTcpServer>

using namespace Qt::StringLiterals;

namespace Confab {

namespace S = Confab::Server;

class Q_DECL_HIDDEN LocalServer::Private
{
public:
    S::ServerThread thread{u"Confab::LocalServer"_s};
    int requestedPort = DefaultPort;
    int actualPort = 0;
    QString dataDir;
    QString joinPassword;
    QString serverName;
    bool discovery = true;
    QUrl url;
    QStringList lanUrls;
    QString error;

    [[nodiscard]] S::ServerConfig config(quint16 port) const
    {
        S::ServerConfig config;
        // IPv4 on every interface: the LAN addresses in lanUrls must reach it.
        config.bindAddress = QHostAddress::AnyIPv4;
        config.port = port;
        config.storage.dataDir = dataDir;
        config.auth.joinPassword = joinPassword;
        config.discovery.enabled = discovery;
        config.discovery.serverName = serverName;
        return config;
    }

    static bool portIsFree(quint16 port)
    {
        QTcpServer probe;
        return probe.listen(QHostAddress::AnyIPv4, port);
    }

    static QStringList lanUrlsFor(quint16 port)
    {
        QStringList urls;
        const auto interfaces = QNetworkInterface::allInterfaces();
        for (const QNetworkInterface &interface : interfaces) {
            const auto flags = interface.flags();
            if (!flags.testFlag(QNetworkInterface::IsUp) || !flags.testFlag(QNetworkInterface::IsRunning)
                || flags.testFlag(QNetworkInterface::IsLoopBack))
                continue;
            for (const QNetworkAddressEntry &entry : interface.addressEntries()) {
                const QHostAddress address = entry.ip();
                if (address.protocol() != QAbstractSocket::IPv4Protocol || address.isLoopback())
                    continue;
                const QString url = u"ws://%1:%2/"_s.arg(address.toString()).arg(port);
                if (!urls.contains(url))
                    urls.append(url);
            }
        }
        return urls;
    }
};

LocalServer::LocalServer(QObject *parent) : QObject(parent), d(std::make_unique<Private>())
{
    d->dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + u"/server"_s;
    d->serverName = QSysInfo::machineHostName();
}

LocalServer::~LocalServer()
{
    d->thread.stop();
}

bool LocalServer::start()
{
    if (d->thread.isRunning())
        return true;
    auto setError = [this](const QString &message) {
        if (d->error != message) {
            d->error = message;
            Q_EMIT errorStringChanged();
        }
    };
    if (d->dataDir.isEmpty() || !QDir().mkpath(d->dataDir)) {
        setError(u"Cannot create the data directory \"%1\""_s.arg(d->dataDir));
        return false;
    }
    // The usual port first, so others' saved addresses keep working across runs; when another
    // program has it, any free port beats not hosting at all.
    const int oldPort = port();
    quint16 tryPort = quint16(d->requestedPort);
    if (tryPort != 0 && !Private::portIsFree(tryPort))
        tryPort = 0;
    QString error;
    bool started = d->thread.start(d->config(tryPort), &error);
    if (!started && tryPort != 0) {
        // Taken between the probe and the listen: try once more on any port.
        started = d->thread.start(d->config(0), &error);
    }
    if (!started) {
        setError(error);
        return false;
    }
    setError({});
    d->actualPort = d->thread.port();
    d->url = d->thread.webSocketUrl();
    d->lanUrls = Private::lanUrlsFor(d->thread.port());
    Q_EMIT runningChanged();
    if (port() != oldPort)
        Q_EMIT portChanged();
    Q_EMIT urlChanged();
    Q_EMIT lanUrlsChanged();
    return true;
}

void LocalServer::stop()
{
    if (!d->thread.isRunning())
        return;
    const int oldPort = port();
    d->thread.stop();
    d->url.clear();
    d->lanUrls.clear();
    Q_EMIT runningChanged();
    if (port() != oldPort)
        Q_EMIT portChanged();
    Q_EMIT urlChanged();
    Q_EMIT lanUrlsChanged();
}

bool LocalServer::isRunning() const
{
    return d->thread.isRunning();
}

int LocalServer::port() const
{
    return d->thread.isRunning() ? d->actualPort : d->requestedPort;
}

void LocalServer::setPort(int port)
{
    if (port < 0 || port > 65535 || port == d->requestedPort)
        return;
    const int old = this->port();
    d->requestedPort = port;
    if (this->port() != old)
        Q_EMIT portChanged();
}

QString LocalServer::dataDir() const
{
    return d->dataDir;
}

void LocalServer::setDataDir(const QString &dir)
{
    if (dir == d->dataDir)
        return;
    d->dataDir = dir;
    Q_EMIT dataDirChanged();
}

QString LocalServer::joinPassword() const
{
    return d->joinPassword;
}

void LocalServer::setJoinPassword(const QString &password)
{
    if (password == d->joinPassword)
        return;
    d->joinPassword = password;
    Q_EMIT joinPasswordChanged();
}

QString LocalServer::serverName() const
{
    return d->serverName;
}

void LocalServer::setServerName(const QString &name)
{
    if (name == d->serverName)
        return;
    d->serverName = name;
    Q_EMIT serverNameChanged();
}

bool LocalServer::discovery() const
{
    return d->discovery;
}

void LocalServer::setDiscovery(bool enabled)
{
    if (enabled == d->discovery)
        return;
    d->discovery = enabled;
    Q_EMIT discoveryChanged();
}

QUrl LocalServer::url() const
{
    return d->url;
}

QStringList LocalServer::lanUrls() const
{
    return d->lanUrls;
}

QString LocalServer::errorString() const
{
    return d->error;
}

} // namespace Confab
