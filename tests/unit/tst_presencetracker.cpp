#include "engine/presencetracker.h"

#include <QtCore/QRandomGenerator>
#include <QtTest/QtTest>

#include <algorithm>
#include <map>
#include <vector>

using namespace Confab::Server;
using namespace Qt::StringLiterals;

//! Presence bookkeeping of one channel: key → entries, one entry per (connection, key).
class tst_PresenceTracker : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void startsEmpty();
    void trackAddsEntry();
    void retrackReplacesMetaKeepsRef();
    void twoOwnersUnderOneKey();
    void oneOwnerUnderTwoKeys();
    void untrackOneKey();
    void untrackOneOfSeveralEntriesKeepsOrder();
    void untrackAllKeysOfOwner();
    void untrackNothing_data();
    void untrackNothing();
    void keyDisappearsWithLastEntry();
    void retrackAfterUntrackGetsNewRef();
    void keysAreSorted();
    void randomizedAgainstModel();
};

namespace {

QJsonObject meta(const QString &status)
{
    return QJsonObject{{u"status"_s, status}};
}

PresenceEntry entry(quint64 owner, const QString &key, const QString &ref, const QJsonObject &m)
{
    return PresenceEntry{owner, key, ref, m};
}

// The obvious implementation: a list of keys in first-seen order, each with its entries.
// Slow and simple on purpose, so it can be trusted as the reference.
class Model
{
public:
    struct Track
    {
        PresenceEntry entry;
        bool added;
    };

    Track track(quint64 owner, const QString &key, const QJsonObject &m, const QString &newRef)
    {
        auto &list = m_byKey[key];
        for (auto &e : list) {
            if (e.owner == owner) {
                e.meta = m;
                return {e, false};
            }
        }
        list.push_back(entry(owner, key, newRef, m));
        return {list.back(), true};
    }

    // Sorted by key: the tracker does not promise an order of the changes.
    std::vector<PresenceKeyChange> untrack(quint64 owner, const std::optional<QString> &key)
    {
        std::vector<PresenceKeyChange> changes;
        for (auto it = m_byKey.begin(); it != m_byKey.end();) {
            if (key && it->first != *key) {
                ++it;
                continue;
            }
            PresenceKeyChange change{it->first, {}, {}};
            auto &list = it->second;
            for (auto e = list.begin(); e != list.end();) {
                if (e->owner == owner) {
                    change.changed.append(*e);
                    e = list.erase(e);
                } else {
                    ++e;
                }
            }
            change.current = QList<PresenceEntry>(list.begin(), list.end());
            if (!change.changed.isEmpty())
                changes.push_back(change);
            it = list.empty() ? m_byKey.erase(it) : std::next(it);
        }
        return changes;
    }

    [[nodiscard]] QList<PresenceEntry> entries(const QString &key) const
    {
        const auto it = m_byKey.find(key);
        return it == m_byKey.end() ? QList<PresenceEntry>()
                                   : QList<PresenceEntry>(it->second.begin(), it->second.end());
    }
    [[nodiscard]] QStringList keys() const
    {
        QStringList k;
        for (const auto &[key, list] : m_byKey)
            k.append(key);
        return k; // std::map: already sorted
    }
    [[nodiscard]] qsizetype entryCount() const
    {
        qsizetype n = 0;
        for (const auto &[key, list] : m_byKey)
            n += qsizetype(list.size());
        return n;
    }
    [[nodiscard]] bool hasOwner(quint64 owner) const
    {
        for (const auto &[key, list] : m_byKey)
            for (const auto &e : list)
                if (e.owner == owner)
                    return true;
        return false;
    }

private:
    std::map<QString, std::vector<PresenceEntry>> m_byKey;
};

bool sameChange(const PresenceKeyChange &a, const PresenceKeyChange &b)
{
    return a.key == b.key && a.changed == b.changed && a.current == b.current;
}

QString describe(const PresenceEntry &e)
{
    return u"{%1 %2 %3}"_s.arg(e.owner).arg(e.key, e.ref);
}

QString describe(const QList<PresenceEntry> &entries)
{
    QStringList parts;
    for (const auto &e : entries)
        parts.append(describe(e));
    return u"["_s + parts.join(u", "_s) + u"]"_s;
}

} // namespace

