// The client's on-disk queue of chat messages, against the real server (Confab::TestServer):
// messages written while the server is unreachable survive the application quitting, and are
// delivered exactly once, in order, when it comes back; a message the server stored whose ack
// was lost is not stored twice; a damaged queue file is set aside with a clear error.
#include <ConfabClient/client.h>
#include <ConfabClient/messagemodel.h>
#include <ConfabClient/reply.h>
#include <ConfabTestServer/testserver.h>

#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTemporaryDir>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using Confab::Channel;
using Confab::ChannelConfig;
using Confab::Client;
using Confab::MessageModel;
using Confab::Reply;
using Confab::TestServer;

namespace {

QString uniqueTopic()
{
    return u"room:"_s + QString::fromLatin1(QTest::currentTestFunction());
}

QStringList bodies(const MessageModel *model)
{
    QStringList out;
    for (int row = 0; row < model->rowCount(); ++row)
        out.append(model->index(row).data(MessageModel::BodyRole).toString());
    return out;
}

//! The queue files in \a dir (there is one per server and user).
QStringList queueFiles(const QString &dir)
{
    QStringList out;
    for (const auto &name : QDir(dir).entryList({u"queue-*.json"_s}, QDir::Files))
        out.append(QDir(dir).filePath(name));
    return out;
}

//! The entries of the queue file \a path.
QJsonArray queueEntries(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object().value("messages"_L1).toArray();
}

//! Waits for \a reply to finish and keeps it readable (declare it after its client: it is the
//! channel's child).
std::unique_ptr<Reply> finished(Reply *reply)
{
    reply->setAutoDelete(false);
    std::unique_ptr<Reply> owned(reply);
    if (reply->status() == Reply::Status::Pending)
        QSignalSpy(reply, &Reply::finished).wait(10000);
    return owned;
}

ChannelConfig chatConfig()
{
    ChannelConfig config;
    config.chat = true;
    return config;
}

} // namespace

class tst_ClientQueue : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void queuedMessagesSurviveAnApplicationRestart();
    void pendingRowsShowBeforeTheConnection();
    void storedMessageWithLostAckIsNotDuplicated();
    void failedMessageStaysFailedAcrossRestarts();
    void corruptQueueFileIsSetAside();

private:
    std::unique_ptr<Client> makeClient(const QString &user, const QString &storage);
    //! Every message of \a topic on the server, oldest first, as bodies (via a fresh client).
    QStringList serverHistory(const QString &topic);

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_storage;
};

void tst_ClientQueue::init()
{
    m_server = std::make_unique<TestServer>(QStringList{u"--max-message-body"_s, u"100"_s});
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_storage = std::make_unique<QTemporaryDir>();
    QVERIFY(m_storage->isValid());
}

void tst_ClientQueue::cleanup()
{
    m_server.reset();
    m_storage.reset();
}

std::unique_ptr<Client> tst_ClientQueue::makeClient(const QString &user, const QString &storage)
{
    auto client = std::make_unique<Client>();
    client->setUrl(m_server->url());
    client->setUser(user);
    client->setStoragePath(storage);
    return client;
}

QStringList tst_ClientQueue::serverHistory(const QString &topic)
{
    auto reader = makeClient(u"auditor"_s, m_storage->filePath(u"auditor"_s));
    auto *channel = reader->channel(topic, chatConfig());
    channel->subscribe();
    reader->connectToServer();
    if (!QTest::qWaitFor([channel] { return channel->status() == Channel::Status::Subscribed; }, 10000))
        return {u"(join failed)"_s};
    // The first join loads the latest page (50): enough for these tests, and checked.
    if (!QTest::qWaitFor([channel] { return channel->messages()->rowCount() == channel->lastSeq(); }, 10000))
        return {u"(history incomplete)"_s};
    if (channel->messages()->hasOlder())
        return {u"(more than a page)"_s};
    return bodies(channel->messages());
}

