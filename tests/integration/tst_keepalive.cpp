// One HTTP connection for a whole chat session: health, post, history, long-polls (one answered at
// once, one woken by a message from elsewhere), typing and a broadcast, one after the other and
// pipelined, written as minimal clients, Node and curl write them; and HTTP/1.0's close rules.
// Raw sockets (RawHttp), so that what happens to the connection itself can be seen.
#include "ops/metrics.h"
#include "rawclient.h"
#include "rawhttp.h"
#include "server.h"
#include "testserver.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QStandardPaths>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace Confab;
using Testing::RawClient;
using Testing::RawHttp;
using Testing::TestServer;

namespace {

const QString Topic = u"room:keepalive"_s;
const QByteArray EncodedTopic = "room%3Akeepalive";
const QString FirstBody = u"hello over keep-alive"_s;
const QString WakeUpBody = u"wake up"_s;

//! How a client writes its request heads.
enum class Dialect {
    Minimal,  //!< only what HTTP/1.1 requires: Host (and Content-Type, Content-Length on a POST)
    NodeHttp, //!< Node's http module with a keep-alive agent: Host with the port, Connection: keep-alive
    NodeFetch //!< Node's fetch (undici): lower-case names, keep-alive, and its usual extra headers
};

//! The requests of one chat session, in the order a client sends them.
enum class Step { Health, PostMessage, History, PollAtOnce, PollWaits, Typing, Broadcast };
constexpr Step AllSteps[] = {Step::Health,    Step::PostMessage, Step::History,  Step::PollAtOnce,
                             Step::PollWaits, Step::Typing,      Step::Broadcast};

const char *stepName(Step step)
{
    switch (step) {
    case Step::Health: return "GET /health";
    case Step::PostMessage: return "POST /messages";
    case Step::History: return "GET /channels/<c>/messages";
    case Step::PollAtOnce: return "GET /poll (a newer message exists)";
    case Step::PollWaits: return "GET /poll (waits)";
    case Step::Typing: return "POST /typing";
    case Step::Broadcast: return "POST /api/broadcast";
    }
    return "?";
}

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QJsonObject alice()
{
    return {{u"id"_s, u"alice"_s}, {u"name"_s, u"Alice"_s}};
}

//! The method, target and body of \a step (open mode: the identity rides in the body or query).
struct Request
{
    QByteArray method;
    QByteArray target;
    QByteArray body;
};

Request requestOf(Step step)
{
    switch (step) {
    case Step::Health:
        return {"GET", "/health", {}};
    case Step::PostMessage:
        return {"POST", "/messages",
                compact({{u"channel"_s, Topic}, {u"client_id"_s, u"ka-1"_s}, {u"body"_s, FirstBody}, {u"user"_s, alice()}})};
    case Step::History:
        return {"GET", "/channels/" + EncodedTopic + "/messages?user=alice", {}};
    case Step::PollAtOnce:
        return {"GET", "/poll?channel=" + EncodedTopic + "&since=0&user=alice", {}};
    case Step::PollWaits:
        return {"GET", "/poll?channel=" + EncodedTopic + "&since=1&user=alice", {}};
    case Step::Typing:
        return {"POST", "/typing", compact({{u"channel"_s, Topic}, {u"typing"_s, true}, {u"user"_s, alice()}})};
    case Step::Broadcast:
        return {"POST", "/api/broadcast",
                compact({{u"topic"_s, Topic}, {u"event"_s, u"ka"_s}, {u"payload"_s, QJsonObject{{u"n"_s, 1}}}})};
    }
    return {};
}

QByteArray bytesOf(Step step, Dialect dialect, quint16 port)
{
    const auto r = requestOf(step);
    const QByteArray host = "127.0.0.1:" + QByteArray::number(port);
    const QByteArray length = QByteArray::number(r.body.size());
    QByteArray head = r.method + ' ' + r.target + " HTTP/1.1\r\n";
    switch (dialect) {
    case Dialect::Minimal:
        head += "Host: " + host + "\r\n";
        if (r.method == "POST")
            head += "Content-Type: application/json\r\nContent-Length: " + length + "\r\n";
        break;
    case Dialect::NodeHttp:
        // http.request(): the caller's headers first, then Host and the agent's Connection.
        if (r.method == "POST")
            head += "Content-Type: application/json\r\nContent-Length: " + length + "\r\n";
        head += "Host: " + host + "\r\nConnection: keep-alive\r\n";
        break;
    case Dialect::NodeFetch:
        head += "host: " + host + "\r\nconnection: keep-alive\r\n";
        if (r.method == "POST")
            head += "content-type: application/json\r\n";
        head += "accept: */*\r\naccept-language: *\r\nsec-fetch-mode: cors\r\nuser-agent: node\r\n"
                "accept-encoding: gzip, deflate\r\n";
        if (r.method == "POST")
            head += "content-length: " + length + "\r\n";
        break;
    }
    return head + "\r\n" + r.body;
}

//! Checks that \a answer is the right one for \a step (status and body) and keeps the connection.
//! Returns early through QCOMPARE; callers check QTest::currentTestFailed().
void checkAnswer(Step step, int status, const QHash<QByteArray, QByteArray> &headers, const QByteArray &body)
{
    const auto json = QJsonDocument::fromJson(body).object();
    const auto messages = json.value("messages"_L1).toArray();
    const QByteArray what = QByteArray(stepName(step)) + ": " + body;
    QVERIFY2(headers.value("content-type").startsWith("application/json"), what.constData());
    QVERIFY2(headers.value("connection").toLower() == "keep-alive", what.constData());
    switch (step) {
    case Step::Health:
        QCOMPARE(status, 200);
        QCOMPARE(json.value("status"_L1).toString(), u"healthy"_s);
        break;
    case Step::PostMessage:
        QCOMPARE(status, 201);
        QCOMPARE(json.value("seq"_L1).toInteger(), 1);
        QCOMPARE(json.value("client_id"_L1).toString(), u"ka-1"_s);
        QVERIFY2(!json.value("id"_L1).toString().isEmpty(), what.constData());
        QVERIFY2(!json.value("ts"_L1).toString().isEmpty(), what.constData());
        break;
    case Step::History:
        QCOMPARE(status, 200);
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.at(0).toObject().value("seq"_L1).toInteger(), 1);
        QCOMPARE(messages.at(0).toObject().value("body"_L1).toString(), FirstBody);
        QCOMPARE(messages.at(0).toObject().value("author"_L1).toObject().value("id"_L1).toString(), u"alice"_s);
        QCOMPARE(json.value("has_more"_L1).toBool(true), false);
        QCOMPARE(json.value("last_seq"_L1).toInteger(), 1);
        break;
    case Step::PollAtOnce:
        QCOMPARE(status, 200);
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.at(0).toObject().value("seq"_L1).toInteger(), 1);
        QCOMPARE(messages.at(0).toObject().value("body"_L1).toString(), FirstBody);
        QCOMPARE(json.value("last_seq"_L1).toInteger(), 1);
        break;
    case Step::PollWaits:
        QCOMPARE(status, 200);
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.at(0).toObject().value("seq"_L1).toInteger(), 2);
        QCOMPARE(messages.at(0).toObject().value("body"_L1).toString(), WakeUpBody);
        QCOMPARE(messages.at(0).toObject().value("author"_L1).toObject().value("id"_L1).toString(), u"bob"_s);
        QCOMPARE(json.value("last_seq"_L1).toInteger(), 2);
        break;
    case Step::Typing:
        QCOMPARE(status, 200);
        QCOMPARE(json, QJsonObject({{u"status"_s, u"ok"_s}}));
        break;
    case Step::Broadcast:
        QCOMPARE(status, 200);
        // bob, the one WebSocket member, got it.
        QCOMPARE(json, QJsonObject({{u"status"_s, u"ok"_s}, {u"recipientCount"_s, 1}}));
        break;
    }
}

