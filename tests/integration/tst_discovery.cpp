// LAN discovery end to end: the real server (Confab::TestServer, its own thread) beacons to
// 127.0.0.1 on a free UDP port, and Confab::ServerDiscovery lists it, refreshes it, drops it on
// the farewell or after the beacons stop, and ignores datagrams that are not beacons. Expiry is
// tested with a short ServerDiscovery::expiryInterval, and every wait is on state (a row listed or
// removed, a signal), so the suite never sleeps.
#include <ConfabClient/serverdiscovery.h>
#include <ConfabTestServer/testserver.h>

#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtNetwork/QUdpSocket>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using Confab::ServerDiscovery;

namespace {

//! A UDP port nobody uses right now (bound and released).
int freeUdpPort()
{
    QUdpSocket probe;
    if (!probe.bind(QHostAddress::LocalHost, 0))
        return 0;
    return probe.localPort();
}

QByteArray beacon(const QJsonObject &overrides = {})
{
    QJsonObject object{{u"service"_s, u"confab"_s}, {u"version"_s, 1},     {u"name"_s, u"Handmade"_s},
                       {u"port"_s, 4555},            {u"auth"_s, u"token"_s}, {u"id"_s, u"handmade-1"_s}};
    for (auto it = overrides.begin(); it != overrides.end(); ++it) {
        if (it.value() == QJsonValue(u"<remove>"_s))
            object.remove(it.key());
        else
            object.insert(it.key(), it.value());
    }
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QVariant role(const ServerDiscovery &model, int row, ServerDiscovery::Roles r)
{
    return model.data(model.index(row), r);
}

} // namespace

class tst_Discovery : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();

    void listsServerAndDropsItOnBye();
    void passwordServerSaysSo();
    void malformedDatagramsIgnored();
    void beaconRefreshesItsRow();
    void expiryIntervalProperty();
    void expiresWhenBeaconsStop();
    void shorterExpiryAppliesToListedServers();
    void stoppingClearsTheList();
    void portInUseBySeveralListeners();

private:
    QStringList serverOptions(const QStringList &extra = {}) const;
    void send(const QByteArray &datagram);

    int m_port = 0;
};

void tst_Discovery::initTestCase()
{
    QLoggingCategory::setFilterRules(u"confab.*.debug=false"_s);
}

void tst_Discovery::init()
{
    m_port = freeUdpPort();
    QVERIFY(m_port > 0);
}

QStringList tst_Discovery::serverOptions(const QStringList &extra) const
{
    return QStringList{u"--discovery"_s, u"on"_s, u"--discovery-target"_s, u"127.0.0.1"_s,
                       u"--discovery-port"_s, QString::number(m_port), u"--server-name"_s, u"Test Lab"_s}
        + extra;
}

void tst_Discovery::send(const QByteArray &datagram)
{
    QUdpSocket socket;
    QCOMPARE(socket.writeDatagram(datagram, QHostAddress::LocalHost, quint16(m_port)), qint64(datagram.size()));
}

