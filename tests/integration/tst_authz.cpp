// The authorization matrix (docs/protocol.md "Channel kinds and access", "Authentication", the REST
// API's callers): through every door (native WebSocket frames, the HTTP chat fallback, the REST
// API) a caller without the right to a channel can neither read, post, list, nor see or fake
// presence there; the operator credential reaches what the operator needs, and nothing
// operator-only is visible without it.
//
// Three channels are the targets: a DM of others (dm:bob:carol), a private channel the asker is
// not a member of (private:x, created by bob with carol), and, in JWT mode, a public channel
// outside the asker's `channels` claim (other:y; alice's token has ["room:*"]). bob and carol are
// joined to every channel, with presence, and watch: a refusal is checked for its exact code and
// for what it must not leave behind (no frame to the members, nothing stored, no presence entry,
// no typing, no membership, no name in the asker's listing). The same rows run the allowed cases
// (alice in room:lobby, bob in the DM, carol in private:x), so the matrix cannot pass by refusing
// everything.
#include "auth/jwtverifier.h"
#include "engine/hub.h"
#include "rawclient.h"
#include "server.h"
#include "storage/messagestore.h"
#include "testserver.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QDateTime>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QMessageAuthenticationCode>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtNetwork/QTcpServer>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace Confab;
using Testing::RawClient;
using Testing::TestServer;
namespace Err = Protocol::Errors;

namespace {

const QByteArray Secret = "authz-matrix-secret-0123456789abcdefghij";
const QByteArray AdminToken = "authz-operator-credential-0123456789abcdef";

// The channels.
const QString Dm = u"dm:bob:carol"_s;       //!< (a) a DM of others
const QString Private = u"private:x"_s;     //!< (b) bob's private channel, with carol
const QString Other = u"other:y"_s;         //!< (c) public, outside alice's claim
const QString Lobby = u"room:lobby"_s;      //!< public, inside alice's claim: where alice may go
const QStringList AllTopics{Dm, Other, Private, Lobby}; // in name order

// The modes: JWT (AUTH_SECRET and ADMIN_TOKEN), and open mode with an ADMIN_TOKEN.
const QString Jwt = u"jwt"_s;
const QString Open = u"open"_s;

// Who asks.
const QString Alice = u"alice"_s;           //!< JWT: channels ["room:*"]; open: declares herself alice
const QString AliceWide = u"alice-wide"_s;  //!< JWT: alice with a claim that names DMs and private channels
const QString Nobody = u"nobody"_s;         //!< no credential (open mode: no identity either)
const QString Bob = u"bob"_s;
const QString Carol = u"carol"_s;
const QString Operator = u"operator"_s;     //!< Bearer ADMIN_TOKEN
const QString AdminClaim = u"admin-claim"_s; //!< JWT mode: a token with "admin": true

//! The user a `who` is (empty: none).
QString userIdOf(const QString &who)
{
    if (who == Alice || who == AliceWide)
        return Alice;
    if (who == Bob || who == Carol)
        return who;
    if (who == AdminClaim)
        return u"ops"_s;
    return {};
}

//! Who wrote a channel's first message: the one member each row lets act there.
QString ownerOf(const QString &topic)
{
    if (topic == Private)
        return Carol;
    if (topic == Lobby)
        return Alice;
    return Bob; // the DM and other:y
}

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QString describe(const QList<RawClient::Frame> &frames)
{
    QStringList out;
    for (const auto &f : frames)
        out.append(QString::fromUtf8(QJsonDocument(f).toJson(QJsonDocument::Compact)));
    return out.join(u'\n');
}

QByteArray b64(const QByteArray &data)
{
    return data.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

//! A hand-made HS256 token: claims that the minting code cannot produce (e.g. "admin": "yes").
QByteArray hs256(const QJsonObject &claims)
{
    const QByteArray input = b64(R"({"alg":"HS256","typ":"JWT"})") + '.' + b64(compact(claims));
    return input + '.' + b64(QMessageAuthenticationCode::hash(input, Secret, QCryptographicHash::Sha256));
}

QByteArray mint(const QString &sub, const QStringList &channels = {}, bool admin = false)
{
    Server::AuthConfig auth;
    auth.enabled = true;
    auth.secret = Secret;
    Server::MintRequest request;
    request.user = sub;
    request.ttl = std::chrono::minutes(10);
    request.channels = channels;
    request.admin = admin;
    QString error;
    const auto token = Server::mintToken(auth, request, &error);
    if (token.isEmpty())
        qWarning() << "mintToken failed:" << error;
    return token;
}

//! A who's JWT (JWT mode; empty for those without one).
QByteArray tokenOf(const QString &who)
{
    if (who == Alice)
        return mint(Alice, {u"room:*"_s});
    if (who == AliceWide)
        return mint(Alice, {u"room:*"_s, u"dm:*"_s, u"private:*"_s});
    if (who == Bob || who == Carol)
        return mint(who);
    if (who == AdminClaim)
        return mint(u"ops"_s, {}, true);
    return {};
}

//! What a who presents, per mode.
struct Credentials
{
    QByteArray wsToken;       //!< JWT mode: access_token of hello and joins
    QJsonObject declared;     //!< open mode: the self-declared user
    QByteArray authorization; //!< HTTP Authorization header
};

Credentials credentialsOf(const QString &mode, const QString &who)
{
    Credentials c;
    if (who == Operator) {
        c.authorization = "Bearer " + AdminToken;
        return c;
    }
    if (mode == Jwt) {
        c.wsToken = tokenOf(who);
        if (!c.wsToken.isEmpty())
            c.authorization = "Bearer " + c.wsToken;
    } else if (!userIdOf(who).isEmpty()) {
        c.declared = {{u"id"_s, userIdOf(who)}, {u"name"_s, userIdOf(who).toUpper()}};
    }
    return c;
}

//! Whether a who's token claim names \a topic (JWT mode).
bool claimAllows(const QString &who, const QString &topic)
{
    if (who == Alice)
        return topic.startsWith("room:"_L1);
    if (who == AliceWide)
        return topic.startsWith("room:"_L1) || topic.startsWith("dm:"_L1) || topic.startsWith("private:"_L1);
    return true;
}

//! The policy as docs/protocol.md states it: empty when \a who may use \a topic, else the code.
//! 1. the operator may use every channel; 2. JWT mode: a token is required and its claim must
//! name the topic; 3. DMs: only their two users; private channels: only members; public: all.
QString policyCode(const QString &mode, const QString &who, const QString &topic)
{
    if (who == Operator || who == AdminClaim)
        return {};
    if (mode == Jwt) {
        if (who == Nobody)
            return QString(Err::AuthTokenRequired);
        if (!claimAllows(who, topic))
            return QString(Err::AuthChannelDenied);
    }
    if (topic == Dm || topic == Private) {
        if (who == Bob || who == Carol) // the DM's two users; the private channel's two members
            return {};
        return who == Nobody ? QString(Err::IdentityRequired) : QString(Err::Forbidden);
    }
    return {};
}

//! The HTTP status docs/protocol.md gives a code ("HTTP fallback"); \a ok when there is none.
int statusFor(const QString &code, int ok = 200)
{
    if (code.isEmpty())
        return ok;
    if (code == Err::Forbidden || code == Err::AuthChannelDenied)
        return 403;
    if (code.startsWith("AUTH_"_L1))
        return 401;
    if (code == Err::NotFound)
        return 404;
    return 400;
}

struct Case
{
    QString mode;
    QString topic;
    QString who;
};

//! Every (mode, channel, asker) of the matrix: the three targets asked by alice, by alice with a
//! claim that names them, and with no credential; each target and room:lobby by one who may.
QList<Case> matrixCases(bool withOperators)
{
    QList<Case> cases;
    for (const auto &topic : {Dm, Private, Other}) {
        for (const auto &who : {Alice, AliceWide, Nobody})
            cases.append({Jwt, topic, who});
    }
    cases += QList<Case>{{Jwt, Dm, Bob}, {Jwt, Private, Carol}, {Jwt, Other, Bob}, {Jwt, Lobby, Alice}, {Jwt, Lobby, Nobody}};
    // Open mode promises only that a self-declared alice is not bob or carol: she is refused
    // their DM and private channel (impersonation itself is issue 11). other:y is not a target:
    // there is no claim to be outside of.
    for (const auto &topic : {Dm, Private}) {
        for (const auto &who : {Alice, Nobody})
            cases.append({Open, topic, who});
    }
    cases += QList<Case>{{Open, Dm, Bob}, {Open, Private, Carol}, {Open, Lobby, Alice}};
    if (withOperators) {
        for (const auto &topic : AllTopics) {
            cases.append({Jwt, topic, Operator});
            cases.append({Jwt, topic, AdminClaim});
            cases.append({Open, topic, Operator});
        }
    }
    return cases;
}

QByteArray rowName(const QString &action, const Case &c)
{
    return u"%1 %2 as %3 (%4)"_s.arg(action, c.topic, c.who, c.mode).toUtf8();
}

//! A topic for a URL path segment or query value: everything but unreserved characters encoded.
QString encoded(const QString &topic)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(topic));
}

