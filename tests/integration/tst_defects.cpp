// Hostile and unusual input that once got past the server or broke it, one test (or more) per
// defect: lone surrogate escapes, emoji counted as two characters, oversized WebSocket frames,
// long-polls and writes at shutdown, bad WebSocket handshakes, bare-LF request heads, HTTP/1.0
// closes, control characters in topics, payloads rewritten on relay, and errors that lost their
// ref. Real server in this process, real sockets, real SQLite.
#include "ops/metrics.h"
#include "rawclient.h"
#include "rawhttp.h"
#include "server.h"
#include "testserver.h"

#include <ConfabClient/client.h>
#include <ConfabClient/reply.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QMutex>
#include <QtCore/QRandomGenerator>
#include <QtCore/QUrl>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace Confab;
using Testing::getRequest;
using Testing::postRequest;
using Testing::RawClient;
using Testing::RawHttp;
using Testing::RawWebSocket;
using Testing::TestServer;

namespace {

const QString Grinning = QString::fromUcs4(U"\U0001F600"); // 😀, two UTF-16 units

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QByteArray encoded(const QString &topic)
{
    return QUrl::toPercentEncoding(topic);
}

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QString errorCodeOf(const std::optional<QJsonObject> &reply)
{
    return reply ? reply->value("response"_L1).toObject().value("code"_L1).toString() : QString();
}

//! A WebSocket client that said hello as \a userId and, with a \a topic, joined it for chat.
std::unique_ptr<RawClient> chatClient(const TestServer &server, const QString &userId, const QString &topic = {})
{
    return RawClient::chatMember(server.webSocketUrl(), {{u"id"_s, userId}}, topic);
}

//! One request on a fresh connection, for tests about the answer rather than the connection.
std::optional<RawHttp::Response> exchange(quint16 port, const QByteArray &request)
{
    RawHttp http;
    if (!http.open(port))
        return std::nullopt;
    http.send(request);
    return http.read();
}

//! History of \a topic over HTTP, as alice (open mode).
QJsonObject httpHistory(quint16 port, const QString &topic)
{
    const auto answer = exchange(port, getRequest("/channels/" + encoded(topic) + "/messages?user=alice"));
    return answer && answer->status == 200 ? answer->json() : QJsonObject{{u"failed"_s, true}};
}

//! A POST /messages body written by hand, so that the escapes in \a rawBodyLiteral (a JSON string
//! literal, quotes included) reach the server exactly as written.
QByteArray messageBody(const QByteArray &topic, const QByteArray &clientId, const QByteArray &rawBodyLiteral)
{
    return R"({"channel":")" + topic + R"(","client_id":")" + clientId + R"(","body":)" + rawBodyLiteral
        + R"(,"user":{"id":"alice"}})";
}

//! Records the warnings printed while it exists (and passes every message on).
class WarningRecorder
{
public:
    WarningRecorder()
    {
        s_warnings.clear();
        s_previous = qInstallMessageHandler(&WarningRecorder::handle);
    }
    ~WarningRecorder() { qInstallMessageHandler(s_previous); }
    WarningRecorder(const WarningRecorder &) = delete;
    WarningRecorder &operator=(const WarningRecorder &) = delete;

    //! Recorded warnings that contain \a needle.
    static QStringList matching(const QString &needle)
    {
        QMutexLocker lock(&s_mutex);
        return s_warnings.filter(needle, Qt::CaseInsensitive);
    }

private:
    static void handle(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        if (type != QtDebugMsg && type != QtInfoMsg) {
            QMutexLocker lock(&s_mutex);
            s_warnings.append(message);
        }
        if (s_previous)
            s_previous(type, context, message);
    }

    static inline QtMessageHandler s_previous = nullptr;
    static inline QMutex s_mutex;
    static inline QStringList s_warnings;
};

} // namespace

class tst_Defects : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();

    void loneSurrogateOverWebSocket_data();
    void loneSurrogateOverWebSocket();
    void loneSurrogateOverHttp_data();
    void loneSurrogateOverHttp();
    void bodyLimitCountsCodePoints();
    void oversizedFrameClosedWith1009_data();
    void oversizedFrameClosedWith1009();
    void shutdownAnswersWaitingPollAndWritesNothingToClosedSockets();
    void shutdownMeetsLostConnectionsQuietly();
    void webSocketHandshakeChecked_data();
    void webSocketHandshakeChecked();
    void bareLineFeedHeadAnsweredAtOnce_data();
    void bareLineFeedHeadAnsweredAtOnce();
    void http10ConnectionClosedAfterAnswer();
    void controlCharacterTopicsRefused_data();
    void controlCharacterTopicsRefused();
    void payloadBytesRelayedUnchanged_data();
    void payloadBytesRelayedUnchanged();
    void errorsCarryTheRef_data();
    void errorsCarryTheRef();
    void clientLibraryGetsTheRefusalAtOnce();
};