void tst_Discovery::listsServerAndDropsItOnBye()
{
    ServerDiscovery discovery;
    QAbstractItemModelTester tester(&discovery, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(discovery.port(), 41234);
    QCOMPARE(discovery.isActive(), false);
    discovery.setPort(m_port);
    discovery.setActive(true);
    QVERIFY2(discovery.isActive(), qPrintable(discovery.errorString()));

    Confab::TestServer server(serverOptions());
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    // The first beacon goes out at start, the next 2 s later.
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 5000);
    QCOMPARE(discovery.property("count").toInt(), 1);
    QCOMPARE(role(discovery, 0, ServerDiscovery::NameRole).toString(), u"Test Lab"_s);
    QCOMPARE(role(discovery, 0, ServerDiscovery::HostRole).toString(), u"127.0.0.1"_s);
    QCOMPARE(role(discovery, 0, ServerDiscovery::PortRole).toInt(), int(server.port()));
    QCOMPARE(role(discovery, 0, ServerDiscovery::UrlRole).toUrl(), server.url());
    QCOMPARE(role(discovery, 0, ServerDiscovery::AuthRole).toString(), u"open"_s);
    const QDateTime firstSeen = role(discovery, 0, ServerDiscovery::LastSeenRole).toDateTime();
    QVERIFY(firstSeen.isValid());
    QVERIFY(qAbs(firstSeen.secsTo(QDateTime::currentDateTimeUtc())) < 10);
    QCOMPARE(discovery.roleNames().value(ServerDiscovery::UrlRole), "url"_ba);
    QCOMPARE(discovery.roleNames().value(ServerDiscovery::LastSeenRole), "lastSeen"_ba);

    // The server's next beacon refreshes the row, still one row. The server beacons every 2 s (a
    // server constant, not an option), so this waits for that beacon: the only check here that the
    // server repeats its beacon. The model's side of a refresh is beaconRefreshesItsRow().
    QSignalSpy refreshed(&discovery, &QAbstractItemModel::dataChanged);
    QVERIFY(refreshed.wait(5000));
    QCOMPARE(discovery.rowCount(), 1);
    QVERIFY(role(discovery, 0, ServerDiscovery::LastSeenRole).toDateTime() >= firstSeen);

    // The farewell removes it at once, long before the 7 s expiry.
    QElapsedTimer timer;
    timer.start();
    server.stop();
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 0, 3000);
    QVERIFY(timer.elapsed() < 5000);
}

void tst_Discovery::passwordServerSaysSo()
{
    ServerDiscovery discovery;
    discovery.setPort(m_port);
    discovery.setActive(true);
    QVERIFY(discovery.isActive());
    Confab::TestServer server(serverOptions({u"--join-password"_s, u"letmein"_s}));
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 5000);
    QCOMPARE(role(discovery, 0, ServerDiscovery::AuthRole).toString(), u"password"_s);
}

void tst_Discovery::malformedDatagramsIgnored()
{
    ServerDiscovery discovery;
    QAbstractItemModelTester tester(&discovery, QAbstractItemModelTester::FailureReportingMode::QtTest);
    discovery.setPort(m_port);
    discovery.setActive(true);
    QVERIFY(discovery.isActive());

    const QJsonValue remove(u"<remove>"_s); // beacon() drops the field (a QJsonObject cannot hold undefined)
    const QList<QByteArray> junk{
        "not json",
        "[]",
        "{}",
        "\xff\xfe\x00garbage"_ba,
        beacon({{u"service"_s, u"other"_s}, {u"id"_s, u"j1"_s}}),
        beacon({{u"service"_s, remove}, {u"id"_s, u"j2"_s}}),
        beacon({{u"version"_s, 0}, {u"id"_s, u"j3"_s}}),
        beacon({{u"version"_s, u"1"_s}, {u"id"_s, u"j4"_s}}),
        beacon({{u"id"_s, remove}}),
        beacon({{u"id"_s, u""_s}}),
        beacon({{u"id"_s, QString(65, u'i')}}),
        beacon({{u"port"_s, 0}, {u"id"_s, u"j5"_s}}),
        beacon({{u"port"_s, 70000}, {u"id"_s, u"j6"_s}}),
        beacon({{u"port"_s, u"4000"_s}, {u"id"_s, u"j7"_s}}),
        beacon({{u"port"_s, 4000.5}, {u"id"_s, u"j8"_s}}),
        beacon({{u"port"_s, remove}, {u"id"_s, u"j9"_s}}),
        beacon({{u"auth"_s, u"root"_s}, {u"id"_s, u"j10"_s}}),
        beacon({{u"name"_s, 5}, {u"id"_s, u"j11"_s}}),
        beacon({{u"name"_s, QString(101, u'n')}, {u"id"_s, u"j12"_s}}),
        beacon({{u"bye"_s, u"yes"_s}, {u"id"_s, u"j13"_s}}),
        beacon({{u"padding"_s, QString(2000, u'p')}, {u"id"_s, u"j14"_s}}), // too big to be a beacon
        beacon({{u"bye"_s, true}, {u"id"_s, u"never-seen"_s}}),             // a bye for nobody
    };
    for (const QByteArray &datagram : junk)
        send(datagram);
    // A valid beacon after the junk: once it is listed, everything before it has been read.
    // It claims another host; the row must show where it really came from.
    send(beacon({{u"id"_s, u"barrier"_s}, {u"host"_s, u"10.9.9.9"_s}, {u"future_field"_s, true}}));
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 3000);
    QCOMPARE(role(discovery, 0, ServerDiscovery::NameRole).toString(), u"Handmade"_s);
    QCOMPARE(role(discovery, 0, ServerDiscovery::HostRole).toString(), u"127.0.0.1"_s);
    QCOMPARE(role(discovery, 0, ServerDiscovery::UrlRole).toUrl(), QUrl(u"ws://127.0.0.1:4555/"_s));
    QCOMPARE(role(discovery, 0, ServerDiscovery::AuthRole).toString(), u"token"_s);
    QVERIFY(discovery.isActive());

    // A later version's beacon is read by its version-1 fields.
    send(beacon({{u"id"_s, u"v2"_s}, {u"version"_s, 2}}));
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 2, 3000);
    // Bye by id removes exactly that row.
    send(beacon({{u"id"_s, u"barrier"_s}, {u"bye"_s, true}}));
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 3000);
    QCOMPARE(role(discovery, 0, ServerDiscovery::PortRole).toInt(), 4555);
}

