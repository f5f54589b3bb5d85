// confab-bench: load for a running confab-server over the native protocol.
//
// Opens N WebSocket clients, joins them all to one channel, then one sender broadcasts M
// messages (with ack, a window of W in flight). Every receiver timestamps what it gets; the
// sender's timestamp rides in the payload, so latency is measured on one clock. Reports connect
// and join times, fan-out throughput (deliveries per second) and latency percentiles, plus the
// server's own view from /api/stats. Speed is reported, never asserted.
//
// --chat sends durable chat messages instead (message:send): S senders each send M messages with
// unique client_ids, W in flight each; the server acks a message only once it is committed. It
// reports acks per second and the ack latency (send to commit) besides delivery, and checks the
// outcome: every receiver got every message exactly once, in order, with seqs that count up with
// no holes. A failed check prints FAIL and exits non-zero.
#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRandomGenerator>
#include <QtCore/QStringMatcher>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtWebSockets/QWebSocket>

#include <ConfabClient/client.h>
#include <ConfabClient/reply.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;

namespace {

QElapsedTimer g_clock;

qint64 nowUs()
{
    return g_clock.nsecsElapsed() / 1000;
}

QString frame(const QJsonValue &ref, const QString &topic, const QString &event, const QJsonObject &payload)
{
    return QString::fromUtf8(QJsonDocument(QJsonArray{QJsonValue::Null, ref, topic, event, payload})
                                 .toJson(QJsonDocument::Compact));
}

// Receivers only need a few things from each frame; finding them by text avoids a JSON parse per
// frame, so the tool measures the server rather than itself. The matcher is built once: Qt 6.4's
// QString::indexOf(QLatin1StringView) converts its needle on every call, and at 200k frames/s
// that was half of the tool's time.
class FrameKey
{
public:
    explicit FrameKey(const QString &key) : m_matcher(key), m_size(key.size()) {}

    [[nodiscard]] bool in(const QString &text) const { return m_matcher.indexIn(text) >= 0; }

    //! The digits right after the key (which ends just before them, e.g. `"seq":`); -1 when
    //! the key is not there.
    [[nodiscard]] qint64 integerIn(const QString &text) const
    {
        const auto at = m_matcher.indexIn(text);
        if (at < 0)
            return -1;
        qint64 value = 0;
        for (qsizetype i = at + m_size; i < text.size(); ++i) {
            const char16_t c = text.at(i).unicode();
            if (c < u'0' || c > u'9')
                break;
            value = value * 10 + (c - u'0');
        }
        return value;
    }

private:
    QStringMatcher m_matcher;
    qsizetype m_size;
};

struct Options
{
    QUrl url;
    int clients = 1000;
    int messages = 200;
    int window = 8;
    int payloadBytes = 100;
    int connectBatch = 200;
    QString topic = u"bench:room"_s;
    bool library = false;
    bool chat = false;
    int senders = 1; //!< chat only; clients [0, senders) send, the rest receive