QString errorCodeOf(const std::optional<QJsonObject> &reply)
{
    if (!reply)
        return u"<no reply>"_s;
    if (reply->value("status"_L1).toString() == "ok"_L1)
        return {};
    return reply->value("response"_L1).toObject().value("code"_L1).toString();
}

RawClient::Predicate onTopic(const QString &topic)
{
    return [topic](const RawClient::Frame &f) { return f.size() == 5 && f.at(2).toString() == topic; };
}

QJsonObject payloadOf(const std::optional<RawClient::Frame> &frame)
{
    return frame ? frame->at(4).toObject() : QJsonObject();
}

//! Presence keys and their entry counts as "key=n", in key order.
QString presenceText(const QMap<QString, int> &keys)
{
    QStringList out;
    for (auto it = keys.cbegin(); it != keys.cend(); ++it)
        out.append(u"%1=%2"_s.arg(it.key()).arg(it.value()));
    return out.join(u' ');
}

//! What bob and carol tracked in every channel: the presence a refusal leaves as it was.
const QString MembersOnly = u"bob=1 carol=1"_s;

//! Waits for the first frame matching \a predicate and takes it out of the inbox. Unlike
//! RawClient::waitFor() it sleeps on the socket's signal instead of polling every 10 ms: the
//! server runs on this thread, so each hop of a round trip would wait for a poll, and the matrix
//! makes thousands of round trips.
std::optional<RawClient::Frame> nextFrame(RawClient &client, const RawClient::Predicate &predicate, int timeoutMs = 5000)
{
    const QDeadlineTimer deadline(timeoutMs);
    for (;;) {
        bool taken = false;
        const auto found = client.take([&](const RawClient::Frame &f) {
            if (taken || !predicate(f))
                return false;
            taken = true;
            return true;
        });
        if (!found.isEmpty())
            return found.first();
        if (deadline.hasExpired())
            return std::nullopt;
        // RawClient's own slot, connected first, has filed the frame when the spy sees it.
        QSignalSpy arrived(&client.socket(), &QWebSocket::textMessageReceived);
        (void)arrived.wait(int(std::max<qint64>(1, deadline.remainingTime())));
    }
}

std::optional<RawClient::Frame> nextEvent(RawClient &client, const QString &topic, const QString &event)
{
    return nextFrame(client, RawClient::isEvent(topic, event));
}

//! The reply to \a ref: its payload {status, response}.
std::optional<QJsonObject> replyTo(RawClient &client, const QString &ref, const QString &topic)
{
    const auto frame = nextFrame(client, [&](const RawClient::Frame &f) {
        return RawClient::isReplyTo(ref)(f) && f.at(2).toString() == topic;
    });
    return frame ? std::optional(frame->at(4).toObject()) : std::nullopt;
}

//! A heartbeat round trip: the server writes to a socket in processing order, so afterwards the
//! inbox holds every frame the server sent this client before it handled the heartbeat.
bool barrier(RawClient &client)
{
    return replyTo(client, client.push(u"$system"_s, u"heartbeat"_s), u"$system"_s).has_value();
}

//! One finished HTTP exchange.
struct HttpResult
{
    bool finished = false;
    int status = 0;
    QByteArray body;

    [[nodiscard]] QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    [[nodiscard]] QString errorCode() const
    {
        return json().value("error"_L1).toObject().value("code"_L1).toString();
    }
    [[nodiscard]] QJsonArray messages() const { return json().value("messages"_L1).toArray(); }
    [[nodiscard]] QString describe() const { return u"%1 %2"_s.arg(status).arg(QString::fromUtf8(body)); }
};

Server::ServerConfig configFor(const QString &mode)
{
    auto config = TestServer::defaultConfig();
    if (mode == Jwt) {
        config.auth.enabled = true;
        config.auth.secret = Secret;
    }
    config.auth.adminToken = AdminToken;
    // Long enough that no typing indicator ends by itself while a row looks at it.
    config.chat.typingTimeout = std::chrono::seconds(60);
    return config;
}

} // namespace

class tst_Authz : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void webSocketMatrix_data();
    void webSocketMatrix();
    void inviteIntoPrivateChannel_data();
    void inviteIntoPrivateChannel();
    void httpFallbackMatrix_data();
    void httpFallbackMatrix();
    void restMatrix_data();
    void restMatrix();
    void channelListing_data();
    void channelListing();
    void channelDetailEdges_data();
    void channelDetailEdges();
    void presenceKeys_data();
    void presenceKeys();
    void untrackSomeoneElsesKey_data();
    void untrackSomeoneElsesKey();
    void tokenRefresh_data();
    void tokenRefresh();
    void invalidSubject_data();
    void invalidSubject();
    void adminClaimMustBeBoolean_data();
    void adminClaimMustBeBoolean();
    void operatorRoutes_data();
    void operatorRoutes();
    void metricsAddress();

private:
    //! A server in \a mode with bob and carol joined (for chat, with presence) to the four
    //! channels, private:x created by bob with carol, and one message in each by its owner.
    bool startWorld(const QString &mode);
    bool startServer(const Server::ServerConfig &config);
    //! RawClient::open() without its 10 ms polling (see nextFrame()).
    bool openSocket(RawClient &client);
    std::unique_ptr<RawClient> connectAs(const QString &who);
    //! `hello` with the who's credentials (nothing for those without any); false unless ok.
    bool sayHello(RawClient &client, const Credentials &credentials);
    //! Joins and waits for the reply; after an ok also for presence_state (and typing_state for
    //! a chat join), so that later frames on the topic are the row's own.
    std::optional<QJsonObject> joinAs(RawClient &client, const QString &topic, const QJsonObject &config,
                                      const QByteArray &token);
    std::optional<QJsonObject> track(RawClient &client, const QString &topic, const std::optional<QString> &key);

    HttpResult request(const QByteArray &method, const QString &path, const QByteArray &body,
                       const QByteArray &authorization, quint16 port = 0);
    //! A request as \a who: open mode's declared user goes in the body (POST) or the query (GET).
    HttpResult call(const QByteArray &method, QString path, QJsonObject body, const Credentials &who);
    HttpResult historyAsOwner(const QString &topic);

    //! The members' view after the asker's request: what each of bob and carol received on
    //! \a topic (and as mentions), up to a heartbeat barrier.
    QList<RawClient::Frame> membersReceived(const QString &topic);
    //! The presence of \a topic as the hub holds it: "key=entries" in key order.
    QString presenceOf(const QString &topic) const;
    std::optional<bool> storeSaysMember(const QString &topic, const QString &userId);
    //! What a refusal must not leave behind in \a topic (see the file comment). The asker's
    //! listing is not looked at when \a askerMayRead; \a askerJoined counts it as a member.
    void verifyNothingLeaked(const QString &topic, const Credentials &asker, bool askerMayRead = false,
                             bool askerJoined = false);
    //! Each of bob and carol receives one \a event on \a topic; returns their payloads.
    QList<QJsonObject> membersGet(const QString &topic, const QString &event);

    std::unique_ptr<TestServer> m_server;
    QString m_mode;
    std::unique_ptr<RawClient> m_bob;
    std::unique_ptr<RawClient> m_carol;
    QHash<QString, QString> m_seedIds; //!< topic → id of its one message
    QNetworkAccessManager m_nam;
};

void tst_Authz::initTestCase()
{
    // Every refusal is logged at info; hundreds of rows of them would bury the test's output.
    QLoggingCategory::setFilterRules(u"confab.*.debug=false\nconfab.*.info=false"_s);
}

void tst_Authz::cleanup()
{
    m_bob.reset();
    m_carol.reset();
    m_seedIds.clear();
    m_nam.clearConnectionCache();
    m_server.reset();
}

// ---- Set-up and helpers -------------------------------------------------------------------------

bool tst_Authz::startServer(const Server::ServerConfig &config)
{
    m_nam.clearConnectionCache();
    m_server = std::make_unique<TestServer>(config);
    return m_server->start();
}

bool tst_Authz::openSocket(RawClient &client)
{
    QSignalSpy connected(&client.socket(), &QWebSocket::connected);
    client.socket().open(m_server->webSocketUrl());
    return connected.wait(5000) || client.isConnected();
}