void tst_PresenceTracker::startsEmpty()
{
    const PresenceTracker t;
    QVERIFY(t.isEmpty());
    QCOMPARE(t.entryCount(), 0);
    QCOMPARE(t.keyCount(), 0);
    QVERIFY(t.keys().isEmpty());
    QVERIFY(t.entries(u""_s).isEmpty());
    QVERIFY(!t.hasOwner(0));
}

void tst_PresenceTracker::trackAddsEntry()
{
    PresenceTracker t;
    const auto r = t.track(1, u"user-A"_s, meta(u"online"_s), u"pres_1"_s);
    QVERIFY(r.added);
    QCOMPARE(r.entry, entry(1, u"user-A"_s, u"pres_1"_s, meta(u"online"_s)));
    QCOMPARE(t.entries(u"user-A"_s), QList<PresenceEntry>{r.entry});
    QCOMPARE(t.keys(), QStringList{u"user-A"_s});
    QCOMPARE(t.keyCount(), 1);
    QCOMPARE(t.entryCount(), 1);
    QVERIFY(!t.isEmpty());
    QVERIFY(t.hasOwner(1));
    QVERIFY(!t.hasOwner(2));

    // The SDK's default key is the empty string; it is a key like any other.
    const auto empty = t.track(2, u""_s, {}, u"pres_2"_s);
    QVERIFY(empty.added);
    QCOMPARE(t.keys(), (QStringList{u""_s, u"user-A"_s}));
    QCOMPARE(t.entries(u""_s).size(), 1);
}

void tst_PresenceTracker::retrackReplacesMetaKeepsRef()
{
    PresenceTracker t;
    t.track(1, u"user-A"_s, meta(u"online"_s), u"pres_1"_s);
    const auto r = t.track(1, u"user-A"_s, meta(u"away"_s), u"pres_2"_s);
    QVERIFY(!r.added);
    // Clients deduplicate by ref, so a re-track must not look like a new presence.
    QCOMPARE(r.entry, entry(1, u"user-A"_s, u"pres_1"_s, meta(u"away"_s)));
    QCOMPARE(t.entries(u"user-A"_s), QList<PresenceEntry>{r.entry});
    QCOMPARE(t.entryCount(), 1);
    QCOMPARE(t.keyCount(), 1);

    // Re-tracking with an empty meta replaces it too (it does not merge).
    const auto cleared = t.track(1, u"user-A"_s, {}, u"pres_3"_s);
    QVERIFY(!cleared.added);
    QCOMPARE(cleared.entry.ref, u"pres_1"_s);
    QVERIFY(t.entries(u"user-A"_s).constFirst().meta.isEmpty());
}

void tst_PresenceTracker::twoOwnersUnderOneKey()
{
    PresenceTracker t;
    const auto phone = t.track(7, u"user-A"_s, meta(u"phone"_s), u"p1"_s);
    const auto laptop = t.track(3, u"user-A"_s, meta(u"laptop"_s), u"p2"_s);
    QVERIFY(phone.added);
    QVERIFY(laptop.added);
    // Insertion order, not owner order.
    QCOMPARE(t.entries(u"user-A"_s), (QList<PresenceEntry>{phone.entry, laptop.entry}));
    QCOMPARE(t.entryCount(), 2);
    QCOMPARE(t.keyCount(), 1);
    QVERIFY(t.hasOwner(7));
    QVERIFY(t.hasOwner(3));

    // A re-track by the first device updates it in place: the order does not change.
    const auto phone2 = t.track(7, u"user-A"_s, meta(u"phone-away"_s), u"p3"_s);
    QVERIFY(!phone2.added);
    QCOMPARE(t.entries(u"user-A"_s),
             (QList<PresenceEntry>{entry(7, u"user-A"_s, u"p1"_s, meta(u"phone-away"_s)), laptop.entry}));
}

void tst_PresenceTracker::oneOwnerUnderTwoKeys()
{
    PresenceTracker t;
    const auto a = t.track(1, u"a"_s, meta(u"x"_s), u"r1"_s);
    const auto b = t.track(1, u"b"_s, meta(u"y"_s), u"r2"_s);
    QVERIFY(a.added);
    QVERIFY(b.added); // another key is another entry, even for the same owner
    QCOMPARE(t.entries(u"a"_s), QList<PresenceEntry>{a.entry});
    QCOMPARE(t.entries(u"b"_s), QList<PresenceEntry>{b.entry});
    QCOMPARE(t.entryCount(), 2);
    QCOMPARE(t.keyCount(), 2);
    QCOMPARE(t.keys(), (QStringList{u"a"_s, u"b"_s}));
}

