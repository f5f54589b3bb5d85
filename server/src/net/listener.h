#pragma once

#include "ops/iplimits.h"
#include "ops/serverconfig.h"

#include <QtNetwork/QTcpServer>

#include <functional>
#include <memory>

namespace Confab::Server {

//! \brief Accepts every TCP connection of one listening address and hands it on with its
//! per-address slot (IpLimits).
//!
//! Why our own QTcpServer: a listen backlog above QWebSocketServer's 50 (reconnect storms),
//! TCP_NODELAY on every socket (acks and typing must not wait for Nagle), and the per-address
//! count. What a connection asks for (HTTP or a WebSocket upgrade) is decided by HttpConnection.
class Listener : public QTcpServer
{
    Q_OBJECT
public:
    using Accept = std::function<void(std::unique_ptr<QTcpSocket>, IpLimits::Slot)>;

    Listener(int backlog, IpLimits &ipLimits, Accept accept);
    ~Listener() override;

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    IpLimits &m_ipLimits;
    Accept m_accept;
};

} // namespace Confab::Server
