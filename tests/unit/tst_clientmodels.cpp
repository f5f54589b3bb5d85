// The client library's list models under QAbstractItemModelTester: every insert, remove and
// change is checked for consistency as it happens.
#include <ConfabClient/channellistmodel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/presencemodel.h>

#include <QtTest/QAbstractItemModelTester>
#include <QtCore/QRandomGenerator>
#include <QtTest/QtTest>

using namespace Qt::StringLiterals;
using Confab::ChannelListModel;
using Confab::PresenceModel;

namespace {

QJsonObject entry(const QString &ref, const QJsonObject &meta = {})
{
    return {{u"presence_ref"_s, ref}, {u"meta"_s, meta}};
}

} // namespace

class tst_ClientModels : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void presenceRowsFollowEntries();
    void presenceStateReplacesRowByRow();
    void presenceRandomSequence();
    void channelListFollowsTheClient();
};

void tst_ClientModels::presenceRowsFollowEntries()
{
    PresenceModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy count(&model, &PresenceModel::countChanged);

    model.setEntries(u"bob"_s, {entry(u"p1"_s, {{u"status"_s, u"online"_s}})});
    model.setEntries(u"alice"_s, {entry(u"p2"_s, {{u"device"_s, u"phone"_s}})});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.keys(), (QStringList{u"alice"_s, u"bob"_s})); // sorted, whatever the order of arrival
    QCOMPARE(count.count(), 2);

    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setEntries(u"alice"_s, {entry(u"p2"_s, {{u"device"_s, u"phone"_s}}),
                                  entry(u"p3"_s, {{u"device"_s, u"laptop"_s}})});
    QCOMPARE(changed.count(), 1);
    const auto alice = model.index(model.indexOfKey(u"alice"_s));
    QCOMPARE(alice.data(PresenceModel::DeviceCountRole).toInt(), 2);
    QCOMPARE(alice.data(PresenceModel::MetaRole).toMap().value(u"device"_s).toString(), u"laptop"_s);
    QCOMPARE(alice.data(PresenceModel::MetasRole).toList().size(), 2);
    QCOMPARE(alice.data(PresenceModel::RefsRole).toStringList(), (QStringList{u"p2"_s, u"p3"_s}));
    QCOMPARE(alice.data(Qt::DisplayRole).toString(), u"alice"_s);
    QCOMPARE(model.metas(u"alice"_s).size(), 2);

    model.setEntries(u"alice"_s, {entry(u"p2"_s, {{u"device"_s, u"phone"_s}}),
                                  entry(u"p3"_s, {{u"device"_s, u"laptop"_s}})});
    QCOMPARE(changed.count(), 1); // the same entries again change nothing

    model.setEntries(u"bob"_s, {});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.indexOfKey(u"bob"_s), -1);
    QVERIFY(model.metas(u"bob"_s).isEmpty());
    QCOMPARE(model.roleNames().value(PresenceModel::KeyRole), "presenceKey");
}

void tst_ClientModels::presenceStateReplacesRowByRow()
{
    PresenceModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setState({{u"a"_s, QJsonArray{entry(u"1"_s)}}, {u"b"_s, QJsonArray{entry(u"2"_s)}}});
    QCOMPARE(model.keys(), (QStringList{u"a"_s, u"b"_s}));

    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.setState({{u"b"_s, QJsonArray{entry(u"2"_s)}}, {u"c"_s, QJsonArray{entry(u"3"_s)}}});
    QCOMPARE(model.keys(), (QStringList{u"b"_s, u"c"_s}));
    QCOMPARE(reset.count(), 0); // a rejoin's state keeps unchanged rows in place
    QCOMPARE(removed.count(), 1);
    QCOMPARE(inserted.count(), 1);

    model.setState({});
    QCOMPARE(model.rowCount(), 0);
}

void tst_ClientModels::presenceRandomSequence()
{
    // Many small changes in random order, each checked by the tester, against a plain map.
    PresenceModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QRandomGenerator random(20261122);
    QMap<QString, int> expected; // key → entry count
    for (int step = 0; step < 2000; ++step) {
        const auto key = u"k%1"_s.arg(random.bounded(12));
        const int n = int(random.bounded(4)); // 0 removes the key
        QJsonArray entries;
        for (int i = 0; i < n; ++i)
            entries.append(entry(u"%1-%2"_s.arg(key).arg(i), {{u"step"_s, step}}));
        model.setEntries(key, entries);
        if (n == 0)
            expected.remove(key);
        else
            expected.insert(key, n);
        QCOMPARE(model.keys(), QStringList(expected.keys()));
    }
    for (auto it = expected.cbegin(); it != expected.cend(); ++it)
        QCOMPARE(model.index(model.indexOfKey(it.key())).data(PresenceModel::DeviceCountRole).toInt(), it.value());
}

void tst_ClientModels::channelListFollowsTheClient()
{
    Confab::Client client(QUrl(u"ws://127.0.0.1:9/"_s)); // never connected: models only
    auto *model = client.channels();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);

    auto *lobby = client.channel(u"room:lobby"_s);
    auto *dev = client.channel(u"room:dev"_s, {.self = true, .ack = true, .presenceKey = u"me"_s});
    QCOMPARE(client.channel(u"room:lobby"_s), lobby); // one channel per topic
    QCOMPARE(model->rowCount(), 2);
    QCOMPARE(model->index(0).data(ChannelListModel::TopicRole).toString(), u"room:lobby"_s);
    QCOMPARE(model->at(1), dev);
    QCOMPARE(model->index(1).data(ChannelListModel::ChannelRole).value<Confab::Channel *>(), dev);
    QCOMPARE(model->at(5), nullptr);

    QSignalSpy changed(model, &QAbstractItemModel::dataChanged);
    lobby->subscribe(); // not connected: it waits, Joining
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model->index(0).data(ChannelListModel::StatusRole).toInt(), int(Confab::Channel::Status::Joining));
    QCOMPARE(model->index(0).data(ChannelListModel::SubscribedRole).toBool(), false);

    lobby->presence()->setEntries(u"alice"_s, {entry(u"p1"_s)});
    QCOMPARE(model->index(0).data(ChannelListModel::MemberCountRole).toInt(), 1);

    client.removeChannel(lobby);
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(model->at(0), dev);
    client.removeAllChannels();
    QCOMPARE(model->rowCount(), 0);
}

QTEST_GUILESS_MAIN(tst_ClientModels)
#include "tst_clientmodels.moc"
