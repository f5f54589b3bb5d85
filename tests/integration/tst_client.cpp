// Confab::Client on a healthy connection, against the real server (Confab::TestServer):
// connection and channel states, broadcast self/ack rules across three clients, presence with
// several devices per key, channel management, URL fail-over and how errors reach the API.
// Every wait is on a state or a signal; absence is proven with a barrier (a later ack'd frame on
// the same connection), never with a sleep.
#include <ConfabClient/channellistmodel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/presencemodel.h>
#include <ConfabClient/reply.h>
#include <ConfabTestServer/testserver.h>

#include "replyoutcome.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QPointer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using Confab::Channel;
using Confab::ChannelConfig;
using Confab::Client;
using Confab::PresenceModel;
using Confab::Reply;
using Confab::TestServer;
using Confab::Testing::OutcomePtr;
using Confab::Testing::watch;

namespace {

//! One topic per test function, so that tests sharing a server never see each other.
QString uniqueTopic(const QString &suffix = {})
{
    return u"room:"_s + QString::fromLatin1(QTest::currentTestFunction()) + suffix;
}

QString eventAt(const QSignalSpy &spy, qsizetype i)
{
    return spy.at(i).at(0).toString();
}

QJsonValue payloadAt(const QSignalSpy &spy, qsizetype i)
{
    return spy.at(i).at(1).value<QJsonValue>();
}

QJsonArray arrayArg(const QSignalSpy &spy, qsizetype i, int arg)
{
    return spy.at(i).at(arg).value<QJsonArray>();
}

QString refOf(const QJsonValue &entry)
{
    return entry.toObject().value("presence_ref"_L1).toString();
}

QJsonObject metaOf(const QJsonValue &entry)
{
    return entry.toObject().value("meta"_L1).toObject();
}

//! A port on 127.0.0.1 that refuses connections while this lives: bound without
//! SO_REUSEADDR and never listening, so no other socket (nor a parallel test) can take it.
class RefusingPort
{
public:
    RefusingPort() { m_socket.bind(QHostAddress::LocalHost, 0, QAbstractSocket::DontShareAddress); }
    [[nodiscard]] bool isValid() const { return m_socket.localPort() != 0; }
    [[nodiscard]] QUrl url() const { return QUrl(u"ws://127.0.0.1:%1/"_s.arg(m_socket.localPort())); }

private:
    QTcpSocket m_socket;
};

} // namespace

class tst_Client : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void connectionStates();
    void channelStatuses();
    void channelIsCreatedOnce();
    void broadcastSelfAndAckAcrossThreeClients();
    void onBroadcastFiltersByEvent();
    void unacknowledgedSendFinishesOk();
    void presenceTrackReachesPeers();
    void presenceSeveralDevicesPerKey();
    void lateJoinerGetsFullPresence();
    void retrackUpdatesMetaOnPeers();
    void unsubscribeLeaves();
    void removeChannel();
    void removeAllChannels();
    void removeChannelWhileJoinInFlight();
    void unsubscribeWhileJoinInFlight();
    void resubscribeWhileLeaveInFlight();
    void severalChannelsRouteCorrectly();
    void urlListFailsOverToSecond();
    void sendOnNeverSubscribedChannel();
    void serverErrorReachesReply();
    void refusedFireAndForgetSurfacesOnChannel();

private:
    //! A client of m_server with a fast, fixed reconnect delay (these tests do not time it).
    std::unique_ptr<Client> makeClient(const QUrl &url = {});

    std::unique_ptr<TestServer> m_server;
};

void tst_Client::initTestCase()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void tst_Client::cleanupTestCase()
{
    m_server.reset();
}

std::unique_ptr<Client> tst_Client::makeClient(const QUrl &url)
{
    auto client = std::make_unique<Client>(url.isEmpty() ? m_server->url() : url);
    client->setBackoff([](int) { return 50ms; });
    return client;
}

void tst_Client::connectionStates()
{
    auto client = makeClient();
    QCOMPARE(client->state(), Client::State::Disconnected);
    QVERIFY(!client->isConnected());
    QSignalSpy states(client.get(), &Client::stateChanged);
    QSignalSpy connected(client.get(), &Client::connected);
    QSignalSpy disconnected(client.get(), &Client::disconnected);

    client->connectToServer();
    QCOMPARE(client->state(), Client::State::Connecting);
    QTRY_COMPARE(client->state(), Client::State::Connected);
    QVERIFY(client->isConnected());
    QCOMPARE(connected.size(), 1);
    QCOMPARE(states.size(), 2);
    QCOMPARE(states.at(0).at(0).value<Client::State>(), Client::State::Connecting);
    QCOMPARE(states.at(1).at(0).value<Client::State>(), Client::State::Connected);
    QCOMPARE(client->currentUrl(), m_server->url());
    QCOMPARE(client->reconnectAttempt(), 0);
    QTRY_COMPARE(m_server->connectionCount(), 1);

    client->disconnectFromServer();
    // Settled at once, as documented: no waiting for the closing handshake.
    QCOMPARE(client->state(), Client::State::Disconnected);
    QCOMPARE(disconnected.size(), 1);
    QCOMPARE(states.size(), 3);
    QCOMPARE(states.at(2).at(0).value<Client::State>(), Client::State::Disconnected);
    QTRY_COMPARE(m_server->connectionCount(), 0);
    QVERIFY(client->errorCode().isEmpty());

    // And it can connect again.
    client->connectToServer();
    QTRY_COMPARE(client->state(), Client::State::Connected);
    QCOMPARE(connected.size(), 2);
}