void tst_Defects::initTestCase()
{
    // The server's per-frame events, and its open-mode warning at every start, would bury the
    // test's own output.
    QLoggingCategory::setFilterRules(u"confab.*.debug=false\nconfab.*.info=false\nconfab.server.auth.warning=false"_s);
}

// ---- Lone surrogate escapes ---------------------------------------------------------------------

void tst_Defects::loneSurrogateOverWebSocket_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::newRow("high in the middle") << R"("a\ud800b")"_ba;
    QTest::newRow("high at the end") << R"("a\uD800")"_ba;
    QTest::newRow("low alone") << R"("\udc00b")"_ba;
    QTest::newRow("pair reversed") << R"("\ude00\ud83d")"_ba;
}

void tst_Defects::loneSurrogateOverWebSocket()
{
    QFETCH(QByteArray, body);
    TestServer server;
    QVERIFY(server.start());
    const auto topic = u"room:surrogates"_s;
    auto alice = chatClient(server, u"alice"_s, topic);
    QVERIFY(alice);

    // Qt would read the escape as a lone UTF-16 unit and store "a?b"; the server must refuse it.
    alice->sendText(QString::fromUtf8(R"(["1","5","room:surrogates","message:send",{"client_id":"s-1","body":)" + body
                                      + "}]"));
    const auto refused = alice->waitForReply(u"5"_s, topic);
    QVERIFY(refused);
    QCOMPARE(refused->value("status"_L1).toString(), u"error"_s);
    QCOMPARE(errorCodeOf(refused), u"INVALID_PAYLOAD"_s);
    const auto history = httpHistory(server.port(), topic);
    QCOMPARE(history.value("messages"_L1).toArray(), QJsonArray());
    QCOMPARE(history.value("last_seq"_L1).toInteger(-1), 0);

    // A real pair is a character like any other: stored and returned exactly.
    alice->sendText(uR"(["1","6","room:surrogates","message:send",{"client_id":"s-2","body":"x\ud83d\ude00y"}])"_s);
    const auto accepted = alice->waitForReply(u"6"_s, topic);
    QVERIFY(isOk(accepted));
    const auto ref = alice->push(topic, u"history"_s);
    const auto page = alice->waitForReply(ref, topic);
    QVERIFY(isOk(page));
    const auto messages = page->value("response"_L1).toObject().value("messages"_L1).toArray();
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.at(0).toObject().value("body"_L1).toString(), u"x"_s + Grinning + u"y"_s);
}

void tst_Defects::loneSurrogateOverHttp_data()
{
    loneSurrogateOverWebSocket_data();
}

void tst_Defects::loneSurrogateOverHttp()
{
    QFETCH(QByteArray, body);
    TestServer server;
    QVERIFY(server.start());
    const auto topic = u"room:surrogates"_s;

    const auto refused = exchange(server.port(), postRequest("/messages", messageBody("room:surrogates", "h-1", body)));
    QVERIFY(refused);
    QCOMPARE(refused->status, 400);
    QCOMPARE(refused->errorCode(), u"INVALID_PAYLOAD"_s);
    auto history = httpHistory(server.port(), topic);
    QCOMPARE(history.value("messages"_L1).toArray(), QJsonArray());
    QCOMPARE(history.value("last_seq"_L1).toInteger(-1), 0);

    const auto accepted = exchange(server.port(), postRequest("/messages", messageBody("room:surrogates", "h-2", R"("\ud83d\ude00")")));
    QVERIFY(accepted);
    QCOMPARE(accepted->status, 201);
    history = httpHistory(server.port(), topic);
    const auto messages = history.value("messages"_L1).toArray();
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.at(0).toObject().value("body"_L1).toString(), Grinning);
}

// ---- MAX_MESSAGE_BODY counts code points ---------------------------------------------------------

