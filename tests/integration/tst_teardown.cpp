// Destroying the server at every moment of its life: with 0, 1 and 1,000 joined sessions, with
// finished sessions waiting for deletion, while the store commits, with HTTP connections open in
// every state, while a WebSocket upgrade is in flight, and through the two hosts that own it on a
// thread of their own (Confab::LocalServer and the fixture Confab::TestServer). Each case ends
// with the clients seeing their connection end (close code 1001 where the teardown is graceful).
//
// A use-after-free in teardown once crashed the fixture: ~TestServer → ServerThread::stop →
// ~Server deleted a finished session after the hub it still pointed to. The server now owns its
// parts explicitly and destroys them in the order written in server.h; these tests walk that
// order from every state, and are meant to be run under AddressSanitizer as well.
#include "engine/hub.h"
#include "ops/metrics.h"
#include "rawclient.h"
#include "server.h"
#include "testserver.h"

#include <ConfabHost/localserver.h>
#include <ConfabTestServer/testserver.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QRandomGenerator>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>
#include <QtWebSockets/QWebSocket>

#include <sys/resource.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace Confab;
using Testing::RawClient;

namespace {

// How a test ends the server's life.
enum class Ending {
    Destroy,            // ~Server while everything is running
    ShutdownThenDestroy // shutdown(), wait for stopped(), then ~Server (what ServerThread does)
};

// Generous: a sanitizer build runs several times slower, and 1,000 clients share this thread.
constexpr int LongWaitMs = 60000;

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QJsonObject userObject(const QString &id)
{
    return {{u"id"_s, id}, {u"name"_s, QString(u"User "_s + id)}};
}

//! The join config of a chat client in open mode: chat, a declared user, a presence key.
QJsonObject chatJoinConfig(const QString &userId)
{
    return {{u"chat"_s, QJsonObject()},
            {u"user"_s, userObject(userId)},
            {u"presence"_s, QJsonObject{{u"key"_s, userId}}}};
}

//! The payload of a presence track with meta, as the client library sends it.
QJsonObject trackPayload(const QString &key)
{
    return {{u"type"_s, u"presence"_s},
            {u"event"_s, u"track"_s},
            {u"payload"_s, QJsonObject{{u"key"_s, key},
                                       {u"meta"_s, QJsonObject{{u"status"_s, u"online"_s},
                                                               {u"status_text"_s, u"tearing down"_s}}}}}};
}

QString compact(const QJsonArray &frame)
{
    return QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact));
}

//! Joins \a client to \a topic: for chat with presence meta when \a chat, else plainly.
bool joinClient(RawClient &client, const QString &topic, const QString &userId, bool chat)
{
    if (!chat)
        return isOk(client.join(topic));
    if (!isOk(client.join(topic, chatJoinConfig(userId))))
        return false;
    const auto ref = client.push(topic, u"presence"_s, trackPayload(userId));
    return isOk(client.waitForReply(ref, topic));
}

//! The test configuration: loopback, port 0, a data directory of the test's own, and connection
//! limits above the 1,000 clients this process opens (all from 127.0.0.1).
Server::ServerConfig serverConfig(const QString &dataDir)
{
    auto config = Testing::TestServer::defaultConfig();
    config.storage.dataDir = dataDir;
    config.limits.maxConnections = 2000;
    config.limits.maxConnectionsPerIp = 2000;
    return config;
}

std::unique_ptr<Server::Server> startedServer(const Server::ServerConfig &config)
{
    auto server = std::make_unique<Server::Server>(config);
    QString error;
    if (!server->start(&error)) {
        qWarning().noquote() << "server failed to start:" << error;
        return nullptr;
    }
    return server;
}

//! Ends \a server as \a ending says; false if shutdown() never reached stopped().
bool endServer(std::unique_ptr<Server::Server> &server, Ending ending, qint64 *elapsedMs = nullptr)
{
    QElapsedTimer timer;
    timer.start();
    if (ending == Ending::ShutdownThenDestroy) {
        QSignalSpy stopped(server.get(), &Server::Server::stopped);
        server->shutdown();
        if (stopped.isEmpty() && !stopped.wait(LongWaitMs))
            return false;
    }
    server.reset();
    if (elapsedMs)
        *elapsedMs = timer.elapsed();
    return true;
}

