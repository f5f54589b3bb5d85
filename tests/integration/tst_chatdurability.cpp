// Chat durability against the confab-server executable (docs/protocol.md "Messages"): a SIGKILL
// in the middle of a pipelined stream loses no acknowledged message and the client's resends
// create no duplicates; a graceful restart mid-conversation keeps history and lets each client
// catch up with every message exactly once, in order. Each test runs the real binary on its own
// data directory and a fixed port, so a restart is the same server address for the clients.
#include "rawclient.h"
#include "serverprocess.h"

#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QMap>
#include <QtCore/QProcess>
#include <QtCore/QSet>
#include <QtCore/QTemporaryDir>
#include <QtNetwork/QTcpServer>
#include <QtTest/QTest>

#include <memory>
#include <optional>

using namespace Qt::StringLiterals;
using Confab::Testing::RawClient;
using Confab::Testing::ServerProcess;

#ifndef CONFAB_SERVER_BIN
#error "CONFAB_SERVER_BIN must be defined by the build (tests/CMakeLists.txt)"
#endif

namespace {

bool isOk(const QJsonObject &reply)
{
    return reply.value("status"_L1).toString() == "ok"_L1;
}

QJsonObject response(const QJsonObject &reply)
{
    return reply.value("response"_L1).toObject();
}

QString compact(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

//! A free port on 127.0.0.1 for the whole test: the restarted server must come back on it.
quint16 freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    const quint16 port = probe.serverPort();
    probe.close();
    return port;
}

//! The whole history of \a topic, paged forward with `after` and backward with `before`; both
//! directions must agree. Null (with \a error) if a page fails or the directions disagree.
std::optional<QList<QJsonObject>> readHistory(RawClient &client, const QString &topic, QString *error)
{
    auto page = [&](const QJsonObject &query) -> std::optional<QJsonObject> {
        const auto ref = client.push(topic, u"history"_s, query);
        const auto reply = client.waitForReply(ref, topic, 10000);
        if (!reply || !isOk(*reply)) {
            *error = u"history %1 failed: %2"_s.arg(compact(query), reply ? compact(*reply) : u"no reply"_s);
            return std::nullopt;
        }
        return response(*reply);
    };

    QList<QJsonObject> forward;
    qint64 lastSeq = -1;
    for (qint64 after = 0;;) {
        const auto p = page({{u"after"_s, after}, {u"limit"_s, 100}});
        if (!p)
            return std::nullopt;
        lastSeq = p->value("last_seq"_L1).toInteger();
        const auto messages = p->value("messages"_L1).toArray();
        for (const auto &m : messages)
            forward.append(m.toObject());
        if (!p->value("has_more"_L1).toBool())
            break;
        if (messages.isEmpty()) {
            *error = u"history: has_more with an empty page after %1"_s.arg(after);
            return std::nullopt;
        }
        after = messages.last().toObject().value("seq"_L1).toInteger();
    }

    // Backward, with a page size that does not divide the total, from one past the end.
    QList<QJsonObject> backward;
    for (qint64 before = lastSeq + 1;;) {
        const auto p = page({{u"before"_s, before}, {u"limit"_s, 37}});
        if (!p)
            return std::nullopt;
        const auto messages = p->value("messages"_L1).toArray();
        QList<QJsonObject> chunk;
        for (const auto &m : messages)
            chunk.append(m.toObject());
        backward = chunk + backward;
        if (!p->value("has_more"_L1).toBool())
            break;
        if (messages.isEmpty()) {
            *error = u"history: has_more with an empty page before %1"_s.arg(before);
            return std::nullopt;
        }
        before = messages.first().toObject().value("seq"_L1).toInteger();
    }

    if (forward != backward) {
        *error = u"history paged forward (%1 messages) differs from backward (%2)"_s.arg(forward.size()).arg(backward.size());
        return std::nullopt;
    }
    if (forward.isEmpty() ? lastSeq != 0 : forward.last().value("seq"_L1).toInteger() != lastSeq) {
        *error = u"history: last_seq %1 is not the last message's seq"_s.arg(lastSeq);
        return std::nullopt;
    }
    return forward;
}

//! Checks that \a history holds seqs 1..N without holes and every (author, client_id) once.
QString checkContiguousAndUnique(const QList<QJsonObject> &history)
{
    QSet<QString> keys;
    QSet<QString> ids;
    for (qsizetype i = 0; i < history.size(); ++i) {
        const auto &m = history.at(i);
        if (m.value("seq"_L1).toInteger() != i + 1)
            return u"history position %1 has seq %2"_s.arg(i).arg(m.value("seq"_L1).toInteger());
        const QString key = m.value("author"_L1).toObject().value("id"_L1).toString() + u'/'
            + m.value("client_id"_L1).toString();
        if (keys.contains(key))
            return u"client_id %1 stored twice (second at seq %2)"_s.arg(key).arg(i + 1);
        keys.insert(key);
        const auto id = m.value("id"_L1).toString();
        if (id.isEmpty() || ids.contains(id))
            return u"message id \"%1\" at seq %2 is empty or repeated"_s.arg(id).arg(i + 1);
        ids.insert(id);
    }
    return {};
}

} // namespace