void tst_Discovery::beaconRefreshesItsRow()
{
    ServerDiscovery discovery;
    QAbstractItemModelTester tester(&discovery, QAbstractItemModelTester::FailureReportingMode::QtTest);
    discovery.setPort(m_port);
    discovery.setActive(true);
    QVERIFY(discovery.isActive());
    send(beacon());
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 3000);
    const QDateTime firstSeen = role(discovery, 0, ServerDiscovery::LastSeenRole).toDateTime();
    QVERIFY(firstSeen.isValid());

    // The same server (same id) again, renamed, on another port and now with a join password:
    // the row is updated in place.
    QSignalSpy changed(&discovery, &QAbstractItemModel::dataChanged);
    send(beacon({{u"name"_s, u"Renamed"_s}, {u"port"_s, 4556}, {u"auth"_s, u"password"_s}}));
    QVERIFY(changed.wait(3000));
    QCOMPARE(discovery.rowCount(), 1);
    QCOMPARE(role(discovery, 0, ServerDiscovery::NameRole).toString(), u"Renamed"_s);
    QCOMPARE(role(discovery, 0, ServerDiscovery::PortRole).toInt(), 4556);
    QCOMPARE(role(discovery, 0, ServerDiscovery::AuthRole).toString(), u"password"_s);
    QVERIFY(role(discovery, 0, ServerDiscovery::LastSeenRole).toDateTime() >= firstSeen);
}

void tst_Discovery::expiryIntervalProperty()
{
    ServerDiscovery discovery;
    // docs/protocol.md: a server is listed until 7 s after its last beacon.
    QCOMPARE(discovery.expiryInterval(), 7000);
    QCOMPARE(ServerDiscovery::DefaultExpiryInterval, 7000);
    QSignalSpy changed(&discovery, &ServerDiscovery::expiryIntervalChanged);
    discovery.setExpiryInterval(250);
    QCOMPARE(discovery.expiryInterval(), 250);
    QCOMPARE(changed.count(), 1);
    discovery.setExpiryInterval(250);
    discovery.setExpiryInterval(0);
    discovery.setExpiryInterval(-5);
    QCOMPARE(discovery.expiryInterval(), 250);
    QCOMPARE(changed.count(), 1);
    QVERIFY(discovery.setProperty("expiryInterval", 400)); // as QML sets it
    QCOMPARE(discovery.expiryInterval(), 400);
    QCOMPARE(changed.count(), 2);
}