void tst_PresenceTracker::untrackOneKey()
{
    PresenceTracker t;
    const auto a1 = t.track(1, u"a"_s, meta(u"1"_s), u"r1"_s);
    const auto a2 = t.track(2, u"a"_s, meta(u"2"_s), u"r2"_s);
    const auto b1 = t.track(1, u"b"_s, meta(u"3"_s), u"r3"_s);

    const auto changes = t.untrack(1, u"a"_s);
    QCOMPARE(changes.size(), 1);
    QCOMPARE(changes[0].key, u"a"_s);
    QCOMPARE(changes[0].changed, QList<PresenceEntry>{a1.entry});
    QCOMPARE(changes[0].current, QList<PresenceEntry>{a2.entry});

    QCOMPARE(t.entries(u"a"_s), QList<PresenceEntry>{a2.entry});
    QCOMPARE(t.entries(u"b"_s), QList<PresenceEntry>{b1.entry}); // other keys untouched
    QCOMPARE(t.entryCount(), 2);
    QCOMPARE(t.keyCount(), 2);
    QVERIFY(t.hasOwner(1)); // still under "b"
    QVERIFY(t.hasOwner(2));

    const auto last = t.untrack(1, u"b"_s);
    QCOMPARE(last.size(), 1);
    QCOMPARE(last[0].changed, QList<PresenceEntry>{b1.entry});
    QVERIFY(last[0].current.isEmpty());
    QVERIFY(!t.hasOwner(1));
    QCOMPARE(t.keys(), QStringList{u"a"_s});
}

void tst_PresenceTracker::untrackOneOfSeveralEntriesKeepsOrder()
{
    PresenceTracker t;
    const auto e1 = t.track(1, u"k"_s, {}, u"r1"_s);
    const auto e2 = t.track(2, u"k"_s, {}, u"r2"_s);
    const auto e3 = t.track(3, u"k"_s, {}, u"r3"_s);

    const auto changes = t.untrack(2, u"k"_s);
    QCOMPARE(changes.size(), 1);
    QCOMPARE(changes[0].changed, QList<PresenceEntry>{e2.entry});
    QCOMPARE(changes[0].current, (QList<PresenceEntry>{e1.entry, e3.entry}));
    QCOMPARE(t.entries(u"k"_s), (QList<PresenceEntry>{e1.entry, e3.entry}));

    // A new device is appended after the survivors.
    const auto e4 = t.track(2, u"k"_s, {}, u"r4"_s);
    QVERIFY(e4.added);
    QCOMPARE(t.entries(u"k"_s), (QList<PresenceEntry>{e1.entry, e3.entry, e4.entry}));
}

void tst_PresenceTracker::untrackAllKeysOfOwner()
{
    PresenceTracker t;
    const auto a1 = t.track(1, u"a"_s, meta(u"1"_s), u"r1"_s);
    const auto b1 = t.track(1, u"b"_s, meta(u"2"_s), u"r2"_s);
    const auto c1 = t.track(1, u"c"_s, meta(u"3"_s), u"r3"_s);
    const auto b2 = t.track(2, u"b"_s, meta(u"4"_s), u"r4"_s);

    auto changes = t.untrack(1);
    QCOMPARE(changes.size(), 3);
    // One change per key; the order of the keys is not part of the contract.
    std::sort(changes.begin(), changes.end(),
              [](const PresenceKeyChange &x, const PresenceKeyChange &y) { return x.key < y.key; });
    QCOMPARE(changes[0].key, u"a"_s);
    QCOMPARE(changes[0].changed, QList<PresenceEntry>{a1.entry});
    QVERIFY(changes[0].current.isEmpty());
    QCOMPARE(changes[1].key, u"b"_s);
    QCOMPARE(changes[1].changed, QList<PresenceEntry>{b1.entry});
    QCOMPARE(changes[1].current, QList<PresenceEntry>{b2.entry});
    QCOMPARE(changes[2].key, u"c"_s);
    QCOMPARE(changes[2].changed, QList<PresenceEntry>{c1.entry});
    QVERIFY(changes[2].current.isEmpty());

    QVERIFY(!t.hasOwner(1));
    QVERIFY(t.hasOwner(2));
    QCOMPARE(t.keys(), QStringList{u"b"_s});
    QCOMPARE(t.entryCount(), 1);

    QVERIFY(t.untrack(1).isEmpty()); // twice is a no-op
    QCOMPARE(t.entryCount(), 1);
}

