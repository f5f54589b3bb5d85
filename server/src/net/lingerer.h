#pragma once

#include <QtCore/QObject>

#include <chrono>
#include <memory>
#include <unordered_map>

class QSocketNotifier;
class QTcpSocket;

namespace Confab::Server {

//! \brief Closes TCP connections gracefully after the server ended them.
//!
//! Qt 6.4's QWebSocket writes its close frame and closes the socket at once, without waiting for
//! the peer. When the peer is still sending (a frame over the size limit, a flood, a client that
//! has not seen the close yet), closing a socket with unread input makes the kernel answer with
//! a reset, and the peer may lose the close frame (it sees 1006 instead of 1009, 1008 or 1001).
//! So, just before Qt closes its descriptor, the session hands a duplicate of it here; once Qt
//! has written everything and closed its own, this object shuts down the sending side (FIN
//! after the close frame), reads and drops what the peer still sends until it closes (or a
//! deadline), and only then closes the duplicate.
//!
//! Owned by the Server and destroyed after every session; it closes whatever still lingers.
class Lingerer : public QObject
{
    Q_OBJECT
public:
    explicit Lingerer(std::chrono::milliseconds deadline);
    ~Lingerer() override;

    //! \brief Takes over a duplicate of \a socket's descriptor; call it right before the socket
    //! is closed (QWebSocket::aboutToClose). Does nothing if the socket has no descriptor.
    void adopt(QTcpSocket *socket);
    [[nodiscard]] int lingering() const { return int(m_fds.size()); }

private:
    struct Entry;
    void drain(int fd);
    void finish(int fd);

    std::chrono::milliseconds m_deadline;
    std::unordered_map<int, std::unique_ptr<Entry>> m_fds;
};

} // namespace Confab::Server