    [[nodiscard]] int senderCount() const { return chat ? senders : 1; }
    [[nodiscard]] int receiverCount() const { return clients - senderCount(); }
};

// Sorts \a us (µs) and prints its percentiles in ms under \a label.
void printLatency(const char *label, std::vector<qint64> &us)
{
    if (us.empty()) {
        std::printf("%-18s none\n", label);
        return;
    }
    std::sort(us.begin(), us.end());
    const auto pct = [&](double p) {
        return double(us[std::min(us.size() - 1, size_t(p * double(us.size())))]) / 1000.0;
    };
    std::printf("%-18s p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", label, pct(0.5), pct(0.9), pct(0.99),
                double(us.back()) / 1000.0);
}

void printSetup(const Options &options, qint64 connectMs, qint64 joinMs)
{
    const int senders = options.senderCount();
    std::printf("clients            %d (%d sender%s, %d receivers)%s%s\n", options.clients, senders,
                senders == 1 ? "" : "s", options.receiverCount(),
                options.library ? ", through ConfabClient" : ", raw WebSockets", options.chat ? ", chat" : "");
    if (options.chat) {
        std::printf("messages           %d per sender x %d-byte body, window %d per sender%s\n", options.messages,
                    std::max(1, options.payloadBytes), options.window,
                    options.library ? " (the library puts one on the wire at a time)" : "");
    } else {
        std::printf("messages           %d x %d-byte payload, window %d\n", options.messages, options.payloadBytes,
                    options.window);
    }
    std::printf("connect all        %lld ms\n", connectMs);
    std::printf("join all           %lld ms\n", joinMs);
}

void printResults(const Options &options, std::vector<qint64> &deliveries, double seconds, qint64 connectMs,
                  qint64 joinMs)
{
    printSetup(options, connectMs, joinMs);
    std::printf("deliveries         %zu in %.3f s = %.0f deliveries/s (%.0f broadcasts/s)\n", deliveries.size(),
                seconds, double(deliveries.size()) / seconds, double(options.messages) / seconds);
    printLatency("latency ms", deliveries);
}

// Chat mode's account of every message, fed by either kind of client. Message k is sender s's
// n-th (k = s * messages + n); receivers are numbered from 0. Times are taken on this process's
// clock at send, ack and delivery, so nothing has to ride in the message but k.
class ChatLedger
{
public:
    //! \a done runs once: when every ack and delivery is in, or when nothing has arrived for
    //! StallSeconds (the check then says what is missing).
    ChatLedger(const Options &options, std::function<void()> done)
        : m_total(qint64(options.senderCount()) * options.messages), m_receivers(options.receiverCount()),
          m_done(std::move(done))
    {
        m_watchdog.setInterval(std::chrono::seconds(1));
        QObject::connect(&m_watchdog, &QTimer::timeout, [this] {
            const qint64 progress = m_acks + m_deliveries;
            m_idleSeconds = progress == m_lastProgress ? m_idleSeconds + 1 : 0;
            m_lastProgress = progress;
            if (m_idleSeconds >= StallSeconds)
                finish();
        });
    }

    //! \a baseSeq: the channel's last seq when everyone had joined; this run's are the next ones.
    void start(qint64 baseSeq)
    {
        m_baseSeq = baseSeq;
        m_sentAt.assign(size_t(m_total), -1);
        m_ackSeq.assign(size_t(m_total), 0);
        m_seqAt.assign(size_t(m_receivers) * size_t(m_total), 0);
        m_lastSeq.assign(size_t(m_receivers), 0);
        m_ackLatency.reserve(size_t(m_total));
        m_deliveryLatency.reserve(size_t(m_receivers) * size_t(m_total));
        m_startUs = nowUs();
        m_watchdog.start();
    }

    void sent(qint64 k) { m_sentAt[size_t(k)] = nowUs(); }

    void acked(qint64 k, qint64 seq, bool duplicate)
    {
        const qint64 now = nowUs();
        ++m_acks;
        if (k < 0 || k >= m_total || m_sentAt[size_t(k)] < 0 || m_ackSeq[size_t(k)] != 0) {
            ++m_badAcks;
        } else {
            m_ackSeq[size_t(k)] = seq;
            m_ackLatency.push_back(now - m_sentAt[size_t(k)]);
            m_lastAckUs = now;
        }
        if (duplicate) // a fresh client_id must never be taken for a resend
            ++m_duplicateAcks;
        checkDone();
    }

    void delivered(int receiver, qint64 k, qint64 seq)
    {
        const qint64 now = nowUs();
        ++m_deliveries;
        m_lastDeliveryUs = now;
        if (k < 0 || k >= m_total || m_sentAt[size_t(k)] < 0 || seq <= 0) {
            ++m_unknown;
        } else if (auto &slot = m_seqAt[size_t(receiver) * size_t(m_total) + size_t(k)]; slot != 0) {
            ++m_duplicates;
        } else {
            slot = qint32(seq);
            auto &last = m_lastSeq[size_t(receiver)];
            if (seq < last)
                ++m_reordered;
            last = std::max(last, seq);
            m_deliveryLatency.push_back(now - m_sentAt[size_t(k)]);
        }
        checkDone();
    }

