// The chat HTTP fallback (docs/protocol.md "HTTP fallback"): POST /messages, GET history, long-poll,
// typing and presence over plain HTTP, against a real server in this process, with real WebSocket
// members on the same channels to prove what reaches them.
#include "engine/hub.h"
#include "auth/jwtverifier.h"
#include "ops/metrics.h"
#include "rawclient.h"
#include "server.h"
#include "testserver.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QUuid>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace Confab;
using Testing::RawClient;
using Testing::TestServer;
namespace Err = Protocol::Errors;

namespace {

const QByteArray Secret = "chathttp-test-secret-0123456789abcdef";
const QByteArray OtherSecret = "not-the-server-secret-0123456789abcdef";

//! One finished HTTP exchange.
struct HttpResult
{
    bool finished = false;
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QHash<QByteArray, QByteArray> headers; //!< names lower-cased

    [[nodiscard]] QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    [[nodiscard]] QJsonObject error() const { return json().value("error"_L1).toObject(); }
    [[nodiscard]] QString errorCode() const { return error().value("code"_L1).toString(); }
    [[nodiscard]] QJsonArray messages() const { return json().value("messages"_L1).toArray(); }
};

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

//! An open-mode identity for a JSON body: `{"id": id, "name": ID}`.
QJsonObject user(const QString &id)
{
    return {{u"id"_s, id}, {u"name"_s, id.toUpper()}};
}

//! A topic for a URL path segment or query value: everything but unreserved characters encoded.
QString encoded(const QString &topic)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(topic));
}

QList<qint64> seqsOf(const QJsonArray &messages)
{
    QList<qint64> out;
    for (const auto &m : messages)
        out.append(m.toObject().value("seq"_L1).toInteger());
    return out;
}

bool isOk(const std::optional<QJsonObject> &reply)
{
    return reply && reply->value("status"_L1).toString() == "ok"_L1;
}

QJsonObject payloadOf(const std::optional<RawClient::Frame> &frame)
{
    return frame ? frame->at(4).toObject() : QJsonObject();
}

Server::AuthConfig signer(const QByteArray &secret)
{
    Server::AuthConfig auth;
    auth.enabled = true;
    auth.secret = secret;
    return auth;
}

QByteArray mint(const QByteArray &secret, const QString &sub, const QString &name = {}, const QStringList &channels = {})
{
    Server::MintRequest request;
    request.user = sub;
    request.name = name;
    request.ttl = std::chrono::minutes(5);
    request.channels = channels;
    QString error;
    const auto token = Server::mintToken(signer(secret), request, &error);
    if (token.isEmpty())
        qWarning() << "mintToken failed:" << error;
    return token;
}

} // namespace

class tst_ChatHttp : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void postMessageIsStoredAndDeliveredOnce();
    void historyPaging();
    void historyTopicIsPercentDecodedOnce();
    void pollAnswersAtOnceWhenNewer();
    void pollWaitsForWebSocketMessage();
    void pollWaitsForHttpMessage();
    void pollTimesOutEmpty();
    void pollClientGoneIsForgotten();
    void typingReachesMembers();
    void typingExpiresWithoutStop();
    void presenceOverHttp();
    void privateChannelsAndDms();
    void jwtMode_data();
    void jwtMode();
    void jwtIdentityIsTheToken();
    void badInputStoresNothing_data();
    void badInputStoresNothing();
    void wrongMethod_data();
    void wrongMethod();

private:
    bool restart(const Server::ServerConfig &config);
    std::unique_ptr<QNetworkReply> start(const QByteArray &method, const QString &path, const QByteArray &body = {},
                                         const QByteArray &authorization = {});
    static HttpResult finish(QNetworkReply *reply, int timeoutMs = 10000);
    HttpResult request(const QByteArray &method, const QString &path, const QByteArray &body = {},
                       const QByteArray &authorization = {})
    {
        auto reply = start(method, path, body, authorization);
        return finish(reply.get());
    }
    HttpResult get(const QString &path, const QByteArray &authorization = {})
    {
        return request("GET", path, {}, authorization);
    }
    HttpResult post(const QString &path, const QJsonObject &body, const QByteArray &authorization = {})
    {
        return request("POST", path, compact(body), authorization);
    }
    HttpResult postMessage(const QString &topic, const QString &clientId, const QString &body,
                           const QString &userId = u"carol"_s)
    {
        return post(u"/messages"_s, {{u"channel"_s, topic}, {u"client_id"_s, clientId}, {u"body"_s, body}, {u"user"_s, user(userId)}});
    }
    //! GET /channels/:topic/messages; \a query without the leading '?'.
    HttpResult history(const QString &topic, const QString &query = {}, const QByteArray &authorization = {})
    {
        return get(u"/channels/%1/messages%2"_s.arg(encoded(topic), query.isEmpty() ? QString() : u"?"_s + query),
                   authorization);
    }
    //! Starts a long-poll and returns once the server is watching the channel for new messages.
    std::unique_ptr<QNetworkReply> startWaitingPoll(const QString &topic, qint64 since);
    [[nodiscard]] quint64 httpRequestCount() const
    {
        return quint64(m_server->server().metrics().toJson({}).value("httpRequests"_L1).toInteger());
    }
    //! A WebSocket client that said hello as \a userId and joined \a topic for chat.
    std::unique_ptr<RawClient> chatClient(const QString &userId, const QString &topic);

    std::unique_ptr<TestServer> m_server;
    QNetworkAccessManager m_nam;
};

void tst_ChatHttp::initTestCase()
{
    // The server's per-request debug events would bury the test's own output.
    QLoggingCategory::setFilterRules(u"confab.*.debug=false\nconfab.*.info=false"_s);
}

void tst_ChatHttp::init()
{
    auto config = TestServer::defaultConfig();
    // Long enough that an explicit stop is never raced by the expiry (tested on its own).
    config.chat.typingTimeout = std::chrono::seconds(30);
    QVERIFY(restart(config));
}

void tst_ChatHttp::cleanup()
{
    m_nam.clearConnectionCache();
    m_server.reset();
}

bool tst_ChatHttp::restart(const Server::ServerConfig &config)
{
    m_nam.clearConnectionCache();
    m_server.reset();
    m_server = std::make_unique<TestServer>(config);
    return m_server->start();
}

std::unique_ptr<QNetworkReply> tst_ChatHttp::start(const QByteArray &method, const QString &path,
                                                   const QByteArray &body, const QByteArray &authorization)
{
    // The path is given percent-encoded: build the URL from bytes so that QUrl keeps it as written.
    const QUrl url = QUrl::fromEncoded(m_server->httpUrl().toEncoded() + path.toUtf8(), QUrl::StrictMode);
    QNetworkRequest req(url);
    if (method != "GET")
        req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json"_ba);
    if (!authorization.isEmpty())
        req.setRawHeader("Authorization", authorization);
    return std::unique_ptr<QNetworkReply>(m_nam.sendCustomRequest(req, method, body));
}

HttpResult tst_ChatHttp::finish(QNetworkReply *reply, int timeoutMs)
{
    HttpResult result;
    if (!reply->isFinished()) {
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!finished.wait(timeoutMs))
            return result;
    }
    result.finished = true;
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    result.contentType = reply->rawHeader("Content-Type");
    for (const auto &pair : reply->rawHeaderPairs())
        result.headers.insert(pair.first.toLower(), pair.second);
    return result;
}