class tst_ChatDurability : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void killNineWhileStreaming();
    void restartMidConversation();

private:
    //! Starts (or restarts) the binary on this test's data directory and port.
    bool startServer();
    [[nodiscard]] QUrl url() const;
    //! Connects, says hello as \a user and joins \a topic for chat with \a chatConfig. The chat
    //! part of the join reply goes to \a chatInfo; replayed messages stay in the inbox.
    std::unique_ptr<RawClient> chatClient(const QString &user, const QString &topic,
                                          const QJsonObject &chatConfig = {}, QJsonObject *chatInfo = nullptr);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<ServerProcess> m_server;
    quint16 m_port = 0;
};

void tst_ChatDurability::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_port = freePort();
    QVERIFY(m_port != 0);
}

void tst_ChatDurability::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

bool tst_ChatDurability::startServer()
{
    m_server = std::make_unique<ServerProcess>(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    // Default storage sync (full). The stream is far above the default per-client rate limit,
    // which would otherwise be what the test measures.
    const bool started = m_server->startServing({u"--bind"_s, u"127.0.0.1"_s, u"--port"_s, QString::number(m_port),
                                          u"--data-dir"_s, m_dir->filePath(u"data"_s),
                                          u"--messages-per-minute"_s, u"1000000"_s,
                                          u"--log-format"_s, u"json"_s});
    if (!started)
        qWarning("confab-server did not start: %s", m_server->err().constData());
    return started;
}

QUrl tst_ChatDurability::url() const
{
    QUrl url;
    url.setScheme(u"ws"_s);
    url.setHost(u"127.0.0.1"_s);
    url.setPort(m_port);
    url.setPath(u"/"_s);
    return url;
}

std::unique_ptr<RawClient> tst_ChatDurability::chatClient(const QString &user, const QString &topic,
                                                          const QJsonObject &chatConfig, QJsonObject *chatInfo)
{
    auto c = std::make_unique<RawClient>();
    if (!c->open(url()))
        return nullptr;
    const auto hello = c->push(u"$system"_s, u"hello"_s, {{u"user"_s, QJsonObject{{u"id"_s, user}, {u"name"_s, user.toUpper()}}}});
    const auto helloReply = c->waitForReply(hello, u"$system"_s);
    if (!helloReply || !isOk(*helloReply))
        return nullptr;
    const auto ref = c->push(topic, u"chan:join"_s, {{u"config"_s, QJsonObject{{u"chat"_s, chatConfig}}}});
    const auto reply = c->waitForReply(ref, topic, 10000);
    if (!reply || !isOk(*reply))
        return nullptr;
    if (chatInfo)
        *chatInfo = response(*reply).value("chat"_L1).toObject();
    if (!c->waitForEvent(topic, u"presence_state"_s) || !c->waitForEvent(topic, u"typing_state"_s))
        return nullptr;
    return c;
}

// ---- killNineWhileStreaming ----------------------------------------------------------------

namespace {

//! One client's stream of sends, pipelined: up to `window` sent and not yet answered.
struct Stream
{
    QString topic;
    QStringList clientIds;
    QStringList bodies;
    int window = 200;

    //! Stream index -> its first ack's response ({id, seq, ts, client_id[, duplicate]}).
    QMap<int, QJsonObject> acks;
    //! Answers to resends of messages that already had an ack.
    QMap<int, QJsonObject> resendAcks;
    QString failure; // first unexpected reply

    // The current connection's sends: what to send next, and which index each ref is.
    QList<int> toSend;
    int sent = 0;
    QHash<QString, int> refs;

    [[nodiscard]] int outstanding() const { return int(refs.size()); }
    [[nodiscard]] bool done() const { return sent == toSend.size() && refs.isEmpty(); }
    //! The highest stream index sent on this connection (they go out in ascending order).
    [[nodiscard]] int highestSent() const { return sent == 0 ? -1 : toSend.at(sent - 1); }

    void beginConnection(const QList<int> &indices)
    {
        toSend = indices;
        sent = 0;
        refs.clear();
    }

    //! Takes the replies that arrived; with \a refill, sends more to keep the window full.
    void pump(RawClient &client, bool refill)
    {
        const auto replies = client.take([this](const RawClient::Frame &f) {
            return f.size() == 5 && f.at(3).toString() == "chan:reply"_L1 && f.at(2).toString() == topic
                && refs.contains(f.at(1).toString());
        });
        for (const auto &f : replies) {
            const int index = refs.take(f.at(1).toString());
            const auto reply = f.at(4).toObject();
            if (!isOk(reply)) {
                if (failure.isEmpty())
                    failure = u"send of %1 failed: %2"_s.arg(clientIds.at(index), compact(reply));
                continue;
            }
            const auto ack = response(reply);
            if (ack.value("client_id"_L1).toString() != clientIds.at(index) && failure.isEmpty())
                failure = u"ack for %1 names %2"_s.arg(clientIds.at(index), compact(ack));
            // A resend's answer is checked against the first ack, which is kept.
            if (!acks.contains(index))
                acks.insert(index, ack);
            else
                resendAcks.insert(index, ack);
        }
        while (refill && sent < toSend.size() && outstanding() < window) {
            const int index = toSend.at(sent++);
            const auto ref = client.push(topic, u"message:send"_s,
                                         {{u"client_id"_s, clientIds.at(index)}, {u"body"_s, bodies.at(index)}});
            refs.insert(ref, index);
        }
    }
};

} // namespace

void tst_ChatDurability::killNineWhileStreaming()
{
    constexpr int Total = 2000;
    // SIGKILL three times during the stream, each once this many messages are acknowledged.
    const QList<int> killAfterAcks{300, 900, 1500};
    const auto topic = u"room:stream"_s;

    Stream stream;
    stream.topic = topic;
    for (int i = 0; i < Total; ++i) {
        stream.clientIds.append(u"s-%1"_s.arg(i, 4, 10, QChar(u'0')));
        // Bodies differ in content and length, so a body stored against the wrong row shows.
        stream.bodies.append(u"message %1 of the stream: %2"_s.arg(i).arg(QString(i % 97 + 1, QChar(u'a' + i % 26))));
    }
    QList<int> toSend;
    for (int i = 0; i < Total; ++i)
        toSend.append(i);

    QVERIFY(startServer());
    auto sender = chatClient(u"streamer"_s, topic);
    QVERIFY(sender);
    stream.beginConnection(toSend);

    QSet<int> storedUnacked; // stored before a kill, its ack lost: a resend must say duplicate
    QList<QJsonObject> history;
    QString error;
    for (const int killAt : killAfterAcks) {
        // Stream until enough acks are in, keeping the window full; then SIGKILL with a full
        // window on the wire (flushed to the kernel, so the server may well be reading it).
        QVERIFY2(QTest::qWaitFor(
                     [&] {
                         stream.pump(*sender, true);
                         return stream.acks.size() >= killAt || !stream.failure.isEmpty();
                     },
                     60000),
                 qPrintable(u"only %1 acks"_s.arg(stream.acks.size())));
        QVERIFY2(stream.failure.isEmpty(), qPrintable(stream.failure));
        sender->socket().flush();
        const int ackedAtKill = int(stream.acks.size());
        const int inFlightAtKill = stream.outstanding();
        const int sentUpTo = stream.highestSent() + 1; // stream[0, sentUpTo) went out at some point
        m_server->kill();
        QVERIFY(m_server->waitForExit());
        QCOMPARE(m_server->exitStatus(), QProcess::CrashExit);
        QVERIFY(sender->waitForDisconnected());
        // Acks already on the wire before the kill count too: each was sent after its commit.
        stream.pump(*sender, false);
        QVERIFY2(stream.failure.isEmpty(), qPrintable(stream.failure));
        const int acked = int(stream.acks.size());

        // The stream really was interrupted: sends were waiting for answers, more were to come.
        QVERIFY2(inFlightAtKill > 0 && acked < sentUpTo && sentUpTo < Total,
                 qPrintable(u"acked %1, in flight %2, sent up to %3 of %4"_s.arg(acked).arg(inFlightAtKill)
                                .arg(sentUpTo).arg(Total)));
        // One connection, sending in stream order: what is acked is a prefix of the stream.
        QCOMPARE(stream.acks.firstKey(), 0);
        QCOMPARE(stream.acks.lastKey(), acked - 1);
        for (auto it = stream.resendAcks.cbegin(); it != stream.resendAcks.cend(); ++it) {
            // Resent after the previous kill although acked: the original answer again.
            const auto &first = stream.acks.value(it.key());
            QVERIFY2(it->value("duplicate"_L1).toBool(), qPrintable(compact(*it)));
            QCOMPARE(it->value("id"_L1).toString(), first.value("id"_L1).toString());
            QCOMPARE(it->value("seq"_L1).toInteger(), first.value("seq"_L1).toInteger());
        }
        const int resentAcked = int(stream.resendAcks.size());
        stream.resendAcks.clear();

        // Restart on the same data directory: every acked message is there, exactly as acked,
        // and what survived is a prefix of the stream, in stream order, without holes.
        QVERIFY(startServer());
        sender = chatClient(u"streamer"_s, topic);
        QVERIFY(sender);
        const auto page = readHistory(*sender, topic, &error);
        QVERIFY2(page, qPrintable(error));
        const auto before = history;
        history = *page;
        const int committed = int(history.size());
        qInfo("SIGKILL after %d acks: %d sent and unanswered, %d never sent; %d acks read after the kill; "
              "%d stored (%d of them unacked); %d acked messages had been resent",
              ackedAtKill, inFlightAtKill, Total - sentUpTo, acked - ackedAtKill, committed, committed - acked,
              resentAcked);
        QVERIFY2(committed >= acked && committed <= sentUpTo,
                 qPrintable(u"%1 stored, %2 acked, %3 sent"_s.arg(committed).arg(acked).arg(sentUpTo)));
        const auto shape = checkContiguousAndUnique(history);
        QVERIFY2(shape.isEmpty(), qPrintable(shape));
        for (int i = 0; i < committed; ++i) {
            const auto &m = history.at(i);
            QCOMPARE(m.value("client_id"_L1).toString(), stream.clientIds.at(i));
            QCOMPARE(m.value("body"_L1).toString(), stream.bodies.at(i));
            QCOMPARE(m.value("author"_L1).toObject().value("id"_L1).toString(), u"streamer"_s);
            if (i < acked) {
                const auto &ack = stream.acks.value(i);
                QCOMPARE(m.value("id"_L1).toString(), ack.value("id"_L1).toString());
                QCOMPARE(m.value("seq"_L1).toInteger(), ack.value("seq"_L1).toInteger());
                QCOMPARE(m.value("ts"_L1).toString(), ack.value("ts"_L1).toString());
            }
            if (i < before.size())
                QCOMPARE(m, before.at(i)); // nothing stored earlier changed
        }
        for (int i = acked; i < committed; ++i)
            storedUnacked.insert(i);

        // The client resends everything it has no ack for and, as a client that lost its state
        // might, a sample of acked messages: same client ids, pipelined as before.
        QList<int> resend;
        for (int i = 0; i < acked; i += 23)
            resend.append(i);
        if (resend.constLast() != acked - 1)
            resend.append(acked - 1);
        for (int i = acked; i < Total; ++i)
            resend.append(i);
        stream.beginConnection(resend);
    }

    // After the last restart the stream runs to its end.
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                     stream.pump(*sender, true);
                     return stream.done() || !stream.failure.isEmpty();
                 },
                 60000),
             qPrintable(u"%1 of %2 sends answered"_s.arg(stream.sent - stream.outstanding()).arg(stream.toSend.size())));
    QVERIFY2(stream.failure.isEmpty(), qPrintable(stream.failure));
    QCOMPARE(int(stream.acks.size()), Total);
    QVERIFY(!stream.resendAcks.isEmpty());
    for (auto it = stream.resendAcks.cbegin(); it != stream.resendAcks.cend(); ++it) {
        const auto &first = stream.acks.value(it.key());
        QVERIFY2(it->value("duplicate"_L1).toBool(), qPrintable(compact(*it)));
        QCOMPARE(it->value("id"_L1).toString(), first.value("id"_L1).toString());
        QCOMPARE(it->value("seq"_L1).toInteger(), first.value("seq"_L1).toInteger());
    }
    // Every message's first answer: its place in the stream, and duplicate exactly when it had
    // been stored before a kill took its ack.
    for (int i = 0; i < Total; ++i) {
        const auto &ack = stream.acks.value(i);
        QCOMPARE(ack.value("seq"_L1).toInteger(), qint64(i) + 1);
        QVERIFY2(ack.value("duplicate"_L1).toBool() == storedUnacked.contains(i),
                 qPrintable(u"message %1: %2"_s.arg(i).arg(compact(ack))));
    }

    // History holds each client id exactly once, seqs 1..N without holes, in stream order.
    const auto before = history;
    const auto page = readHistory(*sender, topic, &error);
    QVERIFY2(page, qPrintable(error));
    history = *page;
    QCOMPARE(int(history.size()), Total);
    const auto shape = checkContiguousAndUnique(history);
    QVERIFY2(shape.isEmpty(), qPrintable(shape));
    for (int i = 0; i < Total; ++i) {
        const auto &m = history.at(i);
        QCOMPARE(m.value("client_id"_L1).toString(), stream.clientIds.at(i));
        QCOMPARE(m.value("body"_L1).toString(), stream.bodies.at(i));
        QCOMPARE(m.value("id"_L1).toString(), stream.acks.value(i).value("id"_L1).toString());
        if (i < before.size())
            QCOMPARE(m, before.at(i));
    }
    qInfo("%d messages stored after %lld SIGKILLs; %lld were stored while their ack was lost",
          Total, qint64(killAfterAcks.size()), qint64(storedUnacked.size()));
}

