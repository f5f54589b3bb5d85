// Every REST route of the server (docs: PROTOCOLS.md §1.9–1.10), against a real server in this
// process, driven with QNetworkAccessManager.
#include "auth/jwtverifier.h"
#include "rawclient.h"
#include "server.h"
#include "testserver.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QRegularExpression>
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

namespace {

const QByteArray Secret = "rest-test-secret-0123456789abcdef-0123";
const QByteArray OtherSecret = "another-secret-entirely-0123456789abcdef";
const QByteArray AdminToken = "rest-test-admin-token-0123456789abcdef-0123";

//! One finished HTTP exchange.
struct HttpResult
{
    bool finished = false;
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QHash<QByteArray, QByteArray> headers; //!< names lower-cased

    [[nodiscard]] QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    [[nodiscard]] QString errorCode() const
    {
        return json().value("error"_L1).toObject().value("code"_L1).toString();
    }
};

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

//! The value of one sample line ("name{labels} value") of a Prometheus text exposition, or -1.
double sampleValue(const QByteArray &exposition, const QByteArray &series)
{
    for (const QByteArray &line : exposition.split('\n')) {
        if (line.startsWith(QByteArray(series + ' ')))
            return line.mid(series.size() + 1).toDouble();
    }
    return -1;
}

} // namespace

class tst_Rest : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void rootAndHealth();
    void channelList();
    void channelDetail();
    void channelDetailEncodedSlash();
    void channelDetailUnknownTopic();
    void broadcastReachesEveryMember();
    void broadcastErrors_data();
    void broadcastErrors();
    void broadcastLargerThanMessageLimit();
    void wrongMethod_data();
    void wrongMethod();
    void unknownPath();
    void metrics();
    void stats();
    void authOpenRoutes_data();
    void authOpenRoutes();
    void authSecuredRoutes_data();
    void authSecuredRoutes();

private:
    bool startServer(Server::ServerConfig config = TestServer::defaultConfig());
    HttpResult request(const QByteArray &method, const QString &path, const QByteArray &body = {},
                       const QByteArray &authorization = {});
    HttpResult get(const QString &path, const QByteArray &authorization = {})
    {
        return request("GET", path, {}, authorization);
    }
    HttpResult post(const QString &path, const QByteArray &body, const QByteArray &authorization = {})
    {
        return request("POST", path, body, authorization);
    }
    std::unique_ptr<RawClient> joinedClient(const QString &topic, const QJsonObject &config = {});

    std::unique_ptr<TestServer> m_server;
    QStringList m_clientIds; //!< in the order the server opened the sessions
    QNetworkAccessManager m_nam;
};

bool tst_Rest::startServer(Server::ServerConfig config)
{
    m_server = std::make_unique<TestServer>(std::move(config));
    m_clientIds.clear();
    connect(&m_server->server(), &Server::Server::sessionOpened, this,
            [this](const QString &id) { m_clientIds.append(id); });
    return m_server->start();
}

void tst_Rest::initTestCase()
{
    // The server's per-frame debug events would bury the test's own output.
    QLoggingCategory::setFilterRules(u"confab.*.debug=false"_s);
}

void tst_Rest::cleanup()
{
    // Keep-alive connections of the manager point at the old port; drop them with the server.
    m_nam.clearConnectionCache();
    m_server.reset();
}