std::unique_ptr<QNetworkReply> tst_ChatHttp::startWaitingPoll(const QString &topic, qint64 since)
{
    const auto before = httpRequestCount();
    auto reply = start("GET", u"/poll?channel=%1&since=%2"_s.arg(encoded(topic), QString::number(since)));
    // Counted when the server takes the request; it then queues its history read at once.
    if (!QTest::qWaitFor([&] { return httpRequestCount() > before; }))
        return nullptr;
    // The store runs and answers operations in the order they were issued: once this later read
    // is answered, the poll has read its (empty) page and is watching.
    if (history(topic).status != 200)
        return nullptr;
    return reply;
}

std::unique_ptr<RawClient> tst_ChatHttp::chatClient(const QString &userId, const QString &topic)
{
    return RawClient::chatMember(m_server->webSocketUrl(), user(userId), topic);
}

// ---- POST /messages ---------------------------------------------------------------------------

void tst_ChatHttp::postMessageIsStoredAndDeliveredOnce()
{
    const auto topic = u"room:lobby"_s;
    auto alice = chatClient(u"alice"_s, topic);
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(alice && bob);

    const auto created = postMessage(topic, u"c-1"_s, u"hello from http, @bob"_s);
    QVERIFY(created.finished);
    QCOMPARE(created.status, 201);
    QVERIFY(created.contentType.startsWith("application/json"));
    const auto ack = created.json();
    QCOMPARE(ack.value("seq"_L1).toInteger(), 1);
    QCOMPARE(ack.value("client_id"_L1).toString(), u"c-1"_s);
    QVERIFY(!QUuid::fromString(ack.value("id"_L1).toString()).isNull());
    QVERIFY(QDateTime::fromString(ack.value("ts"_L1).toString(), Qt::ISODateWithMs).isValid());
    QVERIFY(!ack.contains("duplicate"_L1));

    // Every WebSocket member gets it (an HTTP sender has no socket to be skipped).
    for (auto *member : {alice.get(), bob.get()}) {
        const auto m = payloadOf(member->waitForEvent(topic, u"message"_s));
        QCOMPARE(m.value("id"_L1), ack.value("id"_L1));
        QCOMPARE(m.value("seq"_L1).toInteger(), 1);
        QCOMPARE(m.value("ts"_L1), ack.value("ts"_L1));
        QCOMPARE(m.value("client_id"_L1).toString(), u"c-1"_s);
        QCOMPARE(m.value("body"_L1).toString(), u"hello from http, @bob"_s);
        QCOMPARE(m.value("author"_L1).toObject(), user(u"carol"_s));
        QCOMPARE(m.value("mentions"_L1).toArray(), QJsonArray{u"bob"_s});
    }
    const auto mention = bob->waitForEvent(u"$system"_s, u"mention"_s);
    QVERIFY(mention);
    QCOMPARE(payloadOf(mention).value("channel"_L1).toString(), topic);
    QCOMPARE(payloadOf(mention).value("message"_L1).toObject().value("id"_L1), ack.value("id"_L1));

    // A retry with the same client_id (even with another body) is the same message, not a new one.
    for (const auto &body : {u"hello from http, @bob"_s, u"edited on retry"_s}) {
        const auto again = postMessage(topic, u"c-1"_s, body);
        QCOMPARE(again.status, 200);
        const auto dup = again.json();
        QCOMPARE(dup.value("duplicate"_L1).toBool(), true);
        QCOMPARE(dup.value("id"_L1), ack.value("id"_L1));
        QCOMPARE(dup.value("seq"_L1), ack.value("seq"_L1));
        QCOMPARE(dup.value("ts"_L1), ack.value("ts"_L1));
        QCOMPARE(dup.value("client_id"_L1).toString(), u"c-1"_s);
    }
    // Delivery happens in the same step as the answer: a heartbeat round trip after it is a barrier.
    QVERIFY(alice->sync() && bob->sync());
    QCOMPARE(alice->count(RawClient::isEvent(topic, u"message"_s)), 0);
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"message"_s)), 0);
    QCOMPARE(bob->count(RawClient::isEvent(u"$system"_s, u"mention"_s)), 0);

    auto page = history(topic);
    QCOMPARE(page.status, 200);
    QCOMPARE(page.messages().size(), 1);
    QCOMPARE(page.messages().at(0).toObject().value("body"_L1).toString(), u"hello from http, @bob"_s);

    // client_id is unique per author: another author's c-1 is a new message.
    const auto other = postMessage(topic, u"c-1"_s, u"dave's own c-1"_s, u"dave"_s);
    QCOMPARE(other.status, 201);
    QCOMPARE(other.json().value("seq"_L1).toInteger(), 2);
    QCOMPARE(payloadOf(bob->waitForEvent(topic, u"message"_s)).value("seq"_L1).toInteger(), 2);

    // A body of exactly the limit is accepted.
    const auto longest = postMessage(topic, u"c-max"_s, QString(8000, u'x'));
    QCOMPARE(longest.status, 201);
    QCOMPARE(longest.json().value("seq"_L1).toInteger(), 3);
    page = history(topic);
    QCOMPARE(seqsOf(page.messages()), (QList<qint64>{1, 2, 3}));
    QCOMPARE(page.json().value("last_seq"_L1).toInteger(), 3);
}

// ---- GET /channels/:channel/messages -----------------------------------------------------------

