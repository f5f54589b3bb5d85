#include "ops/discoverybeacon.h"

#include "ops/logging.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSysInfo>
#include <QtNetwork/QNetworkInterface>

using namespace Qt::StringLiterals;

namespace Confab::Server {

DiscoveryBeacon::DiscoveryBeacon(const DiscoveryConfig &config, quint16 port, const QString &auth,
                                 QObject *parent)
    : QObject(parent), m_config(config), m_port(port), m_auth(auth), m_socket(this), m_timer(this)
{
    m_name = config.serverName.isEmpty() ? QSysInfo::machineHostName() : config.serverName;
    // Per server run, so an app can tell a restarted server (new id) from a repeated beacon,
    // and two servers in one process (tests) apart.
    m_id = QString::number(QRandomGenerator::system()->generate64(), 16).rightJustified(16, u'0');
    m_timer.setInterval(config.interval);
    connect(&m_timer, &QTimer::timeout, this, [this] { send(false); });
}

DiscoveryBeacon::~DiscoveryBeacon()
{
    stop();
}

QByteArray DiscoveryBeacon::payload(bool bye) const
{
    QJsonObject object{{u"service"_s, u"confab"_s},
                       {u"version"_s, 1},
                       {u"name"_s, m_name},
                       {u"port"_s, int(m_port)},
                       {u"auth"_s, m_auth},
                       {u"id"_s, m_id}};
    if (bye)
        object.insert(u"bye"_s, true);
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

void DiscoveryBeacon::start()
{
    if (m_running)
        return;
    m_running = true;
    logEvent(lcDiscovery(), QtInfoMsg, "discovery.started",
             {{u"name"_s, m_name},
              {u"udpPort"_s, int(m_config.port)},
              {u"id"_s, m_id},
              {u"targets"_s, m_config.targets.isEmpty() ? u"broadcast"_s : u"configured"_s}});
    send(false);
    m_timer.start();
}

void DiscoveryBeacon::stop()
{
    if (!m_running)
        return;
    m_running = false;
    m_timer.stop();
    send(true);
    logEvent(lcDiscovery(), QtDebugMsg, "discovery.stopped", {{u"id"_s, m_id}});
}

void DiscoveryBeacon::send(bool bye)
{
    QList<QHostAddress> targets = m_config.targets;
    if (targets.isEmpty()) {
        // The limited broadcast alone does not leave every interface on every OS (it follows
        // the default route), so each interface's own broadcast address gets a copy too.
        targets.append(QHostAddress::Broadcast);
        const auto interfaces = QNetworkInterface::allInterfaces();
        for (const QNetworkInterface &interface : interfaces) {
            const auto flags = interface.flags();
            if (!flags.testFlag(QNetworkInterface::IsUp) || !flags.testFlag(QNetworkInterface::CanBroadcast)
                || flags.testFlag(QNetworkInterface::IsLoopBack))
                continue;
            for (const QNetworkAddressEntry &entry : interface.addressEntries()) {
                const QHostAddress broadcast = entry.broadcast();
                if (!broadcast.isNull() && broadcast.protocol() == QAbstractSocket::IPv4Protocol
                    && !targets.contains(broadcast))
                    targets.append(broadcast);
            }
        }
    }
    const QByteArray datagram = payload(bye);
    for (const QHostAddress &target : std::as_const(targets)) {
        if (m_socket.writeDatagram(datagram, target, m_config.port) < 0 && !m_warned) {
            // Once per run: a host without a usable network would otherwise log every 2 s.
            m_warned = true;
            logEvent(lcDiscovery(), QtWarningMsg, "discovery.send_failed",
                     {{u"target"_s, target.toString()}, {u"error"_s, m_socket.errorString()}});
        }
    }
}

} // namespace Confab::Server