// ---- restartMidConversation ----------------------------------------------------------------

namespace {

//! One participant: what it has seen of the channel, by seq, over all its connections.
struct Peer
{
    Peer(const QString &user, const QString &topic) : user(user), topic(topic) {}

    QString user;
    QString topic;
    std::unique_ptr<RawClient> client;

    QMap<qint64, QJsonObject> seen; // seq -> message (events, and its own acked sends)
    qint64 lastArrival = 0;         // seqs must arrive ascending, across reconnects too
    QString failure;

    QStringList sentOrder;                 // its client ids, in the order first sent
    QHash<QString, QString> bodyOf;        // client id -> body
    QHash<QString, QString> pendingRefs;   // ref -> client id, current connection
    QStringList unacked;                   // client ids with no ack yet, in send order
    int duplicates = 0;                    // resends answered duplicate:true

    [[nodiscard]] qint64 lastSeen() const { return seen.isEmpty() ? 0 : seen.lastKey(); }

    void fail(const QString &why)
    {
        if (failure.isEmpty())
            failure = user + u": "_s + why;
    }

    void send(const QString &clientId, const QString &body)
    {
        if (!bodyOf.contains(clientId)) {
            sentOrder.append(clientId);
            bodyOf.insert(clientId, body);
            unacked.append(clientId);
        }
        pendingRefs.insert(client->push(topic, u"message:send"_s, {{u"client_id"_s, clientId}, {u"body"_s, body}}),
                           clientId);
    }

