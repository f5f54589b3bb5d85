#include "net/listener.h"

#include "http/message.h"

#include <QtNetwork/QTcpSocket>

namespace Confab::Server {

Listener::Listener(int backlog, IpLimits &ipLimits, Accept accept)
    : m_ipLimits(ipLimits), m_accept(std::move(accept))
{
    setListenBacklogSize(backlog);
}

Listener::~Listener() = default;

void Listener::incomingConnection(qintptr socketDescriptor)
{
    auto socket = std::make_unique<QTcpSocket>();
    if (!socket->setSocketDescriptor(socketDescriptor))
        return;
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    // Over the limit, the connection is still read: it is answered with a reason (HTTP 429, or
    // a WebSocket close with CONNECTION_LIMIT_PER_IP) rather than reset without one.
    auto slot = m_ipLimits.acquire(normalizedPeer(socket->peerAddress()));
    m_accept(std::move(socket), std::move(slot));
}

} // namespace Confab::Server