void tst_ChatHttp::historyPaging()
{
    // A topic with a '/', which has to be percent-encoded in the path.
    const auto topic = u"room:a/b"_s;
    for (int i = 1; i <= 7; ++i)
        QCOMPARE(postMessage(topic, u"p%1"_s.arg(i), u"m%1"_s.arg(i)).status, 201);
    QCOMPARE(postMessage(u"room:a"_s, u"elsewhere"_s, u"not in room:a/b"_s).status, 201);

    auto page = [this](const QString &query) {
        const auto r = get(u"/channels/room:a%2Fb/messages"_s + (query.isEmpty() ? QString() : u"?"_s + query));
        if (r.status != 200)
            qWarning() << "history" << query << r.status << r.body;
        return r.json();
    };
    auto seqs = [](const QJsonObject &r) { return seqsOf(r.value("messages"_L1).toArray()); };

    const auto all = page({});
    QCOMPARE(seqs(all), (QList<qint64>{1, 2, 3, 4, 5, 6, 7}));
    QCOMPARE(all.value("has_more"_L1).toBool(), false);
    QCOMPARE(all.value("last_seq"_L1).toInteger(), 7);
    const auto first = all.value("messages"_L1).toArray().at(0).toObject();
    QCOMPARE(first.value("body"_L1).toString(), u"m1"_s);
    QCOMPARE(first.value("client_id"_L1).toString(), u"p1"_s);
    QCOMPARE(first.value("author"_L1).toObject(), user(u"carol"_s));

    // The newest `limit` before `before` (or the latest), ascending.
    const auto latest = page(u"limit=3"_s);
    QCOMPARE(seqs(latest), (QList<qint64>{5, 6, 7}));
    QCOMPARE(latest.value("has_more"_L1).toBool(), true);
    QCOMPARE(latest.value("last_seq"_L1).toInteger(), 7);
    const auto older = page(u"before=5&limit=3"_s);
    QCOMPARE(seqs(older), (QList<qint64>{2, 3, 4}));
    QCOMPARE(older.value("has_more"_L1).toBool(), true);
    QCOMPARE(older.value("last_seq"_L1).toInteger(), 7);
    const auto oldest = page(u"before=2&limit=3"_s);
    QCOMPARE(seqs(oldest), QList<qint64>{1});
    QCOMPARE(oldest.value("has_more"_L1).toBool(), false);
    const auto exact = page(u"before=4&limit=3"_s); // exactly the rest: nothing more
    QCOMPARE(seqs(exact), (QList<qint64>{1, 2, 3}));
    QCOMPARE(exact.value("has_more"_L1).toBool(), false);
    QCOMPARE(seqs(page(u"before=1"_s)), QList<qint64>{});

    // The oldest `limit` after `after`.
    const auto after = page(u"after=4&limit=2"_s);
    QCOMPARE(seqs(after), (QList<qint64>{5, 6}));
    QCOMPARE(after.value("has_more"_L1).toBool(), true);
    const auto tail = page(u"after=5&limit=2"_s);
    QCOMPARE(seqs(tail), (QList<qint64>{6, 7}));
    QCOMPARE(tail.value("has_more"_L1).toBool(), false);
    const auto end = page(u"after=7"_s);
    QCOMPARE(seqs(end), QList<qint64>{});
    QCOMPARE(end.value("has_more"_L1).toBool(), false);
    QCOMPARE(end.value("last_seq"_L1).toInteger(), 7);
    QCOMPARE(seqs(page(u"after=0&limit=100"_s)).size(), 7);
    QCOMPARE(seqs(page(u"limit=1"_s)), QList<qint64>{7});

    // The same channel with the ':' encoded too; and the other channel is separate.
    QCOMPARE(seqs(history(topic, u"limit=2"_s).json()), (QList<qint64>{6, 7}));
    const auto a = get(u"/channels/room%3Aa/messages"_s);
    QCOMPARE(a.status, 200);
    QCOMPARE(a.messages().size(), 1);
    QCOMPARE(a.json().value("last_seq"_L1).toInteger(), 1);

    // A channel nobody wrote to is empty, not an error.
    const auto empty = get(u"/channels/room%3Alobby/messages"_s);
    QCOMPARE(empty.status, 200);
    QCOMPARE(empty.messages(), QJsonArray());
    QCOMPARE(empty.json().value("has_more"_L1).toBool(), false);
    QCOMPARE(empty.json().value("last_seq"_L1).toInteger(), 0);
}

void tst_ChatHttp::historyTopicIsPercentDecodedOnce()
{
    // "%252F" is "%2F" after one decoding: a topic of its own, not room:a/b.
    QCOMPARE(postMessage(u"room:a/b"_s, u"x1"_s, u"slash"_s).status, 201);
    QCOMPARE(postMessage(u"room:a%2Fb"_s, u"x2"_s, u"literal"_s).status, 201);
    QCOMPARE(postMessage(u"room:a%2Fb"_s, u"x3"_s, u"literal again"_s).status, 201);
    const auto slash = get(u"/channels/room:a%2Fb/messages"_s);
    QCOMPARE(slash.messages().size(), 1);
    QCOMPARE(slash.messages().at(0).toObject().value("body"_L1).toString(), u"slash"_s);
    const auto literal = get(u"/channels/room:a%252Fb/messages"_s);
    QCOMPARE(literal.messages().size(), 2);
    QCOMPARE(literal.messages().at(0).toObject().value("body"_L1).toString(), u"literal"_s);
}

// ---- GET /poll --------------------------------------------------------------------------------

void tst_ChatHttp::pollAnswersAtOnceWhenNewer()
{
    const auto topic = u"room:poll"_s;
    for (int i = 1; i <= 3; ++i)
        QCOMPARE(postMessage(topic, u"q%1"_s.arg(i), u"m%1"_s.arg(i)).status, 201);

    // The server's wait is 25 s and finish() waits 10 s: an answer means it did not wait.
    auto r = get(u"/poll?channel=room%3Apoll&since=1"_s);
    QVERIFY(r.finished);
    QCOMPARE(r.status, 200);
    QCOMPARE(seqsOf(r.messages()), (QList<qint64>{2, 3}));
    QCOMPARE(r.json().value("last_seq"_L1).toInteger(), 3);
    QCOMPARE(r.messages().at(0).toObject().value("body"_L1).toString(), u"m2"_s);
    r = get(u"/poll?channel=room%3Apoll&since=0"_s);
    QCOMPARE(seqsOf(r.messages()), (QList<qint64>{1, 2, 3}));

    // At most 100 in one answer; the client polls again from last_seq.
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);
    QStringList refs;
    for (int i = 4; i <= 105; ++i)
        refs.append(alice->push(topic, u"message:send"_s, {{u"client_id"_s, u"w%1"_s.arg(i)}, {u"body"_s, u"bulk %1"_s.arg(i)}}));
    for (const auto &ref : std::as_const(refs))
        QVERIFY(isOk(alice->waitForReply(ref, topic)));
    r = get(u"/poll?channel=room%3Apoll&since=0"_s);
    QCOMPARE(r.messages().size(), 100);
    QCOMPARE(seqsOf(r.messages()).first(), 1);
    QCOMPARE(r.json().value("last_seq"_L1).toInteger(), 100);
    r = get(u"/poll?channel=room%3Apoll&since=100"_s);
    QCOMPARE(seqsOf(r.messages()), (QList<qint64>{101, 102, 103, 104, 105}));
    QCOMPARE(r.json().value("last_seq"_L1).toInteger(), 105);
}

void tst_ChatHttp::pollWaitsForWebSocketMessage()
{
    const auto topic = u"room:wait-ws"_s;
    QCOMPARE(postMessage(topic, u"old"_s, u"already there"_s).status, 201);
    auto alice = chatClient(u"alice"_s, topic);
    QVERIFY(alice);

    auto first = startWaitingPoll(topic, 1);
    auto second = startWaitingPoll(topic, 1);
    QVERIFY(first && second);
    QVERIFY(!first->isFinished());
    QVERIFY(!second->isFinished());

    const auto ref = alice->push(topic, u"message:send"_s, {{u"client_id"_s, u"ws-1"_s}, {u"body"_s, u"wake up"_s}});
    const auto ack = alice->waitForReply(ref, topic);
    QVERIFY(isOk(ack));
    const auto id = ack->value("response"_L1).toObject().value("id"_L1);

    // Every waiting poll answers, with the message that woke it.
    for (auto *reply : {first.get(), second.get()}) {
        const auto r = finish(reply);
        QVERIFY(r.finished);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.messages().size(), 1);
        const auto m = r.messages().at(0).toObject();
        QCOMPARE(m.value("id"_L1), id);
        QCOMPARE(m.value("seq"_L1).toInteger(), 2);
        QCOMPARE(m.value("body"_L1).toString(), u"wake up"_s);
        QCOMPARE(m.value("author"_L1).toObject(), user(u"alice"_s));
        QCOMPARE(r.json().value("last_seq"_L1).toInteger(), 2);
    }
}

