#include "net/lingerer.h"

#include <QtCore/QPointer>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>

#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>

namespace Confab::Server {

struct Lingerer::Entry
{
    std::unique_ptr<QSocketNotifier> notifier;
    QTimer deadline;
    bool shutDown = false;
};

Lingerer::Lingerer(std::chrono::milliseconds deadline) : m_deadline(deadline) {}

Lingerer::~Lingerer()
{
    for (auto &[fd, entry] : m_fds) {
        entry->notifier.reset();
        ::close(fd);
    }
}

void Lingerer::adopt(QTcpSocket *socket)
{
    if (!socket || socket->socketDescriptor() < 0)
        return;
    const int fd = ::dup(int(socket->socketDescriptor()));
    if (fd < 0)
        return; // out of descriptors: Qt's close alone it is
    auto entry = std::make_unique<Entry>();
    entry->deadline.setSingleShot(true);
    connect(&entry->deadline, &QTimer::timeout, this, [this, fd] { finish(fd); });
    entry->deadline.start(m_deadline);
    m_fds.emplace(fd, std::move(entry));
    // Qt still has the close frame (and maybe more) to write on its own descriptor: the FIN
    // goes out only once it has, and closed it.
    auto start = [this, fd] { drain(fd); };
    if (socket->state() == QAbstractSocket::UnconnectedState)
        QMetaObject::invokeMethod(this, start, Qt::QueuedConnection);
    else
        connect(socket, &QTcpSocket::disconnected, this, start, Qt::QueuedConnection);
}

void Lingerer::drain(int fd)
{
    const auto it = m_fds.find(fd);
    if (it == m_fds.end() || it->second->shutDown)
        return;
    auto &entry = *it->second;
    entry.shutDown = true;
    ::shutdown(fd, SHUT_WR);
    entry.notifier = std::make_unique<QSocketNotifier>(fd, QSocketNotifier::Read);
    connect(entry.notifier.get(), &QSocketNotifier::activated, this, [this, fd] {
        char buffer[16384];
        for (;;) {
            const auto n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0)
                continue; // the peer's remaining bytes (and its close frame) are dropped
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
            finish(fd); // the peer closed (0) or the connection failed
            return;
        }
    });
}

void Lingerer::finish(int fd)
{
    const auto it = m_fds.find(fd);
    if (it == m_fds.end())
        return;
    auto entry = std::move(it->second);
    m_fds.erase(it);
    entry->notifier.reset();
    ::close(fd);
    // The entry's timer may be the caller: delete it on the next pass.
    QMetaObject::invokeMethod(this, [doomed = std::shared_ptr<Entry>(std::move(entry))] {}, Qt::QueuedConnection);
}

} // namespace Confab::Server