void tst_Defects::bodyLimitCountsCodePoints()
{
    auto config = TestServer::defaultConfig();
    config.chat.maxMessageBody = 8000; // the default, stated: the numbers below are about it
    TestServer server(config);
    QVERIFY(server.start());
    const auto topic = u"room:long"_s;
    auto alice = chatClient(server, u"alice"_s, topic);
    QVERIFY(alice);
    auto send = [&](const QString &clientId, const QString &body) {
        return alice->waitForReply(alice->push(topic, u"message:send"_s, {{u"client_id"_s, clientId}, {u"body"_s, body}}),
                                   topic);
    };

    // 5,000 emoji are 10,000 UTF-16 units but 5,000 characters.
    const auto fiveThousand = Grinning.repeated(5000);
    QVERIFY(isOk(send(u"c-5000"_s, fiveThousand)));
    // Exactly at the limit, in emoji.
    QVERIFY(isOk(send(u"c-8000"_s, Grinning.repeated(8000))));
    for (const auto &over : {QString(8001, u'a'), Grinning.repeated(8001)}) {
        const auto refused = send(u"c-over-%1"_s.arg(over.size()), over);
        QVERIFY(refused);
        QCOMPARE(errorCodeOf(refused), u"MESSAGE_TOO_LARGE"_s);
        QCOMPARE(refused->value("response"_L1).toObject().value("limit"_L1).toInteger(), 8000);
    }

    // The same rule over HTTP.
    auto post = [&](const QString &clientId, const QString &body) {
        return exchange(server.port(),
                        postRequest("/messages", compact({{u"channel"_s, topic}, {u"client_id"_s, clientId},
                                                          {u"body"_s, body}, {u"user"_s, QJsonObject{{u"id"_s, u"alice"_s}}}})));
    };
    const auto accepted = post(u"h-5000"_s, fiveThousand);
    QVERIFY(accepted);
    QCOMPARE(accepted->status, 201);
    const auto refused = post(u"h-8001"_s, Grinning.repeated(8001));
    QVERIFY(refused);
    QCOMPARE(refused->status, 413);
    QCOMPARE(refused->errorCode(), u"MESSAGE_TOO_LARGE"_s);

    // What was accepted is stored whole.
    const auto history = httpHistory(server.port(), topic);
    const auto messages = history.value("messages"_L1).toArray();
    QCOMPARE(messages.size(), 3);
    QCOMPARE(messages.at(0).toObject().value("body"_L1).toString(), fiveThousand);
    QCOMPARE(messages.at(2).toObject().value("body"_L1).toString(), fiveThousand);
}

// ---- Oversized WebSocket frames -------------------------------------------------------------------

void tst_Defects::oversizedFrameClosedWith1009_data()
{
    QTest::addColumn<qsizetype>("size");
    QTest::addColumn<bool>("readsWhileWriting");
    // The default MAX_MESSAGE_BYTES is 100 KiB; frames beyond 4x that are not buffered.
    // A client that reads as data comes sees the close frame even if a reset follows it. One that
    // writes its whole frame before it reads anything (send() then recv(), as blocking clients
    // do) loses it to a reset: its write fails and the connection is gone, unread.
    for (const bool reads : {true, false}) {
        const char *how = reads ? "reads while writing" : "writes, then reads";
        QTest::addRow("1 MB, %s", how) << qsizetype(1'000'000) << reads;
        QTest::addRow("1 MiB, %s", how) << qsizetype(1 << 20) << reads;
        QTest::addRow("4 MiB, %s", how) << qsizetype(4 << 20) << reads;
        QTest::addRow("16 MiB, %s", how) << qsizetype(16 << 20) << reads;
    }
}

void tst_Defects::oversizedFrameClosedWith1009()
{
    QFETCH(qsizetype, size);
    QFETCH(bool, readsWhileWriting);
    TestServer server;
    QVERIFY(server.start());
    RawWebSocket raw;
    QVERIFY(raw.open(u"127.0.0.1"_s, server.port()));
    QTRY_COMPARE(server.server().connectionCount(), 1);
    auto &tcp = raw.socket();
    if (!readsWhileWriting)
        disconnect(&tcp, &QTcpSocket::readyRead, &raw, nullptr); // what arrives stays unread

    raw.sendFrame(0x1, R"(["1","1","room:big","broadcast",{"pad":")" + QByteArray(size, 'x') + "\"}]");
    std::optional<int> code;
    if (readsWhileWriting) {
        // The close frame itself, read off the wire.
        code = raw.waitForClose(10000);
    } else {
        // Everything written (the server read and dropped the rest of the frame), or the
        // connection failed under the write.
        QTRY_VERIFY_WITH_TIMEOUT(tcp.bytesToWrite() == 0 || tcp.state() != QAbstractSocket::ConnectedState, 20000);
        QTRY_VERIFY(tcp.bytesAvailable() >= 4 || tcp.state() != QAbstractSocket::ConnectedState);
        const auto data = tcp.readAll();
        if (data.size() >= 4 && (quint8(data.at(0)) & 0x0f) == 0x8)
            code = (quint8(data.at(2)) << 8) | quint8(data.at(3));
    }
    QVERIFY2(code, "no close frame: the connection was reset under it");
    QCOMPARE(*code, 1009);
    QTRY_COMPARE(server.server().connectionCount(), 0);

    // The server goes on serving.
    RawClient client;
    QVERIFY(client.open(server.webSocketUrl()));
    QVERIFY(client.sync());
}