    //! \brief Prints rates, latencies and the check; false when the check failed.
    bool report()
    {
        const double ackSeconds = double(std::max<qint64>(1, m_lastAckUs - m_startUs)) / 1e6;
        const double deliverySeconds = double(std::max<qint64>(1, m_lastDeliveryUs - m_startUs)) / 1e6;
        std::printf("acks               %zu in %.3f s = %.0f acks/s (committed messages)\n", m_ackLatency.size(),
                    ackSeconds, double(m_ackLatency.size()) / ackSeconds);
        printLatency("ack latency ms", m_ackLatency);
        std::printf("deliveries         %zu in %.3f s = %.0f deliveries/s\n", m_deliveryLatency.size(),
                    deliverySeconds, double(m_deliveryLatency.size()) / deliverySeconds);
        printLatency("latency ms", m_deliveryLatency);
        const QStringList problems = check();
        if (problems.isEmpty()) {
            std::printf("check              OK: %d receivers got all %lld messages once each, in order; "
                        "seqs %lld..%lld without holes\n",
                        m_receivers, m_total, m_baseSeq + 1, m_baseSeq + m_total);
            return true;
        }
        for (const auto &problem : problems)
            std::printf("check              FAIL: %s\n", qPrintable(problem));
        return false;
    }

private:
    static constexpr int StallSeconds = 5;

    void checkDone()
    {
        if (m_acks >= m_total && m_deliveries >= qint64(m_receivers) * m_total)
            finish();
    }

    void finish()
    {
        m_watchdog.stop();
        if (auto done = std::exchange(m_done, nullptr))
            done();
    }

    [[nodiscard]] QStringList check() const
    {
        QStringList problems;
        // The acks' seqs must be exactly base+1 .. base+N: one each, no holes.
        std::vector<bool> seqTaken(size_t(m_total), false);
        qint64 unacked = 0;
        qint64 outOfRange = 0;
        for (const qint64 seq : m_ackSeq) {
            if (seq == 0)
                ++unacked;
            else if (seq <= m_baseSeq || seq > m_baseSeq + m_total || seqTaken[size_t(seq - m_baseSeq - 1)])
                ++outOfRange;
            else
                seqTaken[size_t(seq - m_baseSeq - 1)] = true;
        }
        if (unacked > 0)
            problems << u"%1 of %2 messages never acked"_s.arg(unacked).arg(m_total);
        if (outOfRange > 0)
            problems << u"%1 acks carry a seq outside %2..%3 or one already given"_s.arg(outOfRange)
                            .arg(m_baseSeq + 1)
                            .arg(m_baseSeq + m_total);
        if (const auto holes = std::count(seqTaken.begin(), seqTaken.end(), false); holes > unacked)
            problems << u"%1 holes in seqs %2..%3"_s.arg(holes - unacked).arg(m_baseSeq + 1).arg(m_baseSeq + m_total);
        if (m_badAcks > 0)
            problems << u"%1 acks for messages not sent or already acked"_s.arg(m_badAcks);
        if (m_duplicateAcks > 0)
            problems << u"%1 acks say duplicate for a new client_id"_s.arg(m_duplicateAcks);

        // Every receiver: every message once, with the seq its sender was given.
        qint64 missing = 0;
        qint64 wrongSeq = 0;
        int incomplete = 0;
        for (int r = 0; r < m_receivers; ++r) {
            const qint64 missingBefore = missing;
            for (qint64 k = 0; k < m_total; ++k) {
                const qint64 seq = m_seqAt[size_t(r) * size_t(m_total) + size_t(k)];
                if (seq == 0)
                    ++missing;
                else if (m_ackSeq[size_t(k)] != 0 && seq != m_ackSeq[size_t(k)])
                    ++wrongSeq;
            }
            incomplete += missing > missingBefore ? 1 : 0;
        }
        if (missing > 0)
            problems << u"%1 deliveries missing, at %2 of %3 receivers"_s.arg(missing).arg(incomplete).arg(m_receivers);
        if (m_duplicates > 0)
            problems << u"%1 messages delivered twice to the same receiver"_s.arg(m_duplicates);
        if (wrongSeq > 0)
            problems << u"%1 deliveries carry another seq than their ack"_s.arg(wrongSeq);
        if (m_reordered > 0)
            problems << u"%1 deliveries arrived after a higher seq"_s.arg(m_reordered);
        if (m_unknown > 0)
            problems << u"%1 deliveries of messages this run did not send"_s.arg(m_unknown);
        return problems;
    }