HttpResult tst_Rest::request(const QByteArray &method, const QString &path, const QByteArray &body,
                             const QByteArray &authorization)
{
    // The path is given percent-encoded (e.g. "room%3Aa"): build the URL from bytes so that QUrl
    // keeps the encoding exactly as written.
    const QUrl url = QUrl::fromEncoded(m_server->httpUrl().toEncoded() + path.toUtf8(), QUrl::StrictMode);
    QNetworkRequest req(url);
    if (!body.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json"_ba);
    if (!authorization.isEmpty())
        req.setRawHeader("Authorization", authorization);
    std::unique_ptr<QNetworkReply> reply(m_nam.sendCustomRequest(req, method, body));
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    HttpResult result;
    result.finished = reply->isFinished() || finished.wait(10000);
    if (!result.finished)
        return result;
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    result.contentType = reply->rawHeader("Content-Type");
    for (const auto &pair : reply->rawHeaderPairs())
        result.headers.insert(pair.first.toLower(), pair.second);
    return result;
}

std::unique_ptr<RawClient> tst_Rest::joinedClient(const QString &topic, const QJsonObject &config)
{
    auto client = std::make_unique<RawClient>();
    if (!client->open(m_server->webSocketUrl()))
        return nullptr;
    const auto reply = client->join(topic, config);
    if (!reply || reply->value("status"_L1).toString() != "ok"_L1)
        return nullptr;
    return client;
}

void tst_Rest::rootAndHealth()
{
    QVERIFY(startServer());

    const auto root = get(u"/"_s);
    QVERIFY(root.finished);
    QCOMPARE(root.status, 200);
    QVERIFY(root.contentType.startsWith("application/json"));
    QCOMPARE(root.json().value("status"_L1).toString(), u"ok"_s);
    QCOMPARE(root.json().value("auth"_L1).toString(), u"open"_s);

    auto health = get(u"/health"_s);
    QVERIFY(health.finished);
    QCOMPARE(health.status, 200);
    QVERIFY(health.contentType.startsWith("application/json"));
    auto json = health.json();
    QCOMPARE(json.value("status"_L1).toString(), u"healthy"_s);
    QVERIFY2(QRegularExpression(u"^\\d+\\.\\d+\\.\\d+"_s).match(json.value("version"_L1).toString()).hasMatch(),
             qPrintable(json.value("version"_L1).toString()));
    QVERIFY(json.value("uptimeSeconds"_L1).isDouble());
    QVERIFY(json.value("uptimeSeconds"_L1).toDouble() >= 0);
    QCOMPARE(json.value("connections"_L1).toInt(-1), 0);
    QCOMPARE(json.value("totalChannels"_L1).toInt(-1), 0);
    QCOMPARE(json.value("totalMembers"_L1).toInt(-1), 0);
    QCOMPARE(json.value("auth"_L1).toString(), u"open"_s);
    QVERIFY(json.value("dependencies"_L1).isObject());

    const auto a = joinedClient(u"room:a"_s);
    const auto b = joinedClient(u"room:a"_s);
    QVERIFY(a && b);
    health = get(u"/health"_s);
    QCOMPARE(health.status, 200);
    json = health.json();
    QCOMPARE(json.value("connections"_L1).toInt(-1), 2);
    QCOMPARE(json.value("totalChannels"_L1).toInt(-1), 1);
    QCOMPARE(json.value("totalMembers"_L1).toInt(-1), 2);
}

void tst_Rest::channelList()
{
    QVERIFY(startServer());
    auto empty = get(u"/api/channels"_s);
    QCOMPARE(empty.status, 200);
    QCOMPARE(empty.json().value("channels"_L1).toArray(), QJsonArray());

    // Joined out of order, so the sorting is the server's.
    const auto z = joinedClient(u"room:z"_s);
    const auto a1 = joinedClient(u"room:a"_s);
    const auto a2 = joinedClient(u"room:a"_s);
    const auto m = joinedClient(u"room:m"_s);
    QVERIFY(z && a1 && a2 && m);
    const QJsonObject track{{u"type"_s, u"presence"_s},
                            {u"event"_s, u"track"_s},
                            {u"payload"_s, QJsonObject{{u"key"_s, u"alice"_s}, {u"meta"_s, QJsonObject{{u"n"_s, 1}}}}}};
    const auto ref = a1->push(u"room:a"_s, u"presence"_s, track);
    const auto reply = a1->waitForReply(ref, u"room:a"_s);
    QVERIFY(reply);
    QCOMPARE(reply->value("status"_L1).toString(), u"ok"_s);

    const auto list = get(u"/api/channels"_s);
    QCOMPARE(list.status, 200);
    const auto channels = list.json().value("channels"_L1).toArray();
    QCOMPARE(channels.size(), 3);
    QStringList topics;
    for (const auto &c : channels)
        topics.append(c.toObject().value("topic"_L1).toString());
    QCOMPARE(topics, (QStringList{u"room:a"_s, u"room:m"_s, u"room:z"_s}));
    const auto first = channels.at(0).toObject();
    QCOMPARE(first.value("memberCount"_L1).toInt(-1), 2);
    QCOMPARE(first.value("presenceKeys"_L1).toInt(-1), 1);
    QCOMPARE(first.value("presenceEntries"_L1).toInt(-1), 1);
    const auto last = channels.at(2).toObject();
    QCOMPARE(last.value("memberCount"_L1).toInt(-1), 1);
    QCOMPARE(last.value("presenceKeys"_L1).toInt(-1), 0);
    QCOMPARE(last.value("presenceEntries"_L1).toInt(-1), 0);
}

void tst_Rest::channelDetail()
{
    QVERIFY(startServer());
    const auto a = joinedClient(u"room:a"_s);
    const auto b = joinedClient(u"room:a"_s);
    QVERIFY(a && b);
    QCOMPARE(m_clientIds.size(), 2);

    auto detail = get(u"/api/channels/room%3Aa"_s);
    QCOMPARE(detail.status, 200);
    auto json = detail.json();
    QCOMPARE(json.value("topic"_L1).toString(), u"room:a"_s);
    QCOMPARE(json.value("memberCount"_L1).toInt(-1), 2);
    QStringList expectedIds = m_clientIds;
    expectedIds.sort();
    QJsonArray expectedMembers;
    for (const auto &id : std::as_const(expectedIds)) {
        QVERIFY2(QRegularExpression(u"^client-\\d+$"_s).match(id).hasMatch(), qPrintable(id));
        expectedMembers.append(QJsonObject{{u"clientId"_s, id}});
    }
    QCOMPARE(json.value("members"_L1).toArray(), expectedMembers);
    QCOMPARE(json.value("presence"_L1).toObject(), QJsonObject());

    const QJsonObject track{{u"type"_s, u"presence"_s},
                            {u"event"_s, u"track"_s},
                            {u"payload"_s, QJsonObject{{u"key"_s, u"alice"_s}, {u"meta"_s, QJsonObject{{u"n"_s, 1}}}}}};
    const auto ref = a->push(u"room:a"_s, u"presence"_s, track);
    const auto reply = a->waitForReply(ref, u"room:a"_s);
    QVERIFY(reply);
    QCOMPARE(reply->value("status"_L1).toString(), u"ok"_s);

    detail = get(u"/api/channels/room%3Aa"_s);
    QCOMPARE(detail.status, 200);
    json = detail.json();
    QCOMPARE(json.value("presence"_L1).toObject(), (QJsonObject{{u"alice"_s, 1}}));
    QCOMPARE(json.value("presenceKeys"_L1).toInt(-1), 1);
    QCOMPARE(json.value("presenceEntries"_L1).toInt(-1), 1);

    // The unencoded form names the same channel.
    detail = get(u"/api/channels/room:a"_s);
    QCOMPARE(detail.status, 200);
    QCOMPARE(detail.json().value("memberCount"_L1).toInt(-1), 2);
}

void tst_Rest::channelDetailEncodedSlash()
{
    QVERIFY(startServer());
    const auto client = joinedClient(u"team/general"_s);
    QVERIFY(client);
    const auto detail = get(u"/api/channels/team%2Fgeneral"_s);
    QVERIFY(detail.finished);
    QCOMPARE(detail.status, 200);
    const auto json = detail.json();
    QCOMPARE(json.value("topic"_L1).toString(), u"team/general"_s);
    QCOMPARE(json.value("memberCount"_L1).toInt(-1), 1);
    QCOMPARE(json.value("members"_L1).toArray().size(), 1);

    // Everything after /api/channels/ is the topic, so an unencoded slash means the same.
    const auto plain = get(u"/api/channels/team/general"_s);
    QCOMPARE(plain.status, 200);
    QCOMPARE(plain.json().value("topic"_L1).toString(), u"team/general"_s);
    QCOMPARE(plain.json().value("memberCount"_L1).toInt(-1), 1);
}

void tst_Rest::channelDetailUnknownTopic()
{
    QVERIFY(startServer());
    const auto detail = get(u"/api/channels/room%3Anobody"_s);
    QCOMPARE(detail.status, 200);
    const auto json = detail.json();
    QCOMPARE(json.value("topic"_L1).toString(), u"room:nobody"_s);
    QCOMPARE(json.value("memberCount"_L1).toInt(-1), 0);
    QVERIFY(json.value("members"_L1).isArray());
    QCOMPARE(json.value("members"_L1).toArray(), QJsonArray());

    const auto tooLong = get(u"/api/channels/"_s + QString(256, u't'));
    QCOMPARE(tooLong.status, 400);
    QCOMPARE(tooLong.errorCode(), QString(Protocol::Errors::InvalidTopic));
}

void tst_Rest::broadcastReachesEveryMember()
{
    QVERIFY(startServer());
    const auto plain = joinedClient(u"room:b"_s);
    const auto noSelf = joinedClient(u"room:b"_s, QJsonObject{{u"broadcast"_s, QJsonObject{{u"self"_s, false}}}});
    const auto withSelf = joinedClient(u"room:b"_s, QJsonObject{{u"broadcast"_s, QJsonObject{{u"self"_s, true}}}});
    const auto outsider = joinedClient(u"room:other"_s);
    QVERIFY(plain && noSelf && withSelf && outsider);

    const QJsonObject payload{{u"text"_s, u"hello"_s}, {u"n"_s, 3}};
    const auto response = post(u"/api/broadcast"_s,
                               compact({{u"topic"_s, u"room:b"_s}, {u"event"_s, u"notice"_s}, {u"payload"_s, payload}}));
    QVERIFY(response.finished);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.json(), (QJsonObject{{u"status"_s, u"ok"_s}, {u"recipientCount"_s, 3}}));

    const RawClient::Frame expected{QJsonValue::Null, QJsonValue::Null, u"room:b"_s, u"broadcast"_s,
                                    QJsonObject{{u"type"_s, u"broadcast"_s},
                                                {u"event"_s, u"notice"_s},
                                                {u"payload"_s, payload}}};
    for (RawClient *member : {plain.get(), noSelf.get(), withSelf.get()}) {
        const auto frame = member->waitForEvent(u"room:b"_s, u"broadcast"_s);
        QVERIFY(frame);
        QCOMPARE(*frame, expected);
        QVERIFY(member->sync());
        QCOMPARE(member->count(RawClient::isEvent(u"room:b"_s, u"broadcast"_s)), 0); // exactly once
    }
    QVERIFY(outsider->sync());
    QCOMPARE(outsider->count([](const RawClient::Frame &f) { return f.at(3).toString() == "broadcast"_L1; }), 0);

    // A topic nobody joined: accepted, delivered to no one.
    const auto nobody = post(u"/api/broadcast"_s,
                             compact({{u"topic"_s, u"room:empty"_s}, {u"event"_s, u"notice"_s}, {u"payload"_s, payload}}));
    QCOMPARE(nobody.status, 200);
    QCOMPARE(nobody.json().value("status"_L1).toString(), u"ok"_s);
    QCOMPARE(nobody.json().value("recipientCount"_L1).toInt(-1), 0);
}