// ---- Shutdown ------------------------------------------------------------------------------------

void tst_Defects::shutdownAnswersWaitingPollAndWritesNothingToClosedSockets()
{
    auto config = TestServer::defaultConfig();
    config.chat.longPollTimeout = 60s; // only the shutdown can end this poll
    auto server = std::make_unique<TestServer>(config);
    QVERIFY(server->start());
    const auto topic = u"room:closing"_s;

    // Members with presence: each one that leaves makes the server tell the others, who are
    // leaving too.
    std::vector<std::unique_ptr<RawClient>> members;
    for (int i = 0; i < 6; ++i) {
        auto member = std::make_unique<RawClient>();
        QVERIFY(member->open(server->webSocketUrl()));
        QVERIFY(isOk(member->join(topic, {{u"presence"_s, QJsonObject{{u"key"_s, u"member-%1"_s.arg(i)}}}})));
        const auto ref = member->push(topic, u"presence"_s,
                                      {{u"type"_s, u"presence"_s}, {u"event"_s, u"track"_s},
                                       {u"payload"_s, QJsonObject{{u"meta"_s, QJsonObject{{u"n"_s, i}}}}}});
        QVERIFY(isOk(member->waitForReply(ref, topic)));
        members.push_back(std::move(member));
    }

    // A long-poll waiting for the next message.
    const auto before = server->server().metrics().toJson({}).value("httpRequests"_L1).toInteger();
    RawHttp poll;
    QVERIFY(poll.open(server->port()));
    poll.send(getRequest("/poll?channel=" + encoded(topic) + "&since=0&user=alice"));
    QVERIFY(QTest::qWaitFor([&] {
        return server->server().metrics().toJson({}).value("httpRequests"_L1).toInteger() > before;
    }));
    // The store answers in order: once this later read is answered, the poll is watching.
    QCOMPARE(httpHistory(server->port(), topic).value("last_seq"_L1).toInteger(-1), 0);
    QVERIFY(poll.pending().isEmpty());

    WarningRecorder recorder;
    QSignalSpy stopped(&server->server(), &Server::Server::stopped);
    // One member is still talking when the shutdown starts, another drops its connection.
    for (int i = 0; i < 20; ++i)
        members.at(0)->pushNoRef(topic, u"broadcast"_s, {{u"event"_s, u"chatter"_s}, {u"payload"_s, QJsonObject{{u"i"_s, i}}}});
    members.at(0)->socket().flush();
    server->server().shutdown(5s);
    members.at(1)->socket().abort();

    const auto answer = poll.read();
    QVERIFY2(answer, "the waiting poll got no answer");
    QCOMPARE(answer->status, 200);
    QCOMPARE(answer->json(), QJsonObject({{u"messages"_s, QJsonArray()}, {u"last_seq"_s, 0}}));
    QVERIFY(poll.waitForDisconnected()); // then the server closes it: it is shutting down

    for (std::size_t i = 2; i < members.size(); ++i) {
        QVERIFY(members.at(i)->waitForDisconnected());
        QCOMPARE(int(members.at(i)->closeCode()), int(QWebSocketProtocol::CloseCodeGoingAway));
    }
    QVERIFY(stopped.count() == 1 || stopped.wait(10000));
    server.reset(); // the teardown writes nothing to closed sockets either

    for (const auto *needle : {"QIODevice::write", "device not open", "QIODevice::read"}) {
        const auto found = WarningRecorder::matching(QString::fromLatin1(needle));
        QVERIFY2(found.isEmpty(), qPrintable(found.join(u'\n')));
    }
}

void tst_Defects::shutdownMeetsLostConnectionsQuietly()
{
    auto server = std::make_unique<TestServer>();
    QVERIFY(server->start());
    const auto topic = u"room:lost"_s;
    std::vector<std::unique_ptr<RawClient>> members;
    for (int i = 0; i < 4; ++i) {
        auto member = std::make_unique<RawClient>();
        QVERIFY(member->open(server->webSocketUrl()));
        QVERIFY(isOk(member->join(topic, {{u"presence"_s, QJsonObject{{u"key"_s, u"member-%1"_s.arg(i)}}}})));
        members.push_back(std::move(member));
    }

    WarningRecorder recorder;
    QSignalSpy stopped(&server->server(), &Server::Server::stopped);
    // Connections lost in the same pass of the event loop as the shutdown (clients gone with
    // the network, then SIGTERM): their sockets are closed, their sessions not finished yet.
    // Nothing may be written to those sockets.
    server->server().dropConnections();
    server->server().shutdown(5s);
    QVERIFY(stopped.count() == 1 || stopped.wait(10000));
    QCOMPARE(server->server().connectionCount(), 0);
    server.reset();
    for (const auto *needle : {"QIODevice::write", "device not open"}) {
        const auto found = WarningRecorder::matching(QString::fromLatin1(needle));
        QVERIFY2(found.isEmpty(), qPrintable(found.join(u'\n')));
    }
}