void tst_ChatHttp::pollWaitsForHttpMessage()
{
    const auto topic = u"room:wait/http"_s;
    auto poll = startWaitingPoll(topic, 0);
    QVERIFY(poll);
    QVERIFY(!poll->isFinished());
    // A message elsewhere does not answer it.
    QCOMPARE(postMessage(u"room:wait"_s, u"other"_s, u"another channel"_s).status, 201);

    const auto created = postMessage(topic, u"h-1"_s, u"over http"_s);
    QCOMPARE(created.status, 201);
    const auto r = finish(poll.get());
    QVERIFY(r.finished);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.messages().size(), 1);
    QCOMPARE(r.messages().at(0).toObject().value("id"_L1), created.json().value("id"_L1));
    QCOMPARE(r.messages().at(0).toObject().value("body"_L1).toString(), u"over http"_s);
    QCOMPARE(r.json().value("last_seq"_L1).toInteger(), 1);

    // A duplicate is not news: a poll from there keeps waiting, until its own timeout.
    const auto before = httpRequestCount();
    auto next = start("GET", u"/poll?channel=%1&since=1&timeout=1000"_s.arg(encoded(topic)));
    QVERIFY(QTest::qWaitFor([&] { return httpRequestCount() > before; }));
    QCOMPARE(history(topic).status, 200); // store barrier, see startWaitingPoll()
    QCOMPARE(postMessage(topic, u"h-1"_s, u"over http"_s).status, 200);
    const auto quiet = finish(next.get());
    QCOMPARE(quiet.status, 200);
    QCOMPARE(quiet.messages(), QJsonArray());
    QCOMPARE(quiet.json().value("last_seq"_L1).toInteger(), 1);
}

void tst_ChatHttp::pollTimesOutEmpty()
{
    auto config = TestServer::defaultConfig();
    config.chat.longPollTimeout = std::chrono::milliseconds(400);
    QVERIFY(restart(config));
    const auto topic = u"room:quiet"_s;
    QCOMPARE(postMessage(topic, u"t1"_s, u"one"_s).status, 201);
    QCOMPARE(postMessage(topic, u"t2"_s, u"two"_s).status, 201);

    // A short timeout of its own.
    auto r = get(u"/poll?channel=room%3Aquiet&since=2&timeout=100"_s);
    QVERIFY(r.finished);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json(), QJsonObject({{u"messages"_s, QJsonArray()}, {u"last_seq"_s, 2}}));
    // No timeout: the server's. A longer one than the server's is cut to it (finish() waits 10 s).
    for (const auto &query : {u""_s, u"&timeout=600000"_s}) {
        r = get(u"/poll?channel=room%3Aquiet&since=2"_s + query);
        QVERIFY2(r.finished, qPrintable(query));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.messages(), QJsonArray());
        QCOMPARE(r.json().value("last_seq"_L1).toInteger(), 2);
    }
    // A channel nobody wrote to.
    r = get(u"/poll?channel=room%3Anobody&since=0&timeout=50"_s);
    QCOMPARE(r.json(), QJsonObject({{u"messages"_s, QJsonArray()}, {u"last_seq"_s, 0}}));

    // A message after a timed-out poll is still found by the next poll, at once.
    QCOMPARE(postMessage(topic, u"t3"_s, u"three"_s).status, 201);
    r = get(u"/poll?channel=room%3Aquiet&since=2&timeout=100000"_s);
    QCOMPARE(seqsOf(r.messages()), QList<qint64>{3});
}

void tst_ChatHttp::pollClientGoneIsForgotten()
{
    const auto topic = u"room:gone"_s;
    auto gone = startWaitingPoll(topic, 0);
    QVERIFY(gone);
    auto stays = startWaitingPoll(topic, 0);
    QVERIFY(stays);
    // The client hangs up while the server waits. The server sees the close long before it has
    // accepted, read and answered a new request, so the request that follows lets it drop the
    // hung-up poll first (the asserts below hold either way: nothing here can turn flaky).
    gone->abort();
    gone.reset();
    QCOMPARE(history(topic).status, 200);
    QCOMPARE(postMessage(topic, u"g1"_s, u"after a hang-up"_s).status, 201);
    const auto r = finish(stays.get());
    QCOMPARE(r.status, 200);
    QCOMPARE(seqsOf(r.messages()), QList<qint64>{1});
    // The server is fine, and a new poll waits and wakes as before.
    auto next = startWaitingPoll(topic, 1);
    QVERIFY(next);
    QCOMPARE(postMessage(topic, u"g2"_s, u"again"_s).status, 201);
    QCOMPARE(seqsOf(finish(next.get()).messages()), QList<qint64>{2});
}

// ---- POST /typing -----------------------------------------------------------------------------

void tst_ChatHttp::typingReachesMembers()
{
    const auto topic = u"room:typing"_s;
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(bob);
    auto typing = [&](bool on) {
        return post(u"/typing"_s, {{u"channel"_s, topic}, {u"typing"_s, on}, {u"user"_s, user(u"carol"_s)}});
    };

    auto r = typing(true);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json(), QJsonObject({{u"status"_s, u"ok"_s}}));
    auto t = payloadOf(bob->waitForEvent(topic, u"typing"_s));
    QCOMPARE(t.value("user"_L1).toObject(), user(u"carol"_s));
    QCOMPARE(t.value("typing"_L1).toBool(), true);
    QCOMPARE(m_server->server().hub().typingUsers(topic).size(), 1);

    // A renewal is not news; a late joiner learns who is typing.
    QCOMPARE(typing(true).status, 200);
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"typing"_s)), 0);
    auto dave = std::make_unique<RawClient>();
    QVERIFY(dave->open(m_server->webSocketUrl()));
    QVERIFY(isOk(dave->waitForReply(dave->push(u"$system"_s, u"hello"_s, {{u"user"_s, user(u"dave"_s)}}), u"$system"_s)));
    QVERIFY(isOk(dave->waitForReply(dave->push(topic, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{}}}}}), topic)));
    const auto state = payloadOf(dave->waitForEvent(topic, u"typing_state"_s));
    QCOMPARE(state.value("users"_L1).toArray(), QJsonArray{user(u"carol"_s)});

    r = typing(false);
    QCOMPARE(r.status, 200);
    for (auto *member : {bob.get(), dave.get()}) {
        t = payloadOf(member->waitForEvent(topic, u"typing"_s));
        QCOMPARE(t.value("user"_L1).toObject().value("id"_L1).toString(), u"carol"_s);
        QCOMPARE(t.value("typing"_L1).toBool(), false);
    }
    QVERIFY(m_server->server().hub().typingUsers(topic).isEmpty());
    // A stop when not typing is answered, and not news.
    QCOMPARE(typing(false).status, 200);
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"typing"_s)), 0);

    // Typing in a channel with no members keeps it only while it lasts.
    const auto solo = [&](bool on) {
        return post(u"/typing"_s, {{u"channel"_s, u"room:solo"_s}, {u"typing"_s, on}, {u"user"_s, user(u"carol"_s)}}).status;
    };
    QCOMPARE(solo(true), 200);
    QVERIFY(m_server->server().hub().hasChannel(u"room:solo"_s));
    QCOMPARE(solo(false), 200);
    QVERIFY(!m_server->server().hub().hasChannel(u"room:solo"_s));
}