void tst_Rest::broadcastErrors_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("code");

    const QString longTopic(256, u't');
    const QString longEvent(129, u'e');
    QTest::newRow("not json") << "{not json"_ba << u"INVALID_BODY"_s;
    QTest::newRow("json array") << "[1,2]"_ba << u"INVALID_BODY"_s;
    QTest::newRow("empty body") << QByteArray() << u"INVALID_BODY"_s;
    QTest::newRow("no topic") << compact({{u"event"_s, u"e"_s}, {u"payload"_s, QJsonObject()}})
                              << u"MISSING_FIELD"_s;
    QTest::newRow("no event") << compact({{u"topic"_s, u"room:b"_s}, {u"payload"_s, QJsonObject()}})
                              << u"MISSING_FIELD"_s;
    QTest::newRow("topic not a string") << compact({{u"topic"_s, 5}, {u"event"_s, u"e"_s}})
                                        << u"MISSING_FIELD"_s;
    QTest::newRow("topic too long") << compact({{u"topic"_s, longTopic}, {u"event"_s, u"e"_s}})
                                    << u"INVALID_TOPIC"_s;
    QTest::newRow("event too long") << compact({{u"topic"_s, u"room:b"_s}, {u"event"_s, longEvent}})
                                    << u"INVALID_EVENT"_s;
}

