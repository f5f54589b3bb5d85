#include "ops/ratelimiter.h"

#include <QtTest/QtTest>

using namespace Confab::Server;
using namespace Qt::StringLiterals;

//! The per-connection limiters: TokenBucket (rate) and StrikeCounter (repeated abuse).
//! Time is passed in as milliseconds, so every case here is exact and instant.
class tst_RateLimiter : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void fullBucketAllowsExactlyN_data();
    void fullBucketAllowsExactlyN();
    void refusedTakeTakesNothing();
    void retryAfterIsZeroWhenAvailable();
    void retryAfterAfterDraining_data();
    void retryAfterAfterDraining();
    void retryAfterIsExactForEveryRate();
    void retryAfterIsHonouredAfterPolling();
    void retryAfterPartialRefill();
    void refillIsContinuous();
    void refillIsCappedAtN();
    void startsFullAtConstructionTime();
    void clockGoingBackwardsDoesNotRefill();

    void strikeOverExactlyAfterN_data();
    void strikeOverExactlyAfterN();
    void strikeWindowBoundary();
    void strikesAtSteadyRateNeverOver();
    void strikesExpire();
    void strikeCountValues();
};

namespace {

constexpr qint64 Minute = 60'000;

// The wait for one token, in whole milliseconds, computed with integers only.
qint64 msPerToken(int perMinute)
{
    return (Minute + perMinute - 1) / perMinute;
}

// Takes until refused; returns how many were taken.
int drain(TokenBucket &bucket, qint64 nowMs, int atMost = 1'000'000)
{
    int taken = 0;
    while (taken < atMost && bucket.tryTake(nowMs))
        ++taken;
    return taken;
}

} // namespace

void tst_RateLimiter::fullBucketAllowsExactlyN_data()
{
    QTest::addColumn<int>("perMinute");
    for (const int n : {1, 2, 5, 7, 60, 100, 1000, 60'000, 120'000})
        QTest::addRow("%d/min", n) << n;
}

void tst_RateLimiter::fullBucketAllowsExactlyN()
{
    QFETCH(int, perMinute);
    TokenBucket bucket(perMinute);
    for (int i = 0; i < perMinute; ++i)
        QVERIFY2(bucket.tryTake(0), qPrintable(u"take %1 of %2 refused"_s.arg(i + 1).arg(perMinute)));
    QVERIFY(!bucket.tryTake(0));
    QVERIFY(!bucket.tryTake(0)); // and stays refused while time stands still
}

void tst_RateLimiter::refusedTakeTakesNothing()
{
    TokenBucket bucket(60); // one token per 1000 ms
    QCOMPARE(drain(bucket, 0), 60);
    // Refusals do not dig a hole: the token due at 1000 ms is there at 1000 ms.
    for (qint64 t = 0; t < 1000; t += 50)
        QVERIFY(!bucket.tryTake(t));
    QVERIFY(bucket.tryTake(1000));
    QVERIFY(!bucket.tryTake(1000));
}

