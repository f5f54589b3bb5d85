// confab-bench: load for a running confab-server over the native protocol.
//
// Opens N WebSocket clients, joins them all to one channel, then one sender broadcasts M
// messages (with ack, a window of W in flight). Every receiver timestamps what it gets; the
// sender's timestamp rides in the payload, so latency is measured on one clock. Reports connect
// and join times, fan-out throughput (deliveries per second) and latency percentiles, plus the
// server's own view from /api/stats. Speed is reported, never asserted.
#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTimer>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtWebSockets/QWebSocket>

#include <ConfabClient/client.h>
#include <ConfabClient/reply.h>

#include <algorithm>
#include <cstdio>
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

// Receivers only need the sender's timestamp; scanning for it avoids a JSON parse per frame,
// so the tool measures the server rather than itself.
qint64 extractTimestamp(const QString &text)
{
    const auto at = text.indexOf("\"ts\":"_L1);
    if (at < 0)
        return -1;
    qint64 value = 0;
    for (qsizetype i = at + 5; i < text.size() && text.at(i).isDigit(); ++i)
        value = value * 10 + text.at(i).digitValue();
    return value;
}

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
};

void printResults(const Options &options, std::vector<qint64> &deliveries, double seconds, qint64 connectMs,
                  qint64 joinMs)
{
    std::sort(deliveries.begin(), deliveries.end());
    const auto pct = [&](double p) {
        return double(deliveries[std::min(deliveries.size() - 1, size_t(p * double(deliveries.size())))]) / 1000.0;
    };
    std::printf("clients            %d (1 sender, %d receivers)%s\n", options.clients, options.clients - 1,
                options.library ? ", through ConfabClient" : ", raw WebSockets");
    std::printf("messages           %d x %d-byte payload, window %d\n", options.messages, options.payloadBytes,
                options.window);
    std::printf("connect all        %lld ms\n", connectMs);
    std::printf("join all           %lld ms\n", joinMs);
    std::printf("deliveries         %zu in %.3f s = %.0f deliveries/s (%.0f broadcasts/s)\n", deliveries.size(),
                seconds, double(deliveries.size()) / seconds, double(options.messages) / seconds);
    std::printf("latency ms         p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", pct(0.5), pct(0.9), pct(0.99),
                double(deliveries.back()) / 1000.0);
}

// The same load through the client library (Confab::Client and Channel), so the library's own
// cost shows next to the raw-socket numbers.
class LibraryBench : public QObject
{
public:
    explicit LibraryBench(Options options) : m_options(std::move(options)) {}

    void start()
    {
        m_phase.start();
        for (int i = 0; i < m_options.clients; ++i) {
            auto client = std::make_unique<Confab::Client>(m_options.url);
            auto *channel = client->channel(m_options.topic, {.self = false, .ack = i == 0, .presenceKey = {}});
            connect(channel, &Confab::Channel::subscribed, this, [this] { onSubscribed(); });
            if (i > 0) {
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
    void onSubscribed()
    {
        if (++m_joined != m_options.clients)
            return;
        m_joinMs = m_phase.elapsed() - m_connectMs;
        m_phase.restart();
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
            if (!reply->isOk()) {
                std::fprintf(stderr, "confab-bench: send failed: %s\n", qPrintable(reply->errorCode()));
                QCoreApplication::exit(1);
            } else if (m_sent < m_options.messages) {
                sendNext();
            }
        });
    }

    void finish()
    {
        printResults(m_options, m_deliveries, double(m_phase.nsecsElapsed()) / 1e9, m_connectMs, m_joinMs);
        QCoreApplication::exit(0);
    }

    Options m_options;
    std::vector<std::unique_ptr<Confab::Client>> m_clients;
    std::vector<qint64> m_deliveries;
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
    explicit Bench(Options options) : m_options(std::move(options)) {}

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
                const QJsonObject config{{u"broadcast"_s, QJsonObject{{u"self"_s, false}, {u"ack"_s, index == 0}}}};
                s->sendTextMessage(frame(u"j"_s, m_options.topic, u"chan:join"_s, {{u"config"_s, config}}));
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
        if (text.contains("\"chan:reply\""_L1)) {
            if (text.startsWith("[null,\"j\""_L1)) {
                if (!text.contains("\"ok\""_L1))
                    return fail(u"join refused: "_s + text);
                if (++m_joined == m_options.clients) {
                    m_joinMs = m_phase.elapsed();
                    m_phase.restart();
                    m_deliveries.reserve(size_t(m_options.clients - 1) * size_t(m_options.messages));
                    for (int i = 0; i < m_options.window && m_sent < m_options.messages; ++i)
                        sendNext();
                }
            } else if (index == 0 && text.contains("recipientCount"_L1)) {
                ++m_acked;
                if (m_sent < m_options.messages)
                    sendNext();
            }
            return;
        }
        if (!text.contains("\"broadcast\""_L1))
            return;
        const qint64 sentAt = extractTimestamp(text);
        if (sentAt >= 0)
            m_deliveries.push_back(nowUs() - sentAt);
        if (qint64(m_deliveries.size()) == qint64(m_options.clients - 1) * m_options.messages)
            finish();
    }