std::unique_ptr<RawClient> tst_Authz::connectAs(const QString &who)
{
    auto c = std::make_unique<RawClient>();
    if (!openSocket(*c))
        return nullptr;
    if (!sayHello(*c, credentialsOf(m_mode, who)))
        return nullptr;
    return c;
}

bool tst_Authz::sayHello(RawClient &client, const Credentials &credentials)
{
    QJsonObject payload;
    if (!credentials.wsToken.isEmpty())
        payload.insert(u"access_token"_s, QString::fromLatin1(credentials.wsToken));
    else if (!credentials.declared.isEmpty())
        payload.insert(u"user"_s, credentials.declared);
    else
        return true; // nothing to say
    const auto reply = replyTo(client, client.push(u"$system"_s, u"hello"_s, payload), u"$system"_s);
    return errorCodeOf(reply).isEmpty();
}

std::optional<QJsonObject> tst_Authz::joinAs(RawClient &client, const QString &topic, const QJsonObject &config,
                                             const QByteArray &token)
{
    QJsonObject payload{{u"config"_s, config}};
    if (!token.isEmpty())
        payload.insert(u"access_token"_s, QString::fromLatin1(token));
    const auto reply = replyTo(client, client.push(topic, u"chan:join"_s, payload), topic);
    if (reply && errorCodeOf(reply).isEmpty()) {
        if (!nextEvent(client, topic, u"presence_state"_s))
            return std::nullopt;
        if (config.contains("chat"_L1) && !nextEvent(client, topic, u"typing_state"_s))
            return std::nullopt;
    }
    return reply;
}

std::optional<QJsonObject> tst_Authz::track(RawClient &client, const QString &topic, const std::optional<QString> &key)
{
    QJsonObject inner{{u"meta"_s, QJsonObject{{u"status"_s, u"online"_s}}}};
    if (key)
        inner.insert(u"key"_s, *key);
    const QJsonObject payload{{u"type"_s, u"presence"_s}, {u"event"_s, u"track"_s}, {u"payload"_s, inner}};
    return replyTo(client, client.push(topic, u"presence"_s, payload), topic);
}

bool tst_Authz::startWorld(const QString &mode)
{
    m_mode = mode;
    if (!startServer(configFor(mode)))
        return false;
    m_bob = connectAs(Bob);
    m_carol = connectAs(Carol);
    if (!m_bob || !m_carol)
        return false;
    const auto created = replyTo(*m_bob, 
        m_bob->push(Private, u"channel:create"_s, {{u"members"_s, QJsonArray{Carol}}}), Private);
    if (!errorCodeOf(created).isEmpty()) {
        qWarning() << "channel:create failed:" << errorCodeOf(created);
        return false;
    }
    for (const auto &[member, id] : {std::pair{m_bob.get(), Bob}, std::pair{m_carol.get(), Carol}}) {
        const auto token = credentialsOf(mode, id).wsToken;
        for (const auto &topic : AllTopics) {
            const auto joined = joinAs(*member, topic, {{u"chat"_s, QJsonObject()}}, token);
            // Open mode: presence keys are the connection's unless given; these are the users'.
            const auto tracked = track(*member, topic, mode == Open ? std::optional(id) : std::nullopt);
            if (!errorCodeOf(joined).isEmpty() || !errorCodeOf(tracked).isEmpty()) {
                qWarning() << id << "could not join and track" << topic << errorCodeOf(joined) << errorCodeOf(tracked);
                return false;
            }
        }
    }
    for (const auto &topic : AllTopics) {
        const auto seeded = call("POST", u"/messages"_s,
                                 {{u"channel"_s, topic}, {u"client_id"_s, u"seed"_s}, {u"body"_s, QString(u"seed of "_s + topic)}},
                                 credentialsOf(mode, ownerOf(topic)));
        if (seeded.status != 201) {
            qWarning() << "seeding" << topic << "failed:" << seeded.describe();
            return false;
        }
        m_seedIds.insert(topic, seeded.json().value("id"_L1).toString());
    }
    // The set-up's own diffs and messages are not what the rows look at.
    if (!barrier(*m_bob) || !barrier(*m_carol))
        return false;
    m_bob->clearInbox();
    m_carol->clearInbox();
    return true;
}

HttpResult tst_Authz::request(const QByteArray &method, const QString &path, const QByteArray &body,
                              const QByteArray &authorization, quint16 port)
{
    // The path is given percent-encoded: build the URL from bytes so that QUrl keeps it as written.
    QUrl base = m_server->httpUrl();
    if (port != 0)
        base.setPort(port);
    QNetworkRequest req(QUrl::fromEncoded(base.toEncoded() + path.toUtf8(), QUrl::StrictMode));
    if (method != "GET")
        req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json"_ba);
    if (!authorization.isEmpty())
        req.setRawHeader("Authorization", authorization);
    std::unique_ptr<QNetworkReply> reply(m_nam.sendCustomRequest(req, method, body));
    HttpResult result;
    if (!reply->isFinished()) {
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        if (!finished.wait(10000))
            return result;
    }
    result.finished = true;
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    return result;
}

HttpResult tst_Authz::call(const QByteArray &method, QString path, QJsonObject body, const Credentials &who)
{
    if (!who.declared.isEmpty()) {
        if (method == "GET")
            path += (path.contains(u'?') ? u'&' : u'?') + u"user="_s + who.declared.value("id"_L1).toString();
        else
            body.insert(u"user"_s, who.declared);
    }
    return request(method, path, method == "GET" ? QByteArray() : compact(body), who.authorization);
}

HttpResult tst_Authz::historyAsOwner(const QString &topic)
{
    return call("GET", u"/channels/%1/messages"_s.arg(encoded(topic)), {}, credentialsOf(m_mode, ownerOf(topic)));
}

QList<RawClient::Frame> tst_Authz::membersReceived(const QString &topic)
{
    QList<RawClient::Frame> received;
    for (auto *member : {m_bob.get(), m_carol.get()}) {
        // The server writes to a socket in processing order: after the heartbeat's reply the
        // inbox holds everything the asker's request sent this member.
        if (!barrier(*member))
            received.append(QJsonArray{u"<no heartbeat reply>"_s});
        received += member->take(onTopic(topic));
        received += member->take(RawClient::isEvent(u"$system"_s, u"mention"_s));
    }
    return received;
}

QList<QJsonObject> tst_Authz::membersGet(const QString &topic, const QString &event)
{
    QList<QJsonObject> payloads;
    for (auto *member : {m_bob.get(), m_carol.get()}) {
        const auto frame = nextEvent(*member, topic, event);
        if (frame)
            payloads.append(frame->at(4).toObject());
    }
    return payloads;
}

QString tst_Authz::presenceOf(const QString &topic) const
{
    QMap<QString, int> keys;
    for (const auto &[key, entries] : m_server->server().hub().presenceState(topic, 0))
        keys.insert(key, int(entries.size()));
    return presenceText(keys);
}

std::optional<bool> tst_Authz::storeSaysMember(const QString &topic, const QString &userId)
{
    std::optional<bool> member;
    QObject context;
    m_server->server().store().access(&context, topic, userId,
                                      [&member](const Server::StoreResult<Server::ChannelAccess> &access) {
        member = access.ok() && access.value.exists && access.value.allowed;
    });
    (void)QTest::qWaitFor([&] { return member.has_value(); });
    return member;
}

void tst_Authz::verifyNothingLeaked(const QString &topic, const Credentials &asker, bool askerMayRead,
                                    bool askerJoined)
{
    // Nothing stored: the owner's history is the seed alone, untouched. Asked first: the store
    // answers in order, so anything a refused request had committed (and delivered from the
    // commit's callback) is in before this answer, and in the members' inboxes before the barrier.
    const auto page = historyAsOwner(topic);
    QCOMPARE(page.status, 200);
    QCOMPARE(page.json().value("last_seq"_L1).toInteger(), 1);
    const auto messages = page.messages();
    QCOMPARE(messages.size(), 1);
    const auto seed = messages.first().toObject();
    QCOMPARE(seed.value("id"_L1).toString(), m_seedIds.value(topic));
    QCOMPARE(seed.value("body"_L1).toString(), u"seed of "_s + topic);
    QVERIFY2(!seed.contains("edited_at"_L1) && !seed.contains("deleted"_L1), qPrintable(QString::fromUtf8(compact(seed))));
    QVERIFY2(seed.value("reactions"_L1).toObject().isEmpty(), qPrintable(QString::fromUtf8(compact(seed))));

    // No frame reached the members: no message, edit, reaction, read, typing, broadcast, diff.
    const auto received = membersReceived(topic);
    QVERIFY2(received.isEmpty(), qPrintable(describe(received)));

    // No presence entry but the members' own, nobody typing, no new member.
    QCOMPARE(presenceOf(topic), MembersOnly);
    QVERIFY(m_server->server().hub().typingUsers(topic).isEmpty());
    QCOMPARE(m_server->server().hub().memberClientIds(topic).size(), askerJoined ? 3 : 2);

    // The asker's listing does not name the channel (or there is none for it to see).
    if (!askerMayRead) {
        const auto listing = request("GET", asker.declared.isEmpty() ? u"/api/channels"_s
                                                                     : u"/api/channels?user="_s + asker.declared.value("id"_L1).toString(),
                                     {}, asker.authorization);
        QVERIFY2(listing.status == 200 || listing.status == 401, qPrintable(listing.describe()));
        QVERIFY2(!listing.body.contains(topic.toUtf8()), qPrintable(listing.describe()));
    }
}