void tst_Rest::broadcastErrors()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, code);
    QVERIFY(startServer());
    const auto member = joinedClient(u"room:b"_s);
    QVERIFY(member);

    const auto response = post(u"/api/broadcast"_s, body);
    QVERIFY(response.finished);
    QCOMPARE(response.status, 400);
    QVERIFY(response.contentType.startsWith("application/json"));
    const auto error = response.json().value("error"_L1).toObject();
    QCOMPARE(error.value("code"_L1).toString(), code);
    QVERIFY(!error.value("message"_L1).toString().isEmpty());

    QVERIFY(member->sync());
    QCOMPARE(member->count(RawClient::isEvent(u"room:b"_s, u"broadcast"_s)), 0);
}

void tst_Rest::broadcastLargerThanMessageLimit()
{
    auto config = TestServer::defaultConfig();
    config.limits.maxMessageBytes = 1024;
    config.limits.httpMaxBodyBytes = 64 * 1024;
    QVERIFY(startServer(config));
    const auto member = joinedClient(u"room:b"_s);
    QVERIFY(member);

    const QByteArray body = compact({{u"topic"_s, u"room:b"_s},
                                     {u"event"_s, u"big"_s},
                                     {u"payload"_s, QJsonObject{{u"blob"_s, QString(4096, u'x')}}}});
    QVERIFY(body.size() > config.limits.maxMessageBytes && body.size() < config.limits.httpMaxBodyBytes);
    const auto response = post(u"/api/broadcast"_s, body);
    QVERIFY(response.finished);
    QCOMPARE(response.status, 413);
    QCOMPARE(response.errorCode(), u"MESSAGE_TOO_LARGE"_s);
    QVERIFY(member->sync());
    QCOMPARE(member->count(RawClient::isEvent(u"room:b"_s, u"broadcast"_s)), 0);

    // Just under the limit still goes through.
    const QByteArray small = compact({{u"topic"_s, u"room:b"_s}, {u"event"_s, u"small"_s}, {u"payload"_s, QJsonObject{{u"blob"_s, QString(512, u'x')}}}});
    const auto ok = post(u"/api/broadcast"_s, small);
    QCOMPARE(ok.status, 200);
    QVERIFY(member->waitForEvent(u"room:b"_s, u"broadcast"_s));
}