void tst_ChatHttp::typingExpiresWithoutStop()
{
    auto config = TestServer::defaultConfig();
    config.chat.typingTimeout = std::chrono::milliseconds(500);
    QVERIFY(restart(config));
    const auto topic = u"room:expiry"_s;
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(bob);
    QCOMPARE(post(u"/typing"_s, {{u"channel"_s, topic}, {u"typing"_s, true}, {u"user"_s, user(u"carol"_s)}}).status, 200);
    QCOMPARE(payloadOf(bob->waitForEvent(topic, u"typing"_s)).value("typing"_L1).toBool(), true);
    const auto stop = payloadOf(bob->waitForEvent(topic, u"typing"_s)); // the server's, on expiry
    QCOMPARE(stop.value("user"_L1).toObject().value("id"_L1).toString(), u"carol"_s);
    QCOMPARE(stop.value("typing"_L1).toBool(), false);
    QVERIFY(m_server->server().hub().typingUsers(topic).isEmpty());
}

// ---- GET/POST /presence/:channel ----------------------------------------------------------------

void tst_ChatHttp::presenceOverHttp()
{
    const auto topic = u"room:presence"_s;
    const auto path = u"/presence/room%3Apresence"_s;
    auto bob = chatClient(u"bob"_s, topic);
    QVERIFY(bob);
    auto presence = [&] {
        const auto r = get(path);
        if (r.status != 200 || r.json().value("channel"_L1).toString() != topic)
            qWarning() << "GET presence" << r.status << r.body;
        return r.json().value("presence"_L1).toObject();
    };
    QCOMPARE(presence(), QJsonObject());

    const QJsonObject away{{u"status"_s, u"away"_s}, {u"status_text"_s, u"lunch"_s}};
    auto r = post(path, {{u"user"_s, user(u"carol"_s)}, {u"meta"_s, away}});
    QCOMPARE(r.status, 200);
    const auto ref = r.json().value("presence_ref"_L1).toString();
    QVERIFY(!ref.isEmpty());
    QCOMPARE(r.json().value("key"_L1).toString(), u"carol"_s);
    QCOMPARE(r.json().value("expires_in_ms"_L1).toInteger(), 60000);

    auto diff = payloadOf(bob->waitForEvent(topic, u"presence_diff"_s));
    QCOMPARE(diff.value("joins"_L1).toObject(),
             QJsonObject({{u"carol"_s, QJsonArray{QJsonObject{{u"presence_ref"_s, ref}, {u"meta"_s, away}}}}}));
    QCOMPARE(diff.value("leaves"_L1).toObject(), QJsonObject());
    QCOMPARE(presence(), QJsonObject({{u"carol"_s, QJsonArray{QJsonObject{{u"presence_ref"_s, ref}, {u"meta"_s, away}}}}}));
    // A WebSocket client joining now sees it in its presence_state.
    RawClient late;
    QVERIFY(late.open(m_server->webSocketUrl()));
    QJsonObject state;
    QVERIFY(isOk(late.join(topic, {}, {}, &state)));
    QCOMPARE(state.value("carol"_L1).toArray().at(0).toObject().value("presence_ref"_L1).toString(), ref);

    // Posting again renews it: new meta, same entry.
    const QJsonObject online{{u"status"_s, u"online"_s}};
    r = post(path, {{u"user"_s, user(u"carol"_s)}, {u"meta"_s, online}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("presence_ref"_L1).toString(), ref);
    diff = payloadOf(bob->waitForEvent(topic, u"presence_diff"_s));
    QCOMPARE(diff.value("joins"_L1).toObject().value("carol"_L1).toArray(),
             QJsonArray{QJsonObject({{u"presence_ref"_s, ref}, {u"meta"_s, online}})});
    QCOMPARE(presence().value("carol"_L1).toArray().size(), 1);

    // Another key of the same HTTP user.
    r = post(path, {{u"user"_s, user(u"carol"_s)}, {u"key"_s, u"carol-phone"_s}, {u"meta"_s, QJsonObject()}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("key"_L1).toString(), u"carol-phone"_s);
    QVERIFY(bob->waitForEvent(topic, u"presence_diff"_s));
    QCOMPARE(presence().keys(), (QStringList{u"carol"_s, u"carol-phone"_s}));

    // leave:true removes all of it, and the members see it go.
    r = post(path, {{u"user"_s, user(u"carol"_s)}, {u"leave"_s, true}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("left"_L1).toBool(), true);
    diff = payloadOf(bob->waitForEvent(topic, u"presence_diff"_s));
    QCOMPARE(diff.value("joins"_L1).toObject(), QJsonObject());
    QCOMPARE(diff.value("leaves"_L1).toObject().keys(), (QStringList{u"carol"_s, u"carol-phone"_s}));
    QCOMPARE(diff.value("leaves"_L1).toObject().value("carol"_L1).toArray().at(0).toObject().value("presence_ref"_L1).toString(), ref);
    QCOMPARE(presence(), QJsonObject());
    r = post(path, {{u"user"_s, user(u"carol"_s)}, {u"leave"_s, true}});
    QCOMPARE(r.json().value("left"_L1).toBool(), false);

    // Invisible: kept, but shown to no one.
    r = post(path, {{u"user"_s, user(u"carol"_s)}, {u"meta"_s, QJsonObject{{u"status"_s, u"invisible"_s}}}});
    QCOMPARE(r.status, 200);
    QCOMPARE(presence(), QJsonObject());
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"presence_diff"_s)), 0);
    QCOMPARE(post(path, {{u"user"_s, user(u"carol"_s)}, {u"leave"_s, true}}).json().value("left"_L1).toBool(), true);
    QVERIFY(bob->sync());
    QCOMPARE(bob->count(RawClient::isEvent(topic, u"presence_diff"_s)), 0);

    // HTTP presence alone keeps a channel; leaving lets it go.
    QCOMPARE(post(u"/presence/room%3Ahttp-only"_s, {{u"user"_s, user(u"carol"_s)}, {u"meta"_s, QJsonObject()}}).status, 200);
    QVERIFY(m_server->server().hub().hasChannel(u"room:http-only"_s));
    QCOMPARE(get(u"/presence/room%3Ahttp-only"_s).json().value("presence"_L1).toObject().keys(), QStringList{u"carol"_s});
    QCOMPARE(post(u"/presence/room%3Ahttp-only"_s, {{u"user"_s, user(u"carol"_s)}, {u"leave"_s, true}}).status, 200);
    QVERIFY(!m_server->server().hub().hasChannel(u"room:http-only"_s));
}

// ---- Access -------------------------------------------------------------------------------------