void checkAnswer(Step step, const std::optional<RawHttp::Response> &answer)
{
    QVERIFY2(answer, stepName(step));
    checkAnswer(step, answer->status, answer->headers, answer->body);
}

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

} // namespace

class tst_KeepAlive : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void sequenceOnOneConnection_data();
    void sequenceOnOneConnection();
    void pipelinedSequenceAnsweredInOrder();
    void curlNextReusesTheConnection();
    void http10_data();
    void http10();
    void http11ConnectionClose();

private:
    //! bob, on a WebSocket, joined to Topic for chat: he wakes the waiting poll and proves what
    //! the HTTP requests delivered.
    std::unique_ptr<RawClient> chatMember();
    //! Requests the server has taken so far (counted when a request is dispatched).
    [[nodiscard]] qint64 httpRequests() const
    {
        return m_server->server().metrics().toJson({}).value("httpRequests"_L1).toInteger();
    }
    //! Waits until the server has taken \a count requests and the last of them, a long-poll, is
    //! watching the channel; false if not. \a polling is the polling connection (if the test
    //! has it): nothing may have come back on it yet.
    bool pollIsWaiting(qint64 count, const RawHttp *polling);
    //! bob sends the message that wakes the waiting poll (seq 2).
    void wakeUp(RawClient &bob);
    //! What the HTTP requests delivered to bob: alice's message, her typing, the broadcast.
    void checkBobSawIt(RawClient &bob);

    std::unique_ptr<TestServer> m_server;
};