void tst_RateLimiter::retryAfterIsZeroWhenAvailable()
{
    TokenBucket bucket(3);
    QCOMPARE(bucket.retryAfterMs(0), 0);
    QVERIFY(bucket.tryTake(0));
    QVERIFY(bucket.tryTake(0));
    QCOMPARE(bucket.retryAfterMs(0), 0); // one left
    QVERIFY(bucket.tryTake(0));
    QVERIFY(bucket.retryAfterMs(0) > 0);
    // Asking does not take anything.
    QCOMPARE(bucket.retryAfterMs(20'000), 0);
    QCOMPARE(bucket.retryAfterMs(20'000), 0);
    QVERIFY(bucket.tryTake(20'000));
}

void tst_RateLimiter::retryAfterAfterDraining_data()
{
    QTest::addColumn<int>("perMinute");
    QTest::addColumn<qint64>("expected");

    QTest::newRow("1/min") << 1 << qint64(60'000);
    QTest::newRow("60/min") << 60 << qint64(1000);
    QTest::newRow("7/min") << 7 << qint64(8572);        // 8571.43 rounds up
    QTest::newRow("13/min") << 13 << qint64(4616);      // 4615.38
    QTest::newRow("1000/min") << 1000 << qint64(60);
    QTest::newRow("70000/min") << 70'000 << qint64(1);  // 0.857 ms: never 0 while empty
}

void tst_RateLimiter::retryAfterAfterDraining()
{
    QFETCH(int, perMinute);
    QFETCH(qint64, expected);

    TokenBucket bucket(perMinute);
    QCOMPARE(drain(bucket, 0), perMinute);
    QCOMPARE(bucket.retryAfterMs(0), expected);
    // The promise holds: refused one millisecond earlier, granted at the time given.
    QVERIFY(!bucket.tryTake(expected - 1));
    QVERIFY(bucket.tryTake(expected));
}

void tst_RateLimiter::retryAfterIsExactForEveryRate()
{
    // After draining at t=0 the wait is ceil(60000 / N) for every rate: checked for each N, since
    // rounding in double arithmetic differs from rate to rate. Fresh buckets for each probe, so
    // the bucket sees only the elapsed time, in one step.
    QStringList wrong;
    for (int n = 1; n <= 3000; ++n) {
        const qint64 expected = msPerToken(n);
        TokenBucket bucket(n);
        drain(bucket, 0);
        const qint64 retry = bucket.retryAfterMs(0);
        if (retry != expected) {
            wrong.append(u"%1/min: retryAfterMs %2, want %3"_s.arg(n).arg(retry).arg(expected));
            continue;
        }
        TokenBucket early(n);
        drain(early, 0);
        if (early.tryTake(expected - 1))
            wrong.append(u"%1/min: granted at %2 ms"_s.arg(n).arg(expected - 1));
        TokenBucket onTime(n);
        drain(onTime, 0);
        if (!onTime.tryTake(expected))
            wrong.append(u"%1/min: refused at %2 ms"_s.arg(n).arg(expected));
    }
    QVERIFY2(wrong.isEmpty(), qPrintable(wrong.mid(0, 10).join(u"; "_s)
                                         + u" (%1 wrong)"_s.arg(wrong.size())));
}

void tst_RateLimiter::retryAfterIsHonouredAfterPolling()
{
    // What a real client does: refused, told to wait retryAfterMs, tries a little early (refused
    // again, which must not matter), then tries at the time it was given. It must get its token
    // then. Every rate is checked, as above.
    QStringList wrong;
    for (int n = 1; n <= 3000; ++n) {
        TokenBucket bucket(n);
        drain(bucket, 0);
        const qint64 retry = bucket.retryAfterMs(0);
        if (bucket.tryTake(retry - 1))
            wrong.append(u"%1/min: granted at %2 ms, before retryAfterMs"_s.arg(n).arg(retry - 1));
        else if (!bucket.tryTake(retry))
            wrong.append(u"%1/min: refused at retryAfterMs = %2 ms"_s.arg(n).arg(retry));
    }
    QVERIFY2(wrong.isEmpty(), qPrintable(wrong.mid(0, 10).join(u"; "_s)
                                         + u" (%1 rates wrong)"_s.arg(wrong.size())));
}

void tst_RateLimiter::retryAfterPartialRefill()
{
    TokenBucket bucket(60); // one token per 1000 ms
    drain(bucket, 0);
    QCOMPARE(bucket.retryAfterMs(250), 750);
    QCOMPARE(bucket.retryAfterMs(500), 500);
    QCOMPARE(bucket.retryAfterMs(1000), 0);
    QVERIFY(bucket.tryTake(1000));
    // Right after a take the wait is a whole token again.
    QCOMPARE(bucket.retryAfterMs(1000), 1000);
    QCOMPARE(bucket.retryAfterMs(1600), 400);
    // 999 ms into a token, one millisecond is left to wait.
    QVERIFY(!bucket.tryTake(1999));
    QCOMPARE(bucket.retryAfterMs(1999), 1);
    QVERIFY(bucket.tryTake(2000));
}

void tst_RateLimiter::refillIsContinuous()
{
    TokenBucket bucket(60);
    drain(bucket, 0);
    // Half a minute brings half the allowance, however the time is sliced.
    QCOMPARE(drain(bucket, 30'000), 30);

    TokenBucket sliced(60);
    drain(sliced, 0);
    int taken = 0;
    for (qint64 t = 0; t < 30'000; t += 7) // many tiny refills add up; none is lost to rounding
        taken += drain(sliced, t);
    taken += drain(sliced, 30'000);
    QCOMPARE(taken, 30);

    // Tokens between the whole ones carry over: 600 ms + 400 ms make one token.
    TokenBucket partial(60);
    drain(partial, 0);
    QVERIFY(!partial.tryTake(600));
    QVERIFY(partial.tryTake(1000));
}

void tst_RateLimiter::refillIsCappedAtN()
{
    TokenBucket bucket(10);
    drain(bucket, 0);
    // Ten idle minutes refill the bucket once, not ten times.
    QCOMPARE(drain(bucket, 10 * Minute), 10);
    // A full bucket left alone stays full, not fuller.
    TokenBucket idle(10);
    QCOMPARE(drain(idle, 24 * 60 * Minute), 10);
    // The cap applies while partly full too: 5 left + a whole minute = 10, not 15.
    TokenBucket half(10);
    QCOMPARE(drain(half, 0, 5), 5);
    QCOMPARE(drain(half, Minute), 10);
}

void tst_RateLimiter::startsFullAtConstructionTime()
{
    const qint64 start = 1'700'000'000'000; // a realistic monotonic-clock value
    TokenBucket bucket(5, start);
    QCOMPARE(drain(bucket, start), 5);
    QCOMPARE(bucket.retryAfterMs(start), 12'000);
    QVERIFY(bucket.tryTake(start + 12'000));
}

void tst_RateLimiter::clockGoingBackwardsDoesNotRefill()
{
    TokenBucket bucket(60, 10'000);
    drain(bucket, 10'000);
    QVERIFY(!bucket.tryTake(5'000));
    QVERIFY(!bucket.tryTake(0));
    // Had the step back been taken as a new origin, 10 s would now look elapsed.
    QVERIFY(!bucket.tryTake(10'500));
    QVERIFY(!bucket.tryTake(10'999));
    QVERIFY(bucket.tryTake(11'000));
    QVERIFY(!bucket.tryTake(11'000));
    // A clock far in the past never produces tokens, and the wait is still at least a token's worth.
    QVERIFY(!bucket.tryTake(-1'000'000));
    QVERIFY(bucket.retryAfterMs(-1'000'000) > 0);
    QVERIFY(bucket.tryTake(12'000));
}

void tst_RateLimiter::strikeOverExactlyAfterN_data()
{
    QTest::addColumn<int>("limit");
    for (const int n : {0, 1, 3, 10, 100})
        QTest::addRow("limit %d", n) << n;
}

void tst_RateLimiter::strikeOverExactlyAfterN()
{
    QFETCH(int, limit);
    StrikeCounter counter(limit);
    // Spread over well under a minute: only the count within the window matters.
    for (int i = 1; i <= limit + 3; ++i) {
        const qint64 t = qint64(i) * 100;
        QCOMPARE(counter.strike(t), i > limit);
    }
}

void tst_RateLimiter::strikeWindowBoundary()
{
    StrikeCounter counter(2);
    QVERIFY(!counter.strike(0));
    QVERIFY(!counter.strike(10));
    QVERIFY(counter.strike(20)); // 3 > 2 within 20 ms
    QCOMPARE(counter.count(59'999), 3);
    // The strike at 0 is exactly 60 000 ms old at 60 000: it no longer counts.
    QCOMPARE(counter.count(60'000), 2);
    QCOMPARE(counter.count(60'009), 2);
    QCOMPARE(counter.count(60'010), 1);

    StrikeCounter edge(1);
    QVERIFY(!edge.strike(0));
    QVERIFY(edge.strike(59'999));  // both within 60 s
    StrikeCounter justOut(1);
    QVERIFY(!justOut.strike(0));
    QVERIFY(!justOut.strike(60'000)); // the first one has just expired
    QCOMPARE(justOut.count(60'000), 1);
}

void tst_RateLimiter::strikesAtSteadyRateNeverOver()
{
    // Exactly N a minute, evenly spaced, is allowed forever...
    StrikeCounter steady(3);
    for (qint64 t = 0; t <= 10 * Minute; t += 20'000)
        QVERIFY2(!steady.strike(t), qPrintable(u"over at %1 ms"_s.arg(t)));
    // ...one millisecond faster is not: four strikes then fall within one window.
    StrikeCounter faster(3);
    QVERIFY(!faster.strike(0));
    QVERIFY(!faster.strike(19'999));
    QVERIFY(!faster.strike(39'998));
    QVERIFY(faster.strike(59'997));
}

void tst_RateLimiter::strikesExpire()
{
    StrikeCounter counter(2);
    QVERIFY(!counter.strike(0));
    QVERIFY(!counter.strike(1));
    QVERIFY(counter.strike(2));
    QVERIFY(counter.strike(3));
    // A minute later all of those are gone: the client gets a clean slate.
    QCOMPARE(counter.count(60'003), 0);
    QVERIFY(!counter.strike(60'003));
    QVERIFY(!counter.strike(60'004));
    QVERIFY(counter.strike(60'005));
}

void tst_RateLimiter::strikeCountValues()
{
    StrikeCounter counter(3);
    QCOMPARE(counter.count(0), 0);
    counter.strike(0);
    QCOMPARE(counter.count(0), 1);
    counter.strike(1000);
    QCOMPARE(counter.count(1000), 2);
    counter.strike(2000);
    QCOMPARE(counter.count(2000), 3);
    counter.strike(3000);
    QCOMPARE(counter.count(3000), 4);
    // By design (see StrikeCounter::m_times) only limit + 1 strikes are remembered: over() needs
    // no more, and memory stays bounded under a flood. count() therefore saturates there.
    counter.strike(4000);
    counter.strike(5000);
    QCOMPARE(counter.count(5000), 4);
    // Strikes leave the window one by one, oldest first (those kept are 2000..5000).
    QCOMPARE(counter.count(62'000), 3);
    QCOMPARE(counter.count(63'000), 2);
    QCOMPARE(counter.count(64'000), 1);
    QCOMPARE(counter.count(65'000), 0);
    // count() does not record anything.
    QCOMPARE(counter.count(65'000), 0);
}

QTEST_GUILESS_MAIN(tst_RateLimiter)
#include "tst_ratelimiter.moc"
