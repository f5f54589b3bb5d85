// Confab::TestServer, the installable fixture: the real server on its own thread, driven by
// plain WebSocket clients on the test's thread. Every wait is on state, never a fixed sleep.
#include <ConfabTestServer/testserver.h>

#include "rawclient.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>
#include <QtWebSockets/QWebSocket>

#include <memory>

using namespace Qt::StringLiterals;
using Confab::TestServer;
using Confab::Testing::RawClient;
using Confab::Testing::RawWebSocket;

namespace {

// 32 bytes or more: HS256's own strength (shorter secrets only draw a warning).
const QString Secret = u"tst_testserver-0123456789abcdef-0123456789"_s;
// Long enough to show a frame is not coming, short enough to keep the suite quick.
constexpr int NoReplyWindowMs = 500;

const QString System = u"$system"_s;
const QString Room = u"room:x"_s;

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QString errorCode(const std::optional<QJsonObject> &reply)
{
    if (!reply || reply->value("status"_L1).toString() != "error"_L1)
        return {};
    return reply->value("response"_L1).toObject().value("code"_L1).toString();
}

std::unique_ptr<RawClient> openClient(const TestServer &server)
{
    auto client = std::make_unique<RawClient>();
    if (!client->open(server.url()))
        return nullptr;
    return client;
}

} // namespace

class tst_TestServer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void startsOnAnEphemeralPort();
    void signalsReportClients();
    void queriesReflectServerState();
    void optionsAreApplied();
    void invalidOptionsFailStart_data();
    void invalidOptionsFailStart();
    void portInUseFailsStart();
    void stopClosesWithGoingAwayAndRestartsOnSamePort();
    void dropConnectionsAbortsSockets();
    void pauseFreezesTheServer();
    void dropWhilePausedHappensOnResume();
    void destroyingWhilePausedDoesNotHang();
    void mintedTokenIsAccepted();
    void mintTokenWithoutKeyFails();
    void authRequiresToken();
};

void tst_TestServer::startsOnAnEphemeralPort()
{
    TestServer server;
    QVERIFY(!server.isRunning());
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QVERIFY(server.isRunning());
    QVERIFY(server.port() > 0);
    QCOMPARE(server.url(), QUrl(u"ws://127.0.0.1:%1/"_s.arg(server.port())));
    QCOMPARE(server.httpUrl(), QUrl(u"http://127.0.0.1:%1"_s.arg(server.port())));

    // A bare QWebSocket, as an application's own test would use.
    QWebSocket socket;
    QStringList received;
    connect(&socket, &QWebSocket::textMessageReceived, this,
            [&received](const QString &text) { received.append(text); });
    socket.open(server.url());
    QTRY_COMPARE(socket.state(), QAbstractSocket::ConnectedState);
    socket.sendTextMessage(uR"([null,"1","$system","heartbeat",{}])"_s);
    QTRY_COMPARE(received.size(), 1);

    const QJsonArray reply = QJsonDocument::fromJson(received.constFirst().toUtf8()).array();
    QCOMPARE(reply.size(), 5);
    QCOMPARE(reply.at(1).toString(), u"1"_s);
    QCOMPARE(reply.at(2).toString(), System);
    QCOMPARE(reply.at(3).toString(), u"chan:reply"_s);
    QCOMPARE(reply.at(4).toObject().value("status"_L1).toString(), u"ok"_s);
}

void tst_TestServer::signalsReportClients()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QSignalSpy connected(&server, &TestServer::clientConnected);
    QSignalSpy disconnected(&server, &TestServer::clientDisconnected);

    auto client = openClient(server);
    QVERIFY(client);
    QTRY_COMPARE(connected.size(), 1);
    const QString clientId = connected.at(0).at(0).toString();
    QVERIFY2(clientId.startsWith("client-"_L1), qPrintable(clientId));

    client->close();
    QTRY_COMPARE(disconnected.size(), 1);
    QCOMPARE(disconnected.at(0).at(0).toString(), clientId);
}