void tst_KeepAlive::initTestCase()
{
    // The server's per-request events, and its open-mode warning at every start, would bury the
    // test's own output.
    QLoggingCategory::setFilterRules(u"confab.*.debug=false\nconfab.*.info=false\nconfab.server.auth.warning=false"_s);
}

void tst_KeepAlive::init()
{
    auto config = TestServer::defaultConfig();
    // Long enough that nothing here ends by a timer: the long-poll waits for its wake-up, the
    // typing indicator does not expire, the connection is never idle-closed mid-test.
    config.chat.longPollTimeout = 60s;
    config.chat.typingTimeout = 60s;
    config.limits.httpIdleTimeout = 60s;
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
}

void tst_KeepAlive::cleanup()
{
    m_server.reset();
}

std::unique_ptr<RawClient> tst_KeepAlive::chatMember()
{
    return RawClient::chatMember(m_server->webSocketUrl(), {{u"id"_s, u"bob"_s}}, Topic);
}

bool tst_KeepAlive::pollIsWaiting(qint64 count, const RawHttp *polling)
{
    if (!QTest::qWaitFor([&] { return httpRequests() >= count; }))
        return false;
    // The store answers reads in the order they were issued: once this later read is answered
    // (on a connection of its own), the poll has read its empty page and is watching.
    RawHttp other;
    if (!other.open(m_server->port()))
        return false;
    other.send(Testing::getRequest("/channels/" + EncodedTopic + "/messages?user=carol"));
    const auto barrier = other.read();
    if (!barrier || barrier->status != 200) {
        qWarning("the barrier read failed");
        return false;
    }
    if (polling && !polling->pending().isEmpty()) {
        qWarning("the poll was answered without waiting: %s", polling->pending().constData());
        return false;
    }
    return true;
}

void tst_KeepAlive::wakeUp(RawClient &bob)
{
    const auto ref = bob.push(Topic, u"message:send"_s, {{u"client_id"_s, u"ws-1"_s}, {u"body"_s, WakeUpBody}});
    const auto ack = bob.waitForReply(ref, Topic);
    QVERIFY(isOk(ack));
    QCOMPARE(ack->value("response"_L1).toObject().value("seq"_L1).toInteger(), 2);
}

void tst_KeepAlive::checkBobSawIt(RawClient &bob)
{
    const auto message = bob.waitForEvent(Topic, u"message"_s);
    QVERIFY(message);
    QCOMPARE(message->at(4).toObject().value("body"_L1).toString(), FirstBody);
    const auto typing = bob.waitForEvent(Topic, u"typing"_s);
    QVERIFY(typing);
    QCOMPARE(typing->at(4).toObject().value("user"_L1).toObject().value("id"_L1).toString(), u"alice"_s);
    QCOMPARE(typing->at(4).toObject().value("typing"_L1).toBool(), true);
    const auto broadcast = bob.waitForEvent(Topic, u"broadcast"_s);
    QVERIFY(broadcast);
    QCOMPARE(broadcast->at(4).toObject(),
             QJsonObject({{u"type"_s, u"broadcast"_s}, {u"event"_s, u"ka"_s}, {u"payload"_s, QJsonObject{{u"n"_s, 1}}}}));
}

void tst_KeepAlive::sequenceOnOneConnection_data()
{
    QTest::addColumn<Dialect>("dialect");
    QTest::newRow("minimal") << Dialect::Minimal;
    QTest::newRow("node http agent") << Dialect::NodeHttp;
    QTest::newRow("node fetch") << Dialect::NodeFetch;
}