// ---- Many clients at once ---------------------------------------------------------------------

//! Many WebSocket clients driven in parallel: each connects, joins its channel (every second
//! one for chat, as a user, then tracking presence with meta) and records how its connection
//! ended. One after the other, a thousand handshakes and joins would take minutes.
class Crowd : public QObject
{
public:
    struct Member
    {
        std::unique_ptr<QWebSocket> socket;
        QString topic;
        QString user;
        bool chat = false;
        bool ready = false;
        bool ended = false;
        int closeCode = -1;
    };

    //! Channels of this many members: presence diffs stay realistic, not n² for n clients.
    static constexpr int ChannelSize = 50;

    ~Crowd() override
    {
        // A socket closing as it is destroyed must not call back into a half-destroyed crowd.
        for (const auto &m : m_members)
            m->socket->disconnect(this);
    }

    void open(const QUrl &url, int count)
    {
        m_members.reserve(size_t(count));
        for (int i = 0; i < count; ++i) {
            auto member = std::make_unique<Member>();
            member->socket = std::make_unique<QWebSocket>();
            member->topic = u"room:crowd-%1"_s.arg(i / ChannelSize);
            member->user = u"user-%1"_s.arg(i);
            member->chat = i % 2 == 0;
            Member *m = member.get();
            QWebSocket *socket = m->socket.get();
            connect(socket, &QWebSocket::connected, this, [this, m] { onConnected(*m); });
            connect(socket, &QWebSocket::textMessageReceived, this,
                    [this, m](const QString &text) { onText(*m, text); });
            connect(socket, &QWebSocket::disconnected, this, [this, m] {
                if (m->ended)
                    return;
                m->ended = true;
                m->closeCode = int(m->socket->closeCode());
                ++m_ended;
            });
            m_members.push_back(std::move(member));
            socket->open(url);
        }
    }

    //! Starts the closing handshake of the first \a count members.
    void closeFirst(int count)
    {
        for (int i = 0; i < count && i < int(m_members.size()); ++i)
            m_members[size_t(i)]->socket->close();
    }

    [[nodiscard]] int size() const { return int(m_members.size()); }
    [[nodiscard]] int readyCount() const { return m_ready; }
    [[nodiscard]] int endedCount() const { return m_ended; }
    [[nodiscard]] int chatCount() const
    {
        return int(std::count_if(m_members.cbegin(), m_members.cend(), [](const auto &m) { return m->chat; }));
    }
    [[nodiscard]] const QStringList &failures() const { return m_failures; }
    //! Members whose connection ended with a close code other than \a code, as "user: code".
    [[nodiscard]] QStringList endedOtherThan(int code) const
    {
        QStringList others;
        for (const auto &m : m_members) {
            if (!m->ended || m->closeCode != code)
                others.append(u"%1: %2"_s.arg(m->user).arg(m->ended ? m->closeCode : -1));
        }
        return others;
    }

private:
    void send(Member &m, const QJsonArray &frame) { m.socket->sendTextMessage(compact(frame)); }

    void onConnected(Member &m)
    {
        const QJsonObject config = m.chat ? chatJoinConfig(m.user) : QJsonObject();
        send(m, {QJsonValue::Null, u"join"_s, m.topic, u"chan:join"_s, QJsonObject{{u"config"_s, config}}});
    }

    void onText(Member &m, const QString &text)
    {
        // Presence diffs and replays are most of the traffic; only replies need parsing.
        if (!text.contains("\"chan:reply\""_L1))
            return;
        const auto frame = QJsonDocument::fromJson(text.toUtf8()).array();
        const auto ref = frame.at(1).toString();
        if (frame.at(4).toObject().value("status"_L1).toString() != "ok"_L1) {
            m_failures.append(m.user + u": "_s + text);
            return;
        }
        if (ref == "join"_L1 && m.chat) {
            send(m, {u"join"_s, u"track"_s, m.topic, u"presence"_s, trackPayload(m.user)});
        } else if ((ref == "join"_L1 || ref == "track"_L1) && !m.ready) {
            m.ready = true;
            ++m_ready;
        }
    }