void tst_TestServer::queriesReflectServerState()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QCOMPARE(server.connectionCount(), 0);
    QCOMPARE(server.memberCount(Room), 0);
    QCOMPARE(server.presenceKeys(Room), QStringList());

    auto client = openClient(server);
    QVERIFY(client);
    QTRY_COMPARE(server.connectionCount(), 1);

    const QString joinRef = client->push(Room, u"chan:join"_s);
    QVERIFY(isOk(client->waitForReply(joinRef, Room)));
    QCOMPARE(server.memberCount(Room), 1);
    QCOMPARE(server.memberCount(u"room:elsewhere"_s), 0);

    const QJsonObject track{{u"type"_s, u"presence"_s},
                            {u"event"_s, u"track"_s},
                            {u"payload"_s, QJsonObject{{u"key"_s, u"alice"_s}, {u"meta"_s, QJsonObject()}}}};
    const QString trackRef = client->push(Room, u"presence"_s, track, joinRef);
    QVERIFY(isOk(client->waitForReply(trackRef, Room)));
    QCOMPARE(server.presenceKeys(Room), QStringList{u"alice"_s});

    client->close();
    QTRY_COMPARE(server.connectionCount(), 0);
    QCOMPARE(server.memberCount(Room), 0);
    QCOMPARE(server.presenceKeys(Room), QStringList());
}

void tst_TestServer::optionsAreApplied()
{
    TestServer server({u"--max-channels-per-connection"_s, u"1"_s});
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client = openClient(server);
    QVERIFY(client);

    QVERIFY(isOk(client->join(u"room:1"_s)));
    QCOMPARE(errorCode(client->join(u"room:2"_s)), u"CHANNEL_LIMIT_EXCEEDED"_s);
}

void tst_TestServer::invalidOptionsFailStart_data()
{
    QTest::addColumn<QStringList>("options");
    QTest::addColumn<QString>("named");
    QTest::newRow("bad value") << QStringList{u"--max-connections"_s, u"many"_s} << u"--max-connections"_s;
    QTest::newRow("unknown") << QStringList{u"--no-such-option"_s, u"1"_s} << u"--no-such-option"_s;
    QTest::newRow("bad port") << QStringList{u"--port"_s, u"70000"_s} << u"--port"_s;
    QTest::newRow("auth without key") << QStringList{u"--auth-enabled"_s} << u"AUTH_SECRET"_s;
}

void tst_TestServer::invalidOptionsFailStart()
{
    QFETCH(QStringList, options);
    QFETCH(QString, named);
    TestServer server(options);
    QVERIFY(!server.start());
    QVERIFY(!server.isRunning());
    QVERIFY2(server.errorString().contains(named), qPrintable(server.errorString()));
}

void tst_TestServer::portInUseFailsStart()
{
    TestServer first;
    QVERIFY2(first.start(), qPrintable(first.errorString()));
    TestServer second({u"--port"_s, QString::number(first.port())});
    QVERIFY(!second.start());
    QVERIFY2(second.errorString().contains("cannot listen"_L1), qPrintable(second.errorString()));
}

void tst_TestServer::stopClosesWithGoingAwayAndRestartsOnSamePort()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const quint16 port = server.port();
    const QUrl url = server.url();
    auto before = openClient(server);
    QVERIFY(before);
    QVERIFY(before->sync());

    server.stop();
    QVERIFY(!server.isRunning());
    QCOMPARE(server.connectionCount(), 0);
    QVERIFY(before->waitForDisconnected());
    QCOMPARE(before->closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    server.stop(); // a second stop does nothing

    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QCOMPARE(server.port(), port);
    QCOMPARE(server.url(), url);
    auto after = openClient(server);
    QVERIFY(after);
    QVERIFY(after->sync());
    QTRY_COMPARE(server.connectionCount(), 1);
}