// ---- WebSocket handshake -------------------------------------------------------------------------

void tst_Defects::webSocketHandshakeChecked_data()
{
    QTest::addColumn<QByteArray>("keyHeader");
    QTest::addColumn<QByteArray>("versionHeader");
    QTest::addColumn<int>("status");
    QByteArray nonce(16, Qt::Uninitialized);
    for (auto &c : nonce)
        c = char(QRandomGenerator::global()->bounded(256));
    const QByteArray validKey = "Sec-WebSocket-Key: " + nonce.toBase64() + "\r\n";
    const QByteArray version13 = "Sec-WebSocket-Version: 13\r\n";

    QTest::newRow("valid") << validKey << version13 << 101;
    QTest::newRow("key not base64") << "Sec-WebSocket-Key: !!!!not*base64!!!!!!!==\r\n"_ba << version13 << 400;
    QTest::newRow("key of 15 bytes") << "Sec-WebSocket-Key: " + QByteArray(15, 'k').toBase64() + "\r\n" << version13 << 400;
    QTest::newRow("key of 17 bytes") << "Sec-WebSocket-Key: " + QByteArray(17, 'k').toBase64() + "\r\n" << version13 << 400;
    QTest::newRow("key missing") << QByteArray() << version13 << 400;
    QTest::newRow("key empty") << "Sec-WebSocket-Key: \r\n"_ba << version13 << 400;
    QTest::newRow("version missing") << validKey << QByteArray() << 426;
    QTest::newRow("version 8") << validKey << "Sec-WebSocket-Version: 8\r\n"_ba << 426;
    QTest::newRow("version 14") << validKey << "Sec-WebSocket-Version: 14\r\n"_ba << 426;
}

void tst_Defects::webSocketHandshakeChecked()
{
    QFETCH(QByteArray, keyHeader);
    QFETCH(QByteArray, versionHeader);
    QFETCH(int, status);
    TestServer server;
    QVERIFY(server.start());
    RawHttp http;
    QVERIFY(http.open(server.port()));
    http.send(getRequest("/", "Upgrade: websocket\r\nConnection: Upgrade\r\n" + keyHeader + versionHeader));
    const auto answer = http.read();
    QVERIFY(answer);
    QCOMPARE(answer->status, status);

    if (status == 101) {
        // RFC 6455 §4.2.2: the accept value proves the server read this key.
        const auto key = keyHeader.mid(keyHeader.indexOf(':') + 1).trimmed();
        const auto accept = QCryptographicHash::hash(QByteArray(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
                                                     QCryptographicHash::Sha1).toBase64();
        QCOMPARE(answer->headers.value("sec-websocket-accept"), accept);
        QTRY_COMPARE(server.server().connectionCount(), 1);
        return;
    }
    if (status == 400)
        QCOMPARE(answer->errorCode(), u"INVALID_WEBSOCKET_KEY"_s);
    if (status == 426) {
        // RFC 6455 §4.4: say which version is spoken.
        QCOMPARE(answer->headers.value("sec-websocket-version"), "13"_ba);
        QVERIFY2(!answer->errorCode().isEmpty(), answer->body.constData());
    }
    QVERIFY(http.waitForDisconnected());
    QCOMPARE(server.server().connectionCount(), 0);
}

// ---- Bare-LF request heads -----------------------------------------------------------------------

void tst_Defects::bareLineFeedHeadAnsweredAtOnce_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<QString>("expectedStatusField");
    const QByteArray broadcast = R"({"topic":"room:lf","event":"e","payload":{}})";
    QTest::newRow("GET, all LF") << "GET /health HTTP/1.1\nHost: x\n\n"_ba << u"healthy"_s;
    QTest::newRow("GET, CRLF lines, LF end") << "GET /health HTTP/1.1\r\nHost: x\r\n\n"_ba << u"healthy"_s;
    QTest::newRow("GET, LF lines, CRLF end") << "GET /health HTTP/1.1\nHost: x\n\r\n"_ba << u"healthy"_s;
    QTest::newRow("POST, all LF") << "POST /api/broadcast HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: "
                                         + QByteArray::number(broadcast.size()) + "\n\n" + broadcast
                                  << u"ok"_s;
}