void tst_Discovery::expiresWhenBeaconsStop()
{
    // The default's rule at a scale a test can wait for: a row goes expiryInterval after the last
    // beacon, and not before.
    constexpr int Expiry = 300;
    ServerDiscovery discovery;
    QAbstractItemModelTester tester(&discovery, QAbstractItemModelTester::FailureReportingMode::QtTest);
    discovery.setExpiryInterval(Expiry);
    discovery.setPort(m_port);
    discovery.setActive(true);
    QVERIFY(discovery.isActive());
    // Spies rather than polling rowCount(): a poll could miss a row that lives only 300 ms.
    QSignalSpy inserted(&discovery, &QAbstractItemModel::rowsInserted);
    QElapsedTimer sinceBeacon;
    qint64 removedAfterMs = -1;
    connect(&discovery, &QAbstractItemModel::rowsRemoved, this,
            [&] { removedAfterMs = sinceBeacon.elapsed(); });
    sinceBeacon.start();
    send(beacon());
    QTRY_COMPARE_WITH_TIMEOUT(inserted.count(), 1, 3000);
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 0, 5000);
    // The timer started before the beacon was sent; both clocks count whole milliseconds, so the
    // row may go up to 1 ms short of Expiry as measured here.
    QVERIFY2(removedAfterMs >= Expiry - 1, qPrintable(QString::number(removedAfterMs)));
    QCOMPARE(inserted.count(), 1);
}

void tst_Discovery::shorterExpiryAppliesToListedServers()
{
    ServerDiscovery discovery;
    QAbstractItemModelTester tester(&discovery, QAbstractItemModelTester::FailureReportingMode::QtTest);
    discovery.setPort(m_port);
    discovery.setActive(true);
    QVERIFY(discovery.isActive());
    send(beacon());
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 3000);
    // Listed under the 7 s default; a shorter interval set now reschedules its expiry, so it goes
    // within the wait below instead of 7 s after its beacon.
    discovery.setExpiryInterval(50);
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 0, 3000);
}

void tst_Discovery::stoppingClearsTheList()
{
    ServerDiscovery discovery;
    QAbstractItemModelTester tester(&discovery, QAbstractItemModelTester::FailureReportingMode::QtTest);
    discovery.setPort(m_port);
    discovery.setActive(true);
    send(beacon());
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 3000);
    discovery.setActive(false);
    QCOMPARE(discovery.isActive(), false);
    QCOMPARE(discovery.rowCount(), 0);
    send(beacon()); // to a port nobody listens on: dropped

    // Listening again works. The beacon sent while not listening never shows up: once a later one
    // is listed, it is the only row.
    discovery.setActive(true);
    QVERIFY(discovery.isActive());
    send(beacon({{u"id"_s, u"after-restart"_s}, {u"name"_s, u"Later"_s}}));
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 3000);
    QCOMPARE(role(discovery, 0, ServerDiscovery::NameRole).toString(), u"Later"_s);

    // Moving to another port while active rebinds there (and starts an empty list).
    const int otherPort = freeUdpPort();
    discovery.setPort(otherPort);
    QVERIFY(discovery.isActive());
    QUdpSocket socket;
    const QByteArray datagram = beacon();
    socket.writeDatagram(datagram, QHostAddress::LocalHost, quint16(otherPort));
    QTRY_COMPARE_WITH_TIMEOUT(discovery.rowCount(), 1, 3000);
}

void tst_Discovery::portInUseBySeveralListeners()
{
    // Two apps (or two windows) on one computer listen at once.
    ServerDiscovery first;
    ServerDiscovery second;
    first.setPort(m_port);
    second.setPort(m_port);
    first.setActive(true);
    second.setActive(true);
    QVERIFY2(first.isActive(), qPrintable(first.errorString()));
    QVERIFY2(second.isActive(), qPrintable(second.errorString()));
    QVERIFY(second.errorString().isEmpty());
}

QTEST_GUILESS_MAIN(tst_Discovery)
#include "tst_discovery.moc"