void tst_KeepAlive::sequenceOnOneConnection()
{
    QFETCH(Dialect, dialect);
    auto bob = chatMember();
    QVERIFY(bob);
    RawHttp http;
    QVERIFY(http.open(m_server->port()));
    QSignalSpy closed(&http.socket(), &QTcpSocket::disconnected);

    for (const Step step : AllSteps) {
        const auto before = httpRequests();
        http.send(bytesOf(step, dialect, m_server->port()));
        if (step == Step::PollWaits) {
            QVERIFY(pollIsWaiting(before + 1, &http));
            wakeUp(*bob);
            if (QTest::currentTestFailed())
                return;
        }
        checkAnswer(step, http.read());
        if (QTest::currentTestFailed())
            return;
        QVERIFY2(http.isConnected(), stepName(step));
    }
    QVERIFY(http.pending().isEmpty()); // one answer per request, nothing more
    QCOMPARE(closed.count(), 0);
    // The server still holds this one connection (the barrier's own has gone).
    QTRY_COMPARE(m_server->server().httpConnectionCount(), 1);
    checkBobSawIt(*bob);
}

void tst_KeepAlive::pipelinedSequenceAnsweredInOrder()
{
    auto bob = chatMember();
    QVERIFY(bob);
    RawHttp http;
    QVERIFY(http.open(m_server->port()));
    QSignalSpy closed(&http.socket(), &QTcpSocket::disconnected);
    const auto before = httpRequests();

    QByteArray all;
    for (const Step step : AllSteps)
        all += bytesOf(step, Dialect::Minimal, m_server->port());
    http.send(all); // one write: the server finds them all in its buffer

    // Every answer names its request (the checks differ per step), so order is checked too.
    const Step atOnce[] = {Step::Health, Step::PostMessage, Step::History, Step::PollAtOnce};
    for (const Step step : atOnce) {
        checkAnswer(step, http.read());
        if (QTest::currentTestFailed())
            return;
    }
    // The fifth waits; the typing and broadcast behind it wait with it.
    QVERIFY(pollIsWaiting(before + 5, &http));
    QCOMPARE(httpRequests(), before + 5 + 1); // + the barrier's: nothing past the poll was taken
    wakeUp(*bob);
    const Step afterWake[] = {Step::PollWaits, Step::Typing, Step::Broadcast};
    for (const Step step : afterWake) {
        checkAnswer(step, http.read());
        if (QTest::currentTestFailed())
            return;
    }
    QVERIFY(http.pending().isEmpty());
    QVERIFY(http.isConnected());
    QCOMPARE(closed.count(), 0);
    checkBobSawIt(*bob);
}