void tst_ClientQueue::queuedMessagesSurviveAnApplicationRestart()
{
    const auto topic = uniqueTopic();
    const auto aliceDir = m_storage->filePath(u"alice"_s);

    // Bob listens the whole time.
    auto bob = makeClient(u"bob"_s, m_storage->filePath(u"bob"_s));
    auto *b = bob->channel(topic, chatConfig());
    b->subscribe();
    bob->connectToServer();
    QTRY_COMPARE(b->status(), Channel::Status::Subscribed);

    // Alice is offline (a server that is down) and writes five messages, then quits.
    {
        m_server->stop();
        QTRY_VERIFY(!bob->isConnected());
        auto alice = makeClient(u"alice"_s, aliceDir);
        auto *a = alice->channel(topic, chatConfig());
        a->subscribe();
        alice->connectToServer();
        for (int i = 1; i <= 5; ++i)
            a->sendMessage(u"offline %1"_s.arg(i));
        QCOMPARE(alice->queuedMessageCount(), 5);
        QCOMPARE(a->messages()->rowCount(), 5);
        QCOMPARE(a->messages()->index(4).data(MessageModel::StateRole).toInt(), int(MessageModel::State::Pending));
        // On disk the moment they were written, before anything was sent.
        const auto files = queueFiles(aliceDir);
        QCOMPARE(files.size(), 1);
        QCOMPARE(queueEntries(files.constFirst()).size(), 5);
    } // the application quits with the messages unsent
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QTRY_COMPARE(b->status(), Channel::Status::Subscribed);
    QCOMPARE(b->messages()->rowCount(), 0);

    // Started again, connected: the queue is delivered even before the application opens the
    // channel itself, in order, once.
    QSignalSpy received(b, &Channel::messageReceived);
    {
        auto alice = makeClient(u"alice"_s, aliceDir);
        QSignalSpy countChanged(alice.get(), &Client::queuedMessageCountChanged);
        alice->connectToServer();
        QTRY_COMPARE(received.size(), 5);
        QTRY_COMPARE(alice->queuedMessageCount(), 0);
        QVERIFY(!countChanged.isEmpty());
        QCOMPARE(queueEntries(queueFiles(aliceDir).constFirst()).size(), 0);
    }
    const QStringList expected{u"offline 1"_s, u"offline 2"_s, u"offline 3"_s, u"offline 4"_s, u"offline 5"_s};
    QCOMPARE(bodies(b->messages()), expected);

    // A third start sends nothing again.
    {
        auto alice = makeClient(u"alice"_s, aliceDir);
        auto *a = alice->channel(topic, chatConfig());
        a->subscribe();
        alice->connectToServer();
        QTRY_COMPARE(a->status(), Channel::Status::Subscribed);
        QTRY_COMPARE(a->messages()->rowCount(), 5);
        QCOMPARE(alice->queuedMessageCount(), 0);
        const auto barrier = finished(a->sendMessage(u"barrier"_s));
        QCOMPARE(barrier->status(), Reply::Status::Ok);
    }
    QTRY_COMPARE(b->messages()->rowCount(), 6);
    QCOMPARE(received.size(), 6);
    QCOMPARE(serverHistory(topic), expected + QStringList{u"barrier"_s});
}

void tst_ClientQueue::pendingRowsShowBeforeTheConnection()
{
    const auto topic = uniqueTopic();
    const auto aliceDir = m_storage->filePath(u"alice"_s);
    m_server->stop();
    {
        auto alice = makeClient(u"alice"_s, aliceDir);
        auto *a = alice->channel(topic, chatConfig());
        a->subscribe();
        a->sendMessage(u"one"_s);
        a->sendMessage(u"two"_s);
    }
    // The restarted application sees what it wrote, pending, without any server.
    auto alice = makeClient(u"alice"_s, aliceDir);
    auto *a = alice->channel(topic, chatConfig());
    QCOMPARE(alice->queuedMessageCount(), 2);
    QCOMPARE(bodies(a->messages()), (QStringList{u"one"_s, u"two"_s}));
    QCOMPARE(a->messages()->index(0).data(MessageModel::StateRole).toInt(), int(MessageModel::State::Pending));
    QVERIFY(a->messages()->index(0).data(MessageModel::OwnRole).toBool());

    // And once connected they become Sent, in place, in order.
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    a->subscribe();
    alice->connectToServer();
    QTRY_COMPARE(alice->queuedMessageCount(), 0);
    QCOMPARE(bodies(a->messages()), (QStringList{u"one"_s, u"two"_s}));
    QCOMPARE(a->messages()->index(1).data(MessageModel::StateRole).toInt(), int(MessageModel::State::Sent));
    QCOMPARE(a->messages()->index(1).data(MessageModel::SeqRole).toLongLong(), 2);
}