void tst_Client::channelStatuses()
{
    const auto topic = uniqueTopic();
    auto client = makeClient();
    auto *channel = client->channel(topic);
    QCOMPARE(channel->topic(), topic);
    QCOMPARE(channel->client(), client.get());
    QCOMPARE(channel->status(), Channel::Status::Idle);
    QVERIFY(!channel->isSubscribed());

    QSignalSpy statuses(channel, &Channel::statusChanged);
    QSignalSpy subscribed(channel, &Channel::subscribed);
    QAbstractItemModelTester modelTester(client->channels());
    QCOMPARE(client->channels()->rowCount(), 1);
    QCOMPARE(client->channels()->at(0), channel);

    channel->subscribe(); // not connected yet: waits
    QCOMPARE(channel->status(), Channel::Status::Joining);
    client->connectToServer();
    QTRY_COMPARE(channel->status(), Channel::Status::Subscribed);
    QVERIFY(channel->isSubscribed());
    QCOMPARE(subscribed.size(), 1);
    QCOMPARE(statuses.size(), 2);
    QCOMPARE(statuses.at(0).at(0).value<Channel::Status>(), Channel::Status::Joining);
    QCOMPARE(statuses.at(1).at(0).value<Channel::Status>(), Channel::Status::Subscribed);
    QVERIFY(channel->errorCode().isEmpty());
    QCOMPARE(m_server->memberCount(topic), 1);

    const auto row = client->channels()->index(0);
    QCOMPARE(row.data(Confab::ChannelListModel::TopicRole).toString(), topic);
    QCOMPARE(row.data(Confab::ChannelListModel::StatusRole).toInt(), int(Channel::Status::Subscribed));
    QCOMPARE(row.data(Confab::ChannelListModel::SubscribedRole).toBool(), true);

    // subscribe() on a joined channel is a no-op, not a second join.
    channel->subscribe();
    QCOMPARE(channel->status(), Channel::Status::Subscribed);
    QCOMPARE(statuses.size(), 2);
}

void tst_Client::channelIsCreatedOnce()
{
    auto client = makeClient();
    const ChannelConfig config{.self = true, .ack = true, .presenceKey = u"k"_s};
    auto *first = client->channel(uniqueTopic(), config);
    auto *again = client->channel(uniqueTopic(), ChannelConfig{});
    QCOMPARE(again, first);
    QCOMPARE(first->config(), config); // the config of the first call stays
    auto *viaMap = client->channel(uniqueTopic(), QVariantMap{{u"self"_s, false}});
    QCOMPARE(viaMap, first);
    QCOMPARE(client->channelList().size(), 1);

    // The QML overload reads both option shapes.
    auto *sdkShape = client->channel(uniqueTopic(u"-sdk"_s),
                                     QVariantMap{{u"broadcast"_s, QVariantMap{{u"self"_s, true}, {u"ack"_s, true}}},
                                                 {u"presence"_s, QVariantMap{{u"key"_s, u"bob"_s}}}});
    QCOMPARE(sdkShape->config(), (ChannelConfig{.self = true, .ack = true, .presenceKey = u"bob"_s}));
    QVERIFY(sdkShape != first);
    QCOMPARE(client->channelList(), (QList<Channel *>{first, sdkShape}));
}