void tst_TestServer::dropConnectionsAbortsSockets()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client = openClient(server);
    QVERIFY(client);
    // Qt 6.4's QWebSocket leaves closeCode() at 1000 when the connection ends without a close
    // frame instead of reporting 1006, so a bare socket shows that no close frame came.
    RawWebSocket raw;
    QVERIFY(raw.open(server.url().host(), server.port()));
    QTRY_COMPARE(server.connectionCount(), 2);
    QSignalSpy disconnected(&server, &TestServer::clientDisconnected);

    server.dropConnections();
    QVERIFY(client->waitForDisconnected());
    QCOMPARE(client->closeReason(), QString()); // a close frame from the server carries a reason
    QTRY_COMPARE(raw.socket().state(), QAbstractSocket::UnconnectedState);
    QCOMPARE(raw.waitForClose(0), std::nullopt);
    QTRY_COMPARE(server.connectionCount(), 0);
    QTRY_COMPARE(disconnected.size(), 2);

    // Still listening: clients can come back.
    auto again = openClient(server);
    QVERIFY(again);
    QVERIFY(again->sync());
}

void tst_TestServer::pauseFreezesTheServer()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client = openClient(server);
    QVERIFY(client);
    QVERIFY(client->sync());

    server.pause();
    const QString ref = client->push(System, u"heartbeat"_s);
    const bool replied = QTest::qWaitFor([&] { return client->count(RawClient::isReplyTo(ref)) > 0; },
                                         NoReplyWindowMs);
    QVERIFY2(!replied, "a paused server answered a heartbeat");
    QVERIFY(client->isConnected());
    // Queries read the frozen state instead of waiting for the server thread.
    QCOMPARE(server.connectionCount(), 1);
    QCOMPARE(server.memberCount(Room), 0);

    server.resume();
    QVERIFY(isOk(client->waitForReply(ref, System)));
}

void tst_TestServer::dropWhilePausedHappensOnResume()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client = openClient(server);
    QVERIFY(client);
    QTRY_COMPARE(server.connectionCount(), 1);

    server.pause();
    server.dropConnections(); // returns at once: the server thread is frozen
    QVERIFY(!client->waitForDisconnected(NoReplyWindowMs));

    server.resume();
    QVERIFY(client->waitForDisconnected());
    QCOMPARE(client->closeReason(), QString()); // aborted, not closed (1001 would say why)
    QTRY_COMPARE(server.connectionCount(), 0);
}

void tst_TestServer::destroyingWhilePausedDoesNotHang()
{
    auto server = std::make_unique<TestServer>();
    QVERIFY2(server->start(), qPrintable(server->errorString()));
    auto client = openClient(*server);
    QVERIFY(client);
    QVERIFY(client->sync());

    server->pause();
    server.reset(); // resumes, stops (1001 to the client) and joins the thread

    QVERIFY(client->waitForDisconnected());
    QCOMPARE(client->closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
}

void tst_TestServer::mintedTokenIsAccepted()
{
    TestServer server({u"--auth-enabled"_s, u"--auth-secret"_s, Secret});
    // Minting needs only the options, not a running server.
    const QString token = server.mintToken(u"alice"_s, std::chrono::minutes(5), {u"room:*"_s}, u"Alice"_s);
    QVERIFY2(!token.isEmpty(), qPrintable(server.errorString()));
    QCOMPARE(token.count(u'.'), 2);

    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client = openClient(server);
    QVERIFY(client);
    QVERIFY(isOk(client->join(Room, {}, token)));
    // The token's channel list is enforced, so this is the token the server verified.
    QCOMPARE(errorCode(client->join(u"other:x"_s, {}, token)), u"AUTH_CHANNEL_DENIED"_s);
}

void tst_TestServer::mintTokenWithoutKeyFails()
{
    TestServer server;
    QVERIFY(server.mintToken(u"alice"_s).isEmpty());
    QVERIFY2(server.errorString().contains("AUTH_SECRET"_L1), qPrintable(server.errorString()));
}

void tst_TestServer::authRequiresToken()
{
    TestServer server({u"--auth-enabled"_s, u"--auth-secret"_s, u"X"_s});
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client = openClient(server);
    QVERIFY(client);
    QCOMPARE(errorCode(client->join(Room)), u"AUTH_TOKEN_REQUIRED"_s);
}

QTEST_GUILESS_MAIN(tst_TestServer)
#include "tst_testserver.moc"