// ---- WebSocket frames ---------------------------------------------------------------------------

namespace {

const QString WsJoin = u"chan:join"_s;
const QString WsChatJoin = u"chan:join chat"_s;
const QString WsBroadcast = u"broadcast"_s;
const QString WsTrack = u"presence track"_s;
const QString WsPresenceState = u"presence_state"_s;
const QStringList WsChatEvents{u"history"_s,      u"message:send"_s, u"message:edit"_s, u"message:delete"_s,
                               u"reaction:add"_s, u"read"_s,         u"typing:start"_s};

} // namespace

void tst_Authz::webSocketMatrix_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("who");
    QTest::addColumn<QString>("action");
    QTest::addColumn<QString>("joinCode");
    QTest::addColumn<QString>("code");

    const QStringList actions = QStringList{WsJoin, WsChatJoin, WsBroadcast, WsTrack, WsPresenceState} + WsChatEvents;
    for (const auto &c : matrixCases(false)) {
        for (const auto &action : actions) {
            const auto joinCode = policyCode(c.mode, c.who, c.topic);
            QString code;
            if (action == WsJoin || action == WsChatJoin)
                code = joinCode;
            else if (joinCode.isEmpty())
                code.clear();
            else if (WsChatEvents.contains(action) && userIdOf(c.who).isEmpty())
                code = QString(Err::IdentityRequired); // chat asks who you are before where you are
            else
                code = QString(Err::NotJoined); // a refused join left no membership to use
            QTest::newRow(rowName(action, c).constData()) << c.mode << c.topic << c.who << action << joinCode << code;
        }
    }
}

void tst_Authz::webSocketMatrix()
{
    QFETCH(QString, mode);
    QFETCH(QString, topic);
    QFETCH(QString, who);
    QFETCH(QString, action);
    QFETCH(QString, joinCode);
    QFETCH(QString, code);
    QVERIFY(startWorld(mode));
    const auto credentials = credentialsOf(mode, who);
    RawClient actor;
    QVERIFY(openSocket(actor));
    QVERIFY(sayHello(actor, credentials));

    // Chat events need a chat join; a broadcast asks for an ack, so that it is answered when ok.
    QJsonObject config;
    if (action == WsChatJoin || WsChatEvents.contains(action))
        config.insert(u"chat"_s, QJsonObject());
    if (action == WsBroadcast)
        config.insert(u"broadcast"_s, QJsonObject{{u"self"_s, false}, {u"ack"_s, true}});
    const auto joined = joinAs(actor, topic, config, credentials.wsToken);
    QCOMPARE(errorCodeOf(joined), joinCode);

    std::optional<QJsonObject> reply = joined;
    std::optional<RawClient::Frame> presenceState;
    const auto seed = m_seedIds.value(topic);
    const auto id = userIdOf(who);
    if (action == WsBroadcast) {
        reply = replyTo(actor, 
            actor.push(topic, u"broadcast"_s,
                       {{u"type"_s, u"broadcast"_s}, {u"event"_s, u"probe"_s}, {u"payload"_s, QJsonObject{{u"from"_s, who}}}}),
            topic);
    } else if (action == WsTrack) {
        reply = track(actor, topic, mode == Open && !id.isEmpty() ? std::optional(id) : std::nullopt);
    } else if (action == WsPresenceState) {
        // Answered with the state itself, or refused with an error reply.
        const auto ref = actor.push(topic, u"presence_state"_s);
        const auto answer = nextFrame(actor, [&](const RawClient::Frame &f) {
            return RawClient::isReplyTo(ref)(f) || RawClient::isEvent(topic, u"presence_state"_s)(f);
        });
        QVERIFY(answer);
        if (answer->at(3).toString() == "presence_state"_L1) {
            presenceState = answer;
            reply = QJsonObject{{u"status"_s, u"ok"_s}};
        } else {
            reply = answer->at(4).toObject();
        }
    } else if (WsChatEvents.contains(action)) {
        QJsonObject payload;
        if (action == "history"_L1)
            payload = {{u"limit"_s, 50}};
        else if (action == "message:send"_L1)
            payload = {{u"client_id"_s, u"probe-1"_s}, {u"body"_s, QString(u"probe from "_s + who)}};
        else if (action == "message:edit"_L1)
            payload = {{u"id"_s, seed}, {u"body"_s, QString(u"edited by "_s + who)}};
        else if (action == "message:delete"_L1)
            payload = {{u"id"_s, seed}};
        else if (action == "reaction:add"_L1)
            payload = {{u"id"_s, seed}, {u"emoji"_s, u"+1"_s}};
        else if (action == "read"_L1)
            payload = {{u"seq"_s, 1}};
        reply = replyTo(actor, actor.push(topic, action, payload), topic);
    }
    QCOMPARE(errorCodeOf(reply), code);

    if (!code.isEmpty()) {
        // Refused: the asker saw nothing of the channel either.
        QVERIFY(barrier(actor));
        const auto seen = actor.take(onTopic(topic));
        QVERIFY2(seen.isEmpty(), qPrintable(describe(seen)));
        verifyNothingLeaked(topic, credentials);
        return;
    }

    // Allowed: it did what it does.
    const auto response = reply->value("response"_L1).toObject();
    if (action == WsJoin) {
        QCOMPARE(m_server->server().hub().memberClientIds(topic).size(), 3);
    } else if (action == WsChatJoin) {
        QCOMPARE(response.value("chat"_L1).toObject().value("last_seq"_L1).toInteger(), 1);
    } else if (action == WsBroadcast) {
        QCOMPARE(response.value("recipientCount"_L1).toInt(), 2);
        const auto got = membersGet(topic, u"broadcast"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("payload"_L1).toObject().value("from"_L1).toString(), who);
    } else if (action == WsTrack) {
        QCOMPARE(response.value("key"_L1).toString(), id);
        const auto got = membersGet(topic, u"presence_diff"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QVERIFY2(p.value("joins"_L1).toObject().contains(id), qPrintable(QString::fromUtf8(compact(p))));
    } else if (action == WsPresenceState) {
        const auto state = payloadOf(presenceState);
        QVERIFY(state.contains(Bob) && state.contains(Carol));
    } else if (action == "history"_L1) {
        const auto messages = response.value("messages"_L1).toArray();
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.first().toObject().value("id"_L1).toString(), seed);
    } else if (action == "message:send"_L1) {
        QCOMPARE(response.value("seq"_L1).toInteger(), 2);
        const auto got = membersGet(topic, u"message"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("body"_L1).toString(), u"probe from "_s + who);
        QCOMPARE(historyAsOwner(topic).messages().size(), 2);
    } else if (action == "message:edit"_L1) {
        const auto got = membersGet(topic, u"message:edited"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("body"_L1).toString(), u"edited by "_s + who);
    } else if (action == "message:delete"_L1) {
        const auto got = membersGet(topic, u"message:deleted"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("id"_L1).toString(), seed);
    } else if (action == "reaction:add"_L1) {
        const auto got = membersGet(topic, u"reaction"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("reactions"_L1).toObject().value("+1"_L1).toArray(), QJsonArray{id});
    } else if (action == "read"_L1) {
        const auto got = membersGet(topic, u"read"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("user"_L1).toObject().value("id"_L1).toString(), id);
    } else if (action == "typing:start"_L1) {
        const auto got = membersGet(topic, u"typing"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got) {
            QCOMPARE(p.value("user"_L1).toObject().value("id"_L1).toString(), id);
            QCOMPARE(p.value("typing"_L1).toBool(), true);
        }
    }
}

