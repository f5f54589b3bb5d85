#pragma once

#include <QtCore/QHash>
#include <QtNetwork/QHostAddress>

namespace Confab::Server {

//! \brief Counts open connections per client address (Limits::maxConnectionsPerIp).
//!
//! Each accepted connection holds a Slot for its whole life; the Slot moves with the socket
//! (HTTP connection → WebSocket upgrade → session) and gives its count back when destroyed.
//! Lifetime: the server destroys every holder of a Slot before this object (docs/architecture.md
//! "Ownership and teardown"), so a Slot's pointer back here is always valid.
class IpLimits
{
public:
    class Slot
    {
    public:
        Slot() = default;
        Slot(Slot &&other) noexcept;
        Slot &operator=(Slot &&other) noexcept;
        Slot(const Slot &) = delete;
        Slot &operator=(const Slot &) = delete;
        ~Slot();

        //! \brief This connection went over the limit: it is answered with a refusal.
        [[nodiscard]] bool overLimit() const { return m_overLimit; }
        [[nodiscard]] const QHostAddress &peer() const { return m_peer; }

    private:
        friend class IpLimits;
        Slot(IpLimits *owner, QHostAddress peer, bool overLimit);
        void release();

        IpLimits *m_owner = nullptr;
        QHostAddress m_peer;
        bool m_overLimit = false;
    };

    explicit IpLimits(int maxPerAddress) : m_max(maxPerAddress) {}
    IpLimits(const IpLimits &) = delete;
    IpLimits &operator=(const IpLimits &) = delete;

    //! \brief Counts a new connection from \a peer (normalized by the caller).
    [[nodiscard]] Slot acquire(const QHostAddress &peer);
    [[nodiscard]] int connectionsFrom(const QHostAddress &peer) const { return m_counts.value(peer); }
    [[nodiscard]] int limit() const { return m_max; }

private:
    int m_max;
    QHash<QHostAddress, int> m_counts;
};

} // namespace Confab::Server