void tst_Rest::wrongMethod_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("allow");

    QTest::newRow("GET /api/broadcast") << "GET"_ba << u"/api/broadcast"_s << "POST"_ba;
    QTest::newRow("PUT /api/broadcast") << "PUT"_ba << u"/api/broadcast"_s << "POST"_ba;
    QTest::newRow("POST /health") << "POST"_ba << u"/health"_s << "GET"_ba;
    QTest::newRow("DELETE /") << "DELETE"_ba << u"/"_s << "GET"_ba;
    QTest::newRow("POST /api/channels") << "POST"_ba << u"/api/channels"_s << "GET"_ba;
    QTest::newRow("DELETE /api/channels/x") << "DELETE"_ba << u"/api/channels/room%3Aa"_s << "GET"_ba;
    QTest::newRow("POST /metrics") << "POST"_ba << u"/metrics"_s << "GET"_ba;
    QTest::newRow("PATCH /api/stats") << "PATCH"_ba << u"/api/stats"_s << "GET"_ba;
}

void tst_Rest::wrongMethod()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, allow);
    QVERIFY(startServer());
    const auto response = request(method, path, method == "GET" ? QByteArray() : "{}"_ba);
    QVERIFY(response.finished);
    QCOMPARE(response.status, 405);
    QCOMPARE(response.errorCode(), u"METHOD_NOT_ALLOWED"_s);
    QCOMPARE(response.headers.value("allow"), allow);
}