void tst_Client::broadcastSelfAndAckAcrossThreeClients()
{
    const auto topic = uniqueTopic();
    auto a = makeClient();
    auto b = makeClient();
    auto c = makeClient();
    auto *chA = a->channel(topic, {.self = false, .ack = true, .presenceKey = {}});
    auto *chB = b->channel(topic, {.self = true, .ack = false, .presenceKey = {}});
    auto *chC = c->channel(topic);
    QSignalSpy gotA(chA, &Channel::broadcastReceived);
    QSignalSpy gotB(chB, &Channel::broadcastReceived);
    QSignalSpy gotC(chC, &Channel::broadcastReceived);
    for (auto *ch : {chA, chB, chC})
        ch->subscribe();
    for (auto *client : {a.get(), b.get(), c.get()})
        client->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chB->isSubscribed() && chC->isSubscribed());
    QCOMPARE(m_server->memberCount(topic), 3);

    // A: self false, ack true → A's reply counts the two others; A gets nothing back.
    const QJsonObject payload{{u"text"_s, u"héllo ✓"_s},
                              {u"n"_s, 42},
                              {u"list"_s, QJsonArray{1, u"two"_s, QJsonObject{{u"three"_s, 3}}}},
                              {u"nothing"_s, QJsonValue::Null}};
    auto sent = watch(chA->send(u"message"_s, payload));
    QTRY_VERIFY(sent->done());
    QCOMPARE(sent->status, Reply::Status::Ok);
    QCOMPARE(sent->response.value("recipientCount"_L1).toInt(), 2);
    QTRY_COMPARE(gotB.size(), 1);
    QTRY_COMPARE(gotC.size(), 1);
    QCOMPARE(eventAt(gotB, 0), u"message"_s);
    QCOMPARE(payloadAt(gotB, 0), QJsonValue(payload));
    QCOMPARE(eventAt(gotC, 0), u"message"_s);
    QCOMPARE(payloadAt(gotC, 0), QJsonValue(payload));

    // Barrier: a second ack'd broadcast from A. Frames on one connection arrive in order, so
    // had the server echoed the first one to A, it would be here before this reply.
    auto barrier = watch(chA->send(u"barrier"_s, QJsonObject{}));
    QTRY_VERIFY(barrier->done());
    QCOMPARE(barrier->status, Reply::Status::Ok);
    QCOMPARE(gotA.size(), 0);

    // B: self true → B gets its own broadcast, and so do A and C; the payload may be any JSON.
    QTRY_COMPARE(gotB.size(), 2); // message, barrier
    auto fromB = watch(chB->send(u"echo"_s, QJsonArray{u"x"_s, 1.5, true}));
    QTRY_COMPARE(gotB.size(), 3);
    QCOMPARE(eventAt(gotB, 2), u"echo"_s);
    QCOMPARE(payloadAt(gotB, 2), QJsonValue(QJsonArray{u"x"_s, 1.5, true}));
    QTRY_COMPARE(gotA.size(), 1);
    QCOMPARE(eventAt(gotA, 0), u"echo"_s);
    QTRY_COMPARE(gotC.size(), 3); // message, barrier, echo
    QCOMPARE(eventAt(gotC, 2), u"echo"_s);
    QTRY_VERIFY(fromB->done());
    QCOMPARE(fromB->status, Reply::Status::Ok);
    QCOMPARE(fromB->finishedCount, 1);

    // A scalar payload and none at all are relayed as such.
    auto scalar = watch(chA->send(u"scalar"_s, u"just text"_s));
    auto none = watch(chA->send(u"none"_s));
    QTRY_VERIFY(none->done());
    QVERIFY(scalar->done());
    QTRY_COMPARE(gotC.size(), 5);
    QCOMPARE(payloadAt(gotC, 3), QJsonValue(u"just text"_s));
    QCOMPARE(eventAt(gotC, 4), u"none"_s);
    QVERIFY(payloadAt(gotC, 4).isUndefined() || payloadAt(gotC, 4).isNull());
}

void tst_Client::onBroadcastFiltersByEvent()
{
    const auto topic = uniqueTopic();
    auto sender = makeClient();
    auto receiver = makeClient();
    auto *out = sender->channel(topic, {.ack = true, .presenceKey = {}});
    auto *in = receiver->channel(topic);
    QList<QJsonValue> typing;
    QStringList everything;
    auto context = std::make_unique<QObject>();
    in->onBroadcast(u"typing"_s, context.get(), [&typing](const QJsonValue &payload) { typing.append(payload); });
    auto all = in->onBroadcast({}, this, [&everything](const QJsonValue &payload) {
        everything.append(payload.toObject().value("n"_L1).toString());
    });
    QSignalSpy received(in, &Channel::broadcastReceived);
    out->subscribe();
    in->subscribe();
    sender->connectToServer();
    receiver->connectToServer();
    QTRY_VERIFY(out->isSubscribed() && in->isSubscribed());

    (void)out->send(u"message"_s, QJsonObject{{u"n"_s, u"1"_s}});
    (void)out->send(u"typing"_s, QJsonObject{{u"n"_s, u"2"_s}});
    (void)out->send(u"message"_s, QJsonObject{{u"n"_s, u"3"_s}});
    QTRY_COMPARE(received.size(), 3);
    QCOMPARE(typing.size(), 1);
    QCOMPARE(typing.at(0), QJsonValue(QJsonObject{{u"n"_s, u"2"_s}}));
    QCOMPARE(everything, (QStringList{u"1"_s, u"2"_s, u"3"_s}));

    // The context's end ends the callback; so does disconnecting the returned connection.
    context.reset();
    QVERIFY(QObject::disconnect(all));
    (void)out->send(u"typing"_s, QJsonObject{{u"n"_s, u"4"_s}});
    QTRY_COMPARE(received.size(), 4);
    QCOMPARE(typing.size(), 1);
    QCOMPARE(everything.size(), 3);
}

void tst_Client::unacknowledgedSendFinishesOk()
{
    const auto topic = uniqueTopic();
    auto sender = makeClient();
    auto receiver = makeClient();
    auto *out = sender->channel(topic); // ack false
    auto *in = receiver->channel(topic);
    QSignalSpy received(in, &Channel::broadcastReceived);
    out->subscribe();
    in->subscribe();
    sender->connectToServer();
    receiver->connectToServer();
    QTRY_VERIFY(out->isSubscribed() && in->isSubscribed());

    auto *reply = out->send(u"ping"_s, QJsonObject{{u"k"_s, 1}});
    QCOMPARE(reply->status(), Reply::Status::Pending); // the caller can still connect to it
    auto outcome = watch(reply);
    QTRY_VERIFY(outcome->done());
    QCOMPARE(outcome->status, Reply::Status::Ok);
    QCOMPARE(outcome->finishedCount, 1);
    QVERIFY(outcome->response.isEmpty()); // no ack: no recipientCount
    QVERIFY(outcome->code.isEmpty());
    QTRY_COMPARE(received.size(), 1);
    QCOMPARE(payloadAt(received, 0), QJsonValue(QJsonObject{{u"k"_s, 1}}));
}