void tst_PresenceTracker::untrackNothing_data()
{
    QTest::addColumn<quint64>("owner");
    QTest::addColumn<bool>("hasKey");
    QTest::addColumn<QString>("key");

    QTest::newRow("unknown owner, all keys") << quint64(99) << false << QString();
    QTest::newRow("unknown owner, a key") << quint64(99) << true << u"a"_s;
    QTest::newRow("known owner, unknown key") << quint64(1) << true << u"zzz"_s;
    QTest::newRow("known owner, another owner's key") << quint64(1) << true << u"b"_s;
    QTest::newRow("known owner, empty key") << quint64(1) << true << u""_s;
}

void tst_PresenceTracker::untrackNothing()
{
    QFETCH(quint64, owner);
    QFETCH(bool, hasKey);
    QFETCH(QString, key);

    PresenceTracker t;
    const auto a1 = t.track(1, u"a"_s, {}, u"r1"_s);
    const auto b2 = t.track(2, u"b"_s, {}, u"r2"_s);

    const auto changes = t.untrack(owner, hasKey ? std::optional<QString>(key) : std::nullopt);
    QVERIFY(changes.isEmpty());
    QCOMPARE(t.entries(u"a"_s), QList<PresenceEntry>{a1.entry});
    QCOMPARE(t.entries(u"b"_s), QList<PresenceEntry>{b2.entry});
    QCOMPARE(t.entryCount(), 2);
    QCOMPARE(t.keyCount(), 2);
    QVERIFY(t.hasOwner(1));
    QVERIFY(t.hasOwner(2));
    QVERIFY(!t.hasOwner(99));
}

void tst_PresenceTracker::keyDisappearsWithLastEntry()
{
    PresenceTracker t;
    t.track(1, u"k"_s, {}, u"r1"_s);
    t.track(2, u"k"_s, {}, u"r2"_s);
    t.track(3, u"other"_s, {}, u"r3"_s);

    t.untrack(1, u"k"_s);
    QCOMPARE(t.keys(), (QStringList{u"k"_s, u"other"_s}));
    QCOMPARE(t.keyCount(), 2);

    t.untrack(2);
    QCOMPARE(t.keys(), QStringList{u"other"_s});
    QCOMPARE(t.keyCount(), 1);
    QVERIFY(t.entries(u"k"_s).isEmpty());

    t.untrack(3, u"other"_s);
    QVERIFY(t.keys().isEmpty());
    QCOMPARE(t.keyCount(), 0);
    QCOMPARE(t.entryCount(), 0);
    QVERIFY(t.isEmpty());
    QVERIFY(!t.hasOwner(3));

    // Looking a key up must not create it.
    QVERIFY(t.entries(u"k"_s).isEmpty());
    QCOMPARE(t.keyCount(), 0);
}

void tst_PresenceTracker::retrackAfterUntrackGetsNewRef()
{
    PresenceTracker t;
    t.track(1, u"k"_s, {}, u"r1"_s);
    t.untrack(1, u"k"_s);
    // A presence that left and came back is a new presence for clients: it must get a new ref.
    const auto again = t.track(1, u"k"_s, {}, u"r2"_s);
    QVERIFY(again.added);
    QCOMPARE(again.entry.ref, u"r2"_s);
}

void tst_PresenceTracker::keysAreSorted()
{
    PresenceTracker t;
    const QStringList inserted{u"m"_s, u"b"_s, u"z"_s, u"a"_s, u"B"_s, u""_s, u"mm"_s};
    quint64 owner = 0;
    for (const auto &k : inserted)
        t.track(++owner, k, {}, k);
    QStringList expected = inserted;
    expected.sort();
    QCOMPARE(t.keys(), expected);
}