void tst_Rest::unknownPath()
{
    QVERIFY(startServer());
    for (const auto &path : {u"/nope"_s, u"/api/nope"_s, u"/api/channel"_s}) {
        const auto response = get(path);
        QVERIFY(response.finished);
        QCOMPARE(response.status, 404);
        QVERIFY2(response.contentType.startsWith("application/json"), qPrintable(path));
        QCOMPARE(response.errorCode(), u"NOT_FOUND"_s);
    }
}

void tst_Rest::metrics()
{
    QVERIFY(startServer());
    auto response = get(u"/metrics"_s);
    QVERIFY(response.finished);
    QCOMPARE(response.status, 200);
    QVERIFY2(response.contentType.startsWith("text/plain; version=0.0.4"), response.contentType.constData());
    QCOMPARE(sampleValue(response.body, "confab_connections"), 0.0);
    QCOMPARE(sampleValue(response.body, "confab_frames_received_total"), 0.0);
    QCOMPARE(sampleValue(response.body, "confab_delivery_latency_seconds_count"), 0.0);
    QVERIFY(response.body.contains("# TYPE confab_delivery_latency_seconds histogram"));

    const auto member = joinedClient(u"room:m"_s);
    QVERIFY(member);
    member->sendText(u"not json"_s);
    const auto error = member->waitForEvent(u"$system"_s, u"chan:error"_s);
    QVERIFY(error);
    QCOMPARE(error->at(4).toObject().value("code"_L1).toString(), u"MALFORMED_FRAME"_s);
    QVERIFY(member->sync());

    const auto broadcast = post(u"/api/broadcast"_s,
                                compact({{u"topic"_s, u"room:m"_s}, {u"event"_s, u"e"_s}, {u"payload"_s, QJsonObject()}}));
    QCOMPARE(broadcast.status, 200);
    QVERIFY(member->waitForEvent(u"room:m"_s, u"broadcast"_s));

    response = get(u"/metrics"_s);
    QCOMPARE(response.status, 200);
    const auto &text = response.body;
    QCOMPARE(sampleValue(text, "confab_connections"), 1.0);
    // join, "not json" and the heartbeat
    QVERIFY2(sampleValue(text, "confab_frames_received_total") >= 3, text.constData());
    QCOMPARE(sampleValue(text, R"(confab_rejected_total{reason="MALFORMED_FRAME"})"), 1.0);
    QVERIFY(sampleValue(text, R"(confab_delivery_latency_seconds_bucket{le="+Inf"})") > 0);
    QVERIFY(sampleValue(text, "confab_delivery_latency_seconds_count") > 0);
    QVERIFY(sampleValue(text, "confab_delivery_latency_seconds_sum") >= 0);
    QVERIFY(sampleValue(text, "confab_broadcasts_total") >= 1);
    QVERIFY(sampleValue(text, "confab_http_requests_total") >= 2);
    QVERIFY(sampleValue(text, "confab_uptime_seconds") >= 0);
    // Every non-comment line is "name[{labels}] number".
    static const QRegularExpression sampleLine(u"^[a-z_]+(\\{[a-z]+=\"[^\"]*\"\\})? [-+0-9.e]+$"_s);
    for (const QByteArray &line : text.split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        QVERIFY2(sampleLine.match(QString::fromUtf8(line)).hasMatch(), line.constData());
    }
}