    const qint64 m_total;
    const int m_receivers;
    std::vector<qint64> m_sentAt;  // by k, µs; -1 = not sent
    std::vector<qint64> m_ackSeq;  // by k; 0 = not acked
    std::vector<qint32> m_seqAt;   // by receiver * total + k: the seq delivered; 0 = not yet
    std::vector<qint64> m_lastSeq; // by receiver: highest seq delivered
    std::vector<qint64> m_ackLatency;
    std::vector<qint64> m_deliveryLatency;
    std::function<void()> m_done;
    QTimer m_watchdog;
    qint64 m_baseSeq = 0;
    qint64 m_startUs = 0;
    qint64 m_lastAckUs = 0;
    qint64 m_lastDeliveryUs = 0;
    qint64 m_acks = 0;
    qint64 m_deliveries = 0;
    qint64 m_badAcks = 0;
    qint64 m_duplicateAcks = 0;
    qint64 m_duplicates = 0;
    qint64 m_reordered = 0;
    qint64 m_unknown = 0;
    qint64 m_lastProgress = -1;
    int m_idleSeconds = 0;
};

// Tells this run's messages from earlier runs' on the same server and topic: client_ids must be
// new (a reused one is answered as a duplicate), and a library receiver may see older messages.
QString newRunId()
{
    return QString::number(QRandomGenerator::global()->generate64() & 0xffffffffffffULL, 36);
}

// The same load through the client library (Confab::Client and Channel), so the library's own
// cost shows next to the raw-socket numbers.
class LibraryBench : public QObject
{
public:
    explicit LibraryBench(Options options)
        : m_options(std::move(options)), m_ledger(m_options, [this] { finishChat(); }),
          m_chatSent(size_t(m_options.senderCount()), 0)
    {
    }

    void start()
    {
        if (m_options.chat && !m_storage.isValid())
            return fail(u"no temporary directory for the clients' queues: "_s + m_storage.errorString());
        m_phase.start();
        for (int i = 0; i < m_options.clients; ++i) {
            auto client = std::make_unique<Confab::Client>(m_options.url);
            const bool sender = i < m_options.senderCount();
            Confab::ChannelConfig config{.self = false, .ack = i == 0, .presenceKey = {}};
            if (m_options.chat) {
                // A queue file per client, thrown away at exit: the library fsyncs it on every
                // send and ack, and that is part of the cost measured here.
                client->setStoragePath(m_storage.filePath(QString::number(i)));
                client->setUser(u"bench-"_s + QString::number(i));
                config = Confab::ChannelConfig{.presenceKey = {}, .chat = true};
            }
            auto *channel = client->channel(m_options.topic, config);
            connect(channel, &Confab::Channel::subscribed, this, [this] { onSubscribed(); });
            if (m_options.chat && !sender) {
                connect(channel, &Confab::Channel::messageReceived, this, [this, i](const QJsonObject &message) {
                    const auto meta = message.value("meta"_L1).toObject();
                    if (meta.value("run"_L1).toString() == m_runId)
                        m_ledger.delivered(i - m_options.senders, meta.value("k"_L1).toInteger(-1),
                                           message.value("seq"_L1).toInteger());
                });
            } else if (!sender) {
                connect(channel, &Confab::Channel::broadcastReceived, this,
                        [this](const QString &, const QJsonValue &payload) {
                            m_deliveries.push_back(nowUs() - payload.toObject().value("ts"_L1).toInteger());
                            if (qint64(m_deliveries.size()) == qint64(m_options.clients - 1) * m_options.messages)
                                finish();
                        });
            }
            connect(client.get(), &Confab::Client::connected, this, [this] {
                if (++m_connected == m_options.clients)
                    m_connectMs = m_phase.elapsed();
            });
            channel->subscribe();
            client->connectToServer();
            m_clients.push_back(std::move(client));
        }
    }

private:
    void fail(const QString &why)
    {
        std::fprintf(stderr, "confab-bench: %s\n", qPrintable(why));
        QCoreApplication::exit(1);
    }

