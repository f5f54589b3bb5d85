#include "ops/iplimits.h"

#include <utility>

namespace Confab::Server {

IpLimits::Slot::Slot(IpLimits *owner, QHostAddress peer, bool overLimit)
    : m_owner(owner), m_peer(std::move(peer)), m_overLimit(overLimit)
{
}

IpLimits::Slot::Slot(Slot &&other) noexcept
    : m_owner(std::exchange(other.m_owner, nullptr)), m_peer(std::move(other.m_peer)),
      m_overLimit(other.m_overLimit)
{
}

IpLimits::Slot &IpLimits::Slot::operator=(Slot &&other) noexcept
{
    if (this != &other) {
        release();
        m_owner = std::exchange(other.m_owner, nullptr);
        m_peer = std::move(other.m_peer);
        m_overLimit = other.m_overLimit;
    }
    return *this;
}

IpLimits::Slot::~Slot()
{
    release();
}

void IpLimits::Slot::release()
{
    if (!m_owner)
        return;
    auto it = m_owner->m_counts.find(m_peer);
    if (it != m_owner->m_counts.end() && --*it <= 0)
        m_owner->m_counts.erase(it);
    m_owner = nullptr;
}

IpLimits::Slot IpLimits::acquire(const QHostAddress &peer)
{
    const int count = ++m_counts[peer];
    return Slot(this, peer, count > m_max);
}

} // namespace Confab::Server