void tst_Defects::bareLineFeedHeadAnsweredAtOnce()
{
    QFETCH(QByteArray, request);
    QFETCH(QString, expectedStatusField);
    auto config = TestServer::defaultConfig();
    // A server that missed the end of the head would answer 408 only after this.
    config.limits.requestHeadTimeout = 30s;
    TestServer server(config);
    QVERIFY(server.start());
    RawHttp http;
    QVERIFY(http.open(server.port()));
    http.send(request);
    const auto answer = http.read(5000);
    QVERIFY2(answer, "no answer within 5 s: the end of the head was not seen");
    QCOMPARE(answer->status, 200);
    QCOMPARE(answer->json().value("status"_L1).toString(), expectedStatusField);
    // The connection goes on: the next request is read from the right place.
    http.send(getRequest("/"));
    const auto next = http.read(5000);
    QVERIFY(next);
    QCOMPARE(next->status, 200);
    QCOMPARE(next->json().value("status"_L1).toString(), u"ok"_s);
}

// ---- HTTP/1.0 ------------------------------------------------------------------------------------

void tst_Defects::http10ConnectionClosedAfterAnswer()
{
    auto config = TestServer::defaultConfig();
    config.limits.httpIdleTimeout = 60s; // a close within the test's wait is the answer's doing
    TestServer server(config);
    QVERIFY(server.start());
    RawHttp http;
    QVERIFY(http.open(server.port()));
    http.send("GET /health HTTP/1.0\r\n\r\n");
    const auto answer = http.read();
    QVERIFY(answer);
    QCOMPARE(answer->status, 200);
    QCOMPARE(answer->json().value("status"_L1).toString(), u"healthy"_s);
    QCOMPARE(answer->headers.value("connection").toLower(), "close"_ba);
    QVERIFY(http.waitForDisconnected());
    QVERIFY(http.pending().isEmpty());
}

// ---- Control characters in topics ---------------------------------------------------------------

void tst_Defects::controlCharacterTopicsRefused_data()
{
    QTest::addColumn<QString>("topic");
    QTest::newRow("NUL") << u"room:a"_s + QChar(0) + u"b"_s;
    QTest::newRow("SOH") << u"room:\u0001"_s;
    QTest::newRow("LF") << u"room:a\nINFO forged log line"_s;
    QTest::newRow("CR") << u"room:a\rb"_s;
    QTest::newRow("TAB") << u"room:a\tb"_s;
    QTest::newRow("ESC (terminal escape)") << u"room:\u001b[31mred\u001b[0m"_s;
    QTest::newRow("DEL") << u"room:a\u007fb"_s;
    QTest::newRow("C1 CSI") << u"room:\u009b2J"_s;
    QTest::newRow("C1 NEL") << u"room:a\u0085b"_s;
}