void tst_Authz::inviteIntoPrivateChannel_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("who");
    QTest::addColumn<QString>("code");

    // Inviting needs no membership of the connection, so the Policy and the store decide here:
    // the claim first (JWT), then membership of the inviter.
    QTest::newRow("alice (jwt)") << Jwt << Alice << QString(Err::AuthChannelDenied);
    QTest::newRow("alice-wide (jwt)") << Jwt << AliceWide << QString(Err::Forbidden);
    QTest::newRow("nobody (jwt)") << Jwt << Nobody << QString(Err::IdentityRequired);
    QTest::newRow("carol (jwt)") << Jwt << Carol << QString();
    QTest::newRow("alice (open)") << Open << Alice << QString(Err::Forbidden);
    QTest::newRow("nobody (open)") << Open << Nobody << QString(Err::IdentityRequired);
    QTest::newRow("carol (open)") << Open << Carol << QString();
}

void tst_Authz::inviteIntoPrivateChannel()
{
    QFETCH(QString, mode);
    QFETCH(QString, who);
    QFETCH(QString, code);
    QVERIFY(startWorld(mode));
    auto actor = connectAs(who);
    QVERIFY(actor);
    // alice invites herself: the invitation she would need; a member invites dave.
    const QString invitee = who == Carol ? u"dave"_s : Alice;
    const auto reply = replyTo(*actor, actor->push(Private, u"channel:invite"_s, {{u"user"_s, invitee}}), Private);
    QCOMPARE(errorCodeOf(reply), code);
    const auto member = storeSaysMember(Private, invitee);
    QVERIFY(member);
    QCOMPARE(*member, code.isEmpty());
    if (code.isEmpty()) {
        const auto members = reply->value("response"_L1).toObject().value("members"_L1).toArray();
        QVERIFY(members.contains(invitee));
        return;
    }
    QVERIFY(barrier(*actor));
    QVERIFY2(actor->take(onTopic(Private)).isEmpty(), "the asker got frames of the private channel");
    verifyNothingLeaked(Private, credentialsOf(mode, who));
}

// ---- HTTP chat fallback -------------------------------------------------------------------------

namespace {

const QString HttpPostMessage = u"POST /messages"_s;
const QString HttpGetMessages = u"GET /channels/c/messages"_s;
const QString HttpPoll = u"GET /poll"_s;
const QString HttpTyping = u"POST /typing"_s;
const QString HttpGetPresence = u"GET /presence/c"_s;
const QString HttpPostPresence = u"POST /presence/c"_s;
const QString HttpFakePresence = u"POST /presence/c with bob's key"_s;

} // namespace

void tst_Authz::httpFallbackMatrix_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("who");
    QTest::addColumn<QString>("action");
    QTest::addColumn<QString>("key"); //!< POST /presence: the key asked for (empty: none)
    QTest::addColumn<QString>("code");

    for (const auto &c : matrixCases(false)) {
        for (const auto &action : {HttpPostMessage, HttpGetMessages, HttpPoll, HttpTyping, HttpGetPresence,
                                   HttpPostPresence, HttpFakePresence}) {
            QString key;
            QString code = policyCode(c.mode, c.who, c.topic);
            if (action == HttpFakePresence) {
                // A member asks for a device key of its own (allowed); the others for bob's.
                const bool member = code.isEmpty();
                key = member ? userIdOf(c.who) + u"/laptop"_s : Bob;
                // Open mode lets anyone be anyone in a channel they may use (issue 11): only the
                // refusals it promises are rows.
                if (c.mode == Open && c.who == Alice && member)
                    continue;
                // JWT mode: the key is checked before the channel: not hers, so refused anywhere.
                if (c.mode == Jwt && !member && c.who != Nobody)
                    code = QString(Err::Forbidden);
            }
            QTest::newRow(rowName(action, c).constData()) << c.mode << c.topic << c.who << action << key << code;
        }
    }
    // The fake key where alice may be: room:lobby, JWT mode.
    const Case lobby{Jwt, Lobby, Alice};
    QTest::newRow(rowName(u"POST /presence/c with bob/phone"_s, lobby).constData())
        << Jwt << Lobby << Alice << HttpFakePresence << u"bob/phone"_s << QString(Err::Forbidden);
    QTest::newRow(rowName(u"POST /presence/c with alice/phone"_s, lobby).constData())
        << Jwt << Lobby << Alice << HttpFakePresence << u"alice/phone"_s << QString();
}

void tst_Authz::httpFallbackMatrix()
{
    QFETCH(QString, mode);
    QFETCH(QString, topic);
    QFETCH(QString, who);
    QFETCH(QString, action);
    QFETCH(QString, key);
    QFETCH(QString, code);
    QVERIFY(startWorld(mode));
    const auto credentials = credentialsOf(mode, who);
    const auto id = userIdOf(who);
    const auto t = encoded(topic);

    HttpResult result;
    if (action == HttpPostMessage)
        result = call("POST", u"/messages"_s,
                      {{u"channel"_s, topic}, {u"client_id"_s, u"probe-1"_s}, {u"body"_s, QString(u"probe from "_s + who)}},
                      credentials);
    else if (action == HttpGetMessages)
        result = call("GET", u"/channels/%1/messages"_s.arg(t), {}, credentials);
    else if (action == HttpPoll)
        result = call("GET", u"/poll?channel=%1&since=0"_s.arg(t), {}, credentials);
    else if (action == HttpTyping)
        result = call("POST", u"/typing"_s, {{u"channel"_s, topic}, {u"typing"_s, true}}, credentials);
    else if (action == HttpGetPresence)
        result = call("GET", u"/presence/%1"_s.arg(t), {}, credentials);
    else if (action == HttpPostPresence)
        result = call("POST", u"/presence/%1"_s.arg(t), {{u"meta"_s, QJsonObject{{u"status"_s, u"online"_s}}}}, credentials);
    else
        result = call("POST", u"/presence/%1"_s.arg(t),
                      {{u"meta"_s, QJsonObject{{u"status"_s, u"online"_s}}}, {u"key"_s, key}}, credentials);
    QVERIFY(result.finished);
    QVERIFY2(result.status == statusFor(code, action == HttpPostMessage ? 201 : 200), qPrintable(result.describe()));

    if (!code.isEmpty()) {
        QCOMPARE(result.errorCode(), code);
        // An error is all the body says: no messages, no presence.
        QCOMPARE(result.json().keys(), QStringList{u"error"_s});
        // A fake key refused where the asker may be (room:lobby): it lists the channel, rightly.
        verifyNothingLeaked(topic, credentials, policyCode(mode, who, topic).isEmpty());
        return;
    }

    const auto json = result.json();
    if (action == HttpPostMessage) {
        QCOMPARE(json.value("seq"_L1).toInteger(), 2);
        const auto got = membersGet(topic, u"message"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("author"_L1).toObject().value("id"_L1).toString(), id);
        QCOMPARE(historyAsOwner(topic).messages().size(), 2);
    } else if (action == HttpGetMessages || action == HttpPoll) {
        QCOMPARE(result.messages().size(), 1);
        QCOMPARE(result.messages().first().toObject().value("id"_L1).toString(), m_seedIds.value(topic));
    } else if (action == HttpTyping) {
        const auto got = membersGet(topic, u"typing"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("user"_L1).toObject().value("id"_L1).toString(), id);
    } else if (action == HttpGetPresence) {
        const auto presence = json.value("presence"_L1).toObject();
        QCOMPARE(presence.keys(), (QStringList{Bob, Carol}));
    } else {
        const auto shownAs = key.isEmpty() ? id : key;
        QCOMPARE(json.value("key"_L1).toString(), shownAs);
        const auto got = membersGet(topic, u"presence_diff"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QVERIFY2(p.value("joins"_L1).toObject().contains(shownAs), qPrintable(QString::fromUtf8(compact(p))));
    }
}

// ---- REST ---------------------------------------------------------------------------------------

namespace {

const QString RestChannel = u"GET /api/channels/c"_s;
const QString RestBroadcast = u"POST /api/broadcast"_s;

} // namespace

void tst_Authz::restMatrix_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("who");
    QTest::addColumn<QString>("action");
    QTest::addColumn<QString>("code");

    for (const auto &c : matrixCases(true)) {
        for (const auto &action : {RestChannel, RestBroadcast})
            QTest::newRow(rowName(action, c).constData()) << c.mode << c.topic << c.who << action
                                                          << policyCode(c.mode, c.who, c.topic);
    }
}