void tst_PresenceTracker::randomizedAgainstModel()
{
    // Fixed seed: a failure here is reproducible, and the log says which step broke.
    QRandomGenerator rng(20240611);
    PresenceTracker t;
    Model model;
    const QStringList keyPool{u""_s, u"a"_s, u"b"_s, u"c"_s, u"d"_s, u"user-A"_s};
    constexpr quint64 Owners = 6;
    int nextRef = 0;
    int emptyAfterUntrack = 0;
    qsizetype mostEntries = 0;

    for (int step = 0; step < 5000; ++step) {
        const quint64 owner = rng.bounded(Owners) + 1;
        const QString key = keyPool.at(rng.bounded(int(keyPool.size())));
        const int op = rng.bounded(10);
        QString what;

        if (op < 6) {
            const QJsonObject m{{u"step"_s, step}};
            const QString ref = u"pres_%1"_s.arg(++nextRef);
            what = u"track(%1, \"%2\")"_s.arg(owner).arg(key);
            const auto got = t.track(owner, key, m, ref);
            const auto want = model.track(owner, key, m, ref);
            QVERIFY2(got.added == want.added, qPrintable(u"step %1 %2: added"_s.arg(step).arg(what)));
            QVERIFY2(got.entry == want.entry,
                     qPrintable(u"step %1 %2: got %3 want %4"_s.arg(step)
                                    .arg(what, describe(got.entry), describe(want.entry))));
        } else {
            const bool oneKey = op < 8;
            const std::optional<QString> which = oneKey ? std::optional<QString>(key) : std::nullopt;
            what = oneKey ? u"untrack(%1, \"%2\")"_s.arg(owner).arg(key) : u"untrack(%1)"_s.arg(owner);
            auto got = t.untrack(owner, which);
            const auto want = model.untrack(owner, which);
            std::sort(got.begin(), got.end(), [](const PresenceKeyChange &x, const PresenceKeyChange &y) {
                return x.key < y.key;
            });
            QVERIFY2(size_t(got.size()) == want.size(),
                     qPrintable(u"step %1 %2: %3 changes, want %4"_s.arg(step)
                                    .arg(what)
                                    .arg(got.size())
                                    .arg(want.size())));
            for (size_t i = 0; i < want.size(); ++i)
                QVERIFY2(sameChange(got[qsizetype(i)], want[i]),
                         qPrintable(u"step %1 %2: key \"%3\" changed %4 current %5, want %6 %7"_s
                                        .arg(step)
                                        .arg(what, got[qsizetype(i)].key,
                                             describe(got[qsizetype(i)].changed),
                                             describe(got[qsizetype(i)].current),
                                             describe(want[i].changed), describe(want[i].current))));
        }

        const QString where = u"after step %1 %2"_s.arg(step).arg(what);
        QVERIFY2(t.entryCount() == model.entryCount(),
                 qPrintable(where + u": entryCount %1, want %2"_s.arg(t.entryCount()).arg(model.entryCount())));
        QVERIFY2(t.isEmpty() == (model.entryCount() == 0), qPrintable(where + u": isEmpty"_s));
        QVERIFY2(t.keys() == model.keys(), qPrintable(where + u": keys"_s));
        QVERIFY2(t.keyCount() == model.keys().size(), qPrintable(where + u": keyCount"_s));
        for (quint64 o = 1; o <= Owners; ++o)
            QVERIFY2(t.hasOwner(o) == model.hasOwner(o), qPrintable(where + u": hasOwner(%1)"_s.arg(o)));
        for (const auto &k : keyPool)
            QVERIFY2(t.entries(k) == model.entries(k),
                     qPrintable(where + u": entries(\"%1\") %2, want %3"_s.arg(k, describe(t.entries(k)),
                                                                                describe(model.entries(k)))));
        mostEntries = std::max(mostEntries, t.entryCount());
        if (op >= 6 && t.isEmpty())
            ++emptyAfterUntrack;
    }
    // The walk must have emptied the tracker and filled it well, or it tested little.
    QVERIFY(nextRef > 1000);
    QVERIFY2(emptyAfterUntrack > 0, "the random walk never emptied the tracker");
    QVERIFY2(mostEntries >= 15, qPrintable(u"at most %1 entries at once"_s.arg(mostEntries)));
}

QTEST_GUILESS_MAIN(tst_PresenceTracker)
#include "tst_presencetracker.moc"
