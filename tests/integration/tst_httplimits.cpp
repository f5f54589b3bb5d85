// The HTTP guard of the listener (server/src/listener.cpp): head and body limits, timeouts,
// keep-alive, per-IP limits and WebSocket upgrade checks, driven over raw TCP so that requests
// can be malformed, oversized or slow on purpose.
#include "ops/metrics.h"
#include "rawclient.h"
#include "rawhttp.h"
#include "server.h"
#include "testserver.h"

#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>
#include <optional>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace Confab;
using Testing::getRequest;
using Testing::RawClient;
using Testing::RawHttp;
using Testing::RawWebSocket;
using Testing::TestServer;
using Testing::upgradeRequest;

namespace {

//! Small limits so that every guard is cheap to trip.
Server::ServerConfig guardConfig(std::chrono::milliseconds timeouts)
{
    auto config = TestServer::defaultConfig();
    config.limits.httpMaxHeaderBytes = 1024;
    config.limits.httpMaxBodyBytes = 2048;
    config.limits.httpIdleTimeout = timeouts;
    config.limits.requestHeadTimeout = timeouts;
    return config;
}

} // namespace

class tst_HttpLimits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase() { m_abused.reset(); }

    // Against one server with 300 ms timeouts, which must survive all of it (last test).
    void headTooLarge();
    void bodyTooLargeBeforeItIsSent();
    void chunkedBodyRefused();
    void garbageRequestLine();
    void headThatNeverCompletes();
    void bodyThatNeverCompletes();
    void idleKeepAliveConnectionClosed();
    void webSocketUpgradeToUnknownPath();
    void smallBodyWithinLimitsServed();

    // Own servers.
    void keepAliveStillGuarded();
    void keepAliveLaterHeadTooLarge();
    void bodyBytesAreNotHeads();
    void pipelinedRequests();
    void perIpLimit();
    void perIpSlotFreedAfterRefusedWebSocket();
    void allowedOrigins();
    void webSocketPaths();

    void stillServesNormalClients();

private:
    std::unique_ptr<TestServer> m_abused;
};

void tst_HttpLimits::initTestCase()
{
    // The server's per-frame debug events would bury the test's own output.
    QLoggingCategory::setFilterRules(u"confab.*.debug=false"_s);
    m_abused = std::make_unique<TestServer>(guardConfig(300ms));
    QVERIFY(m_abused->start());
}

void tst_HttpLimits::headTooLarge()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    // One write, so the server has the whole head before it answers.
    http.send(getRequest("/health", "X-Padding: " + QByteArray(1500, 'p') + "\r\n"));
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 431);
    QVERIFY(response->headers.value("content-type").startsWith("application/json"));
    QCOMPARE(response->errorCode(), u"REQUEST_HEADER_TOO_LARGE"_s);
    QVERIFY(http.waitForDisconnected());

    // Just under the limit is fine.
    RawHttp fits;
    QVERIFY(fits.open(m_abused->port()));
    const QByteArray head = getRequest("/health", "X-Padding: " + QByteArray(900, 'p') + "\r\n");
    QVERIFY(head.size() < 1024);
    fits.send(head);
    const auto served = fits.read();
    QVERIFY(served);
    QCOMPARE(served->status, 200);
}

void tst_HttpLimits::bodyTooLargeBeforeItIsSent()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    http.send("POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: 4096\r\n\r\n");
    // No body was sent: the answer comes from the head alone.
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 413);
    QCOMPARE(response->errorCode(), u"PAYLOAD_TOO_LARGE"_s);
    QVERIFY(http.waitForDisconnected());
}

void tst_HttpLimits::chunkedBodyRefused()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    http.send("POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n");
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 411);
    QCOMPARE(response->errorCode(), u"LENGTH_REQUIRED"_s);
    QVERIFY(http.waitForDisconnected());
}

void tst_HttpLimits::garbageRequestLine()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    http.send("HELLO THERE\r\n\r\n");
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 400);
    QCOMPARE(response->errorCode(), u"BAD_REQUEST"_s);
    QVERIFY(http.waitForDisconnected());
}