void tst_Client::presenceTrackReachesPeers()
{
    const auto topic = uniqueTopic();
    auto alice = makeClient();
    auto bob = makeClient();
    auto carol = makeClient();
    auto *chA = alice->channel(topic, {.presenceKey = u"alice"_s});
    auto *chB = bob->channel(topic, {.presenceKey = u"bob"_s});
    auto *chC = carol->channel(topic, {.presenceKey = u"carol"_s});
    QAbstractItemModelTester modelTester(chB->presence());
    QSignalSpy joinedB(chB, &Channel::presenceJoined);
    QSignalSpy joinedC(chC, &Channel::presenceJoined);
    QSignalSpy syncedB(chB, &Channel::presenceSynced);
    QSignalSpy trackedA(chA, &Channel::trackedChanged);
    for (auto *ch : {chA, chB, chC})
        ch->subscribe();
    for (auto *client : {alice.get(), bob.get(), carol.get()})
        client->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chB->isSubscribed() && chC->isSubscribed());
    QTRY_VERIFY(syncedB.size() >= 1); // the presence_state that follows the join
    QVERIFY(chB->presenceState().isEmpty());
    QCOMPARE(chB->presence()->rowCount(), 0);

    const QJsonObject meta{{u"status"_s, u"online"_s}, {u"device"_s, u"laptop"_s}};
    QVERIFY(!chA->isTracked());
    auto tracked = watch(chA->track(meta));
    QVERIFY(chA->isTracked());
    QCOMPARE(trackedA.size(), 1);
    QTRY_VERIFY(tracked->done());
    QCOMPARE(tracked->status, Reply::Status::Ok);

    QTRY_COMPARE(joinedB.size(), 1);
    QTRY_COMPARE(joinedC.size(), 1);
    for (const auto *spy : {&joinedB, &joinedC}) {
        QCOMPARE(spy->at(0).at(0).toString(), u"alice"_s);
        const auto current = arrayArg(*spy, 0, 1);
        const auto joined = arrayArg(*spy, 0, 2);
        QCOMPARE(current.size(), 1);
        QCOMPARE(joined, current);
        QCOMPARE(metaOf(current.at(0)), meta);
        QVERIFY(!refOf(current.at(0)).isEmpty());
    }
    QVERIFY(syncedB.size() >= 2);

    const auto state = chB->presenceState();
    QCOMPARE(state.keys(), QStringList{u"alice"_s});
    QCOMPARE(metaOf(state.value("alice"_L1).toArray().at(0)), meta);
    auto *model = chB->presence();
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(model->keys(), QStringList{u"alice"_s});
    QCOMPARE(model->indexOfKey(u"alice"_s), 0);
    QCOMPARE(model->indexOfKey(u"nobody"_s), -1);
    const auto row = model->index(0);
    QCOMPARE(row.data(PresenceModel::KeyRole).toString(), u"alice"_s);
    QCOMPARE(row.data(PresenceModel::MetaRole).toMap(), meta.toVariantMap());
    QCOMPARE(row.data(PresenceModel::DeviceCountRole).toInt(), 1);
    QCOMPARE(model->metas(u"alice"_s), QJsonArray{meta});
    QCOMPARE(m_server->presenceKeys(topic), QStringList{u"alice"_s});

    // The channel list model counts the keys.
    const auto listRow = bob->channels()->index(0);
    QCOMPARE(listRow.data(Confab::ChannelListModel::MemberCountRole).toInt(), 1);
}

