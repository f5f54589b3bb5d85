#include "ratelimiter.h"

#include <algorithm>
#include <cmath>

namespace Confab::Server {

namespace {
constexpr qint64 WindowMs = 60'000;
}

TokenBucket::TokenBucket(int perMinute, qint64 nowMs)
    : m_capacity(std::max(1, perMinute)),
      m_tokens(m_capacity),
      m_perMs(m_capacity / double(WindowMs)),
      m_last(nowMs)
{
}

void TokenBucket::refill(qint64 nowMs)
{
    if (nowMs > m_last) {
        m_tokens = std::min(m_capacity, m_tokens + double(nowMs - m_last) * m_perMs);
        m_last = nowMs;
    }
}

bool TokenBucket::tryTake(qint64 nowMs)
{
    refill(nowMs);
    if (m_tokens < 1.0)
        return false;
    m_tokens -= 1.0;
    return true;
}

qint64 TokenBucket::retryAfterMs(qint64 nowMs)
{
    refill(nowMs);
    if (m_tokens >= 1.0)
        return 0;
    return qint64(std::ceil((1.0 - m_tokens) / m_perMs));
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