    void onSubscribed()
    {
        if (++m_joined != m_options.clients)
            return;
        m_joinMs = m_phase.elapsed() - m_connectMs;
        m_phase.restart();
        if (m_options.chat) {
            m_ledger.start(m_clients.front()->channel(m_options.topic)->lastSeq());
            for (int s = 0; s < m_options.senders; ++s) {
                for (int i = 0; i < m_options.window; ++i)
                    sendNextChat(s);
            }
            return;
        }
        m_deliveries.reserve(size_t(m_options.clients - 1) * size_t(m_options.messages));
        for (int i = 0; i < m_options.window && m_sent < m_options.messages; ++i)
            sendNext();
    }

    void sendNext()
    {
        ++m_sent;
        const QJsonObject payload{{u"ts"_s, nowUs()}, {u"pad"_s, QString(m_options.payloadBytes, u'x')}};
        auto *reply = m_clients.front()->channel(m_options.topic)->send(u"bench"_s, payload);
        connect(reply, &Confab::Reply::finished, this, [this, reply] {
            if (!reply->isOk())
                fail(u"send failed: "_s + reply->errorCode());
            else if (m_sent < m_options.messages)
                sendNext();
        });
    }

    // The library assigns client_ids itself, so k rides in meta.
    void sendNextChat(int sender)
    {
        if (m_chatSent[size_t(sender)] == m_options.messages)
            return;
        const qint64 k = qint64(sender) * m_options.messages + m_chatSent[size_t(sender)]++;
        m_ledger.sent(k);
        auto *channel = m_clients[size_t(sender)]->channel(m_options.topic);
        auto *reply = channel->sendMessage(QString(std::max(1, m_options.payloadBytes), u'x'),
                                           {{u"run"_s, m_runId}, {u"k"_s, k}});
        connect(reply, &Confab::Reply::finished, this, [this, reply, sender, k] {
            if (!reply->isOk())
                return fail(u"message refused: "_s + reply->errorCode() + u' ' + reply->errorMessage());
            const auto response = reply->response();
            m_ledger.acked(k, response.value("seq"_L1).toInteger(), response.value("duplicate"_L1).toBool());
            sendNextChat(sender);
        });
    }

    void finish()
    {
        printResults(m_options, m_deliveries, double(m_phase.nsecsElapsed()) / 1e9, m_connectMs, m_joinMs);
        QCoreApplication::exit(0);
    }

    void finishChat()
    {
        printSetup(m_options, m_connectMs, m_joinMs);
        QCoreApplication::exit(m_ledger.report() ? 0 : 1);
    }

    Options m_options;
    QTemporaryDir m_storage;
    QString m_runId = newRunId();
    ChatLedger m_ledger;
    std::vector<std::unique_ptr<Confab::Client>> m_clients;
    std::vector<qint64> m_deliveries;
    std::vector<int> m_chatSent; // by sender
    QElapsedTimer m_phase;
    qint64 m_connectMs = 0;
    qint64 m_joinMs = 0;
    int m_connected = 0;
    int m_joined = 0;
    int m_sent = 0;
};

class Bench : public QObject
{
public:
    explicit Bench(Options options)
        : m_options(std::move(options)), m_ledger(m_options, [this] { finishChat(); }),
          m_chatSent(size_t(m_options.senderCount()), 0),
          m_messagePrefix(u"[null,null,\""_s + m_options.topic + u"\",\"message\","_s),
          m_clientIdKey(u"\"client_id\":\""_s + m_runId + u'-')
    {
    }