    std::vector<std::unique_ptr<Member>> m_members;
    QStringList m_failures;
    int m_ready = 0;
    int m_ended = 0;
};

// ---- Clients on a thread of their own ----------------------------------------------------------

//! Runs clients on a thread of their own. LocalServer and the fixture block their caller while
//! they stop; clients on that thread could not answer the closing handshake until the server's
//! grace ran out. Clients here answer at once, so their sessions finish and are still waiting for
//! deletion when the server is destroyed: the order of the original crash.
class ClientThread
{
public:
    ClientThread() : m_context(std::make_unique<QObject>())
    {
        m_thread.setObjectName(u"tst_teardown clients"_s);
        m_context->moveToThread(&m_thread);
        m_thread.start();
    }
    ~ClientThread()
    {
        m_thread.quit();
        m_thread.wait();
    }
    ClientThread(const ClientThread &) = delete;
    ClientThread &operator=(const ClientThread &) = delete;

    //! Runs \a f in the client thread and waits for it.
    void run(const std::function<void()> &f)
    {
        QMetaObject::invokeMethod(m_context.get(), f, Qt::BlockingQueuedConnection);
    }

private:
    QThread m_thread;
    std::unique_ptr<QObject> m_context; // deleted after the thread has finished
};

//! A few RawClients, on the test's thread or on a ClientThread, each joined to one channel (every
//! second one for chat with presence meta).
class ClientGroup
{
public:
    explicit ClientGroup(ClientThread *thread = nullptr) : m_thread(thread) {}
    ~ClientGroup()
    {
        // Destroyed where they live.
        exec([this] { m_clients.clear(); });
    }

    //! Connects \a count clients to \a url and joins them; false if any step fails.
    bool connectAndJoin(const QUrl &url, const QString &topic, int count)
    {
        bool ok = true;
        exec([&] {
            for (int i = 0; i < count && ok; ++i) {
                auto client = std::make_unique<RawClient>();
                const bool chat = i % 2 == 0;
                ok = client->open(url) && joinClient(*client, topic, u"member-%1"_s.arg(i), chat);
                if (!ok)
                    qWarning().noquote() << "client" << i << "could not join" << topic;
                m_clients.push_back(std::move(client));
            }
        });
        return ok;
    }

    [[nodiscard]] bool allDisconnected()
    {
        bool all = true;
        exec([&] {
            for (const auto &c : m_clients)
                all = all && c->socket().state() == QAbstractSocket::UnconnectedState;
        });
        return all;
    }

    //! Clients whose close code is not \a code, as "index: code".
    [[nodiscard]] QStringList closedOtherThan(QWebSocketProtocol::CloseCode code)
    {
        QStringList others;
        exec([&] {
            for (size_t i = 0; i < m_clients.size(); ++i) {
                if (m_clients[i]->closeCode() != code)
                    others.append(u"%1: %2"_s.arg(i).arg(int(m_clients[i]->closeCode())));
            }
        });
        return others;
    }

private:
    void exec(const std::function<void()> &f)
    {
        if (m_thread)
            m_thread->run(f);
        else
            f();
    }

    ClientThread *m_thread;
    std::vector<std::unique_ptr<RawClient>> m_clients;
};

// ---- Raw HTTP ----------------------------------------------------------------------------------

//! An HTTP client on a bare TCP socket: exact bytes out (a head may stop half-way), everything
//! received kept as it came.
class RawConnection : public QObject
{
public:
    RawConnection()
    {
        connect(&m_socket, &QTcpSocket::readyRead, this, [this] { m_received += m_socket.readAll(); });
    }