void tst_HttpLimits::headThatNeverCompletes()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    http.send("GET /health HTTP/1.1\r\n");
    // A slow sender: a header line every 50 ms keeps the connection busy, but the head never ends.
    QTimer trickle;
    int line = 0;
    connect(&trickle, &QTimer::timeout, &http, [&] {
        if (http.pending().isEmpty() && http.socket().state() == QAbstractSocket::ConnectedState)
            http.send("X-Slow-" + QByteArray::number(++line) + ": yes\r\n");
        else
            trickle.stop();
    });
    trickle.start(50);
    const auto response = http.read(10000);
    trickle.stop();
    QVERIFY(response);
    QCOMPARE(response->status, 408);
    QCOMPARE(response->errorCode(), u"REQUEST_TIMEOUT"_s);
    QVERIFY(line >= 2); // it really was still sending
    QVERIFY(http.waitForDisconnected());
}

void tst_HttpLimits::bodyThatNeverCompletes()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    http.send("POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: 100\r\n\r\n{\"topic\":");
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 408);
    QCOMPARE(response->errorCode(), u"REQUEST_TIMEOUT"_s);
    QVERIFY(http.waitForDisconnected());
}

void tst_HttpLimits::idleKeepAliveConnectionClosed()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    QSignalSpy disconnected(&http.socket(), &QTcpSocket::disconnected);
    http.send(getRequest("/health"));
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    // The client says nothing more; the server frees the socket after httpIdleTimeout.
    QVERIFY(disconnected.count() == 1 || disconnected.wait(5000));
    QVERIFY(http.pending().isEmpty());
}

void tst_HttpLimits::webSocketUpgradeToUnknownPath()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    http.send(upgradeRequest("/nope"));
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 404);
    QVERIFY(response->headers.value("content-type").startsWith("application/json"));
    QCOMPARE(response->errorCode(), u"NOT_FOUND"_s);
    QVERIFY(http.waitForDisconnected());
}

void tst_HttpLimits::smallBodyWithinLimitsServed()
{
    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    const QByteArray body = R"({"topic":"room:none","event":"e","payload":{}})";
    http.send("POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    const auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->json().value("status"_L1).toString(), u"ok"_s);
}

void tst_HttpLimits::keepAliveStillGuarded()
{
    // Long timeouts: this test is about the guard following requests, not about time.
    TestServer server(guardConfig(10s));
    QVERIFY(server.start());
    RawHttp http;
    QVERIFY(http.open(server.port()));

    http.send(getRequest("/health"));
    auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->json().value("status"_L1).toString(), u"healthy"_s);

    const QByteArray body = R"({"topic":"room:k","event":"e","payload":{}})";
    http.send("POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->json().value("status"_L1).toString(), u"ok"_s);
    QCOMPARE(http.socket().state(), QAbstractSocket::ConnectedState);

    // The socket belongs to QHttpServer now, and the guard still sees this head.
    http.send("POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: 4096\r\n\r\n");
    response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 413);
    QCOMPARE(response->errorCode(), u"PAYLOAD_TOO_LARGE"_s);
    QVERIFY(http.waitForDisconnected());
    QVERIFY(http.pending().isEmpty()); // nothing from QHttpServer after the guard's answer
}

void tst_HttpLimits::keepAliveLaterHeadTooLarge()
{
    TestServer server(guardConfig(10s));
    QVERIFY(server.start());
    RawHttp http;
    QVERIFY(http.open(server.port()));
    http.send(getRequest("/health"));
    auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 200);

    http.send(getRequest("/health", "X-Padding: " + QByteArray(1500, 'p') + "\r\n"));
    response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 431);
    QCOMPARE(response->errorCode(), u"REQUEST_HEADER_TOO_LARGE"_s);
    QVERIFY(http.waitForDisconnected());
    QVERIFY(http.pending().isEmpty());
}