    void resendUnacked()
    {
        for (const auto &clientId : std::as_const(unacked))
            send(clientId, bodyOf.value(clientId));
    }

    //! A message delivered to this peer (event or own ack): once, and after everything before.
    void arrived(const QJsonObject &message, const QString &how)
    {
        const qint64 seq = message.value("seq"_L1).toInteger();
        if (seen.contains(seq))
            return fail(u"seq %1 delivered again (%2)"_s.arg(seq).arg(how));
        if (seq <= lastArrival)
            return fail(u"seq %1 (%2) arrived after seq %3"_s.arg(seq).arg(how).arg(lastArrival));
        lastArrival = seq;
        seen.insert(seq, message);
    }

    void collect()
    {
        if (!client)
            return;
        const auto frames = client->take([this](const RawClient::Frame &f) {
            if (f.size() != 5 || f.at(2).toString() != topic)
                return false;
            return f.at(3).toString() == "message"_L1
                || (f.at(3).toString() == "chan:reply"_L1 && pendingRefs.contains(f.at(1).toString()));
        });
        for (const auto &f : frames) {
            if (f.at(3).toString() == "message"_L1) {
                arrived(f.at(4).toObject(), u"event"_s);
                continue;
            }
            const auto clientId = pendingRefs.take(f.at(1).toString());
            const auto reply = f.at(4).toObject();
            if (!isOk(reply)) {
                fail(u"send of %1 failed: %2"_s.arg(clientId, compact(reply)));
                continue;
            }
            const auto ack = response(reply);
            if (!unacked.removeOne(clientId)) {
                fail(u"second ack for %1"_s.arg(clientId));
                continue;
            }
            // Its own message as the others see it, from what the ack and the send say.
            const QJsonObject own{{u"id"_s, ack.value("id"_L1)},
                                  {u"seq"_s, ack.value("seq"_L1)},
                                  {u"client_id"_s, clientId},
                                  {u"body"_s, bodyOf.value(clientId)},
                                  {u"author"_s, user}};
            if (!ack.value("duplicate"_L1).toBool()) {
                arrived(own, u"ack"_s);
                continue;
            }
            // A resend of a message stored before the restart whose ack was lost. It is not a
            // delivery; the catch-up may already have shown it, otherwise the ack is its news.
            ++duplicates;
            const qint64 seq = ack.value("seq"_L1).toInteger();
            if (seen.contains(seq)) {
                if (seen.value(seq).value("id"_L1) != ack.value("id"_L1))
                    fail(u"duplicate ack for %1 names seq %2 of another message"_s.arg(clientId).arg(seq));
            } else {
                seen.insert(seq, own);
            }
        }
    }