void tst_Client::presenceSeveralDevicesPerKey()
{
    const auto topic = uniqueTopic();
    auto observer = makeClient();
    auto phone = makeClient();
    auto laptop = makeClient();
    auto *watcher = observer->channel(topic, {.presenceKey = u"observer"_s});
    auto *onPhone = phone->channel(topic, {.presenceKey = u"dana"_s});
    auto *onLaptop = laptop->channel(topic, {.presenceKey = u"dana"_s});
    QAbstractItemModelTester modelTester(watcher->presence());
    QSignalSpy joined(watcher, &Channel::presenceJoined);
    QSignalSpy left(watcher, &Channel::presenceLeft);
    for (auto *ch : {watcher, onPhone, onLaptop})
        ch->subscribe();
    for (auto *client : {observer.get(), phone.get(), laptop.get()})
        client->connectToServer();
    QTRY_VERIFY(watcher->isSubscribed() && onPhone->isSubscribed() && onLaptop->isSubscribed());

    const QJsonObject phoneMeta{{u"device"_s, u"phone"_s}};
    const QJsonObject laptopMeta{{u"device"_s, u"laptop"_s}};
    (void)onPhone->track(phoneMeta);
    QTRY_COMPARE(joined.size(), 1);
    (void)onLaptop->track(laptopMeta);
    QTRY_COMPARE(joined.size(), 2);

    // Second join: current lists both entries, joined only the laptop's.
    QCOMPARE(joined.at(1).at(0).toString(), u"dana"_s);
    const auto current = arrayArg(joined, 1, 1);
    const auto newcomers = arrayArg(joined, 1, 2);
    QCOMPARE(current.size(), 2);
    QCOMPARE(newcomers.size(), 1);
    QCOMPARE(metaOf(newcomers.at(0)), laptopMeta);
    const auto phoneRef = refOf(arrayArg(joined, 0, 2).at(0));
    const auto laptopRef = refOf(newcomers.at(0));
    QVERIFY(phoneRef != laptopRef);

    // One key, two entries.
    QCOMPARE(watcher->presenceState().keys(), QStringList{u"dana"_s});
    QCOMPARE(watcher->presenceState().value("dana"_L1).toArray().size(), 2);
    auto *model = watcher->presence();
    QCOMPARE(model->rowCount(), 1);
    const auto row = model->index(model->indexOfKey(u"dana"_s));
    QCOMPARE(row.data(PresenceModel::DeviceCountRole).toInt(), 2);
    QCOMPARE(row.data(PresenceModel::RefsRole).toStringList().size(), 2);
    const auto metas = model->metas(u"dana"_s);
    QCOMPARE(metas.size(), 2);
    QVERIFY(metas.contains(phoneMeta) && metas.contains(laptopMeta));
    QCOMPARE(m_server->presenceKeys(topic), QStringList{u"dana"_s});

    // The phone untracks: only its entry leaves, the key stays.
    auto untracked = watch(onPhone->untrack());
    QVERIFY(!onPhone->isTracked());
    QTRY_COMPARE(left.size(), 1);
    QTRY_VERIFY(untracked->done());
    QCOMPARE(untracked->status, Reply::Status::Ok);
    QCOMPARE(left.at(0).at(0).toString(), u"dana"_s);
    QCOMPARE(arrayArg(left, 0, 2).size(), 1);
    QCOMPARE(refOf(arrayArg(left, 0, 2).at(0)), phoneRef);
    QCOMPARE(arrayArg(left, 0, 1).size(), 1);
    QCOMPARE(refOf(arrayArg(left, 0, 1).at(0)), laptopRef);
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(row.data(PresenceModel::DeviceCountRole).toInt(), 1);
    QCOMPARE(row.data(PresenceModel::MetaRole).toMap(), laptopMeta.toVariantMap());
    QCOMPARE(m_server->presenceKeys(topic), QStringList{u"dana"_s});

    // The laptop goes away (its connection closes): the key is gone.
    laptop->disconnectFromServer();
    QTRY_COMPARE(left.size(), 2);
    QCOMPARE(left.at(1).at(0).toString(), u"dana"_s);
    QVERIFY(arrayArg(left, 1, 1).isEmpty());
    QCOMPARE(arrayArg(left, 1, 2).size(), 1);
    QCOMPARE(refOf(arrayArg(left, 1, 2).at(0)), laptopRef);
    QVERIFY(watcher->presenceState().isEmpty());
    QCOMPARE(model->rowCount(), 0);
    QCOMPARE(model->indexOfKey(u"dana"_s), -1);
    QVERIFY(m_server->presenceKeys(topic).isEmpty());
}

void tst_Client::lateJoinerGetsFullPresence()
{
    const auto topic = uniqueTopic();
    auto alice = makeClient();
    auto bob = makeClient();
    auto *chA = alice->channel(topic, {.presenceKey = u"alice"_s});
    auto *chB = bob->channel(topic, {.presenceKey = u"bob"_s});
    chA->subscribe();
    chB->subscribe();
    (void)chA->track({{u"n"_s, 1}});
    (void)chB->track({{u"n"_s, 2}});
    alice->connectToServer();
    bob->connectToServer();
    QTRY_COMPARE(m_server->presenceKeys(topic), (QStringList{u"alice"_s, u"bob"_s}));

    auto late = makeClient();
    auto *chL = late->channel(topic);
    QSignalSpy synced(chL, &Channel::presenceSynced);
    QSignalSpy joined(chL, &Channel::presenceJoined);
    QSignalSpy subscribed(chL, &Channel::subscribed);
    chL->subscribe();
    late->connectToServer();
    QTRY_VERIFY(synced.size() >= 1);
    QCOMPARE(subscribed.size(), 1); // the join reply comes before the state
    QCOMPARE(joined.size(), 2);
    QStringList keys{joined.at(0).at(0).toString(), joined.at(1).at(0).toString()};
    keys.sort();
    QCOMPARE(keys, (QStringList{u"alice"_s, u"bob"_s}));
    const auto state = chL->presenceState();
    QCOMPARE(state.keys(), (QStringList{u"alice"_s, u"bob"_s}));
    QCOMPARE(metaOf(state.value("alice"_L1).toArray().at(0)), (QJsonObject{{u"n"_s, 1}}));
    QCOMPARE(metaOf(state.value("bob"_L1).toArray().at(0)), (QJsonObject{{u"n"_s, 2}}));
    QCOMPARE(chL->presence()->keys(), (QStringList{u"alice"_s, u"bob"_s}));
}