void tst_HttpLimits::bodyBytesAreNotHeads()
{
    TestServer server(guardConfig(10s));
    QVERIFY(server.start());
    RawHttp http;
    QVERIFY(http.open(server.port()));
    // A body that reads like a request head with an oversized length: the guard must skip it by
    // Content-Length, and QHttpServer answers the (invalid JSON) body itself.
    const QByteArray body = "POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n";
    http.send("POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    auto response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 400);
    QCOMPARE(response->errorCode(), u"INVALID_BODY"_s);
    http.send(getRequest("/health"));
    response = http.read();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
}

void tst_HttpLimits::pipelinedRequests()
{
    TestServer server(guardConfig(10s));
    QVERIFY(server.start());
    RawHttp http;
    QVERIFY(http.open(server.port()));
    http.send(getRequest("/health") + getRequest("/"));
    const auto first = http.read();
    QVERIFY(first);
    QCOMPARE(first->status, 200);
    QCOMPARE(first->json().value("status"_L1).toString(), u"healthy"_s);
    const auto second = http.read();
    QVERIFY(second);
    QCOMPARE(second->status, 200);
    QCOMPARE(second->json().value("status"_L1).toString(), u"ok"_s);

    // A request with a body, pipelined between two without.
    RawClient member;
    QVERIFY(member.open(server.webSocketUrl()));
    QVERIFY(member.join(u"room:p"_s));
    const QByteArray body = R"({"topic":"room:p","event":"e","payload":{"n":1}})";
    http.send(getRequest("/") + "POST /api/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body + getRequest("/health"));
    const auto root = http.read();
    QVERIFY(root);
    QCOMPARE(root->status, 200);
    QCOMPARE(root->json().value("status"_L1).toString(), u"ok"_s);
    const auto broadcast = http.read();
    QVERIFY(broadcast);
    QCOMPARE(broadcast->status, 200);
    QCOMPARE(broadcast->json().value("recipientCount"_L1).toInt(-1), 1);
    const auto health = http.read();
    QVERIFY(health);
    QCOMPARE(health->status, 200);
    QCOMPARE(health->json().value("status"_L1).toString(), u"healthy"_s);
    QVERIFY(member.waitForEvent(u"room:p"_s, u"broadcast"_s));
}

namespace {

//! Sends GET /health on fresh connections until one is answered 200 (or \a timeoutMs passes);
//! returns the last status. A refused attempt waits for its own close, so it frees its slot.
int retryUntilServed(quint16 port, int timeoutMs = 5000)
{
    int status = 0;
    (void)QTest::qWaitFor(
        [&] {
            RawHttp attempt;
            if (!attempt.open(port))
                return false;
            attempt.send(getRequest("/health", "Connection: close\r\n"));
            const auto response = attempt.read();
            status = response ? response->status : 0;
            if (status != 200)
                (void)attempt.waitForDisconnected();
            return status == 200;
        },
        timeoutMs);
    return status;
}

Server::ServerConfig perIpConfig(int limit)
{
    auto config = TestServer::defaultConfig();
    config.limits.maxConnectionsPerIp = limit;
    // Idle holders must stay counted for the whole test, not time out.
    config.limits.requestHeadTimeout = 60s;
    return config;
}

} // namespace

void tst_HttpLimits::perIpLimit()
{
    TestServer server(perIpConfig(2));
    QVERIFY(server.start());

    // Two connections that send nothing hold both slots. The kernel's accept queue is FIFO, so
    // the server counts them before anything opened later.
    RawHttp holder1;
    RawHttp holder2;
    QVERIFY(holder1.open(server.port()));
    QVERIFY(holder2.open(server.port()));

    RawHttp third;
    QVERIFY(third.open(server.port()));
    third.send(getRequest("/health"));
    const auto refused = third.read();
    QVERIFY(refused);
    QCOMPARE(refused->status, 429);
    QCOMPARE(refused->errorCode(), u"CONNECTION_LIMIT_PER_IP"_s);
    QVERIFY(third.waitForDisconnected());

    // Freeing a slot lets a new connection in, once the server has seen the close.
    holder1.socket().disconnectFromHost();
    QVERIFY(holder1.waitForDisconnected());
    QCOMPARE(retryUntilServed(server.port()), 200);

    // Full again: a WebSocket is accepted at the HTTP level, then closed with 1008 and a reason.
    RawHttp holder3;
    QVERIFY(holder3.open(server.port()));
    RawClient ws;
    // The handshake completes, then the server closes: wait for the close, not for "connected".
    QSignalSpy wsClosed(&ws.socket(), &QWebSocket::disconnected);
    ws.socket().open(server.webSocketUrl());
    QVERIFY(wsClosed.wait(5000));
    QCOMPARE(int(ws.closeCode()), int(QWebSocketProtocol::CloseCodePolicyViolated));
    QVERIFY2(ws.closeReason().startsWith("CONNECTION_LIMIT_PER_IP"_L1), qPrintable(ws.closeReason()));
    QCOMPARE(server.server().connectionCount(), 0);
    QCOMPARE(holder2.socket().state(), QAbstractSocket::ConnectedState);
    QCOMPARE(holder3.socket().state(), QAbstractSocket::ConnectedState);
}

void tst_HttpLimits::perIpSlotFreedAfterRefusedWebSocket()
{
    TestServer server(perIpConfig(1));
    QVERIFY(server.start());
    {
        RawHttp holder;
        QVERIFY(holder.open(server.port()));
        RawClient ws;
        QSignalSpy wsClosed(&ws.socket(), &QWebSocket::disconnected);
        ws.socket().open(server.webSocketUrl());
        QVERIFY(wsClosed.wait(5000));
        QCOMPARE(int(ws.closeCode()), int(QWebSocketProtocol::CloseCodePolicyViolated));
        holder.socket().disconnectFromHost();
        QVERIFY(holder.waitForDisconnected());
    }
    // Nothing from this address is open any more, so its one slot must become free again.
    const int status = retryUntilServed(server.port());
    QVERIFY2(status == 200, qPrintable(u"still refused with %1: the refused WebSocket's slot was never released"_s.arg(status)));
    // The probe's own slot is freed once the server has seen it close; then a WebSocket fits.
    QVERIFY(QTest::qWaitFor(
        [&] {
            RawClient client;
            return client.open(server.webSocketUrl()) && client.sync(1000);
        },
        5000));
}

void tst_HttpLimits::allowedOrigins()
{
    auto config = guardConfig(10s);
    config.allowedOrigins = QStringList{u"http://good.example"_s};
    TestServer server(config);
    QVERIFY(server.start());

    RawHttp evil;
    QVERIFY(evil.open(server.port()));
    evil.send(upgradeRequest("/", "http://evil.example"));
    const auto refused = evil.read();
    QVERIFY(refused);
    QCOMPARE(refused->status, 403);
    QCOMPARE(refused->errorCode(), u"ORIGIN_NOT_ALLOWED"_s);
    QVERIFY(evil.waitForDisconnected());
    QCOMPARE(server.server().connectionCount(), 0);

    RawHttp good;
    QVERIFY(good.open(server.port()));
    good.send(upgradeRequest("/", "http://good.example"));
    const auto accepted = good.read();
    QVERIFY(accepted);
    QCOMPARE(accepted->status, 101);
    QCOMPARE(accepted->headers.value("upgrade").toLower(), "websocket"_ba);
    QTRY_COMPARE(server.server().connectionCount(), 1);

    // Non-browser clients send no Origin; the allow-list does not apply to them.
    RawClient noOrigin;
    QVERIFY(noOrigin.open(server.webSocketUrl()));
    QVERIFY(noOrigin.sync());
}

void tst_HttpLimits::webSocketPaths()
{
    TestServer server(guardConfig(10s));
    QVERIFY(server.start());
    for (const QByteArray &path : {"/"_ba, "/ws"_ba, "/?vsn=1"_ba, "/ws?token=x"_ba}) {
        RawWebSocket raw;
        QVERIFY2(raw.open(u"127.0.0.1"_s, server.port(), path), path.constData());
        // A heartbeat over the bare socket proves a session serves it.
        raw.sendFrame(0x1, R"([null,"1","$system","heartbeat",{}])");
        const auto message = raw.waitForMessage();
        QVERIFY(message);
        QCOMPARE(message->opcode, 0x1);
        QVERIFY2(message->payload.contains("chan:reply"), message->payload.constData());
    }
    RawClient client;
    QVERIFY(client.open(server.webSocketUrl(u"/ws"_s)));
    QVERIFY(client.sync());
}

void tst_HttpLimits::stillServesNormalClients()
{
    RawClient client;
    QVERIFY(client.open(m_abused->webSocketUrl()));
    QVERIFY(client.sync());
    const auto reply = client.join(u"room:after"_s);
    QVERIFY(reply);
    QCOMPARE(reply->value("status"_L1).toString(), u"ok"_s);

    RawHttp http;
    QVERIFY(http.open(m_abused->port()));
    http.send(getRequest("/health"));
    const auto health = http.read();
    QVERIFY(health);
    QCOMPARE(health->status, 200);
    QCOMPARE(health->json().value("connections"_L1).toInt(-1), 1);

    // Each refusal was counted by reason.
    const auto &metrics = m_abused->server().metrics();
    for (const auto *code : {"REQUEST_HEADER_TOO_LARGE", "PAYLOAD_TOO_LARGE", "LENGTH_REQUIRED", "BAD_REQUEST",
                             "REQUEST_TIMEOUT", "NOT_FOUND"}) {
        QVERIFY2(metrics.rejectedCount(QString::fromLatin1(code)) >= 1, code);
    }
}

QTEST_GUILESS_MAIN(tst_HttpLimits)
#include "tst_httplimits.moc"