void tst_KeepAlive::curlNextReusesTheConnection()
{
    const auto curl = QStandardPaths::findExecutable(u"curl"_s);
    if (curl.isEmpty())
        QSKIP("curl is not installed");
    auto bob = chatMember();
    QVERIFY(bob);

    // After each transfer curl writes its status and how many connections it opened for it:
    // 1 for the first, 0 for every later one that reused it.
    const auto base = m_server->httpUrl().toString().toUtf8();
    QStringList arguments;
    for (const Step step : AllSteps) {
        if (!arguments.isEmpty())
            arguments << u"--next"_s;
        const auto r = requestOf(step);
        arguments << u"--silent"_s << u"--show-error"_s << u"--include"_s << u"--http1.1"_s
                  << u"--write-out"_s << u"\n@@%{http_code} %{num_connects}@@\n"_s;
        if (r.method == "POST")
            arguments << u"--header"_s << u"Content-Type: application/json"_s << u"--data-binary"_s
                      << QString::fromUtf8(r.body);
        arguments << QString::fromUtf8(base + r.target);
    }
    const auto before = httpRequests();
    QProcess process;
    process.start(curl, arguments);
    QVERIFY(process.waitForStarted());
    // curl's fifth request is the long-poll: it must wait, on curl's one connection.
    QVERIFY(pollIsWaiting(before + 5, nullptr));
    QCOMPARE(process.state(), QProcess::Running);
    wakeUp(*bob);
    // Not waitForFinished(): it would block the event loop this server runs in.
    QTRY_COMPARE_WITH_TIMEOUT(process.state(), QProcess::NotRunning, 10000);
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());

    // Each transfer: "HTTP/1.1 … head … \r\n\r\n body" then the marker.
    const auto output = process.readAllStandardOutput();
    static const QRegularExpression marker(uR"(\n@@(\d+) (\d+)@@\n)"_s);
    const auto text = QString::fromUtf8(output);
    auto it = marker.globalMatch(text);
    qsizetype start = 0;
    int index = 0;
    while (it.hasNext()) {
        const auto m = it.next();
        QVERIFY2(index < int(std::size(AllSteps)), qPrintable(text));
        const Step step = AllSteps[index];
        const auto transfer = text.mid(start, m.capturedStart() - start).toUtf8();
        start = m.capturedEnd();
        const auto headEnd = transfer.indexOf("\r\n\r\n");
        QVERIFY2(headEnd > 0, transfer.constData());
        QHash<QByteArray, QByteArray> headers;
        const auto lines = transfer.left(headEnd).split('\n');
        for (const auto &line : lines.mid(1)) {
            const auto colon = line.indexOf(':');
            if (colon > 0)
                headers.insert(line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed());
        }
        checkAnswer(step, m.captured(1).toInt(), headers, transfer.mid(headEnd + 4));
        if (QTest::currentTestFailed())
            return;
        QVERIFY2(m.captured(2).toInt() == (index == 0 ? 1 : 0),
                 qPrintable(u"%1 made %2 new connections"_s.arg(QString::fromLatin1(stepName(step)), m.captured(2))));
        ++index;
    }
    QCOMPARE(index, int(std::size(AllSteps)));
    checkBobSawIt(*bob);
}

void tst_KeepAlive::http10_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<bool>("keepAlive");
    const QByteArray broadcast = R"({"topic":"room:x","event":"e","payload":{}})";
    QTest::newRow("GET /health") << "GET /health HTTP/1.0\r\n\r\n"_ba << false;
    QTest::newRow("GET /health, Host") << "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"_ba << false;
    QTest::newRow("POST /api/broadcast")
        << "POST /api/broadcast HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: "
               + QByteArray::number(broadcast.size()) + "\r\n\r\n" + broadcast
        << false;
    QTest::newRow("GET /health, keep-alive") << "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"_ba << true;
    QTest::newRow("GET /health, Keep-Alive") << "GET /health HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n"_ba << true;
}

void tst_KeepAlive::http10()
{
    QFETCH(QByteArray, request);
    QFETCH(bool, keepAlive);
    RawHttp http;
    QVERIFY(http.open(m_server->port()));
    http.send(request);
    const auto answer = http.read();
    QVERIFY(answer);
    QVERIFY2(answer->status == 200, answer->body.constData());
    QCOMPARE(answer->headers.value("connection").toLower(), keepAlive ? "keep-alive"_ba : "close"_ba);
    if (!keepAlive) {
        // HTTP/1.0 without keep-alive: the server ends the connection after its answer. The idle
        // timeout is a minute, so a close now is the answer's doing.
        QVERIFY(http.waitForDisconnected());
        QVERIFY(http.pending().isEmpty());
        return;
    }
    QVERIFY(http.isConnected());
    // Kept: a second request is answered on the same connection.
    http.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const auto second = http.read();
    QVERIFY(second);
    QCOMPARE(second->status, 200);
    QCOMPARE(second->json().value("status"_L1).toString(), u"ok"_s);
    QCOMPARE(second->headers.value("connection").toLower(), "keep-alive"_ba);
    QVERIFY(http.isConnected());
}

void tst_KeepAlive::http11ConnectionClose()
{
    RawHttp http;
    QVERIFY(http.open(m_server->port()));
    // An HTTP/1.1 client that asks for the close gets it, after a complete answer.
    http.send(Testing::getRequest("/health", "Connection: close\r\n"));
    const auto answer = http.read();
    QVERIFY(answer);
    QCOMPARE(answer->status, 200);
    QCOMPARE(answer->json().value("status"_L1).toString(), u"healthy"_s);
    QCOMPARE(answer->headers.value("connection").toLower(), "close"_ba);
    QVERIFY(http.waitForDisconnected());
}

QTEST_GUILESS_MAIN(tst_KeepAlive)
#include "tst_keepalive.moc"