void tst_ChatHttp::privateChannelsAndDms()
{
    const auto team = u"private:team"_s;
    auto alice = chatClient(u"alice"_s, QString());
    QVERIFY(alice);
    const auto ref = alice->push(team, u"channel:create"_s, {{u"members"_s, QJsonArray{u"bob"_s}}});
    QVERIFY(isOk(alice->waitForReply(ref, team)));
    QVERIFY(isOk(alice->waitForReply(alice->push(team, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{}}}}}), team)));
    QVERIFY(alice->waitForEvent(team, u"presence_state"_s) && alice->waitForEvent(team, u"typing_state"_s));

    const auto teamPath = encoded(team);
    struct Attempt
    {
        QByteArray method;
        QString path;
        QJsonObject body;
    };
    auto attempts = [&](const QString &who) {
        const QString q = u"user="_s + who;
        const QString clientId = u"x-"_s + who;
        return QList<Attempt>{
            Attempt{"POST"_ba, u"/messages"_s,
                    QJsonObject{{u"channel"_s, team}, {u"client_id"_s, clientId}, {u"body"_s, u"hi"_s}, {u"user"_s, user(who)}}},
            Attempt{"GET"_ba, u"/channels/%1/messages?%2"_s.arg(teamPath, q), QJsonObject()},
            Attempt{"GET"_ba, u"/poll?channel=%1&since=0&timeout=50&%2"_s.arg(teamPath, q), QJsonObject()},
            Attempt{"POST"_ba, u"/typing"_s, QJsonObject{{u"channel"_s, team}, {u"typing"_s, true}, {u"user"_s, user(who)}}},
            Attempt{"GET"_ba, u"/presence/%1?%2"_s.arg(teamPath, q), QJsonObject()},
            Attempt{"POST"_ba, u"/presence/%1"_s.arg(teamPath), QJsonObject{{u"meta"_s, QJsonObject()}, {u"user"_s, user(who)}}},
        };
    };
    // Not a member: refused on every route, and nothing reaches the members.
    for (const auto &a : attempts(u"mallory"_s)) {
        const auto r = request(a.method, a.path, a.method == "POST" ? compact(a.body) : QByteArray());
        QVERIFY2(r.status == 403, qPrintable(a.path + u' ' + QString::fromUtf8(r.body)));
        QCOMPARE(r.errorCode(), QString(Err::Forbidden));
        QVERIFY(!r.error().value("message"_L1).toString().isEmpty());
    }
    QVERIFY(alice->sync());
    QCOMPARE(alice->count([](const RawClient::Frame &f) { return f.at(2).toString() == "private:team"_L1; }), 0);
    QVERIFY(m_server->server().hub().typingUsers(team).isEmpty());
    // Who asks has to say so on a private channel.
    const auto anonymous = get(u"/channels/%1/messages"_s.arg(teamPath));
    QCOMPARE(anonymous.status, 400);
    QCOMPARE(anonymous.errorCode(), QString(Err::IdentityRequired));
    const auto history = [&] { return get(u"/channels/%1/messages?user=alice"_s.arg(teamPath)); };
    QCOMPARE(history().status, 200);
    QCOMPARE(history().messages(), QJsonArray());

    // A member may.
    for (const auto &a : attempts(u"bob"_s)) {
        const auto r = request(a.method, a.path, a.method == "POST" ? compact(a.body) : QByteArray());
        QVERIFY2(r.status == 200 || r.status == 201, qPrintable(a.path + u' ' + QString::fromUtf8(r.body)));
    }
    const auto message = payloadOf(alice->waitForEvent(team, u"message"_s));
    QCOMPARE(message.value("author"_L1).toObject(), user(u"bob"_s));
    QCOMPARE(history().messages().size(), 1);

    // DMs: only their two users; and the topic must be in order.
    const auto dm = u"dm:alice:bob"_s;
    auto r = postMessage(dm, u"d1"_s, u"psst"_s, u"mallory"_s);
    QCOMPARE(r.status, 403);
    QCOMPARE(r.errorCode(), QString(Err::Forbidden));
    QCOMPARE(get(u"/channels/dm%3Aalice%3Abob/messages?user=mallory"_s).status, 403);
    QCOMPARE(postMessage(dm, u"d1"_s, u"psst"_s, u"alice"_s).status, 201);
    const auto dmHistory = get(u"/channels/dm%3Aalice%3Abob/messages?user=bob"_s);
    QCOMPARE(dmHistory.status, 200);
    QCOMPARE(dmHistory.messages().size(), 1);
    r = postMessage(u"dm:bob:alice"_s, u"d2"_s, u"wrong order"_s, u"alice"_s);
    QCOMPARE(r.status, 400);
    QCOMPARE(r.errorCode(), QString(Err::InvalidTopic));
}

// ---- JWT mode -----------------------------------------------------------------------------------

void tst_ChatHttp::jwtMode_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QJsonObject>("body");
    QTest::addColumn<int>("okStatus");

    const auto topic = u"room:jwt"_s;
    QTest::newRow("POST /messages") << "POST"_ba << u"/messages"_s
                                    << QJsonObject{{u"channel"_s, topic}, {u"client_id"_s, u"j1"_s}, {u"body"_s, u"hi"_s}} << 201;
    QTest::newRow("GET history") << "GET"_ba << u"/channels/room%3Ajwt/messages"_s << QJsonObject() << 200;
    QTest::newRow("GET /poll") << "GET"_ba << u"/poll?channel=room%3Ajwt&since=0&timeout=50"_s << QJsonObject() << 200;
    QTest::newRow("POST /typing") << "POST"_ba << u"/typing"_s << QJsonObject{{u"channel"_s, topic}, {u"typing"_s, false}} << 200;
    QTest::newRow("GET presence") << "GET"_ba << u"/presence/room%3Ajwt"_s << QJsonObject() << 200;
    QTest::newRow("POST presence") << "POST"_ba << u"/presence/room%3Ajwt"_s << QJsonObject{{u"meta"_s, QJsonObject()}} << 200;
}

void tst_ChatHttp::jwtMode()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QJsonObject, body);
    QFETCH(int, okStatus);
    auto config = TestServer::defaultConfig();
    config.auth.enabled = true;
    config.auth.secret = Secret;
    QVERIFY(restart(config));
    const QByteArray payload = method == "POST" ? compact(body) : QByteArray();
    const QByteArray good = "Bearer " + mint(Secret, u"alice"_s);
    QVERIFY(good.size() > 20);

    struct Refusal
    {
        const char *what;
        QByteArray authorization;
        int status;
        QLatin1StringView code;
    };
    const QList<Refusal> refusals{
        {"no header", {}, 401, Err::AuthTokenRequired},
        {"not bearer", "Basic YWxpY2U6c2VjcmV0", 401, Err::AuthTokenRequired},
        {"empty bearer", "Bearer ", 401, Err::AuthTokenRequired},
        {"garbage", "Bearer garbage", 401, Err::AuthInvalidToken},
        {"other key", "Bearer " + mint(OtherSecret, u"alice"_s), 401, Err::AuthInvalidSignature},
        {"channels claim", "Bearer " + mint(Secret, u"alice"_s, {}, {u"room:allowed*"_s}), 403, Err::AuthChannelDenied},
    };
    for (const auto &refusal : refusals) {
        const auto r = request(method, path, payload, refusal.authorization);
        QVERIFY2(r.finished, refusal.what);
        QVERIFY2(r.status == refusal.status, qPrintable(u"%1: %2 %3"_s.arg(QLatin1StringView(refusal.what), QString::number(r.status), QString::fromUtf8(r.body))));
        QCOMPARE(r.errorCode(), QString(refusal.code));
        QVERIFY(!r.error().value("message"_L1).toString().isEmpty());
    }
    // Nothing was stored, tracked or started by the refusals.
    const auto empty = history(u"room:jwt"_s, {}, good);
    QCOMPARE(empty.status, 200);
    QCOMPARE(empty.messages(), QJsonArray());
    QCOMPARE(get(u"/presence/room%3Ajwt"_s, good).json().value("presence"_L1).toObject(), QJsonObject());
    QVERIFY(m_server->server().hub().typingUsers(u"room:jwt"_s).isEmpty());

    const auto ok = request(method, path, payload, good);
    QVERIFY2(ok.status == okStatus, ok.body.constData());
    // A token limited to other channels still works where it is allowed.
    if (method == "POST" && path == u"/messages") {
        const QByteArray limited = "Bearer " + mint(Secret, u"alice"_s, {}, {u"room:allowed*"_s});
        const auto allowed = post(path, {{u"channel"_s, u"room:allowed-1"_s}, {u"client_id"_s, u"j2"_s}, {u"body"_s, u"ok"_s}}, limited);
        QCOMPARE(allowed.status, 201);
    }
}