    void start()
    {
        m_phase.start();
        connectMore();
    }

private:
    void fail(const QString &why)
    {
        std::fprintf(stderr, "confab-bench: %s\n", qPrintable(why));
        QCoreApplication::exit(1);
    }

    // Connect in batches: a thousand simultaneous handshakes measure the listen queue, not us.
    void connectMore()
    {
        const int target = std::min(m_options.clients, int(m_clients.size()) + m_options.connectBatch);
        while (int(m_clients.size()) < target) {
            auto socket = std::make_unique<QWebSocket>();
            auto *s = socket.get();
            const int index = int(m_clients.size());
            connect(s, &QWebSocket::connected, this, [this, s, index] {
                ++m_connected;
                if (m_options.chat) {
                    // Pipelined: the server handles a connection's frames in order.
                    const QJsonObject user{{u"id"_s, QString(u"bench-"_s + QString::number(index))}};
                    s->sendTextMessage(frame(u"h"_s, u"$system"_s, u"hello"_s, {{u"user"_s, user}}));
                    const QJsonObject config{{u"chat"_s, QJsonObject{}}};
                    s->sendTextMessage(frame(u"j"_s, m_options.topic, u"chan:join"_s, {{u"config"_s, config}}));
                } else {
                    const QJsonObject config{{u"broadcast"_s, QJsonObject{{u"self"_s, false}, {u"ack"_s, index == 0}}}};
                    s->sendTextMessage(frame(u"j"_s, m_options.topic, u"chan:join"_s, {{u"config"_s, config}}));
                }
                if (m_connected == int(m_clients.size()) && int(m_clients.size()) < m_options.clients)
                    connectMore();
                if (m_connected == m_options.clients) {
                    m_connectMs = m_phase.elapsed();
                    m_phase.restart();
                }
            });
            connect(s, &QWebSocket::textMessageReceived, this, [this, index](const QString &text) {
                onMessage(index, text);
            });
            // Qt 6.4 has no QWebSocket::errorOccurred; the overloaded error() is its name there.
            connect(s, QOverload<QAbstractSocket::SocketError>::of(&QWebSocket::error), this, [this, s](QAbstractSocket::SocketError) {
                fail(u"socket error: "_s + s->errorString());
            });
            s->open(m_options.url);
            m_clients.push_back(std::move(socket));
        }
    }

    void onMessage(int index, const QString &text)
    {
        // Chat deliveries first: they are nearly every frame, and their prefix says what they are.
        if (m_options.chat && text.startsWith(m_messagePrefix)) {
            // Senders also get each other's messages; only receivers are measured and checked.
            if (index >= m_options.senders) {
                const qint64 k = m_clientIdKey.integerIn(text);
                if (k >= 0) // else an earlier run's message
                    m_ledger.delivered(index - m_options.senders, k, m_seqKey.integerIn(text));
            }
            return;
        }
        if (m_replyKey.in(text)) {
            if (text.startsWith("[null,\"h\""_L1)) {
                if (!text.contains("\"ok\""_L1))
                    fail(u"hello refused: "_s + text);
            } else if (text.startsWith("[null,\"j\""_L1)) {
                if (!text.contains("\"ok\""_L1))
                    return fail(u"join refused: "_s + text);
                m_baseSeq = std::max(m_baseSeq, FrameKey(u"\"last_seq\":"_s).integerIn(text));
                if (++m_joined == m_options.clients) {
                    m_joinMs = m_phase.elapsed();
                    m_phase.restart();
                    startSending();
                }
            } else if (m_options.chat) {
                if (index < m_options.senders)
                    onChatAck(index, text);
            } else if (index == 0 && text.contains("recipientCount"_L1)) {
                ++m_acked;
                if (m_sent < m_options.messages)
                    sendNext();
            }
            return;
        }
        if (m_options.chat || !m_broadcastKey.in(text))
            return;
        const qint64 sentAt = m_tsKey.integerIn(text);
        if (sentAt >= 0)
            m_deliveries.push_back(nowUs() - sentAt);
        if (qint64(m_deliveries.size()) == qint64(m_options.clients - 1) * m_options.messages)
            finish();
    }