void tst_Rest::stats()
{
    QVERIFY(startServer());
    const auto a = joinedClient(u"room:s"_s);
    const auto b = joinedClient(u"room:s"_s);
    QVERIFY(a && b);
    const QJsonObject track{{u"type"_s, u"presence"_s},
                            {u"event"_s, u"track"_s},
                            {u"payload"_s, QJsonObject{{u"key"_s, u"alice"_s}, {u"meta"_s, QJsonObject{{u"n"_s, 1}}}}}};
    const auto ref = a->push(u"room:s"_s, u"presence"_s, track);
    QVERIFY(a->waitForReply(ref, u"room:s"_s));
    a->sendText(u"not json"_s);
    QVERIFY(a->sync());
    QCOMPARE(post(u"/api/broadcast"_s, compact({{u"topic"_s, u"room:s"_s}, {u"event"_s, u"e"_s}})).status, 200);
    QVERIFY(b->waitForEvent(u"room:s"_s, u"broadcast"_s));

    const auto response = get(u"/api/stats"_s);
    QVERIFY(response.finished);
    QCOMPARE(response.status, 200);
    QVERIFY(response.contentType.startsWith("application/json"));
    const auto json = response.json();
    for (const auto *key : {"uptimeSeconds", "connections", "connectionsOpened", "channels", "memberships",
                            "presenceEntries", "framesReceived", "framesSent", "broadcasts",
                            "presenceUpdates", "httpRequests"}) {
        QVERIFY2(json.value(QLatin1StringView(key)).isDouble(), key);
    }
    QCOMPARE(json.value("connections"_L1).toInt(-1), 2);
    QCOMPARE(json.value("connectionsOpened"_L1).toInt(-1), 2);
    QCOMPARE(json.value("channels"_L1).toInt(-1), 1);
    QCOMPARE(json.value("memberships"_L1).toInt(-1), 2);
    QCOMPARE(json.value("presenceEntries"_L1).toInt(-1), 1);
    QCOMPARE(json.value("presenceUpdates"_L1).toInt(-1), 1);
    QCOMPARE(json.value("broadcasts"_L1).toInt(-1), 1);
    QVERIFY(json.value("framesReceived"_L1).toInt() >= 5);
    QVERIFY(json.value("framesSent"_L1).toInt() >= 1);
    QVERIFY(json.value("httpRequests"_L1).toInt() >= 2);
    QCOMPARE(json.value("rejected"_L1).toObject().value("MALFORMED_FRAME"_L1).toInt(-1), 1);
    const auto latency = json.value("deliveryLatency"_L1).toObject();
    QVERIFY(latency.value("count"_L1).toInt() >= 2);
    QVERIFY(latency.value("meanSeconds"_L1).isDouble());
}

namespace {

Server::ServerConfig authConfig()
{
    auto config = TestServer::defaultConfig();
    config.auth.enabled = true;
    config.auth.secret = Secret;
    config.auth.adminToken = AdminToken;
    return config;
}

QByteArray mint(const QByteArray &secret, bool admin = false)
{
    Server::AuthConfig auth;
    auth.enabled = true;
    auth.secret = secret;
    Server::MintRequest request;
    request.user = admin ? u"ops"_s : u"alice"_s;
    request.admin = admin;
    request.ttl = std::chrono::minutes(5);
    QString error;
    const auto token = Server::mintToken(auth, request, &error);
    if (token.isEmpty())
        qWarning() << "mintToken failed:" << error;
    return token;
}

} // namespace