void tst_ChatHttp::jwtIdentityIsTheToken()
{
    auto config = TestServer::defaultConfig();
    config.auth.enabled = true;
    config.auth.secret = Secret;
    QVERIFY(restart(config));
    const QByteArray token = "Bearer " + mint(Secret, u"alice"_s, u"Alice A."_s);
    // A self-declared user is ignored in JWT mode.
    const QJsonObject impostor{{u"id"_s, u"mallory"_s}, {u"name"_s, u"Mallory"_s}};
    auto r = post(u"/messages"_s, {{u"channel"_s, u"room:who"_s}, {u"client_id"_s, u"w1"_s}, {u"body"_s, u"me"_s}, {u"user"_s, impostor}}, token);
    QCOMPARE(r.status, 201);
    const auto page = history(u"room:who"_s, {}, token);
    QCOMPARE(page.messages().size(), 1);
    QCOMPARE(page.messages().at(0).toObject().value("author"_L1).toObject(),
             QJsonObject({{u"id"_s, u"alice"_s}, {u"name"_s, u"Alice A."_s}}));
    // The same for presence (keyed by the token's user), and the query's user on GET.
    r = post(u"/presence/room%3Awho"_s, {{u"meta"_s, QJsonObject()}, {u"user"_s, impostor}}, token);
    QCOMPARE(r.json().value("key"_L1).toString(), u"alice"_s);
    r = get(u"/channels/dm%3Aalice%3Amallory/messages?user=mallory"_s, token);
    QCOMPARE(r.status, 200); // alice's own DM, whatever the query says
    r = get(u"/channels/dm%3Abob%3Amallory/messages?user=mallory"_s, token);
    QCOMPARE(r.status, 403);
    QCOMPARE(r.errorCode(), QString(Err::Forbidden));
}

// ---- Bad input ------------------------------------------------------------------------------------

void tst_ChatHttp::badInputStoresNothing_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");

    const auto topic = u"room:bad"_s;
    const QJsonObject who = user(u"carol"_s);
    // A valid body with \a fields set (over the defaults) and the keys in \a drop left out.
    auto edited = [](QJsonObject object, const QJsonObject &fields, const QStringList &drop) {
        for (auto it = fields.begin(); it != fields.end(); ++it)
            object.insert(it.key(), it.value());
        for (const auto &key : drop)
            object.remove(key);
        return compact(object);
    };
    auto message = [&](const QJsonObject &fields, const QStringList &drop = {}) {
        return edited({{u"channel"_s, topic}, {u"client_id"_s, u"c1"_s}, {u"body"_s, u"hi"_s}, {u"user"_s, who}}, fields, drop);
    };
    auto row = [](const char *name, const QByteArray &method, const QString &path, const QByteArray &body, int status,
                  QLatin1StringView code) { QTest::newRow(name) << method << path << body << status << QString(code); };
    const auto invalidBody = "INVALID_BODY"_L1;

    // POST /messages
    row("message: malformed JSON", "POST", u"/messages"_s, R"({"channel":"room:bad","client_id":"c1",)", 400, invalidBody);
    row("message: JSON array", "POST", u"/messages"_s, R"([{"channel":"room:bad"}])", 400, invalidBody);
    row("message: empty request body", "POST", u"/messages"_s, {}, 400, invalidBody);
    row("message: no channel", "POST", u"/messages"_s, message({}, {u"channel"_s}), 400, Err::InvalidTopic);
    row("message: channel not text", "POST", u"/messages"_s, message({{u"channel"_s, 7}}), 400, Err::InvalidTopic);
    row("message: empty channel", "POST", u"/messages"_s, message({{u"channel"_s, u""_s}}), 400, Err::InvalidTopic);
    row("message: $system", "POST", u"/messages"_s, message({{u"channel"_s, u"$system"_s}}), 400, Err::InvalidTopic);
    row("message: channel too long", "POST", u"/messages"_s, message({{u"channel"_s, QString(u"room:"_s + QString(251, u'x'))}}), 400,
        Err::InvalidTopic);
    row("message: DM out of order", "POST", u"/messages"_s, message({{u"channel"_s, u"dm:carol:bob"_s}}), 400, Err::InvalidTopic);
    row("message: unknown private channel", "POST", u"/messages"_s, message({{u"channel"_s, u"private:nope"_s}}), 404,
        Err::NotFound);
    row("message: no client_id", "POST", u"/messages"_s, message({}, {u"client_id"_s}), 400, Err::InvalidId);
    row("message: bad client_id", "POST", u"/messages"_s, message({{u"client_id"_s, u"a b"_s}}), 400, Err::InvalidId);
    row("message: client_id too long", "POST", u"/messages"_s, message({{u"client_id"_s, QString(65, u'c')}}), 400, Err::InvalidId);
    row("message: no body", "POST", u"/messages"_s, message({}, {u"body"_s}), 400, Err::InvalidPayload);
    row("message: blank body", "POST", u"/messages"_s, message({{u"body"_s, u"  \n"_s}}), 400, Err::InvalidPayload);
    row("message: body not text", "POST", u"/messages"_s, message({{u"body"_s, 5}}), 400, Err::InvalidPayload);
    row("message: body over the limit", "POST", u"/messages"_s, message({{u"body"_s, QString(8001, u'x')}}), 413,
        Err::MessageTooLarge);
    row("message: meta not an object", "POST", u"/messages"_s, message({{u"meta"_s, 1}}), 400, Err::InvalidPayload);
    row("message: no user", "POST", u"/messages"_s, message({}, {u"user"_s}), 400, Err::IdentityRequired);
    row("message: bad user id", "POST", u"/messages"_s, message({{u"user"_s, QJsonObject{{u"id"_s, u"bad id!"_s}}}}), 400,
        Err::InvalidPayload);

    // GET /channels/:channel/messages
    const auto h = u"/channels/room%3Abad/messages"_s;
    row("history: before not a number", "GET", h + u"?before=x"_s, {}, 400, Err::InvalidPayload);
    row("history: negative after", "GET", h + u"?after=-1"_s, {}, 400, Err::InvalidPayload);
    row("history: limit 0", "GET", h + u"?limit=0"_s, {}, 400, Err::InvalidPayload);
    row("history: limit 101", "GET", h + u"?limit=101"_s, {}, 400, Err::InvalidPayload);
    row("history: $system", "GET", u"/channels/%24system/messages"_s, {}, 400, Err::InvalidTopic);
    row("history: empty channel", "GET", u"/channels//messages"_s, {}, 400, Err::InvalidTopic);
    row("history: DM out of order", "GET", u"/channels/dm%3Acarol%3Abob/messages?user=bob"_s, {}, 400, Err::InvalidTopic);
    row("history: unknown private channel", "GET", u"/channels/private%3Anope/messages?user=carol"_s, {}, 404, Err::NotFound);
    row("history: private channel, nobody", "GET", u"/channels/private%3Anope/messages"_s, {}, 400, Err::IdentityRequired);

    // GET /poll
    row("poll: no since", "GET", u"/poll?channel=room%3Abad"_s, {}, 400, Err::InvalidPayload);
    row("poll: negative since", "GET", u"/poll?channel=room%3Abad&since=-1"_s, {}, 400, Err::InvalidPayload);
    row("poll: timeout 0", "GET", u"/poll?channel=room%3Abad&since=0&timeout=0"_s, {}, 400, Err::InvalidPayload);
    row("poll: timeout not a number", "GET", u"/poll?channel=room%3Abad&since=0&timeout=soon"_s, {}, 400, Err::InvalidPayload);
    row("poll: no channel", "GET", u"/poll?since=0&timeout=50"_s, {}, 400, Err::InvalidTopic);
    row("poll: unknown private channel", "GET", u"/poll?channel=private%3Anope&since=0&user=carol"_s, {}, 404, Err::NotFound);

    // POST /typing
    const auto typing = [&](const QJsonObject &fields, const QStringList &drop = {}) {
        return edited({{u"channel"_s, topic}, {u"typing"_s, true}, {u"user"_s, who}}, fields, drop);
    };
    row("typing: malformed JSON", "POST", u"/typing"_s, "{typing: true}", 400, invalidBody);
    row("typing: typing not a boolean", "POST", u"/typing"_s, typing({{u"typing"_s, u"yes"_s}}), 400, invalidBody);
    row("typing: no user", "POST", u"/typing"_s, typing({}, {u"user"_s}), 400, Err::IdentityRequired);
    row("typing: invalid channel", "POST", u"/typing"_s, typing({{u"channel"_s, u"dm:x"_s}}), 400, Err::InvalidTopic);
    row("typing: unknown private channel", "POST", u"/typing"_s, typing({{u"channel"_s, u"private:nope"_s}}), 404, Err::NotFound);

    // GET/POST /presence/:channel
    const auto p = u"/presence/room%3Abad"_s;
    row("presence: malformed JSON", "POST", p, "{\"meta\":", 400, invalidBody);
    row("presence: bad status", "POST", p, compact({{u"meta"_s, QJsonObject{{u"status"_s, u"asleep"_s}}}, {u"user"_s, who}}), 400,
        Err::InvalidPayload);
    row("presence: status_text too long", "POST", p,
        compact({{u"meta"_s, QJsonObject{{u"status_text"_s, QString(101, u't')}}}, {u"user"_s, who}}), 400, Err::InvalidPayload);
    row("presence: meta over the limit", "POST", p,
        compact({{u"meta"_s, QJsonObject{{u"blob"_s, QString(11 * 1024, u'b')}}}, {u"user"_s, who}}), 413, Err::PresenceTooLarge);
    row("presence: no user", "POST", p, compact({{u"meta"_s, QJsonObject()}}), 400, Err::IdentityRequired);
    row("presence: invalid channel", "POST", u"/presence/%24system"_s, compact({{u"meta"_s, QJsonObject()}, {u"user"_s, who}}),
        400, Err::InvalidTopic);
    row("presence: unknown private channel", "GET", u"/presence/private%3Anope?user=carol"_s, {}, 404, Err::NotFound);
}