    void startSending()
    {
        if (m_options.chat) {
            m_ledger.start(m_baseSeq);
            for (int s = 0; s < m_options.senders; ++s) {
                for (int i = 0; i < m_options.window; ++i)
                    sendNextChat(s);
            }
            return;
        }
        m_deliveries.reserve(size_t(m_options.clients - 1) * size_t(m_options.messages));
        for (int i = 0; i < m_options.window && m_sent < m_options.messages; ++i)
            sendNext();
    }

    void sendNext()
    {
        const QJsonObject payload{{u"ts"_s, nowUs()}, {u"pad"_s, QString(m_options.payloadBytes, u'x')}};
        const QJsonObject body{{u"type"_s, u"broadcast"_s}, {u"event"_s, u"bench"_s}, {u"payload"_s, payload}};
        m_clients.front()->sendTextMessage(frame(QString::number(++m_sent), m_options.topic, u"broadcast"_s, body));
    }

    // Message k goes out with client_id "<run>-<k>", and its ref is k.
    void sendNextChat(int sender)
    {
        if (m_chatSent[size_t(sender)] == m_options.messages)
            return;
        const qint64 k = qint64(sender) * m_options.messages + m_chatSent[size_t(sender)]++;
        const QJsonObject payload{{u"client_id"_s, QString(m_runId + u'-' + QString::number(k))},
                                  {u"body"_s, QString(std::max(1, m_options.payloadBytes), u'x')}};
        m_ledger.sent(k);
        m_clients[size_t(sender)]->sendTextMessage(
            frame(QString::number(k), m_options.topic, u"message:send"_s, payload));
    }

    void onChatAck(int sender, const QString &text)
    {
        if (!text.contains("\"status\":\"ok\""_L1))
            return fail(u"message refused: "_s + text);
        m_ledger.acked(m_clientIdKey.integerIn(text), m_seqKey.integerIn(text), text.contains("\"duplicate\":true"_L1));
        sendNextChat(sender);
    }

    void finish()
    {
        printResults(m_options, m_deliveries, double(m_phase.nsecsElapsed()) / 1e9, m_connectMs, m_joinMs);
        fetchServerStats(0);
    }

    void finishChat()
    {
        printSetup(m_options, m_connectMs, m_joinMs);
        fetchServerStats(m_ledger.report() ? 0 : 1);
    }

    void fetchServerStats(int exitCode)
    {
        QUrl stats = m_options.url;
        stats.setScheme(m_options.url.scheme() == "wss"_L1 ? u"https"_s : u"http"_s);
        stats.setPath(u"/api/stats"_s);
        auto *reply = m_http.get(QNetworkRequest(stats));
        connect(reply, &QNetworkReply::finished, this, [reply, exitCode] {
            const auto json = QJsonDocument::fromJson(reply->readAll()).object();
            const auto latency = json.value("deliveryLatency"_L1).toObject();
            std::printf("server view        mean delivery latency %.3f ms over %lld deliveries; "
                        "frames in %lld, out %lld\n",
                        latency.value("meanSeconds"_L1).toDouble() * 1000.0,
                        latency.value("count"_L1).toInteger(), json.value("framesReceived"_L1).toInteger(),
                        json.value("framesSent"_L1).toInteger());
            reply->deleteLater();
            QCoreApplication::exit(exitCode);
        });
    }