void tst_Rest::authOpenRoutes_data()
{
    QTest::addColumn<QString>("path");
    QTest::newRow("/") << u"/"_s;
    QTest::newRow("/health") << u"/health"_s;
}

void tst_Rest::authOpenRoutes()
{
    QFETCH(QString, path);
    QVERIFY(startServer(authConfig()));
    const auto response = get(path);
    QVERIFY(response.finished);
    QCOMPARE(response.status, 200);
    // Both say how to sign in: "token" (JWT from an admin; no join password).
    QCOMPARE(response.json().value("auth"_L1).toString(), u"token"_s);
    // Garbage credentials on an open route are ignored, not refused.
    QCOMPARE(get(path, "Bearer garbage").status, 200);
}

void tst_Rest::authSecuredRoutes_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("operatorOnly"); // a user's token is refused (403); users see their channels

    const QByteArray broadcast = compact({{u"topic"_s, u"room:x"_s}, {u"event"_s, u"e"_s}, {u"payload"_s, QJsonObject()}});
    QTest::newRow("POST /api/broadcast") << "POST"_ba << u"/api/broadcast"_s << broadcast << false;
    QTest::newRow("GET /api/channels") << "GET"_ba << u"/api/channels"_s << QByteArray() << false;
    QTest::newRow("GET /api/channels/x") << "GET"_ba << u"/api/channels/room%3Ax"_s << QByteArray() << false;
    QTest::newRow("GET /api/stats") << "GET"_ba << u"/api/stats"_s << QByteArray() << true;
    QTest::newRow("GET /metrics") << "GET"_ba << u"/metrics"_s << QByteArray() << true;
}

void tst_Rest::authSecuredRoutes()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(bool, operatorOnly);
    QVERIFY(startServer(authConfig()));

    const auto none = request(method, path, body);
    QVERIFY(none.finished);
    QCOMPARE(none.status, 401);
    QCOMPARE(none.errorCode(), QString(Protocol::Errors::AuthTokenRequired));

    const auto basic = request(method, path, body, "Basic YWxpY2U6c2VjcmV0");
    QCOMPARE(basic.status, 401);
    QCOMPARE(basic.errorCode(), QString(Protocol::Errors::AuthTokenRequired));

    const auto garbage = request(method, path, body, "Bearer garbage");
    QCOMPARE(garbage.status, 401);
    QCOMPARE(garbage.errorCode(), QString(Protocol::Errors::AuthInvalidToken));

    const auto foreign = mint(OtherSecret);
    QVERIFY(!foreign.isEmpty());
    const auto wrongKey = request(method, path, body, "Bearer " + foreign);
    QCOMPARE(wrongKey.status, 401);
    QCOMPARE(wrongKey.errorCode(), QString(Protocol::Errors::AuthInvalidSignature));

    const auto token = mint(Secret);
    QVERIFY(!token.isEmpty());
    const auto user = request(method, path, body, "Bearer " + token);
    QVERIFY(user.finished);
    if (operatorOnly) {
        QCOMPARE(user.status, 403);
        QCOMPARE(user.errorCode(), QString(Protocol::Errors::Forbidden));
    } else {
        QCOMPARE(user.status, 200);
    }
    // The operator: the admin token, or a token whose admin claim is true.
    const auto wrongAdmin = request(method, path, body, "Bearer " + AdminToken + "x");
    QCOMPARE(wrongAdmin.status, 401);
    for (const QByteArray &credential : {AdminToken, mint(Secret, true)}) {
        const auto ok = request(method, path, body, "Bearer " + credential);
        QVERIFY(ok.finished);
        QCOMPARE(ok.status, 200);
        if (path == u"/api/broadcast")
            QCOMPARE(ok.json().value("status"_L1).toString(), u"ok"_s);
    }
}

QTEST_GUILESS_MAIN(tst_Rest)
#include "tst_rest.moc"