void tst_Defects::controlCharacterTopicsRefused()
{
    QFETCH(QString, topic);
    TestServer server;
    QVERIFY(server.start());
    const auto port = server.port();

    // Join over a WebSocket: QJsonDocument writes the control characters as \u escapes (C1 and
    // DEL as UTF-8), so the frame is valid JSON and only the topic is wrong.
    auto alice = chatClient(server, u"alice"_s);
    QVERIFY(alice);
    const auto ref = alice->push(topic, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{}}}}});
    // The topic is unusable, so the answer comes on $system, with the ref.
    const auto joined = alice->waitForReply(ref, u"$system"_s);
    QVERIFY(joined);
    QCOMPARE(joined->value("status"_L1).toString(), u"error"_s);
    QCOMPARE(errorCodeOf(joined), u"INVALID_TOPIC"_s);

    auto expectInvalidTopic = [](const char *what, const std::optional<RawHttp::Response> &answer) {
        QVERIFY2(answer, what);
        const QByteArray said = what + ": "_ba + answer->body;
        QVERIFY2(answer->status == 400, said.constData());
        QVERIFY2(answer->errorCode() == "INVALID_TOPIC"_L1, said.constData());
    };
    const QByteArray user = QJsonDocument(QJsonObject{{u"id"_s, u"alice"_s}}).toJson(QJsonDocument::Compact);
    expectInvalidTopic("POST /messages",
                       exchange(port, postRequest("/messages", compact({{u"channel"_s, topic}, {u"client_id"_s, u"t-1"_s},
                                                                        {u"body"_s, u"hi"_s},
                                                                        {u"user"_s, QJsonObject{{u"id"_s, u"alice"_s}}}}))));
    if (QTest::currentTestFailed())
        return;
    expectInvalidTopic("GET /channels/<c>/messages",
                       exchange(port, getRequest("/channels/" + encoded(topic) + "/messages?user=alice")));
    if (QTest::currentTestFailed())
        return;
    expectInvalidTopic("GET /presence/<c>", exchange(port, getRequest("/presence/" + encoded(topic) + "?user=alice")));
    if (QTest::currentTestFailed())
        return;
    expectInvalidTopic("POST /presence/<c>",
                       exchange(port, postRequest("/presence/" + encoded(topic), R"({"meta":{},"user":)" + user + "}")));
    if (QTest::currentTestFailed())
        return;
    expectInvalidTopic("POST /api/broadcast",
                       exchange(port, postRequest("/api/broadcast", compact({{u"topic"_s, topic}, {u"event"_s, u"e"_s},
                                                                             {u"payload"_s, QJsonObject{}}}))));
    if (QTest::currentTestFailed())
        return;
    // Percent-encoded the other way round too: %00 and %1B written by hand.
    if (topic.contains(QChar(0)) || topic.contains(QChar(0x1b))) {
        QByteArray handEncoded = topic.toUtf8();
        handEncoded.replace('\0', "%00").replace('\x1b', "%1B").replace(':', "%3A");
        expectInvalidTopic("GET /channels/<%-encoded>/messages",
                           exchange(port, getRequest("/channels/" + handEncoded + "/messages?user=alice")));
        if (QTest::currentTestFailed())
            return;
    }

    // Nothing was created: the operator (open mode, no admin token) sees no channel at all.
    const auto channels = exchange(port, getRequest("/api/channels"));
    QVERIFY(channels);
    QCOMPARE(channels->status, 200);
    QCOMPARE(channels->json().value("channels"_L1).toArray(), QJsonArray());
    QCOMPARE(server.server().connectionCount(), 1); // alice was answered, not cut off
    QVERIFY(alice->sync());
}

// ---- Payload bytes ------------------------------------------------------------------------------

void tst_Defects::payloadBytesRelayedUnchanged_data()
{
    QTest::addColumn<QByteArray>("payload");
    // Re-serializing would sort the keys, write 1.0 as 1, 1e3 as 1000, lose digits of the big
    // integer and turn the escapes into raw characters.
    QTest::newRow("compact") << R"({"user":"A","isTyping":true,"n":1.0,"big":12345678901234567890,"e":1e3,"s":"\u00e9\n"})"_ba;
    QTest::newRow("odd spaces")
        << R"({ "user" :"A" ,"isTyping":  true,"n" : 1.0 , "big":12345678901234567890 ,"e":1e3,"s" : "\u00e9\n" })"_ba;
    QTest::newRow("tabs and newlines")
        << "{\n\t\"user\":\"A\",\r\n\t\"isTyping\":true,\"n\":1.0,\"big\":12345678901234567890,\"e\":1e3,\"s\":\"\\u00e9\\n\"\n}"_ba;
}

void tst_Defects::payloadBytesRelayedUnchanged()
{
    QFETCH(QByteArray, payload);
    TestServer server;
    QVERIFY(server.start());
    const auto topic = u"room:bytes"_s;
    RawClient sender;
    RawClient receiver;
    QVERIFY(sender.open(server.webSocketUrl()));
    QVERIFY(receiver.open(server.webSocketUrl()));
    QVERIFY(isOk(sender.join(topic)));
    QVERIFY(isOk(receiver.join(topic)));
    // The raw text of every frame, as it came off the wire.
    QSignalSpy frames(&receiver.socket(), &QWebSocket::textMessageReceived);

    auto nextBroadcast = [&]() -> QByteArray {
        QByteArray found;
        (void)QTest::qWaitFor([&] {
            while (!frames.isEmpty()) {
                const auto text = frames.takeFirst().at(0).toString().toUtf8();
                if (text.contains(R"("broadcast")") && text.contains(R"("typing")")) {
                    found = text;
                    return true;
                }
            }
            return false;
        });
        return found;
    };
    auto check = [&](const QByteArray &frame) {
        QVERIFY2(!frame.isEmpty(), "no broadcast arrived");
        QVERIFY2(frame.contains(payload), frame.constData());
        const auto parsed = QJsonDocument::fromJson(frame).array();
        QCOMPARE(parsed.at(2).toString(), topic);
        QCOMPARE(parsed.at(3).toString(), u"broadcast"_s);
        QCOMPARE(parsed.at(4).toObject().value("event"_L1).toString(), u"typing"_s);
    };

    // Over a WebSocket, written by hand so the bytes are exactly these.
    sender.sendText(QString::fromUtf8(R"([null,"9","room:bytes","broadcast",{"type":"broadcast","event":"typing","payload":)"
                                      + payload + "}]"));
    check(nextBroadcast());
    if (QTest::currentTestFailed())
        return;

    // Over POST /api/broadcast.
    const auto answer = exchange(server.port(), postRequest("/api/broadcast",
                                                            R"({"topic":"room:bytes","event":"typing","payload":)" + payload + "}"));
    QVERIFY(answer);
    QCOMPARE(answer->status, 200);
    QCOMPARE(answer->json().value("recipientCount"_L1).toInt(), 2);
    check(nextBroadcast());
}

