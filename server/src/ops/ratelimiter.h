#pragma once

#include <QtCore/QtGlobal>

#include <deque>

namespace Confab::Server {

//! \brief A token bucket: up to \a perMinute events a minute, refilled continuously, so a
//! client may burst up to the full allowance and then proceeds at the average rate.
//! Times are milliseconds on any monotonic clock, passed in so tests control time.
class TokenBucket
{
public:
    explicit TokenBucket(int perMinute, qint64 nowMs = 0);

    //! \brief Takes one token; false (and nothing taken) when the bucket is empty.
    bool tryTake(qint64 nowMs);
    //! \brief Milliseconds until the next token is available (0 if one is available now).
    [[nodiscard]] qint64 retryAfterMs(qint64 nowMs);

private:
    void refill(qint64 nowMs);

    // Integer arithmetic, so a client that waits exactly retryAfterMs() is admitted: a token is
    // WindowMs units, and every millisecond adds m_rate units (floating point drifted by 1 ms).
    qint64 m_rate;
    qint64 m_capacity;
    qint64 m_units;
    qint64 m_last;
};

//! \brief Counts events in a sliding one-minute window; over() is true once more than
//! \a perMinute happened within the last 60 s. Used for "keeps abusing" decisions.
class StrikeCounter
{
public:
    explicit StrikeCounter(int perMinute) : m_limit(perMinute) {}

    //! \brief Records one event at \a nowMs; returns true when the limit is now exceeded.
    bool strike(qint64 nowMs);
    [[nodiscard]] int count(qint64 nowMs);

private:
    void expire(qint64 nowMs);

    int m_limit;
    std::deque<qint64> m_times; // at most m_limit + 1 entries
};

} // namespace Confab::Server
