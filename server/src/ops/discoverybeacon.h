#pragma once

#include "ops/serverconfig.h"

#include <QtCore/QByteArray>
#include <QtCore/QObject>
#include <QtCore/QTimer>
#include <QtNetwork/QUdpSocket>

namespace Confab::Server {

//! \brief Announces a server on the LAN: a UDP datagram every DiscoveryConfig::interval to the
//! broadcast addresses (or the configured targets), and a last one with `"bye":true` on stop().
//!
//! The payload is compact JSON (docs/protocol.md "LAN discovery"):
//! `{"service":"confab","version":1,"name","port","auth","id"}`. Listeners take the host from the
//! datagram's sender address, never from the payload.
class DiscoveryBeacon : public QObject
{
    Q_OBJECT
public:
    //! \param port the server's WebSocket/HTTP port; \a auth "open", "password" or "token"
    DiscoveryBeacon(const DiscoveryConfig &config, quint16 port, const QString &auth,
                    QObject *parent = nullptr);
    //! \brief Says bye if stop() has not.
    ~DiscoveryBeacon() override;

    //! \brief Sends the first beacon now and then one every interval.
    void start();
    //! \brief Sends the bye datagram and stops. Safe to call more than once.
    void stop();

    //! \brief This run's id (random, 16 hex digits), as sent in every beacon.
    [[nodiscard]] QString id() const { return m_id; }
    //! \brief The beacon's payload; with \a bye, the farewell.
    [[nodiscard]] QByteArray payload(bool bye = false) const;

private:
    void send(bool bye);

    DiscoveryConfig m_config;
    quint16 m_port;
    QString m_auth;
    QString m_name;
    QString m_id;
    QUdpSocket m_socket;
    QTimer m_timer;
    bool m_running = false;
    bool m_warned = false;
};

} // namespace Confab::Server