void tst_Authz::restMatrix()
{
    QFETCH(QString, mode);
    QFETCH(QString, topic);
    QFETCH(QString, who);
    QFETCH(QString, action);
    QFETCH(QString, code);
    QVERIFY(startWorld(mode));
    const auto credentials = credentialsOf(mode, who);

    const auto result = action == RestChannel
        ? call("GET", u"/api/channels/%1"_s.arg(encoded(topic)), {}, credentials)
        : call("POST", u"/api/broadcast"_s,
               {{u"topic"_s, topic}, {u"event"_s, u"probe"_s}, {u"payload"_s, QJsonObject{{u"from"_s, who}}}},
               credentials);
    QVERIFY(result.finished);
    QVERIFY2(result.status == statusFor(code), qPrintable(result.describe()));
    if (!code.isEmpty()) {
        QCOMPARE(result.errorCode(), code);
        QCOMPARE(result.json().keys(), QStringList{u"error"_s});
        verifyNothingLeaked(topic, credentials);
        return;
    }
    const auto json = result.json();
    if (action == RestChannel) {
        QCOMPARE(json.value("topic"_L1).toString(), topic);
        QCOMPARE(json.value("memberCount"_L1).toInt(), 2);
        QCOMPARE(json.value("members"_L1).toArray().size(), 2);
        QCOMPARE(json.value("presence"_L1).toObject(), (QJsonObject{{Bob, 1}, {Carol, 1}}));
    } else {
        QCOMPARE(json.value("recipientCount"_L1).toInt(), 2);
        const auto got = membersGet(topic, u"broadcast"_s);
        QCOMPARE(got.size(), 2);
        for (const auto &p : got)
            QCOMPARE(p.value("payload"_L1).toObject().value("from"_L1).toString(), who);
    }
}

void tst_Authz::channelListing_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("who");
    QTest::addColumn<int>("status");
    QTest::addColumn<QStringList>("listed");

    QTest::newRow("alice (jwt)") << Jwt << Alice << 200 << QStringList{Lobby};
    QTest::newRow("alice-wide (jwt)") << Jwt << AliceWide << 200 << QStringList{Lobby};
    QTest::newRow("bob (jwt)") << Jwt << Bob << 200 << AllTopics;
    QTest::newRow("nobody (jwt)") << Jwt << Nobody << 401 << QStringList();
    QTest::newRow("operator (jwt)") << Jwt << Operator << 200 << AllTopics;
    QTest::newRow("admin-claim (jwt)") << Jwt << AdminClaim << 200 << AllTopics;
    QTest::newRow("alice (open)") << Open << Alice << 200 << QStringList{Other, Lobby};
    QTest::newRow("nobody (open)") << Open << Nobody << 200 << QStringList{Other, Lobby};
    QTest::newRow("carol (open)") << Open << Carol << 200 << AllTopics;
    QTest::newRow("operator (open)") << Open << Operator << 200 << AllTopics;
}

void tst_Authz::channelListing()
{
    QFETCH(QString, mode);
    QFETCH(QString, who);
    QFETCH(int, status);
    QFETCH(QStringList, listed);
    QVERIFY(startWorld(mode));
    const auto result = call("GET", u"/api/channels"_s, {}, credentialsOf(mode, who));
    QVERIFY2(result.status == status, qPrintable(result.describe()));
    if (status != 200) {
        QCOMPARE(result.errorCode(), QString(Err::AuthTokenRequired));
    } else {
        QStringList topics;
        for (const auto &c : result.json().value("channels"_L1).toArray()) {
            topics.append(c.toObject().value("topic"_L1).toString());
            // Every channel here has bob and carol in it: the listing is of live channels.
            QCOMPARE(c.toObject().value("memberCount"_L1).toInt(), 2);
        }
        QCOMPARE(topics, listed);
        QCOMPARE(result.json().value("count"_L1).toInt(), listed.size());
    }
    // A hidden channel is not named anywhere in the answer.
    for (const auto &topic : AllTopics) {
        if (!listed.contains(topic))
            QVERIFY2(!result.body.contains(topic.toUtf8()), qPrintable(result.describe()));
    }
}

void tst_Authz::channelDetailEdges_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("who");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("code");

    // A private channel that was never created: the claim first, then "no such channel".
    const auto nope = u"private:nope"_s;
    QTest::newRow("private:nope as alice (jwt)") << Jwt << Alice << nope << QString(Err::AuthChannelDenied);
    QTest::newRow("private:nope as alice-wide (jwt)") << Jwt << AliceWide << nope << QString(Err::NotFound);
    QTest::newRow("private:nope as nobody (jwt)") << Jwt << Nobody << nope << QString(Err::AuthTokenRequired);
    QTest::newRow("private:nope as operator (jwt)") << Jwt << Operator << nope << QString();
    QTest::newRow("private:nope as alice (open)") << Open << Alice << nope << QString(Err::NotFound);
    QTest::newRow("private:nope as nobody (open)") << Open << Nobody << nope << QString(Err::IdentityRequired);
    QTest::newRow("private:nope as operator (open)") << Open << Operator << nope << QString();
    // A DM name out of order is no channel, for anyone.
    for (const auto &[mode, who] : {std::pair{Jwt, Bob}, std::pair{Jwt, Operator}, std::pair{Open, Bob}, std::pair{Open, Operator}})
        QTest::newRow(u"dm:carol:bob as %1 (%2)"_s.arg(who, mode).toUtf8().constData())
            << mode << who << u"dm:carol:bob"_s << QString(Err::InvalidTopic);
}

void tst_Authz::channelDetailEdges()
{
    QFETCH(QString, mode);
    QFETCH(QString, who);
    QFETCH(QString, topic);
    QFETCH(QString, code);
    QVERIFY(startWorld(mode));
    const auto result = call("GET", u"/api/channels/%1"_s.arg(encoded(topic)), {}, credentialsOf(mode, who));
    QVERIFY2(result.status == statusFor(code), qPrintable(result.describe()));
    if (code.isEmpty()) {
        QCOMPARE(result.json().value("memberCount"_L1).toInt(), 0);
        return;
    }
    QCOMPARE(result.errorCode(), code);
    QVERIFY(!m_server->server().hub().hasChannel(topic));
}

// ---- Presence keys ------------------------------------------------------------------------------

void tst_Authz::presenceKeys_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("door");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("shownAs");

    // JWT mode: alice, in room:lobby where she may be, is shown as herself or one of her devices.
    const QString track = u"presence track"_s;
    const QString joinKey = u"join config.presence.key"_s;
    const QString http = u"POST /presence"_s;
    const auto forbidden = QString(Err::Forbidden);
    struct Key
    {
        QString key;
        QString code;
        QString shownAs;
    };
    const QList<Key> keys{
        {Alice, {}, Alice},
        {QString(), {}, Alice}, // an empty key means the user id
        {u"alice/phone"_s, {}, u"alice/phone"_s},
        {u"alice/Work_PC-2.1"_s, {}, u"alice/Work_PC-2.1"_s},
        {Bob, forbidden, {}},
        {u"bob/phone"_s, forbidden, {}},
        {u"carol"_s, forbidden, {}},
        {u"alicex"_s, forbidden, {}},
        {u"alice/"_s, forbidden, {}},
        {u"alice/ph one"_s, forbidden, {}},
        {u"alice/a/b"_s, forbidden, {}},
        {u"alice/phone\n"_s, forbidden, {}},
        {u"alice/"_s + QString(65, u'd'), forbidden, {}},
    };
    for (const auto &door : {track, joinKey, http}) {
        for (const auto &k : keys) {
            QTest::newRow(u"%1 \"%2\" (jwt)"_s.arg(door, QString(k.key).replace(u'\n', u"\\n"_s)).toUtf8().constData())
                << Jwt << door << k.key << k.code << k.shownAs;
        }
    }
    // Open mode: any key is a key (what it promises); shown as asked.
    for (const auto &door : {track, joinKey, http})
        QTest::newRow(u"%1 \"alice/phone\" (open)"_s.arg(door).toUtf8().constData())
            << Open << door << u"alice/phone"_s << QString() << u"alice/phone"_s;
}