void tst_Client::retrackUpdatesMetaOnPeers()
{
    const auto topic = uniqueTopic();
    auto alice = makeClient();
    auto bob = makeClient();
    auto *chA = alice->channel(topic, {.presenceKey = u"alice"_s});
    auto *chB = bob->channel(topic, {.presenceKey = u"bob"_s});
    QAbstractItemModelTester modelTester(chB->presence());
    chA->subscribe();
    chB->subscribe();
    alice->connectToServer();
    bob->connectToServer();
    QTRY_VERIFY(chA->isSubscribed() && chB->isSubscribed());

    (void)chA->track({{u"status"_s, u"online"_s}});
    QTRY_COMPARE(chB->presence()->metas(u"alice"_s), (QJsonArray{QJsonObject{{u"status"_s, u"online"_s}}}));
    const auto ref = refOf(chB->presenceState().value("alice"_L1).toArray().at(0));

    QSignalSpy dataChanged(chB->presence(), &QAbstractItemModel::dataChanged);
    QSignalSpy synced(chB, &Channel::presenceSynced);
    auto retracked = watch(chA->track({{u"status"_s, u"away"_s}}));
    QTRY_VERIFY(retracked->done());
    QCOMPARE(retracked->status, Reply::Status::Ok);
    QTRY_COMPARE(chB->presence()->metas(u"alice"_s), (QJsonArray{QJsonObject{{u"status"_s, u"away"_s}}}));
    QVERIFY(synced.size() >= 1);
    QVERIFY(dataChanged.size() >= 1);
    const auto entries = chB->presenceState().value("alice"_L1).toArray();
    QCOMPARE(entries.size(), 1); // replaced, not added
    QCOMPARE(refOf(entries.at(0)), ref);
    QCOMPARE(chB->presence()->index(0).data(PresenceModel::MetaRole).toMap().value(u"status"_s).toString(),
             u"away"_s);
}

void tst_Client::unsubscribeLeaves()
{
    const auto topic = uniqueTopic();
    auto leaver = makeClient();
    auto stayer = makeClient();
    auto *gone = leaver->channel(topic, {.presenceKey = u"leaver"_s});
    auto *stays = stayer->channel(topic, {.ack = true, .presenceKey = {}});
    QSignalSpy received(gone, &Channel::broadcastReceived);
    QSignalSpy left(stays, &Channel::presenceLeft);
    gone->subscribe();
    stays->subscribe();
    (void)gone->track({});
    leaver->connectToServer();
    stayer->connectToServer();
    QTRY_VERIFY(gone->isSubscribed() && stays->isSubscribed());
    QTRY_COMPARE(m_server->presenceKeys(topic), QStringList{u"leaver"_s});
    QCOMPARE(m_server->memberCount(topic), 2);

    auto *reply = gone->unsubscribe();
    auto outcome = watch(reply);
    QTRY_VERIFY(outcome->done());
    QCOMPARE(outcome->status, Reply::Status::Ok);
    QCOMPARE(gone->status(), Channel::Status::Closed);
    QVERIFY(gone->errorCode().isEmpty());
    QCOMPARE(m_server->memberCount(topic), 1);
    QVERIFY(m_server->presenceKeys(topic).isEmpty());
    QTRY_COMPARE(left.size(), 1);

    // No more broadcasts: the server counts no recipient, and nothing arrives.
    auto sent = watch(stays->send(u"after"_s, QJsonObject{}));
    QTRY_VERIFY(sent->done());
    QCOMPARE(sent->response.value("recipientCount"_L1).toInt(), 0);
    QCOMPARE(received.size(), 0);

    // A push on an unsubscribed channel is refused at once.
    auto refused = watch(gone->send(u"x"_s));
    QTRY_VERIFY(refused->done());
    QCOMPARE(refused->code, u"NOT_SUBSCRIBED"_s);

    // Unsubscribing a channel that is not joined finishes ok at once.
    auto again = watch(gone->unsubscribe());
    QTRY_VERIFY(again->done());
    QCOMPARE(again->status, Reply::Status::Ok);
}

void tst_Client::removeChannel()
{
    const auto topic = uniqueTopic();
    auto client = makeClient();
    QAbstractItemModelTester modelTester(client->channels());
    auto *kept = client->channel(uniqueTopic(u"-kept"_s));
    QPointer<Channel> removed = client->channel(topic);
    removed->subscribe();
    kept->subscribe();
    client->connectToServer();
    QTRY_VERIFY(removed->isSubscribed() && kept->isSubscribed());
    QCOMPARE(m_server->memberCount(topic), 1);
    QCOMPARE(client->channels()->rowCount(), 2);

    client->removeChannel(removed);
    QCOMPARE(client->channelList(), QList<Channel *>{kept});
    QCOMPARE(client->channels()->rowCount(), 1);
    QCOMPARE(client->channels()->at(0), kept);
    QTRY_VERIFY(removed.isNull()); // deleted (later)
    QTRY_COMPARE(m_server->memberCount(topic), 0);
    QCOMPARE(m_server->memberCount(kept->topic()), 1);

    // A new channel for the same topic is a fresh object that can join again.
    auto *fresh = client->channel(topic);
    QCOMPARE(fresh->status(), Channel::Status::Idle);
    fresh->subscribe();
    QTRY_VERIFY(fresh->isSubscribed());
    QCOMPARE(m_server->memberCount(topic), 1);

    // Pushes waiting in a removed channel's buffer fail with CHANNEL_REMOVED.
    auto offline = makeClient();
    auto *buffering = offline->channel(topic);
    buffering->subscribe();
    auto waiting = watch(buffering->send(u"never"_s));
    QCOMPARE(offline->bufferedCount(), 1);
    offline->removeChannel(buffering);
    QTRY_VERIFY(waiting->done());
    QCOMPARE(waiting->code, u"CHANNEL_REMOVED"_s);
    QCOMPARE(offline->bufferedCount(), 0);
}