    Options m_options;
    QString m_runId = newRunId();
    ChatLedger m_ledger;
    std::vector<int> m_chatSent; // by sender
    QString m_messagePrefix;     // how a chat message event on the topic starts
    const FrameKey m_clientIdKey; // what precedes k in this run's client_ids
    const FrameKey m_replyKey{u"\"chan:reply\""_s};
    const FrameKey m_broadcastKey{u"\"broadcast\""_s};
    const FrameKey m_tsKey{u"\"ts\":"_s};
    const FrameKey m_seqKey{u"\"seq\":"_s};
    std::vector<std::unique_ptr<QWebSocket>> m_clients;
    std::vector<qint64> m_deliveries; // µs from send to receive
    QNetworkAccessManager m_http;
    QElapsedTimer m_phase;
    qint64 m_connectMs = 0;
    qint64 m_joinMs = 0;
    qint64 m_baseSeq = 0; // chat: the topic's last seq before this run
    int m_connected = 0;
    int m_joined = 0;
    int m_sent = 0;
    int m_acked = 0;
};

} // namespace

int main(int argc, char *argv[])
{
    qputenv("QT_NO_GLIB", "1"); // thousands of sockets: see server/app/main.cpp
    QCoreApplication app(argc, argv);
    g_clock.start();
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Fan-out load for a running confab-server (native protocol): broadcasts, "
                                     "or durable chat messages with --chat."_s);
    parser.addHelpOption();
    parser.addOptions({
        {u"url"_s, u"Server WebSocket URL."_s, u"url"_s, u"ws://127.0.0.1:4000/"_s},
        {u"clients"_s, u"Connections (senders + receivers)."_s, u"n"_s, u"1000"_s},
        {u"messages"_s, u"Broadcasts the sender sends (with --chat: messages each sender sends)."_s, u"n"_s, u"200"_s},
        {u"window"_s, u"Broadcasts (chat messages) in flight per sender: sent, not yet acked."_s, u"n"_s, u"8"_s},
        {u"payload-bytes"_s, u"Padding in each broadcast payload (with --chat: chat message body length)."_s, u"n"_s, u"100"_s},
        {u"timeout"_s, u"Give up after this many seconds."_s, u"s"_s, u"120"_s},
        {u"library"_s, u"Use the ConfabClient library for every client instead of raw WebSockets."_s},
        {u"chat"_s, u"Send durable chat messages (message:send, acked once committed) and check that every "
                    "receiver got each exactly once, with seqs that have no holes."_s},
        {u"senders"_s, u"With --chat: how many of the clients send."_s, u"n"_s, u"1"_s},
    });
    parser.process(app);
    Options options;
    options.url = QUrl(parser.value(u"url"_s));
    options.clients = std::max(2, parser.value(u"clients"_s).toInt());
    options.messages = std::max(1, parser.value(u"messages"_s).toInt());
    options.window = std::max(1, parser.value(u"window"_s).toInt());
    options.payloadBytes = std::max(0, parser.value(u"payload-bytes"_s).toInt());
    options.library = parser.isSet(u"library"_s);
    options.chat = parser.isSet(u"chat"_s);
    options.senders = std::max(1, parser.value(u"senders"_s).toInt());
    if (parser.isSet(u"senders"_s) && !options.chat) {
        std::fprintf(stderr, "confab-bench: --senders needs --chat (broadcasts have one sender)\n");
        return 2;
    }
    if (options.senders >= options.clients) {
        std::fprintf(stderr, "confab-bench: --senders must leave at least one receiver among --clients\n");
        return 2;
    }
    std::unique_ptr<Bench> bench;
    std::unique_ptr<LibraryBench> libraryBench;
    if (options.library) {
        libraryBench = std::make_unique<LibraryBench>(options);
        QTimer::singleShot(0, libraryBench.get(), &LibraryBench::start);
    } else {
        bench = std::make_unique<Bench>(options);
        QTimer::singleShot(0, bench.get(), &Bench::start);
    }
    QTimer::singleShot(std::chrono::seconds(std::max(1, parser.value(u"timeout"_s).toInt())), &app, [] {
        std::fprintf(stderr, "confab-bench: timed out\n");
        QCoreApplication::exit(1);
    });
    return QCoreApplication::exec();
}