// ---- The ref in errors ---------------------------------------------------------------------------

void tst_Defects::errorsCarryTheRef_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::newRow("topic a number") << R"([null,"7",12345,"chan:join",{}])"_ba;
    QTest::newRow("topic null") << R"([null,"7",null,"chan:join",{}])"_ba;
    QTest::newRow("topic empty") << R"([null,"7","","chan:join",{}])"_ba;
    QTest::newRow("topic an array") << R"([null,"7",["room:a"],"chan:join",{}])"_ba;
    QTest::newRow("topic with NUL") << R"([null,"7","room:\u0000","chan:join",{}])"_ba;
    QTest::newRow("topic too long") << R"([null,"7",")" + QByteArray(256, 't') + R"(","chan:join",{}])";
    QTest::newRow("topic with a lone surrogate") << R"([null,"7","room:\ud800","chan:join",{}])"_ba;
}

void tst_Defects::errorsCarryTheRef()
{
    QFETCH(QByteArray, frame);
    TestServer server;
    QVERIFY(server.start());
    RawClient client;
    QVERIFY(client.open(server.webSocketUrl()));
    client.sendText(QString::fromUtf8(frame));

    // [null,"7","$system","chan:reply",{"status":"error","response":{"code":"INVALID_TOPIC",…}}]
    const auto reply = client.waitFor(RawClient::isReplyTo(u"7"_s));
    QVERIFY2(reply, "no reply with the request's ref");
    QCOMPARE(reply->at(0), QJsonValue(QJsonValue::Null));
    QCOMPARE(reply->at(1).toString(), u"7"_s);
    QCOMPARE(reply->at(2).toString(), u"$system"_s);
    QCOMPARE(reply->at(3).toString(), u"chan:reply"_s);
    const auto payload = reply->at(4).toObject();
    QCOMPARE(payload.value("status"_L1).toString(), u"error"_s);
    QCOMPARE(payload.value("response"_L1).toObject().value("code"_L1).toString(), u"INVALID_TOPIC"_s);
    QVERIFY(!payload.value("response"_L1).toObject().value("reason"_L1).toString().isEmpty());
    // Answered once, as a reply: no ref-less chan:error besides it.
    QVERIFY(client.sync());
    QCOMPARE(client.count(RawClient::isEvent(u"$system"_s, u"chan:error"_s)), 0);
    QCOMPARE(client.count(RawClient::isReplyTo(u"7"_s)), 0);
}

void tst_Defects::clientLibraryGetsTheRefusalAtOnce()
{
    TestServer server;
    QVERIFY(server.start());
    Confab::Client client;
    client.setUrl(server.webSocketUrl());
    client.setUser(u"alice"_s);
    // Far beyond the wait below: a reply that only times out fails this test.
    client.setRequestTimeout(60000);
    client.connectToServer();
    QTRY_VERIFY(client.isConnected());
    // A request that succeeds first: the hello is answered and requests go out.
    auto *ready = client.refreshUnread();
    ready->setAutoDelete(false);
    QSignalSpy readyDone(ready, &Confab::Reply::finished);
    QVERIFY(readyDone.wait(5000));
    QVERIFY2(ready->isOk(), qPrintable(ready->errorCode()));
    delete ready;

    // The library sends the topic as given; the server refuses it and answers on $system with
    // the request's ref, which is all the library needs to finish the request.
    auto *reply = client.createPrivateChannel(u"private:\u001b[2Jteam"_s, {u"bob"_s});
    reply->setAutoDelete(false);
    QSignalSpy done(reply, &Confab::Reply::finished);
    QVERIFY2(done.wait(5000), "the refusal did not reach the request: it would time out");
    QCOMPARE(reply->status(), Confab::Reply::Status::Error);
    QCOMPARE(reply->errorCode(), u"INVALID_TOPIC"_s);
    delete reply;
}

QTEST_GUILESS_MAIN(tst_Defects)
#include "tst_defects.moc"