void tst_Client::removeAllChannels()
{
    auto client = makeClient();
    QList<QPointer<Channel>> channels;
    for (const auto &suffix : {u"-1"_s, u"-2"_s, u"-3"_s})
        channels.append(client->channel(uniqueTopic(suffix)));
    for (const auto &ch : std::as_const(channels))
        ch->subscribe();
    client->connectToServer();
    QTRY_VERIFY(std::all_of(channels.cbegin(), channels.cend(), [](const auto &ch) { return ch->isSubscribed(); }));

    client->removeAllChannels();
    QVERIFY(client->channelList().isEmpty());
    QCOMPARE(client->channels()->rowCount(), 0);
    QTRY_VERIFY(std::all_of(channels.cbegin(), channels.cend(), [](const auto &ch) { return ch.isNull(); }));
    for (const auto &suffix : {u"-1"_s, u"-2"_s, u"-3"_s})
        QTRY_COMPARE(m_server->memberCount(uniqueTopic(suffix)), 0);
    QCOMPARE(client->state(), Client::State::Connected); // the connection stays
}

void tst_Client::removeChannelWhileJoinInFlight()
{
    // "Leaves (if joined) and deletes": a channel removed while its join is on the wire must
    // not stay joined on the server once the join is answered.
    const auto topic = uniqueTopic();
    auto client = makeClient();
    auto *barrier = client->channel(uniqueTopic(u"-barrier"_s), {.ack = true, .presenceKey = {}});
    barrier->subscribe();
    client->connectToServer();
    QTRY_VERIFY(barrier->isSubscribed());

    auto *doomed = client->channel(topic);
    doomed->subscribe(); // connected: the join is sent now
    client->removeChannel(doomed);

    // The server handles a connection's frames in order: once this reply is here, the join was
    // handled too, and so was anything the client sent to undo it.
    auto sent = watch(barrier->send(u"barrier"_s));
    QTRY_VERIFY(sent->done());
    QCOMPARE(sent->status, Reply::Status::Ok);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->memberCount(topic), 0, 2000);
}