void tst_Authz::presenceKeys()
{
    QFETCH(QString, mode);
    QFETCH(QString, door);
    QFETCH(QString, key);
    QFETCH(QString, code);
    QFETCH(QString, shownAs);
    QVERIFY(startWorld(mode));
    const auto credentials = credentialsOf(mode, Alice);

    QString resolved;
    std::unique_ptr<RawClient> alice; // lives to the end: her entry and membership are looked at
    if (door == "POST /presence"_L1) {
        const auto result = call("POST", u"/presence/%1"_s.arg(encoded(Lobby)),
                                 {{u"meta"_s, QJsonObject{{u"status"_s, u"online"_s}}}, {u"key"_s, key}}, credentials);
        QVERIFY2(result.status == statusFor(code), qPrintable(result.describe()));
        QCOMPARE(result.errorCode(), code);
        resolved = result.json().value("key"_L1).toString();
    } else {
        alice = connectAs(Alice);
        QVERIFY(alice);
        QJsonObject config;
        if (door == "join config.presence.key"_L1)
            config.insert(u"presence"_s, QJsonObject{{u"key"_s, key}});
        QCOMPARE(errorCodeOf(joinAs(*alice, Lobby, config, credentials.wsToken)), QString());
        const auto reply = track(*alice, Lobby, door == "presence track"_L1 ? std::optional(key) : std::nullopt);
        QCOMPARE(errorCodeOf(reply), code);
        resolved = reply->value("response"_L1).toObject().value("key"_L1).toString();
    }

    if (!code.isEmpty()) {
        verifyNothingLeaked(Lobby, credentials, true, door != "POST /presence"_L1);
        return;
    }
    QCOMPARE(resolved, shownAs);
    const auto got = membersGet(Lobby, u"presence_diff"_s);
    QCOMPARE(got.size(), 2);
    for (const auto &p : got)
        QVERIFY2(p.value("joins"_L1).toObject().contains(shownAs), qPrintable(QString::fromUtf8(compact(p))));
    QCOMPARE(presenceOf(Lobby), presenceText({{Bob, 1}, {Carol, 1}, {shownAs, 1}}));
}

void tst_Authz::untrackSomeoneElsesKey_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("code");
    QTest::newRow("jwt") << Jwt << QString(Err::Forbidden);
    // Open mode allows any key, but an untrack only ever touches the asker's own entries.
    QTest::newRow("open") << Open << QString();
}

void tst_Authz::untrackSomeoneElsesKey()
{
    QFETCH(QString, mode);
    QFETCH(QString, code);
    QVERIFY(startWorld(mode));
    auto alice = connectAs(Alice);
    QVERIFY(alice);
    QCOMPARE(errorCodeOf(joinAs(*alice, Lobby, {}, credentialsOf(mode, Alice).wsToken)), QString());
    const auto payload = QJsonObject{{u"type"_s, u"presence"_s}, {u"event"_s, u"untrack"_s},
                                     {u"payload"_s, QJsonObject{{u"key"_s, Bob}}}};
    QCOMPARE(errorCodeOf(replyTo(*alice, alice->push(Lobby, u"presence"_s, payload), Lobby)), code);
    verifyNothingLeaked(Lobby, credentialsOf(mode, Alice), true, true);
}

// ---- Token refresh ------------------------------------------------------------------------------

void tst_Authz::tokenRefresh_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<QString>("code");
    QTest::addColumn<bool>("closes");

    const qint64 exp = QDateTime::currentSecsSinceEpoch() + 600;
    QTest::newRow("claim no longer matches") << mint(Alice, {u"other:*"_s}) << QString(Err::AuthChannelDenied) << true;
    QTest::newRow("same claim") << mint(Alice, {u"room:*"_s}) << QString() << false;
    QTest::newRow("another user") << mint(Bob) << QString(Err::AuthInvalidToken) << false;
    QTest::newRow("sub not a user id") << mint(u"alice@example.com"_s) << QString(Err::AuthInvalidToken) << false;
    QTest::newRow("admin not a boolean")
        << hs256({{u"sub"_s, Alice}, {u"exp"_s, exp}, {u"admin"_s, u"yes"_s}}) << QString(Err::AuthInvalidToken) << false;
}

void tst_Authz::tokenRefresh()
{
    QFETCH(QByteArray, token);
    QFETCH(QString, code);
    QFETCH(bool, closes);
    QVERIFY(startWorld(Jwt));
    auto alice = connectAs(Alice);
    QVERIFY(alice);
    const QJsonObject config{{u"broadcast"_s, QJsonObject{{u"ack"_s, true}}}};
    QCOMPARE(errorCodeOf(joinAs(*alice, Lobby, config, tokenOf(Alice))), QString());
    QCOMPARE(errorCodeOf(track(*alice, Lobby, std::nullopt)), QString());
    QCOMPARE(membersGet(Lobby, u"presence_diff"_s).size(), 2);

    const auto reply = replyTo(*alice, 
        alice->push(Lobby, u"access_token"_s, {{u"access_token"_s, QString::fromLatin1(token)}}), Lobby);
    QCOMPARE(errorCodeOf(reply), code);
    const auto broadcast = [&] {
        return replyTo(*alice, 
            alice->push(Lobby, u"broadcast"_s, {{u"event"_s, u"probe"_s}, {u"payload"_s, QJsonObject()}}), Lobby);
    };

    if (closes) {
        // The channel is closed, not only the refresh refused: presence gone, membership gone.
        const auto close = nextEvent(*alice, Lobby, u"chan:close"_s);
        QVERIFY(close);
        QCOMPARE(payloadOf(close).value("code"_L1).toString(), QString(Err::AuthChannelDenied));
        QVERIFY(!payloadOf(close).value("reason"_L1).toString().isEmpty());
        for (const auto &diff : membersGet(Lobby, u"presence_diff"_s))
            QVERIFY2(diff.value("leaves"_L1).toObject().contains(Alice), qPrintable(QString::fromUtf8(compact(diff))));
        QCOMPARE(errorCodeOf(broadcast()), QString(Err::NotJoined));
        const auto received = membersReceived(Lobby);
        QVERIFY2(received.isEmpty(), qPrintable(describe(received)));
        QCOMPARE(m_server->server().hub().memberClientIds(Lobby).size(), 2);
        QCOMPARE(presenceOf(Lobby), MembersOnly);
        return;
    }
    // The channel stays under its token: still a member, still heard.
    QVERIFY(barrier(*alice));
    QCOMPARE(alice->count(RawClient::isEvent(Lobby, u"chan:close"_s)), 0);
    const auto sent = broadcast();
    QCOMPARE(errorCodeOf(sent), QString());
    QCOMPARE(sent->value("response"_L1).toObject().value("recipientCount"_L1).toInt(), 2);
    QCOMPARE(membersGet(Lobby, u"broadcast"_s).size(), 2);
    QCOMPARE(presenceOf(Lobby), presenceText({{Alice, 1}, {Bob, 1}, {Carol, 1}}));
}

// ---- Tokens that are not what they claim --------------------------------------------------------

void tst_Authz::invalidSubject_data()
{
    QTest::addColumn<QString>("sub");
    QTest::addColumn<QString>("door");

    // A subject becomes a DM name, a mention and a presence key: it must be a user id (1-64 of
    // A-Z a-z 0-9 _ . -), or "bob:carol" could pass for a member of dm:bob:carol's name.
    const QList<std::pair<const char *, QString>> subs{
        {"bob:carol\\n", u"bob:carol\n"_s},
        {"empty", QString()},
        {"65 characters", QString(65, u'a')},
        {"e-mail", u"alice@example.com"_s},
        {"trailing newline", u"bob\n"_s},
    };
    for (const auto &[name, sub] : subs) {
        for (const auto &door : {u"join"_s, u"hello"_s, u"Bearer"_s})
            QTest::newRow(u"%1 on %2"_s.arg(QLatin1StringView(name), door).toUtf8().constData()) << sub << door;
    }
}

void tst_Authz::invalidSubject()
{
    QFETCH(QString, sub);
    QFETCH(QString, door);
    QVERIFY(startWorld(Jwt));
    // Signed with the server's own key: only the subject is wrong. mintToken() refuses to make a
    // token without a subject, so that one is made by hand.
    const QByteArray token = sub.isEmpty()
        ? hs256({{u"sub"_s, sub}, {u"exp"_s, QDateTime::currentSecsSinceEpoch() + 600}})
        : mint(sub);
    QVERIFY(!token.isEmpty());
    const auto code = QString(Err::AuthInvalidToken);

    if (door == "Bearer"_L1) {
        const auto authorization = "Bearer " + token;
        const auto history = request("GET", u"/channels/%1/messages"_s.arg(encoded(Dm)), {}, authorization);
        QCOMPARE(history.status, 401);
        QCOMPARE(history.errorCode(), code);
        const auto posted = request("POST", u"/messages"_s,
                                    compact({{u"channel"_s, Dm}, {u"client_id"_s, u"probe-1"_s}, {u"body"_s, u"hi"_s}}),
                                    authorization);
        QCOMPARE(posted.status, 401);
        QCOMPARE(posted.errorCode(), code);
        verifyNothingLeaked(Dm, Credentials{{}, {}, authorization});
        return;
    }
    RawClient client;
    QVERIFY(openSocket(client));
    if (door == "join"_L1) {
        QCOMPARE(errorCodeOf(joinAs(client, Dm, {{u"chat"_s, QJsonObject()}}, token)), code);
    } else {
        const auto hello = replyTo(client, 
            client.push(u"$system"_s, u"hello"_s, {{u"access_token"_s, QString::fromLatin1(token)}}), u"$system"_s);
        QCOMPARE(errorCodeOf(hello), code);
    }
    // The connection did not become anyone.
    const auto unread = replyTo(client, client.push(u"$system"_s, u"unread"_s), u"$system"_s);
    QCOMPARE(errorCodeOf(unread), QString(Err::IdentityRequired));
    QVERIFY(barrier(client));
    QVERIFY2(client.take(onTopic(Dm)).isEmpty(), "the refused connection got frames of the DM");
    verifyNothingLeaked(Dm, Credentials{});
}

