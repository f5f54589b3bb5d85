#include "ops/ratelimiter.h"

#include <algorithm>

namespace Confab::Server {

namespace {
constexpr qint64 WindowMs = 60'000;
}

TokenBucket::TokenBucket(int perMinute, qint64 nowMs)
    : m_rate(std::max(1, perMinute)), m_capacity(m_rate * WindowMs), m_units(m_capacity), m_last(nowMs)
{
}

void TokenBucket::refill(qint64 nowMs)
{
    if (nowMs > m_last) {
        m_units = std::min(m_capacity, m_units + (nowMs - m_last) * m_rate);
        m_last = nowMs;
    }
}

bool TokenBucket::tryTake(qint64 nowMs)
{
    refill(nowMs);
    if (m_units < WindowMs)
        return false;
    m_units -= WindowMs;
    return true;
}

qint64 TokenBucket::retryAfterMs(qint64 nowMs)
{
    refill(nowMs);
    if (m_units >= WindowMs)
        return 0;
    return (WindowMs - m_units + m_rate - 1) / m_rate;
}

void StrikeCounter::expire(qint64 nowMs)
{
    while (!m_times.empty() && m_times.front() <= nowMs - WindowMs)
        m_times.pop_front();
}

bool StrikeCounter::strike(qint64 nowMs)
{
    expire(nowMs);
    m_times.push_back(nowMs);
    // Only the count matters beyond the limit; keep the deque bounded.
    while (m_times.size() > size_t(m_limit) + 1)
        m_times.pop_front();
    return int(m_times.size()) > m_limit;
}

int StrikeCounter::count(qint64 nowMs)
{
    expire(nowMs);
    return int(m_times.size());
}

} // namespace Confab::Server