void tst_Client::unsubscribeWhileJoinInFlight()
{
    // unsubscribe() right after subscribe(): the channel must end Closed and not joined, even
    // though the server answers the join that was already on the wire.
    const auto topic = uniqueTopic();
    auto client = makeClient();
    auto *barrier = client->channel(uniqueTopic(u"-barrier"_s), {.ack = true, .presenceKey = {}});
    barrier->subscribe();
    client->connectToServer();
    QTRY_VERIFY(barrier->isSubscribed());

    auto *ch = client->channel(topic);
    QSignalSpy subscribed(ch, &Channel::subscribed);
    ch->subscribe(); // the join is sent now
    auto left = watch(ch->unsubscribe());
    QTRY_VERIFY(left->done());
    QCOMPARE(left->status, Reply::Status::Ok);

    auto sent = watch(barrier->send(u"barrier"_s)); // see removeChannelWhileJoinInFlight()
    QTRY_VERIFY(sent->done());
    QCOMPARE(ch->status(), Channel::Status::Closed);
    QCOMPARE(subscribed.size(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->memberCount(topic), 0, 2000);
}

void tst_Client::resubscribeWhileLeaveInFlight()
{
    // subscribe() right after unsubscribe(): the last wish wins, so the channel ends joined.
    const auto topic = uniqueTopic();
    auto client = makeClient();
    auto *ch = client->channel(topic, {.ack = true, .presenceKey = {}});
    ch->subscribe();
    client->connectToServer();
    QTRY_VERIFY(ch->isSubscribed());

    auto left = watch(ch->unsubscribe()); // the leave is sent now
    ch->subscribe();
    QTRY_VERIFY(left->done());
    QTRY_COMPARE_WITH_TIMEOUT(ch->status(), Channel::Status::Subscribed, 2000);
    QTRY_COMPARE(m_server->memberCount(topic), 1);
    auto sent = watch(ch->send(u"still-here"_s));
    QTRY_VERIFY(sent->done());
    QCOMPARE(sent->status, Reply::Status::Ok);
}

void tst_Client::severalChannelsRouteCorrectly()
{
    const auto one = uniqueTopic(u"-one"_s);
    const auto two = uniqueTopic(u"-two"_s);
    auto listener = makeClient();
    auto talker = makeClient();
    auto *in1 = listener->channel(one);
    auto *in2 = listener->channel(two);
    auto *out1 = talker->channel(one, {.ack = true, .presenceKey = {}});
    auto *out2 = talker->channel(two, {.ack = true, .presenceKey = {}});
    QSignalSpy got1(in1, &Channel::broadcastReceived);
    QSignalSpy got2(in2, &Channel::broadcastReceived);
    for (auto *ch : {in1, in2, out1, out2})
        ch->subscribe();
    listener->connectToServer();
    talker->connectToServer();
    QTRY_VERIFY(in1->isSubscribed() && in2->isSubscribed() && out1->isSubscribed() && out2->isSubscribed());

    (void)out1->send(u"first"_s, 1);
    (void)out2->send(u"second"_s, 2);
    auto last = watch(out1->send(u"third"_s, 3));
    QTRY_VERIFY(last->done());
    QTRY_COMPARE(got1.size(), 2);
    QTRY_COMPARE(got2.size(), 1);
    QCOMPARE(eventAt(got1, 0), u"first"_s);
    QCOMPARE(eventAt(got1, 1), u"third"_s);
    QCOMPARE(eventAt(got2, 0), u"second"_s);
    QCOMPARE(payloadAt(got2, 0), QJsonValue(2));

    // Presence is per channel too.
    auto *presenceOn2 = talker->channel(two);
    (void)presenceOn2->track({{u"where"_s, 2}});
    QTRY_COMPARE(in2->presence()->rowCount(), 1);
    QCOMPARE(in1->presence()->rowCount(), 0);
    QVERIFY(in1->presenceState().isEmpty());
}

void tst_Client::urlListFailsOverToSecond()
{
    const RefusingPort refusing;
    QVERIFY(refusing.isValid());
    const QUrl dead = refusing.url();
    auto client = makeClient();
    QSignalSpy urlsChanged(client.get(), &Client::urlsChanged);
    client->setUrls({dead, m_server->url()});
    QCOMPARE(urlsChanged.size(), 1);
    QCOMPARE(client->url(), dead);
    QCOMPARE(client->urls(), (QList<QUrl>{dead, m_server->url()}));
    QSignalSpy scheduled(client.get(), &Client::reconnectScheduled);
    auto *ch = client->channel(uniqueTopic());
    ch->subscribe();

    client->connectToServer();
    QCOMPARE(client->currentUrl(), dead);
    QTRY_COMPARE(client->state(), Client::State::Connected);
    QCOMPARE(client->currentUrl(), m_server->url());
    QCOMPARE(scheduled.size(), 1); // one failed attempt, then the second server
    QTRY_VERIFY(ch->isSubscribed());
}

void tst_Client::sendOnNeverSubscribedChannel()
{
    auto client = makeClient();
    auto *ch = client->channel(uniqueTopic());
    client->connectToServer();
    QTRY_VERIFY(client->isConnected());

    auto *reply = ch->send(u"hello"_s, QJsonObject{});
    QCOMPARE(reply->status(), Reply::Status::Pending); // finished later, so this connect works
    auto outcome = watch(reply);
    QTRY_VERIFY(outcome->done());
    QCOMPARE(outcome->status, Reply::Status::Error);
    QCOMPARE(outcome->code, u"NOT_SUBSCRIBED"_s);
    QVERIFY(!outcome->message.isEmpty());
    QCOMPARE(client->bufferedCount(), 0);

    auto track = watch(ch->track({}));
    QTRY_VERIFY(track->done());
    QCOMPARE(track->code, u"NOT_SUBSCRIBED"_s);
}

void tst_Client::serverErrorReachesReply()
{
    TestServer small({u"--max-message-bytes"_s, u"1024"_s});
    QVERIFY2(small.start(), qPrintable(small.errorString()));
    auto client = makeClient(small.url());
    auto *ch = client->channel(uniqueTopic(), {.ack = true, .presenceKey = {}});
    ch->subscribe();
    client->connectToServer();
    QTRY_VERIFY(ch->isSubscribed());

    // Over the limit but under 4× it: refused with an error reply, the connection stays.
    auto outcome = watch(ch->send(u"big"_s, QString(2000, u'x')));
    QTRY_VERIFY(outcome->done());
    QCOMPARE(outcome->status, Reply::Status::Error);
    QCOMPARE(outcome->code, u"MESSAGE_TOO_LARGE"_s);
    QVERIFY(!outcome->message.isEmpty());
    QCOMPARE(outcome->response.value("limit"_L1).toInt(), 1024);
    QCOMPARE(ch->status(), Channel::Status::Subscribed);

    auto fine = watch(ch->send(u"small"_s, u"x"_s));
    QTRY_VERIFY(fine->done());
    QCOMPARE(fine->status, Reply::Status::Ok);
    QCOMPARE(client->state(), Client::State::Connected);
}

void tst_Client::refusedFireAndForgetSurfacesOnChannel()
{
    TestServer small({u"--max-message-bytes"_s, u"1024"_s});
    QVERIFY2(small.start(), qPrintable(small.errorString()));
    auto client = makeClient(small.url());
    auto *ch = client->channel(uniqueTopic()); // ack false
    QSignalSpy errors(ch, &Channel::errorOccurred);
    ch->subscribe();
    client->connectToServer();
    QTRY_VERIFY(ch->isSubscribed());

    auto outcome = watch(ch->send(u"big"_s, QString(2000, u'x')));
    QTRY_VERIFY(outcome->done());
    QCOMPARE(outcome->status, Reply::Status::Ok); // written; the refusal comes on its own
    QTRY_COMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).toString(), u"MESSAGE_TOO_LARGE"_s);
    QVERIFY(!errors.at(0).at(1).toString().isEmpty());
    QCOMPARE(ch->status(), Channel::Status::Subscribed);
}

QTEST_GUILESS_MAIN(tst_Client)
#include "tst_client.moc"