void tst_ClientQueue::storedMessageWithLostAckIsNotDuplicated()
{
    const auto topic = uniqueTopic();
    const auto aliceDir = m_storage->filePath(u"alice"_s);
    m_server->stop();
    {
        auto alice = makeClient(u"alice"_s, aliceDir);
        auto *a = alice->channel(topic, chatConfig());
        a->subscribe();
        a->sendMessage(u"stored, ack lost"_s);
        a->sendMessage(u"never arrived"_s);
    }
    const auto entries = queueEntries(queueFiles(aliceDir).value(0));
    QCOMPARE(entries.size(), 2);
    const auto firstId = entries.at(0).toObject().value("client_id"_L1).toString();
    QVERIFY(!firstId.isEmpty());

    // The server got the first one (its ack never reached the client): posted here with the
    // same user and client_id, through the HTTP fallback.
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QNetworkAccessManager http;
    QNetworkRequest request(m_server->httpUrl().resolved(QUrl(u"/messages"_s)));
    request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
    const QJsonObject body{{u"channel"_s, topic},
                           {u"client_id"_s, firstId},
                           {u"body"_s, u"stored, ack lost"_s},
                           {u"user"_s, QJsonObject{{u"id"_s, u"alice"_s}}}};
    std::unique_ptr<QNetworkReply> posted(http.post(request, QJsonDocument(body).toJson(QJsonDocument::Compact)));
    QSignalSpy finished(posted.get(), &QNetworkReply::finished);
    QVERIFY(finished.wait());
    QCOMPARE(posted->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 201);

    auto alice = makeClient(u"alice"_s, aliceDir);
    auto *a = alice->channel(topic, chatConfig());
    a->subscribe();
    alice->connectToServer();
    QTRY_COMPARE(alice->queuedMessageCount(), 0);
    QCOMPARE(bodies(a->messages()), (QStringList{u"stored, ack lost"_s, u"never arrived"_s}));
    QCOMPARE(a->messages()->confirmedCount(), 2);
    QCOMPARE(serverHistory(topic), (QStringList{u"stored, ack lost"_s, u"never arrived"_s}));
}

void tst_ClientQueue::failedMessageStaysFailedAcrossRestarts()
{
    const auto topic = uniqueTopic();
    const auto aliceDir = m_storage->filePath(u"alice"_s);
    QString clientId;
    {
        auto alice = makeClient(u"alice"_s, aliceDir);
        auto *a = alice->channel(topic, chatConfig());
        a->subscribe();
        alice->connectToServer();
        const auto reply = finished(a->sendMessage(QString(101, u'y'))); // over this server's 100
        QCOMPARE(reply->errorCode(), u"MESSAGE_TOO_LARGE"_s);
        clientId = a->messages()->index(0).data(MessageModel::ClientIdRole).toString();
        QCOMPARE(alice->queuedMessageCount(), 1);
    }
    // After a restart it is still there, Failed with its reason, and not sent again by itself.
    auto alice = makeClient(u"alice"_s, aliceDir);
    auto *a = alice->channel(topic, chatConfig());
    a->subscribe();
    alice->connectToServer();
    QTRY_COMPARE(a->status(), Channel::Status::Subscribed);
    QCOMPARE(a->messages()->rowCount(), 1);
    QCOMPARE(a->messages()->index(0).data(MessageModel::StateRole).toInt(), int(MessageModel::State::Failed));
    QCOMPARE(a->messages()->index(0).data(MessageModel::ErrorCodeRole).toString(), u"MESSAGE_TOO_LARGE"_s);
    const auto later = finished(a->sendMessage(u"a fine one"_s));
    QCOMPARE(later->response().value("seq"_L1).toInteger(), 1);
    QVERIFY(a->discardMessage(clientId));
    QCOMPARE(alice->queuedMessageCount(), 0);
    QCOMPARE(serverHistory(topic), QStringList{u"a fine one"_s});
}

void tst_ClientQueue::corruptQueueFileIsSetAside()
{
    const auto topic = uniqueTopic();
    const auto aliceDir = m_storage->filePath(u"alice"_s);
    m_server->stop();
    {
        auto alice = makeClient(u"alice"_s, aliceDir);
        auto *a = alice->channel(topic, chatConfig());
        a->subscribe();
        a->sendMessage(u"will be damaged"_s);
    }
    const auto file = queueFiles(aliceDir).value(0);
    QVERIFY(!file.isEmpty());
    {
        QFile damaged(file);
        QVERIFY(damaged.open(QIODevice::WriteOnly | QIODevice::Truncate));
        damaged.write("{\"version\":1,\"messages\":[{\"topic\":"); // cut off mid-write by something else
    }
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    auto alice = makeClient(u"alice"_s, aliceDir);
    QSignalSpy errors(alice.get(), &Client::errorOccurred);
    auto *a = alice->channel(topic, chatConfig());
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).toString(), u"QUEUE_CORRUPT"_s);
    QVERIFY(errors.at(0).at(1).toString().contains(u".corrupt-"_s));
    QCOMPARE(alice->queuedMessageCount(), 0);
    // Kept aside for a person to look at; the client carries on with a fresh queue.
    QCOMPARE(QDir(aliceDir).entryList({u"*.corrupt-*"_s}, QDir::Files).size(), 1);
    a->subscribe();
    alice->connectToServer();
    const auto reply = finished(a->sendMessage(u"after the damage"_s));
    QCOMPARE(reply->status(), Reply::Status::Ok);
    QCOMPARE(queueEntries(file).size(), 0);
}

QTEST_GUILESS_MAIN(tst_ClientQueue)
#include "tst_clientqueue.moc"
