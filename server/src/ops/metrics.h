#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QMutex>
#include <QtCore/QString>

#include <array>
#include <atomic>

namespace Confab::Server {

//! \brief Process-wide counters and the delivery-latency histogram, rendered for Prometheus
//! (`GET /metrics`) and as JSON (`GET /api/stats`). Counters are atomics so that sessions on
//! several I/O threads can count without locks.
class Metrics
{
public:
    //! \brief Point-in-time values owned by other parts (hub, server), passed in when rendering.
    struct Gauges
    {
        qint64 connections = 0;
        qint64 channels = 0;
        qint64 memberships = 0;
        qint64 presenceEntries = 0;
        double uptimeSeconds = 0;
    };

    void connectionOpened() { m_connectionsOpened.fetch_add(1, std::memory_order_relaxed); }
    void frameIn() { m_framesIn.fetch_add(1, std::memory_order_relaxed); }
    void framesOut(quint64 n = 1) { m_framesOut.fetch_add(n, std::memory_order_relaxed); }
    void broadcast() { m_broadcasts.fetch_add(1, std::memory_order_relaxed); }
    void presenceUpdate() { m_presenceUpdates.fetch_add(1, std::memory_order_relaxed); }
    void httpRequest() { m_httpRequests.fetch_add(1, std::memory_order_relaxed); }
    //! \brief Counts a refused input under \a reason (an error code, e.g. MESSAGE_TOO_LARGE).
    void rejected(const QString &reason);
    //! \brief Time from receiving what caused a delivery to handing it to one recipient's socket.
    void observeDeliveryLatency(qint64 nanoseconds);

    [[nodiscard]] quint64 framesInCount() const { return m_framesIn.load(); }
    [[nodiscard]] quint64 framesOutCount() const { return m_framesOut.load(); }
    [[nodiscard]] quint64 rejectedCount(const QString &reason) const;
    [[nodiscard]] QHash<QString, quint64> rejectedByReason() const;

    //! \brief Prometheus text exposition format 0.0.4.
    [[nodiscard]] QByteArray prometheus(const Gauges &gauges) const;
    [[nodiscard]] QJsonObject toJson(const Gauges &gauges) const;

    //! Upper bounds of the latency buckets, in seconds (50 µs … 2.5 s).
    static constexpr std::array<double, 15> LatencyBuckets{
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
        0.025,   0.05,   0.1,     0.25,   0.5,   1.0,   2.5};

private:
    std::atomic<quint64> m_connectionsOpened{0};
    std::atomic<quint64> m_framesIn{0};
    std::atomic<quint64> m_framesOut{0};
    std::atomic<quint64> m_broadcasts{0};
    std::atomic<quint64> m_presenceUpdates{0};
    std::atomic<quint64> m_httpRequests{0};
    std::array<std::atomic<quint64>, LatencyBuckets.size() + 1> m_latencyBuckets{}; // last: +Inf
    std::atomic<quint64> m_latencyCount{0};
    std::atomic<quint64> m_latencySumNs{0};
    mutable QMutex m_rejectedMutex; // rare path: refusals, not deliveries
    QHash<QString, quint64> m_rejected;
};

} // namespace Confab::Server