    void sendNext()
    {
        const QJsonObject payload{{u"ts"_s, nowUs()}, {u"pad"_s, QString(m_options.payloadBytes, u'x')}};
        const QJsonObject body{{u"type"_s, u"broadcast"_s}, {u"event"_s, u"bench"_s}, {u"payload"_s, payload}};
        m_clients.front()->sendTextMessage(frame(QString::number(++m_sent), m_options.topic, u"broadcast"_s, body));
    }

    void finish()
    {
        printResults(m_options, m_deliveries, double(m_phase.nsecsElapsed()) / 1e9, m_connectMs, m_joinMs);
        fetchServerStats();
    }

    void fetchServerStats()
    {
        QUrl stats = m_options.url;
        stats.setScheme(m_options.url.scheme() == "wss"_L1 ? u"https"_s : u"http"_s);
        stats.setPath(u"/api/stats"_s);
        auto *reply = m_http.get(QNetworkRequest(stats));
        connect(reply, &QNetworkReply::finished, this, [reply] {
            const auto json = QJsonDocument::fromJson(reply->readAll()).object();
            const auto latency = json.value("deliveryLatency"_L1).toObject();
            std::printf("server view        mean delivery latency %.3f ms over %lld deliveries; "
                        "frames in %lld, out %lld\n",
                        latency.value("meanSeconds"_L1).toDouble() * 1000.0,
                        latency.value("count"_L1).toInteger(), json.value("framesReceived"_L1).toInteger(),
                        json.value("framesSent"_L1).toInteger());
            reply->deleteLater();
            QCoreApplication::exit(0);
        });
    }

    Options m_options;
    std::vector<std::unique_ptr<QWebSocket>> m_clients;
    std::vector<qint64> m_deliveries; // µs from send to receive
    QNetworkAccessManager m_http;
    QElapsedTimer m_phase;
    qint64 m_connectMs = 0;
    qint64 m_joinMs = 0;
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
    parser.setApplicationDescription(u"Fan-out load for a running confab-server (native protocol)."_s);
    parser.addHelpOption();
    parser.addOptions({
        {u"url"_s, u"Server WebSocket URL."_s, u"url"_s, u"ws://127.0.0.1:4000/"_s},
        {u"clients"_s, u"Connections (1 sender + receivers)."_s, u"n"_s, u"1000"_s},
        {u"messages"_s, u"Broadcasts the sender sends."_s, u"n"_s, u"200"_s},
        {u"window"_s, u"Broadcasts in flight (sent, not yet acked)."_s, u"n"_s, u"8"_s},
        {u"payload-bytes"_s, u"Padding in each broadcast payload."_s, u"n"_s, u"100"_s},
        {u"timeout"_s, u"Give up after this many seconds."_s, u"s"_s, u"120"_s},
        {u"library"_s, u"Use the ConfabClient library for every client instead of raw WebSockets."_s},
    });
    parser.process(app);
    Options options;
    options.url = QUrl(parser.value(u"url"_s));
    options.clients = std::max(2, parser.value(u"clients"_s).toInt());
    options.messages = std::max(1, parser.value(u"messages"_s).toInt());
    options.window = std::max(1, parser.value(u"window"_s).toInt());
    options.payloadBytes = std::max(0, parser.value(u"payload-bytes"_s).toInt());
    options.library = parser.isSet(u"library"_s);
    Bench bench(options);
    LibraryBench libraryBench(options);
    if (options.library)
        QTimer::singleShot(0, &libraryBench, &LibraryBench::start);
    else
        QTimer::singleShot(0, &bench, &Bench::start);
    QTimer::singleShot(std::chrono::seconds(std::max(1, parser.value(u"timeout"_s).toInt())), &app, [] {
        std::fprintf(stderr, "confab-bench: timed out\n");
        QCoreApplication::exit(1);
    });
    return QCoreApplication::exec();
}