void tst_Authz::adminClaimMustBeBoolean_data()
{
    QTest::addColumn<QJsonValue>("admin");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<bool>("isOperator");

    QTest::newRow("\"yes\"") << QJsonValue(u"yes"_s) << false << false;
    QTest::newRow("\"true\"") << QJsonValue(u"true"_s) << false << false;
    QTest::newRow("1") << QJsonValue(1) << false << false;
    QTest::newRow("null") << QJsonValue(QJsonValue::Null) << false << false;
    QTest::newRow("object") << QJsonValue(QJsonObject{{u"admin"_s, true}}) << false << false;
    QTest::newRow("true") << QJsonValue(true) << true << true;
    QTest::newRow("false") << QJsonValue(false) << true << false;
}

void tst_Authz::adminClaimMustBeBoolean()
{
    QFETCH(QJsonValue, admin);
    QFETCH(bool, valid);
    QFETCH(bool, isOperator);
    QVERIFY(startWorld(Jwt));
    const QByteArray token =
        hs256({{u"sub"_s, u"ops"_s}, {u"exp"_s, QDateTime::currentSecsSinceEpoch() + 600}, {u"admin"_s, admin}});
    const auto invalid = QString(Err::AuthInvalidToken);

    // Bearer: the operator routes.
    const auto stats = request("GET", u"/api/stats"_s, {}, "Bearer " + token);
    const int statsStatus = !valid ? 401 : isOperator ? 200 : 403;
    QVERIFY2(stats.status == statsStatus, qPrintable(stats.describe()));
    QCOMPARE(stats.errorCode(), !valid ? invalid : isOperator ? QString() : QString(Err::Forbidden));

    // hello and join: the DM of others is the operator's only.
    RawClient client;
    QVERIFY(openSocket(client));
    const auto hello = replyTo(client, 
        client.push(u"$system"_s, u"hello"_s, {{u"access_token"_s, QString::fromLatin1(token)}}), u"$system"_s);
    QCOMPARE(errorCodeOf(hello), valid ? QString() : invalid);
    const auto joined = joinAs(client, Dm, {}, token);
    QCOMPARE(errorCodeOf(joined), !valid ? invalid : isOperator ? QString() : QString(Err::Forbidden));
    if (!isOperator)
        verifyNothingLeaked(Dm, Credentials{{}, {}, "Bearer " + token});
}

// ---- Operator routes ----------------------------------------------------------------------------

void tst_Authz::operatorRoutes_data()
{
    QTest::addColumn<QString>("mode"); //!< jwt; open (with ADMIN_TOKEN); lan (open, no ADMIN_TOKEN)
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("authorization");
    QTest::addColumn<QString>("query");
    QTest::addColumn<QString>("code");

    const QByteArray admin = "Bearer " + AdminToken;
    const QByteArray wrong = "Bearer not-the-admin-token-0123456789";
    struct Row
    {
        const char *name;
        QString mode;
        QByteArray authorization;
        QString query;
        QString code;
    };
    const QList<Row> rows{
        {"no credential (jwt)", Jwt, {}, {}, QString(Err::AuthTokenRequired)},
        {"user token (jwt)", Jwt, "Bearer " + tokenOf(Alice), {}, QString(Err::Forbidden)},
        {"unrestricted user token (jwt)", Jwt, "Bearer " + tokenOf(Bob), {}, QString(Err::Forbidden)},
        {"ADMIN_TOKEN (jwt)", Jwt, admin, {}, {}},
        {"admin claim (jwt)", Jwt, "Bearer " + tokenOf(AdminClaim), {}, {}},
        {"wrong admin token (jwt)", Jwt, wrong, {}, QString(Err::AuthInvalidToken)},
        {"basic auth (jwt)", Jwt, "Basic YWRtaW46YWRtaW4=", {}, QString(Err::AuthTokenRequired)},
        {"no credential (open)", Open, {}, {}, QString(Err::AuthTokenRequired)},
        {"declared user (open)", Open, {}, u"?user=alice"_s, QString(Err::AuthTokenRequired)},
        {"ADMIN_TOKEN (open)", Open, admin, {}, {}},
        {"wrong admin token (open)", Open, wrong, {}, QString(Err::AuthInvalidToken)},
        {"admin-claim JWT (open)", Open, "Bearer " + tokenOf(AdminClaim), {}, QString(Err::AuthInvalidToken)},
        // Open mode without an ADMIN_TOKEN is a trusted LAN: everyone is the operator.
        {"no credential (lan)", u"lan"_s, {}, {}, {}},
    };
    for (const auto &path : {u"/api/stats"_s, u"/metrics"_s}) {
        for (const auto &r : rows)
            QTest::newRow(u"%1 %2"_s.arg(path, QLatin1StringView(r.name)).toUtf8().constData())
                << r.mode << path << r.authorization << r.query << r.code;
    }
}

void tst_Authz::operatorRoutes()
{
    QFETCH(QString, mode);
    QFETCH(QString, path);
    QFETCH(QByteArray, authorization);
    QFETCH(QString, query);
    QFETCH(QString, code);
    auto config = configFor(mode == Jwt ? Jwt : Open);
    if (mode == "lan"_L1)
        config.auth.adminToken.clear();
    QVERIFY(startServer(config));

    const auto result = request("GET", path + query, {}, authorization);
    QVERIFY2(result.status == statusFor(code), qPrintable(result.describe()));
    QCOMPARE(result.errorCode(), code);
    const bool isStats = path == "/api/stats"_L1;
    // What only the operator may see: the counters.
    const QByteArray marker = isStats ? "\"uptimeSeconds\"" : "confab_connections";
    QCOMPARE(result.body.contains(marker), code.isEmpty());
}

void tst_Authz::metricsAddress()
{
    // A scraper on the metrics address needs no credential, and that address serves nothing
    // else; the main port still asks for one.
    bool started = false;
    for (int attempt = 0; attempt < 5 && !started; ++attempt) {
        // Port 0 means "no metrics address": find a free port, then hand it to the server.
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const auto port = probe.serverPort();
        probe.close();
        auto config = configFor(Jwt);
        config.metricsAddress = QHostAddress::LocalHost;
        config.metricsPort = port;
        started = startServer(config); // another process may have taken the port meanwhile
    }
    QVERIFY(started);
    const auto metricsPort = m_server->server().metricsPort();
    QVERIFY(metricsPort != 0 && metricsPort != m_server->port());

    const auto metrics = request("GET", u"/metrics"_s, {}, {}, metricsPort);
    QCOMPARE(metrics.status, 200);
    QVERIFY(metrics.body.contains("confab_connections"));
    QCOMPARE(request("GET", u"/health"_s, {}, {}, metricsPort).status, 200);
    for (const auto &path : {u"/api/stats"_s, u"/api/channels"_s, u"/api/channels/room%3Alobby"_s,
                             u"/channels/room%3Alobby/messages"_s, u"/presence/room%3Alobby"_s}) {
        const auto other = request("GET", path, {}, {}, metricsPort);
        QVERIFY2(other.status == 404, qPrintable(path + u' ' + other.describe()));
        QVERIFY(!other.body.contains("uptimeSeconds"));
    }
    const auto broadcast = request("POST", u"/api/broadcast"_s,
                                   compact({{u"topic"_s, Lobby}, {u"event"_s, u"probe"_s}, {u"payload"_s, QJsonObject()}}),
                                   {}, metricsPort);
    QCOMPARE(broadcast.status, 404);

    const auto main = request("GET", u"/metrics"_s, {}, {});
    QCOMPARE(main.status, 401);
    QCOMPARE(main.errorCode(), QString(Err::AuthTokenRequired));
    QCOMPARE(request("GET", u"/metrics"_s, {}, "Bearer " + AdminToken).status, 200);
}

QTEST_GUILESS_MAIN(tst_Authz)
#include "tst_authz.moc"