    [[nodiscard]] bool hasAll(qint64 lastSeq) const
    {
        return unacked.isEmpty() && pendingRefs.isEmpty() && seen.size() == lastSeq
            && (seen.isEmpty() || seen.lastKey() == lastSeq);
    }
};

} // namespace

void tst_ChatDurability::restartMidConversation()
{
    const auto topic = u"room:conversation"_s;
    QVERIFY(startServer());

    Peer alice(u"alice"_s, topic);
    Peer bob(u"bob"_s, topic);
    alice.client = chatClient(alice.user, topic);
    bob.client = chatClient(bob.user, topic);
    QVERIFY(alice.client && bob.client);

    int sentTotal = 0;
    auto say = [&](Peer &peer, int count, const QString &tag) {
        for (int i = 0; i < count; ++i, ++sentTotal)
            peer.send(u"%1-%2-%3"_s.arg(peer.user, tag).arg(i), u"%1 says %2 #%3"_s.arg(peer.user, tag).arg(i));
    };
    auto bothHaveAll = [&](qint64 lastSeq) {
        return QTest::qWaitFor(
            [&] {
                alice.collect();
                bob.collect();
                return (alice.hasAll(lastSeq) && bob.hasAll(lastSeq)) || !alice.failure.isEmpty()
                    || !bob.failure.isEmpty();
            },
            15000);
    };
    auto progress = [&] {
        return u"alice saw %1 (last %2, unacked %3), bob saw %4 (last %5, unacked %6); %7 %8"_s
            .arg(alice.seen.size()).arg(alice.lastSeen()).arg(alice.unacked.size())
            .arg(bob.seen.size()).arg(bob.lastSeen()).arg(bob.unacked.size())
            .arg(alice.failure, bob.failure);
    };

    // A conversation: turns, then both typing over each other.
    for (int round = 0; round < 5; ++round) {
        say(alice, 1, u"turn%1"_s.arg(round));
        QVERIFY2(bothHaveAll(sentTotal), qPrintable(progress()));
        say(bob, 1, u"turn%1"_s.arg(round));
        QVERIFY2(bothHaveAll(sentTotal), qPrintable(progress()));
    }
    for (int i = 0; i < 15; ++i) {
        say(alice, 1, u"burst%1"_s.arg(i));
        say(bob, 1, u"burst%1"_s.arg(i));
    }
    QVERIFY2(bothHaveAll(sentTotal), qPrintable(progress()));
    QVERIFY2(alice.failure.isEmpty() && bob.failure.isEmpty(), qPrintable(progress()));

    // Graceful restart while both are still talking: sends on the wire when SIGTERM comes are
    // either stored and acknowledged before the close, or never read.
    say(alice, 6, u"late"_s);
    say(bob, 4, u"late"_s);
    alice.client->socket().flush();
    bob.client->socket().flush();
    m_server->terminate();
    QVERIFY(QTest::qWaitFor(
        [&] {
            alice.collect();
            bob.collect();
            return !alice.client->isConnected() && !bob.client->isConnected();
        },
        15000));
    QVERIFY(m_server->waitForExit());
    QCOMPARE(m_server->exitStatus(), QProcess::NormalExit);
    QCOMPARE(m_server->exitCode(), 0);
    QVERIFY2(m_server->err().contains("\"server.stopped\""), m_server->err().constData());
    alice.collect();
    bob.collect();
    QVERIFY2(alice.failure.isEmpty() && bob.failure.isEmpty(), qPrintable(progress()));
    const qint64 aliceSince = alice.lastSeen();
    const qint64 bobSince = bob.lastSeen();
    const int aliceUnackedAtStop = int(alice.unacked.size());
    const int bobUnackedAtStop = int(bob.unacked.size());
    alice.pendingRefs.clear();
    bob.pendingRefs.clear();

    QVERIFY(startServer());

    // Alice is back first: catch-up from her last seq, then her unacked sends again.
    QJsonObject aliceInfo;
    alice.client = chatClient(alice.user, topic, {{u"since_seq"_s, aliceSince}}, &aliceInfo);
    QVERIFY(alice.client);
    const qint64 lastAtAliceJoin = aliceInfo.value("last_seq"_L1).toInteger();
    QVERIFY2(lastAtAliceJoin >= aliceSince && lastAtAliceJoin <= sentTotal, qPrintable(compact(aliceInfo)));
    QCOMPARE(aliceInfo.value("replay"_L1).toInteger(), lastAtAliceJoin - aliceSince);
    QVERIFY(alice.client->sync()); // the replay follows the join reply; it is in the inbox now
    alice.collect();
    QCOMPARE(alice.lastSeen(), lastAtAliceJoin);
    alice.resendUnacked();
    // What she says while Bob is away reaches him by his catch-up.
    say(alice, 5, u"whileaway"_s);
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                     alice.collect();
                     return (alice.unacked.isEmpty() && alice.pendingRefs.isEmpty()) || !alice.failure.isEmpty();
                 },
                 15000),
             qPrintable(progress()));
    QVERIFY2(alice.failure.isEmpty(), qPrintable(progress()));

    // Bob comes back while Alice keeps talking: his replay and her live messages race.
    bob.client = std::make_unique<RawClient>();
    QVERIFY(bob.client->open(url()));
    const auto hello = bob.client->push(u"$system"_s, u"hello"_s,
                                        {{u"user"_s, QJsonObject{{u"id"_s, bob.user}, {u"name"_s, u"BOB"_s}}}});
    const auto helloReply = bob.client->waitForReply(hello, u"$system"_s);
    QVERIFY(helloReply && isOk(*helloReply));
    const auto joinRef = bob.client->push(topic, u"chan:join"_s,
                                          {{u"config"_s, QJsonObject{{u"chat"_s, QJsonObject{{u"since_seq"_s, bobSince}}}}}});
    say(alice, 10, u"duringjoin"_s);
    const auto bobJoin = bob.client->waitForReply(joinRef, topic, 10000);
    QVERIFY(bobJoin && isOk(*bobJoin));
    const auto bobInfo = response(*bobJoin).value("chat"_L1).toObject();
    QVERIFY2(!bobInfo.value("gap"_L1).toBool(), qPrintable(compact(bobInfo)));
    QCOMPARE(bobInfo.value("replay"_L1).toInteger(), bobInfo.value("last_seq"_L1).toInteger() - bobSince);
    QVERIFY2(bobInfo.value("replay"_L1).toInteger() >= 5, qPrintable(compact(bobInfo)));
    bob.resendUnacked();

    // And the conversation goes on.
    for (int round = 0; round < 3; ++round) {
        say(bob, 2, u"after%1"_s.arg(round));
        say(alice, 1, u"after%1"_s.arg(round));
    }
    // Every message stored is a distinct send (resends are not counted again): all of them.
    QVERIFY2(bothHaveAll(sentTotal), qPrintable(progress()));
    QVERIFY2(alice.failure.isEmpty() && bob.failure.isEmpty(), qPrintable(progress()));
    // A graceful stop answers what it stored before it closes: no resend finds a stored message.
    QCOMPARE(alice.duplicates, 0);
    QCOMPARE(bob.duplicates, 0);
    qInfo("graceful restart: alice resent %d (%d already stored), bob resent %d (%d already stored); "
          "catch-up replayed %lld to alice and %lld to bob; %d messages in all",
          aliceUnackedAtStop, alice.duplicates, bobUnackedAtStop, bob.duplicates,
          aliceInfo.value("replay"_L1).toInteger(), bobInfo.value("replay"_L1).toInteger(), sentTotal);

    // History is intact: seqs 1..N, each send once, each author's sends in the order sent, and
    // what each client was shown is exactly what is stored.
    QString error;
    const auto history = readHistory(*alice.client, topic, &error);
    QVERIFY2(history, qPrintable(error));
    QCOMPARE(int(history->size()), sentTotal);
    const auto shape = checkContiguousAndUnique(*history);
    QVERIFY2(shape.isEmpty(), qPrintable(shape));
    QHash<QString, QStringList> byAuthor;
    for (const auto &m : *history) {
        const auto author = m.value("author"_L1).toObject().value("id"_L1).toString();
        byAuthor[author].append(m.value("client_id"_L1).toString());
        const qint64 seq = m.value("seq"_L1).toInteger();
        for (const Peer *peer : {&alice, &bob}) {
            const auto &shown = peer->seen.value(seq);
            QCOMPARE(shown.value("id"_L1).toString(), m.value("id"_L1).toString());
            QCOMPARE(shown.value("client_id"_L1).toString(), m.value("client_id"_L1).toString());
            QCOMPARE(shown.value("body"_L1).toString(), m.value("body"_L1).toString());
            const auto shownAuthor = shown.value("author"_L1);
            QCOMPARE(shownAuthor.isObject() ? shownAuthor.toObject().value("id"_L1).toString() : shownAuthor.toString(),
                     author);
        }
    }
    QCOMPARE(byAuthor.value(alice.user), alice.sentOrder);
    QCOMPARE(byAuthor.value(bob.user), bob.sentOrder);
}

QTEST_GUILESS_MAIN(tst_ChatDurability)
#include "tst_chatdurability.moc"