    bool open(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        return m_socket.waitForConnected(5000);
    }
    void send(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    //! Waits until a whole response (head and Content-Length body) is in; its body, or nullopt.
    std::optional<QByteArray> readResponse(int *status = nullptr, int timeoutMs = 5000)
    {
        std::optional<QByteArray> body;
        (void)QTest::qWaitFor(
            [&] {
                const auto end = m_received.indexOf("\r\n\r\n");
                if (end < 0)
                    return false;
                const auto head = m_received.left(end).toLower();
                qsizetype length = 0;
                for (const auto &line : head.split('\n')) {
                    if (line.startsWith("content-length:"))
                        length = line.mid(15).trimmed().toLongLong();
                }
                if (m_received.size() < end + 4 + length)
                    return false;
                if (status)
                    *status = m_received.mid(9, 3).toInt();
                body = m_received.mid(end + 4, length);
                m_received.remove(0, end + 4 + length);
                return true;
            },
            timeoutMs);
        return body;
    }
    [[nodiscard]] bool isDisconnected() const { return m_socket.state() == QAbstractSocket::UnconnectedState; }
    [[nodiscard]] const QByteArray &received() const { return m_received; }

private:
    QTcpSocket m_socket;
    QByteArray m_received;
};

QByteArray getRequest(const QByteArray &target)
{
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

QByteArray upgradeHead()
{
    QByteArray nonce(16, Qt::Uninitialized);
    for (auto &c : nonce)
        c = char(QRandomGenerator::global()->bounded(256));
    return "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " + nonce.toBase64() + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

//! The status code of the first close frame in \a bytes (server frames are unmasked), or -1.
int closeCodeIn(const QByteArray &bytes)
{
    qsizetype pos = 0;
    while (pos + 2 <= bytes.size()) {
        const auto opcode = quint8(bytes.at(pos)) & 0x0f;
        qsizetype length = quint8(bytes.at(pos + 1)) & 0x7f;
        qsizetype header = 2;
        if (length == 126) {
            if (pos + 4 > bytes.size())
                return -1;
            length = (qsizetype(quint8(bytes.at(pos + 2))) << 8) | quint8(bytes.at(pos + 3));
            header = 4;
        } else if (length == 127) {
            return -1; // never a close frame
        }
        if (opcode == 0x8)
            return length >= 2 ? (quint8(bytes.at(pos + header)) << 8) | quint8(bytes.at(pos + header + 1)) : 1005;
        pos += header + length;
    }
    return -1;
}

} // namespace

class tst_Teardown : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();

    void joinedSessions_data();
    void joinedSessions();
    void finishedSessionsWaitingForDeletion_data();
    void finishedSessionsWaitingForDeletion();
    void storeCommitInFlight_data();
    void storeCommitInFlight();
    void httpConnectionsOpen_data();
    void httpConnectionsOpen();
    void upgradeInFlight_data();
    void upgradeInFlight();
    void localServer_data();
    void localServer();
    void fixture_data();
    void fixture();
};

void tst_Teardown::initTestCase()
{
    // Thousands of sessions opening and closing would bury the test's own output.
    QLoggingCategory::setFilterRules(u"confab.*.debug=false\nconfab.*.info=false"_s);
}

// ---- Server, in this process -------------------------------------------------------------------

void tst_Teardown::joinedSessions_data()
{
    QTest::addColumn<int>("count");
    QTest::addColumn<Ending>("ending");
    for (const int count : {0, 1, 1000}) {
        QTest::addRow("%d sessions, destroyed", count) << count << Ending::Destroy;
        QTest::addRow("%d sessions, shut down then destroyed", count) << count << Ending::ShutdownThenDestroy;
    }
}

void tst_Teardown::joinedSessions()
{
    QFETCH(int, count);
    QFETCH(Ending, ending);

    // Each client is two descriptors in this process (its socket and the server's), plus the
    // store, the listener and Qt's own: fail with the reason rather than with refused connects.
    rlimit files{};
    QVERIFY(getrlimit(RLIMIT_NOFILE, &files) == 0);
    QVERIFY2(files.rlim_cur >= rlim_t(2 * count + 200),
             qPrintable(u"open-file limit %1 is too low for %2 clients"_s.arg(files.rlim_cur).arg(count)));

    QTemporaryDir dir;
    auto server = startedServer(serverConfig(dir.path()));
    QVERIFY(server);

    QElapsedTimer timer;
    timer.start();
    Crowd crowd;
    crowd.open(server->webSocketUrl(), count);
    // Every client either gets ready, is refused, or loses its connection: wait for all of them.
    QTRY_VERIFY_WITH_TIMEOUT(crowd.readyCount() + crowd.failures().size() + crowd.endedCount() >= count,
                             LongWaitMs);
    QVERIFY2(crowd.failures().isEmpty(), qPrintable(crowd.failures().mid(0, 5).join(u'\n')));
    QCOMPARE(crowd.endedCount(), 0);
    QCOMPARE(crowd.readyCount(), count);
    const auto setUpMs = timer.elapsed();

    // The server holds what the clients asked for: every session, membership and presence entry.
    QCOMPARE(server->connectionCount(), count);
    QCOMPARE(server->hub().membershipCount(), qsizetype(count));
    QCOMPARE(server->hub().presenceEntryCount(), qsizetype(crowd.chatCount()));

    qint64 teardownMs = 0;
    QVERIFY(endServer(server, ending, &teardownMs));

    QTRY_COMPARE_WITH_TIMEOUT(crowd.endedCount(), count, LongWaitMs);
    if (ending == Ending::ShutdownThenDestroy) {
        const auto others = crowd.endedOtherThan(QWebSocketProtocol::CloseCodeGoingAway);
        QVERIFY2(others.isEmpty(), qPrintable(others.mid(0, 5).join(u", "_s)));
    }
    qInfo("%d sessions: joined in %lld ms, server ended in %lld ms", count, setUpMs, teardownMs);
}

void tst_Teardown::finishedSessionsWaitingForDeletion_data()
{
    QTest::addColumn<Ending>("ending");
    QTest::addRow("clients closed, destroyed") << Ending::Destroy;
    QTest::addRow("shut down, destroyed at stopped()") << Ending::ShutdownThenDestroy;
}

void tst_Teardown::finishedSessionsWaitingForDeletion()
{
    QFETCH(Ending, ending);
    constexpr int Count = 10;
    QTemporaryDir dir;
    auto server = startedServer(serverConfig(dir.path()));
    QVERIFY(server);
    Crowd crowd;
    crowd.open(server->webSocketUrl(), Count);
    QTRY_COMPARE(crowd.readyCount(), Count);

    if (ending == Ending::Destroy) {
        // Half the clients leave. A finished session is deleted on the event loop's pass after
        // it finished; qWaitFor looks between single passes (QTRY_VERIFY's qWait would run
        // several), so the server is destroyed in the very pass that left them waiting.
        crowd.closeFirst(Count / 2);
        QVERIFY(QTest::qWaitFor([&] { return server->finishedSessionCount() > 0; }, LongWaitMs));
    } else {
        // As ServerThread::stop does: a nested loop quits at stopped(), and the server is
        // destroyed as soon as it returns, before the pass that would delete the sessions that
        // finished in the closing handshakes.
        bool stopped = false;
        QEventLoop loop;
        connect(server.get(), &Server::Server::stopped, &loop, [&] {
            stopped = true;
            loop.quit();
        });
        QTimer::singleShot(LongWaitMs, &loop, &QEventLoop::quit); // only if stopped() never comes
        server->shutdown(30s); // all the clients answer; the grace must not be what ends it
        loop.exec();
        QVERIFY(stopped);
        QCOMPARE(server->connectionCount(), 0);
    }
    const int waiting = server->finishedSessionCount();
    QVERIFY(waiting > 0);
    server.reset();

    QTRY_COMPARE_WITH_TIMEOUT(crowd.endedCount(), Count, LongWaitMs);
    if (ending == Ending::ShutdownThenDestroy) {
        const auto others = crowd.endedOtherThan(QWebSocketProtocol::CloseCodeGoingAway);
        QVERIFY2(others.isEmpty(), qPrintable(others.join(u", "_s)));
    }
    qInfo("destroyed with %d finished sessions waiting for deletion", waiting);
}

void tst_Teardown::storeCommitInFlight_data()
{
    QTest::addColumn<Ending>("ending");
    QTest::addRow("destroyed") << Ending::Destroy;
    QTest::addRow("shut down then destroyed") << Ending::ShutdownThenDestroy;
}

void tst_Teardown::storeCommitInFlight()
{
    QFETCH(Ending, ending);
    constexpr int Window = 200;
    const auto topic = u"room:commit"_s;
    QTemporaryDir dir;
    auto config = serverConfig(dir.path());
    // fsync per commit: commits take longest, so the server is destroyed with most of them queued.
    config.storage.fullSync = true;
    auto server = startedServer(config);
    QVERIFY(server);

    RawClient client;
    QVERIFY(client.open(server->webSocketUrl()));
    QVERIFY(joinClient(client, topic, u"sender"_s, true));
    client.clearInbox();

    // A window of sends with no wait for acks; the server is ended in the pass that read the
    // last of them, while the store still holds (or commits) what they handed it.
    const auto before = server->metrics().framesInCount();
    QStringList refs;
    for (int i = 0; i < Window; ++i) {
        refs.append(client.push(topic, u"message:send"_s,
                                {{u"client_id"_s, u"c-%1"_s.arg(i)}, {u"body"_s, u"message %1"_s.arg(i)}}));
    }
    QVERIFY(QTest::qWaitFor([&] { return server->metrics().framesInCount() >= before + Window; }, LongWaitMs));
    const auto acksBefore = client.count([](const RawClient::Frame &f) { return f.at(3).toString() == "chan:reply"_L1; });
    QVERIFY(endServer(server, ending));

    QVERIFY(client.waitForDisconnected(LongWaitMs));
    if (ending == Ending::ShutdownThenDestroy) {
        // A graceful shutdown commits what the session handed over and sends those acks before
        // the close frame: the sender knows every message is in.
        QCOMPARE(client.closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
        for (const auto &ref : std::as_const(refs))
            QVERIFY2(isOk(client.waitForReply(ref, topic, 0)), qPrintable(u"no ack for ref "_s + ref));
    }
    qInfo("%s: %d of %d acks had arrived when the server was ended",
          ending == Ending::Destroy ? "destroyed" : "shut down", acksBefore, Window);

    // Whatever the ending, the store committed everything handed to it before it went: a new
    // server on the same database has every message, seq 1 to Window with no gap.
    server = startedServer(config);
    QVERIFY(server);
    RawClient reader;
    QVERIFY(reader.open(server->webSocketUrl()));
    const auto joined = reader.join(topic, chatJoinConfig(u"reader"_s));
    QVERIFY(isOk(joined));
    QCOMPARE(joined->value("response"_L1).toObject().value("chat"_L1).toObject().value("last_seq"_L1).toInteger(),
             qint64(Window));
    const auto ref = reader.push(topic, u"history"_s, {{u"after"_s, 0}, {u"limit"_s, 100}});
    const auto history = reader.waitForReply(ref, topic);
    QVERIFY(isOk(history));
    const auto messages = history->value("response"_L1).toObject().value("messages"_L1).toArray();
    QCOMPARE(messages.size(), 100);
    for (int i = 0; i < 100; ++i) {
        const auto m = messages.at(i).toObject();
        QCOMPARE(m.value("seq"_L1).toInteger(), qint64(i + 1));
        QCOMPARE(m.value("client_id"_L1).toString(), u"c-%1"_s.arg(i));
    }
}

void tst_Teardown::httpConnectionsOpen_data()
{
    QTest::addColumn<Ending>("ending");
    QTest::addRow("destroyed") << Ending::Destroy;
    QTest::addRow("shut down then destroyed") << Ending::ShutdownThenDestroy;
}

void tst_Teardown::httpConnectionsOpen()
{
    QFETCH(Ending, ending);
    QTemporaryDir dir;
    auto server = startedServer(serverConfig(dir.path()));
    QVERIFY(server);
    const auto port = server->port();
    auto httpRequests = [&] {
        return server->metrics().toJson({}).value("httpRequests"_L1).toInteger();
    };

    // Kept alive and idle after one answered request.
    RawConnection idle;
    QVERIFY(idle.open(port));
    idle.send(getRequest("/health"));
    int status = 0;
    QVERIFY(idle.readResponse(&status));
    QCOMPARE(status, 200);

    // A head that stops half-way: the server reads it and waits for the rest.
    RawConnection halfSent;
    QVERIFY(halfSent.open(port));
    halfSent.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");

    // A long-poll with nothing to answer yet: it waits in the hub for the next message.
    RawConnection poll;
    QVERIFY(poll.open(port));
    const auto requestsBefore = httpRequests();
    poll.send(getRequest("/poll?channel=room%3Apoll&since=0"));
    QVERIFY(QTest::qWaitFor([&] { return httpRequests() > requestsBefore; }));
    // The store answers in order: once this later history read is answered, the poll has read
    // its empty page and waits. By then the server has also read the half-sent head, which was
    // in its socket before this request was written.
    RawConnection history;
    QVERIFY(history.open(port));
    history.send(getRequest("/channels/room%3Apoll/messages"));
    QVERIFY(history.readResponse(&status));
    QCOMPARE(status, 200);
    QCOMPARE(server->httpConnectionCount(), 4);
    QVERIFY(poll.received().isEmpty());

    qint64 teardownMs = 0;
    if (ending == Ending::ShutdownThenDestroy) {
        QSignalSpy stopped(server.get(), &Server::Server::stopped);
        server->shutdown();
        QVERIFY(stopped.wait(LongWaitMs));
        // The waiting poll gets its empty answer instead of a reset.
        const auto body = poll.readResponse(&status);
        QVERIFY(body);
        QCOMPARE(status, 200);
        const auto answer = QJsonDocument::fromJson(*body).object();
        QCOMPARE(answer.value("messages"_L1).toArray().size(), 0);
        QCOMPARE(answer.value("last_seq"_L1).toInteger(), 0);
    }
    QVERIFY(endServer(server, Ending::Destroy, &teardownMs));

    for (RawConnection *connection : {&idle, &halfSent, &poll, &history})
        QTRY_VERIFY(connection->isDisconnected());
    qInfo("server with 4 HTTP connections destroyed in %lld ms", teardownMs);
}

void tst_Teardown::upgradeInFlight_data()
{
    QTest::addColumn<Ending>("ending");
    QTest::addRow("destroyed") << Ending::Destroy;
    QTest::addRow("shut down then destroyed") << Ending::ShutdownThenDestroy;
}

void tst_Teardown::upgradeInFlight()
{
    QFETCH(Ending, ending);
    QTemporaryDir dir;
    auto server = startedServer(serverConfig(dir.path()));
    QVERIFY(server);

    RawConnection upgrade;
    QVERIFY(upgrade.open(server->port()));
    QTRY_COMPARE(server->httpConnectionCount(), 1);
    upgrade.send(upgradeHead());
    // The HTTP connection hands its socket to the WebSocket gate in the pass that reads the
    // head; QWebSocketServer answers the handshake in a later pass. Step single passes and stop
    // at the first one where the socket has left HTTP.
    QVERIFY(QTest::qWaitFor([&] { return server->httpConnectionCount() == 0; }));
    // Best effort: the window exists because QWebSocketServer (Qt 6.4) queues its handshake.
    if (server->connectionCount() != 0 || upgrade.received().startsWith("HTTP/1.1 101"))
        QSKIP("this Qt completed the handshake in the pass that handed the socket over");

    qint64 teardownMs = 0;
    QVERIFY(endServer(server, ending, &teardownMs));
    QTRY_VERIFY(upgrade.isDisconnected());
    if (upgrade.received().startsWith("HTTP/1.1 101")) {
        // The handshake completed during shutdown: the new session is closed as every other.
        QCOMPARE(ending, Ending::ShutdownThenDestroy);
        QCOMPARE(closeCodeIn(upgrade.received().mid(upgrade.received().indexOf("\r\n\r\n") + 4)),
                 int(QWebSocketProtocol::CloseCodeGoingAway));
    }
    qInfo("upgrade in flight: server ended in %lld ms; the client received %s", teardownMs,
          upgrade.received().isEmpty() ? "nothing" : upgrade.received().left(12).constData());
}

// ---- Hosts that own a server on a thread of their own --------------------------------------------

void tst_Teardown::localServer_data()
{
    QTest::addColumn<bool>("stopFirst");
    QTest::addColumn<bool>("clientThread");
    QTest::addRow("destroyed, clients on this thread") << false << false;
    QTest::addRow("destroyed, clients on their own thread") << false << true;
    QTest::addRow("stopped then destroyed, clients on this thread") << true << false;
    QTest::addRow("stopped then destroyed, clients on their own thread") << true << true;
}

void tst_Teardown::localServer()
{
    QFETCH(bool, stopFirst);
    QFETCH(bool, clientThread);
    QTemporaryDir dir;
    std::optional<ClientThread> thread;
    if (clientThread)
        thread.emplace();
    ClientGroup clients(thread ? &*thread : nullptr);

    auto host = std::make_unique<LocalServer>();
    host->setPort(0);
    host->setDataDir(dir.path());
    host->setDiscovery(false); // no beacons on the LAN from a test
    QVERIFY2(host->start(), qPrintable(host->errorString()));
    QVERIFY(clients.connectAndJoin(host->url(), u"room:host"_s, 6));

    QElapsedTimer timer;
    timer.start();
    if (stopFirst) {
        host->stop();
        QVERIFY(!host->isRunning());
    }
    host.reset();
    const auto teardownMs = timer.elapsed();

    QTRY_VERIFY_WITH_TIMEOUT(clients.allDisconnected(), LongWaitMs);
    const auto others = clients.closedOtherThan(QWebSocketProtocol::CloseCodeGoingAway);
    QVERIFY2(others.isEmpty(), qPrintable(others.join(u", "_s)));
    qInfo("LocalServer ended in %lld ms", teardownMs);
}

void tst_Teardown::fixture_data()
{
    QTest::addColumn<QString>("how");
    QTest::addColumn<bool>("clientThread");
    QTest::addRow("destroyed, clients on this thread") << u"destroy"_s << false;
    QTest::addRow("destroyed, clients on their own thread") << u"destroy"_s << true;
    QTest::addRow("paused then destroyed") << u"pause"_s << true;
    QTest::addRow("stopped then destroyed") << u"stop"_s << true;
}

void tst_Teardown::fixture()
{
    QFETCH(QString, how);
    QFETCH(bool, clientThread);
    std::optional<ClientThread> thread;
    if (clientThread)
        thread.emplace();
    ClientGroup clients(thread ? &*thread : nullptr);

    auto server = std::make_unique<TestServer>();
    QVERIFY2(server->start(), qPrintable(server->errorString()));
    QVERIFY(clients.connectAndJoin(server->url(), u"room:fixture"_s, 6));
    QCOMPARE(server->connectionCount(), 6);
    QCOMPARE(server->memberCount(u"room:fixture"_s), 6);
    QCOMPARE(server->presenceKeys(u"room:fixture"_s).size(), 3);

    QElapsedTimer timer;
    timer.start();
    if (how == "pause"_L1) {
        server->pause(); // the destructor resumes it, then stops
    } else if (how == "stop"_L1) {
        server->stop();
        QVERIFY(!server->isRunning());
    }
    server.reset();
    const auto teardownMs = timer.elapsed();

    QTRY_VERIFY_WITH_TIMEOUT(clients.allDisconnected(), LongWaitMs);
    const auto others = clients.closedOtherThan(QWebSocketProtocol::CloseCodeGoingAway);
    QVERIFY2(others.isEmpty(), qPrintable(others.join(u", "_s)));
    qInfo("fixture ended in %lld ms", teardownMs);
}

QTEST_GUILESS_MAIN(tst_Teardown)
#include "tst_teardown.moc"
