#include "ops/metrics.h"

#include <QtCore/QJsonArray>
#include <QtCore/QMutexLocker>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab::Server {

void Metrics::rejected(const QString &reason)
{
    QMutexLocker lock(&m_rejectedMutex);
    ++m_rejected[reason];
}

quint64 Metrics::rejectedCount(const QString &reason) const
{
    QMutexLocker lock(&m_rejectedMutex);
    return m_rejected.value(reason);
}

QHash<QString, quint64> Metrics::rejectedByReason() const
{
    QMutexLocker lock(&m_rejectedMutex);
    return m_rejected;
}

void Metrics::observeDeliveryLatency(qint64 nanoseconds)
{
    const double seconds = double(std::max<qint64>(0, nanoseconds)) / 1e9;
    const auto it = std::lower_bound(LatencyBuckets.begin(), LatencyBuckets.end(), seconds);
    m_latencyBuckets[size_t(it - LatencyBuckets.begin())].fetch_add(1, std::memory_order_relaxed);
    m_latencyCount.fetch_add(1, std::memory_order_relaxed);
    m_latencySumNs.fetch_add(quint64(std::max<qint64>(0, nanoseconds)), std::memory_order_relaxed);
}

namespace {

void metric(QByteArray &out, const char *name, const char *type, const char *help)
{
    out += "# HELP "_ba + name + ' ' + help + "\n# TYPE "_ba + name + ' ' + type + '\n';
}

void sample(QByteArray &out, const char *name, double value, const QByteArray &labels = {})
{
    out += name;
    if (!labels.isEmpty())
        out += '{' + labels + '}';
    out += ' ' + QByteArray::number(value, 'g', 17) + '\n';
}

// Label values may contain anything a client sent as a code; escape per the exposition format.
QByteArray escapeLabel(const QString &value)
{
    QByteArray out;
    for (const char c : value.toUtf8()) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

} // namespace

QByteArray Metrics::prometheus(const Gauges &g) const
{
    QByteArray out;
    out.reserve(4096);
    metric(out, "confab_connections", "gauge", "Open WebSocket connections.");
    sample(out, "confab_connections", double(g.connections));
    metric(out, "confab_connections_opened_total", "counter", "WebSocket connections accepted.");
    sample(out, "confab_connections_opened_total", double(m_connectionsOpened.load()));
    metric(out, "confab_channels", "gauge", "Channels with at least one member on this node.");
    sample(out, "confab_channels", double(g.channels));
    metric(out, "confab_memberships", "gauge", "Channel memberships (connection, channel) on this node.");
    sample(out, "confab_memberships", double(g.memberships));
    metric(out, "confab_presence_entries", "gauge", "Tracked presence entries on this node.");
    sample(out, "confab_presence_entries", double(g.presenceEntries));
    metric(out, "confab_frames_received_total", "counter", "WebSocket frames received from clients.");
    sample(out, "confab_frames_received_total", double(m_framesIn.load()));
    metric(out, "confab_frames_sent_total", "counter", "WebSocket frames sent to clients.");
    sample(out, "confab_frames_sent_total", double(m_framesOut.load()));
    metric(out, "confab_broadcasts_total", "counter", "Broadcasts fanned out (client and REST).");
    sample(out, "confab_broadcasts_total", double(m_broadcasts.load()));
    metric(out, "confab_presence_updates_total", "counter", "Presence track and untrack operations.");
    sample(out, "confab_presence_updates_total", double(m_presenceUpdates.load()));
    metric(out, "confab_http_requests_total", "counter", "HTTP requests handled.");
    sample(out, "confab_http_requests_total", double(m_httpRequests.load()));

    metric(out, "confab_rejected_total", "counter", "Inputs refused, by reason (error code).");
    {
        QMutexLocker lock(&m_rejectedMutex);
        auto reasons = m_rejected.keys();
        reasons.sort();
        for (const auto &reason : reasons)
            sample(out, "confab_rejected_total", double(m_rejected.value(reason)),
                   "reason=\"" + escapeLabel(reason) + '"');
    }

    metric(out, "confab_delivery_latency_seconds", "histogram",
           "From receiving a frame or REST call to handing each resulting frame to a socket.");
    quint64 cumulative = 0;
    for (size_t i = 0; i < LatencyBuckets.size(); ++i) {
        cumulative += m_latencyBuckets[i].load();
        sample(out, "confab_delivery_latency_seconds_bucket", double(cumulative),
               "le=\"" + QByteArray::number(LatencyBuckets[i], 'g', 6) + '"');
    }
    cumulative += m_latencyBuckets.back().load();
    sample(out, "confab_delivery_latency_seconds_bucket", double(cumulative), "le=\"+Inf\"");
    sample(out, "confab_delivery_latency_seconds_sum", double(m_latencySumNs.load()) / 1e9);
    sample(out, "confab_delivery_latency_seconds_count", double(m_latencyCount.load()));

    metric(out, "confab_uptime_seconds", "gauge", "Seconds since the server started.");
    sample(out, "confab_uptime_seconds", g.uptimeSeconds);
    return out;
}

QJsonObject Metrics::toJson(const Gauges &g) const
{
    QJsonObject rejected;
    const auto byReason = rejectedByReason();
    for (auto it = byReason.cbegin(); it != byReason.cend(); ++it)
        rejected.insert(it.key(), qint64(it.value()));
    const auto count = m_latencyCount.load();
    return QJsonObject{
        {u"uptimeSeconds"_s, g.uptimeSeconds},
        {u"connections"_s, g.connections},
        {u"connectionsOpened"_s, qint64(m_connectionsOpened.load())},
        {u"channels"_s, g.channels},
        {u"memberships"_s, g.memberships},
        {u"presenceEntries"_s, g.presenceEntries},
        {u"framesReceived"_s, qint64(m_framesIn.load())},
        {u"framesSent"_s, qint64(m_framesOut.load())},
        {u"broadcasts"_s, qint64(m_broadcasts.load())},
        {u"presenceUpdates"_s, qint64(m_presenceUpdates.load())},
        {u"httpRequests"_s, qint64(m_httpRequests.load())},
        {u"rejected"_s, rejected},
        {u"deliveryLatency"_s,
         QJsonObject{{u"count"_s, qint64(count)},
                     {u"meanSeconds"_s,
                      count ? double(m_latencySumNs.load()) / 1e9 / double(count) : 0.0}}},
    };
}

} // namespace Confab::Server