void tst_ChatHttp::badInputStoresNothing()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, code);
    const auto topic = u"room:bad"_s;
    auto dave = chatClient(u"dave"_s, topic); // a member who must see nothing
    QVERIFY(dave);
    const auto &hub = m_server->server().hub();
    const auto channels = hub.channelCount();

    const auto r = request(method, path, body);
    QVERIFY(r.finished);
    QVERIFY2(r.status == status, qPrintable(u"%1 %2"_s.arg(QString::number(r.status), QString::fromUtf8(r.body))));
    QVERIFY(r.contentType.startsWith("application/json"));
    QCOMPARE(r.json().keys(), QStringList{u"error"_s});
    QCOMPARE(r.errorCode(), code);
    QVERIFY(r.error().value("message"_L1).isString());
    QVERIFY(!r.error().value("message"_L1).toString().isEmpty());

    // Nothing stored, delivered, tracked or started; no channel made for it.
    const auto page = history(topic);
    QCOMPARE(page.status, 200);
    QCOMPARE(page.messages(), QJsonArray());
    QCOMPARE(page.json().value("last_seq"_L1).toInteger(), 0);
    QCOMPARE(get(u"/presence/room%3Abad"_s).json().value("presence"_L1).toObject(), QJsonObject());
    QVERIFY(hub.typingUsers(topic).isEmpty());
    QCOMPARE(hub.channelCount(), channels);
    QVERIFY(dave->sync());
    QCOMPARE(dave->count([](const RawClient::Frame &f) {
        const auto event = f.at(3).toString();
        return event == "message"_L1 || event == "typing"_L1 || event == "presence_diff"_L1 || event == "mention"_L1;
    }), 0);
}

void tst_ChatHttp::wrongMethod_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("allow");

    QTest::newRow("GET /messages") << "GET"_ba << u"/messages"_s << "POST"_ba;
    QTest::newRow("PUT /messages") << "PUT"_ba << u"/messages"_s << "POST"_ba;
    QTest::newRow("POST history") << "POST"_ba << u"/channels/room%3Abad/messages"_s << "GET"_ba;
    QTest::newRow("DELETE history") << "DELETE"_ba << u"/channels/room%3Abad/messages"_s << "GET"_ba;
    QTest::newRow("POST /poll") << "POST"_ba << u"/poll?channel=room%3Abad&since=0"_s << "GET"_ba;
    QTest::newRow("GET /typing") << "GET"_ba << u"/typing"_s << "POST"_ba;
    QTest::newRow("DELETE presence") << "DELETE"_ba << u"/presence/room%3Abad"_s << "GET, POST"_ba;
    QTest::newRow("PATCH presence") << "PATCH"_ba << u"/presence/room%3Abad"_s << "GET, POST"_ba;
}

void tst_ChatHttp::wrongMethod()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, allow);
    // A body that would be fine on the right route.
    const auto body = method == "GET"
        ? QByteArray()
        : compact({{u"channel"_s, u"room:bad"_s}, {u"client_id"_s, u"c1"_s}, {u"body"_s, u"hi"_s}, {u"typing"_s, true},
                   {u"meta"_s, QJsonObject()}, {u"user"_s, user(u"carol"_s)}});
    const auto r = request(method, path, body);
    QVERIFY(r.finished);
    QCOMPARE(r.status, 405);
    QVERIFY(r.contentType.startsWith("application/json"));
    QCOMPARE(r.errorCode(), u"METHOD_NOT_ALLOWED"_s);
    QVERIFY(!r.error().value("message"_L1).toString().isEmpty());
    QCOMPARE(r.headers.value("allow"), allow);

    QCOMPARE(history(u"room:bad"_s).messages(), QJsonArray());
    QCOMPARE(get(u"/presence/room%3Abad"_s).json().value("presence"_L1).toObject(), QJsonObject());
    QVERIFY(m_server->server().hub().typingUsers(u"room:bad"_s).isEmpty());
}

QTEST_GUILESS_MAIN(tst_ChatHttp)
#include "tst_chathttp.moc"
