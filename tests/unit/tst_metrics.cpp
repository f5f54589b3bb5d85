#include "ops/metrics.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QSet>
#include <QtTest/QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

using namespace Confab::Server;
using namespace Qt::StringLiterals;

//! Counters, the delivery-latency histogram, and their Prometheus and JSON renderings.
class tst_Metrics : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parserCatchesMalformedText_data();
    void parserCatchesMalformedText();
    void startsAtZero();
    void counters();
    void rejectedPerReason();
    void gaugesAreRendered();
    void latencyBucket_data();
    void latencyBucket();
    void histogramIsConsistent();
    void expositionFormatIsValid();
    void labelValuesAreEscaped_data();
    void labelValuesAreEscaped();
    void toJsonFields();
    void countsFromSeveralThreads();
};

namespace {

// A minimal reader for the Prometheus text format 0.0.4: enough to check what Metrics writes,
// strict where the format is strict, so that a malformed line shows up as an error.
struct Sample
{
    QByteArray name;
    QMap<QByteArray, QString> labels;
    double value = 0;
};

struct Exposition
{
    QMap<QByteArray, QByteArray> help;
    QMap<QByteArray, QByteArray> type;
    QList<Sample> samples;
    QStringList errors;

    [[nodiscard]] QList<Sample> named(const QByteArray &name) const
    {
        QList<Sample> out;
        for (const auto &s : samples)
            if (s.name == name)
                out.append(s);
        return out;
    }
    // The value of the only sample called \a name with \a labels; NaN when there is not exactly one.
    [[nodiscard]] double value(const QByteArray &name, const QMap<QByteArray, QString> &labels = {}) const
    {
        double found = std::numeric_limits<double>::quiet_NaN();
        int matches = 0;
        for (const auto &s : samples) {
            if (s.name == name && s.labels == labels) {
                found = s.value;
                ++matches;
            }
        }
        return matches == 1 ? found : std::numeric_limits<double>::quiet_NaN();
    }
};

bool isNameStart(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

bool isNameChar(char c)
{
    return isNameStart(c) || (c >= '0' && c <= '9');
}

bool validName(const QByteArray &name)
{
    if (name.isEmpty() || !isNameStart(name.front()))
        return false;
    return std::all_of(name.begin(), name.end(), isNameChar);
}

bool parseValue(const QByteArray &text, double &out)
{
    if (text == "+Inf") {
        out = std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == "-Inf") {
        out = -std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == "NaN") {
        out = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    bool ok = false;
    out = text.toDouble(&ok);
    return ok;
}

// Parses `{name="value",...}` starting at line[pos] == '{'; leaves pos after the '}'.
bool parseLabels(const QByteArray &line, qsizetype &pos, QMap<QByteArray, QString> &labels, QString &error)
{
    ++pos; // '{'
    while (pos < line.size() && line.at(pos) != '}') {
        const qsizetype nameStart = pos;
        while (pos < line.size() && isNameChar(line.at(pos)))
            ++pos;
        const QByteArray name = line.mid(nameStart, pos - nameStart);
        if (!validName(name) || name.startsWith("__")) {
            error = u"bad label name"_s;
            return false;
        }
        if (line.mid(pos, 2) != "=\"") {
            error = u"expected =\" after label name"_s;
            return false;
        }
        pos += 2;
        QByteArray value;
        for (;;) {
            if (pos >= line.size()) {
                error = u"unterminated label value"_s;
                return false;
            }
            const char c = line.at(pos++);
            if (c == '"')
                break;
            if (c != '\\') {
                value += c;
                continue;
            }
            if (pos >= line.size()) {
                error = u"dangling backslash"_s;
                return false;
            }
            const char escaped = line.at(pos++);
            if (escaped == '\\' || escaped == '"')
                value += escaped;
            else if (escaped == 'n')
                value += '\n';
            else {
                error = u"unknown escape \\%1"_s.arg(QLatin1Char(escaped));
                return false;
            }
        }
        if (labels.contains(name)) {
            error = u"duplicate label"_s;
            return false;
        }
        labels.insert(name, QString::fromUtf8(value));
        if (pos < line.size() && line.at(pos) == ',')
            ++pos;
    }
    if (pos >= line.size()) {
        error = u"unterminated label set"_s;
        return false;
    }
    ++pos; // '}'
    return true;
}

// The family a sample belongs to: itself, or a histogram/summary for its suffixed series.
QByteArray familyOf(const QByteArray &name, const QMap<QByteArray, QByteArray> &types)
{
    if (types.contains(name))
        return name;
    for (const char *suffix : {"_bucket", "_sum", "_count"}) {
        if (!name.endsWith(suffix))
            continue;
        const QByteArray base = name.chopped(qsizetype(qstrlen(suffix)));
        const QByteArray type = types.value(base);
        if (type == "histogram" || (type == "summary" && qstrcmp(suffix, "_bucket") != 0))
            return base;
    }
    return name;
}

Exposition parse(const QByteArray &text)
{
    Exposition e;
    if (!text.endsWith('\n'))
        e.errors.append(u"does not end with a newline"_s);
    QList<QByteArray> lines = text.split('\n');
    if (!lines.isEmpty() && lines.constLast().isEmpty())
        lines.removeLast();

    QSet<QByteArray> finishedFamilies;
    QByteArray currentFamily;
    for (qsizetype n = 0; n < lines.size(); ++n) {
        const QByteArray &line = lines.at(n);
        const auto fail = [&](const QString &why) {
            e.errors.append(u"line %1 (%2): %3"_s.arg(n + 1).arg(QString::fromUtf8(line), why));
        };
        if (line.isEmpty()) {
            fail(u"empty line"_s);
            continue;
        }
        if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
            const bool isHelp = line.startsWith("# HELP ");
            const QByteArray rest = line.mid(7);
            const qsizetype space = rest.indexOf(' ');
            const QByteArray name = space < 0 ? rest : rest.left(space);
            const QByteArray arg = space < 0 ? QByteArray() : rest.mid(space + 1);
            if (!validName(name))
                fail(u"bad metric name"_s);
            auto &map = isHelp ? e.help : e.type;
            if (map.contains(name))
                fail(u"second HELP/TYPE for the same metric"_s);
            if (!isHelp) {
                static const QList<QByteArray> types{"counter", "gauge", "histogram", "summary", "untyped"};
                if (!types.contains(arg))
                    fail(u"unknown type"_s);
                if (e.samples.end() != std::find_if(e.samples.begin(), e.samples.end(), [&](const Sample &s) {
                        return familyOf(s.name, {{name, arg}}) == name;
                    }))
                    fail(u"TYPE after the metric's samples"_s);
            } else if (arg.isEmpty()) {
                fail(u"empty HELP"_s);
            }
            map.insert(name, arg);
            continue;
        }
        if (line.startsWith('#'))
            continue; // a plain comment

        Sample s;
        qsizetype pos = 0;
        while (pos < line.size() && isNameChar(line.at(pos)))
            ++pos;
        s.name = line.left(pos);
        if (!validName(s.name)) {
            fail(u"bad sample name"_s);
            continue;
        }
        if (pos < line.size() && line.at(pos) == '{') {
            QString why;
            if (!parseLabels(line, pos, s.labels, why)) {
                fail(why);
                continue;
            }
        }
        if (pos >= line.size() || line.at(pos) != ' ') {
            fail(u"expected a space before the value"_s);
            continue;
        }
        const QList<QByteArray> fields = line.mid(pos + 1).split(' ');
        if (fields.size() > 2 || !parseValue(fields.at(0), s.value)) {
            fail(u"bad value"_s);
            continue;
        }
        const QByteArray family = familyOf(s.name, e.type);
        if (!e.type.contains(family))
            fail(u"sample before or without its TYPE"_s);
        if (!e.help.contains(family))
            fail(u"sample before or without its HELP"_s);
        // All lines of one metric form one group.
        if (family != currentFamily) {
            if (finishedFamilies.contains(family))
                fail(u"metric's samples are not contiguous"_s);
            if (!currentFamily.isEmpty())
                finishedFamilies.insert(currentFamily);
            currentFamily = family;
        }
        e.samples.append(s);
    }
    for (auto it = e.type.cbegin(); it != e.type.cend(); ++it)
        if (!e.help.contains(it.key()))
            e.errors.append(u"%1 has TYPE but no HELP"_s.arg(QString::fromUtf8(it.key())));
    for (auto it = e.help.cbegin(); it != e.help.cend(); ++it)
        if (!e.type.contains(it.key()))
            e.errors.append(u"%1 has HELP but no TYPE"_s.arg(QString::fromUtf8(it.key())));
    return e;
}

Exposition render(const Metrics &m, const Metrics::Gauges &g = {})
{
    return parse(m.prometheus(g));
}

// Bucket bounds in nanoseconds, written out independently of Metrics::LatencyBuckets.
constexpr std::array<qint64, 15> BoundsNs{50'000,     100'000,     250'000,     500'000,     1'000'000,
                                          2'500'000,  5'000'000,   10'000'000,  25'000'000,  50'000'000,
                                          100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};

constexpr auto Histogram = "confab_delivery_latency_seconds"_L1;

struct Buckets
{
    QList<double> le;     // upper bounds in output order, +Inf last
    QList<double> counts; // cumulative
    double sum = std::numeric_limits<double>::quiet_NaN();
    double count = std::numeric_limits<double>::quiet_NaN();
};

Buckets histogram(const Exposition &e)
{
    Buckets b;
    const QByteArray name = QByteArray(Histogram.data(), Histogram.size());
    for (const auto &s : e.named(name + "_bucket")) {
        double le = 0;
        if (s.labels.size() != 1 || !parseValue(s.labels.value("le").toUtf8(), le))
            continue;
        b.le.append(le);
        b.counts.append(s.value);
    }
    b.sum = e.value(name + "_sum");
    b.count = e.value(name + "_count");
    return b;
}

QString errors(const Exposition &e)
{
    return e.errors.join(u"\n"_s);
}

} // namespace

void tst_Metrics::parserCatchesMalformedText_data()
{
    // The checks below trust parse(); these cases show it does find what it looks for.
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("valid");

    const QByteArray head = "# HELP a_total A.\n# TYPE a_total counter\n"_ba;
    QTest::newRow("valid") << head + "a_total{x=\"1\",y=\"\\\\ \\\" \\n\"} 3\n"_ba << true;
    QTest::newRow("valid histogram")
        << "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n"_ba
        << true;
    QTest::newRow("no trailing newline") << head + "a_total 1"_ba << false;
    QTest::newRow("no HELP") << "# TYPE a_total counter\na_total 1\n"_ba << false;
    QTest::newRow("no TYPE") << "# HELP a_total A.\na_total 1\n"_ba << false;
    QTest::newRow("sample before TYPE") << "# HELP a_total A.\na_total 1\n# TYPE a_total counter\n"_ba << false;
    QTest::newRow("unknown type") << "# HELP a A.\n# TYPE a meter\na 1\n"_ba << false;
    QTest::newRow("bad escape") << head + "a_total{x=\"\\t\"} 1\n"_ba << false;
    QTest::newRow("raw newline in label") << head + "a_total{x=\"a\nb\"} 1\n"_ba << false;
    QTest::newRow("unterminated label") << head + "a_total{x=\"a} 1\n"_ba << false;
    QTest::newRow("bad value") << head + "a_total one\n"_ba << false;
    QTest::newRow("no value") << head + "a_total\n"_ba << false;
    QTest::newRow("bad name") << "# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n"_ba << false;
    QTest::newRow("not contiguous")
        << head + "a_total{x=\"1\"} 1\n# HELP b B.\n# TYPE b gauge\nb 1\na_total{x=\"2\"} 1\n"_ba << false;
    QTest::newRow("empty line") << head + "\na_total 1\n"_ba << false;
}

void tst_Metrics::parserCatchesMalformedText()
{
    QFETCH(QByteArray, text);
    QFETCH(bool, valid);
    const auto e = parse(text);
    QVERIFY2(e.errors.isEmpty() == valid, qPrintable(errors(e)));
}

void tst_Metrics::startsAtZero()
{
    const Metrics m;
    QCOMPARE(m.framesInCount(), 0u);
    QCOMPARE(m.framesOutCount(), 0u);
    QCOMPARE(m.rejectedCount(u"MESSAGE_TOO_LARGE"_s), 0u);
    QVERIFY(m.rejectedByReason().isEmpty());

    const auto e = render(m);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    for (const auto &s : e.samples)
        QVERIFY2(s.value == 0, s.name.constData());
    QVERIFY(e.named("confab_rejected_total").isEmpty());
    // A metric with no samples yet is still declared, so dashboards find it.
    QCOMPARE(e.type.value("confab_rejected_total"), "counter"_ba);
    const auto b = histogram(e);
    QCOMPARE(b.counts.size(), qsizetype(Metrics::LatencyBuckets.size() + 1));
    QCOMPARE(b.count, 0.0);
    QCOMPARE(b.sum, 0.0);
}

void tst_Metrics::counters()
{
    Metrics m;
    m.connectionOpened();
    m.connectionOpened();
    for (int i = 0; i < 3; ++i)
        m.frameIn();
    m.framesOut();
    m.framesOut(5);
    m.broadcast();
    for (int i = 0; i < 4; ++i)
        m.presenceUpdate();
    for (int i = 0; i < 7; ++i)
        m.httpRequest();

    QCOMPARE(m.framesInCount(), 3u);
    QCOMPARE(m.framesOutCount(), 6u);

    const auto e = render(m);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    QCOMPARE(e.value("confab_connections_opened_total"), 2.0);
    QCOMPARE(e.value("confab_frames_received_total"), 3.0);
    QCOMPARE(e.value("confab_frames_sent_total"), 6.0);
    QCOMPARE(e.value("confab_broadcasts_total"), 1.0);
    QCOMPARE(e.value("confab_presence_updates_total"), 4.0);
    QCOMPARE(e.value("confab_http_requests_total"), 7.0);
    for (const auto &name : e.type.keys())
        if (e.type.value(name) == "counter")
            QVERIFY2(name.endsWith("_total"), name.constData());
}

void tst_Metrics::rejectedPerReason()
{
    Metrics m;
    for (int i = 0; i < 3; ++i)
        m.rejected(u"MESSAGE_TOO_LARGE"_s);
    m.rejected(u"MESSAGE_RATE_LIMITED"_s);

    QCOMPARE(m.rejectedCount(u"MESSAGE_TOO_LARGE"_s), 3u);
    QCOMPARE(m.rejectedCount(u"MESSAGE_RATE_LIMITED"_s), 1u);
    QCOMPARE(m.rejectedCount(u"NEVER_SEEN"_s), 0u);
    QCOMPARE(m.rejectedByReason(), (QHash<QString, quint64>{{u"MESSAGE_TOO_LARGE"_s, 3}, {u"MESSAGE_RATE_LIMITED"_s, 1}}));
    QVERIFY(!m.rejectedByReason().contains(u"NEVER_SEEN"_s)); // asking does not create it

    const auto e = render(m);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    QCOMPARE(e.named("confab_rejected_total").size(), 2);
    QCOMPARE(e.value("confab_rejected_total", {{"reason", u"MESSAGE_TOO_LARGE"_s}}), 3.0);
    QCOMPARE(e.value("confab_rejected_total", {{"reason", u"MESSAGE_RATE_LIMITED"_s}}), 1.0);
    // Deterministic output: nothing depends on hash order.
    QCOMPARE(m.prometheus({}), m.prometheus({}));
}

void tst_Metrics::gaugesAreRendered()
{
    const Metrics m;
    Metrics::Gauges g;
    g.connections = 3;
    g.channels = 2;
    g.memberships = 5;
    g.presenceEntries = 4;
    g.uptimeSeconds = 12.5;
    const auto e = render(m, g);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    QCOMPARE(e.value("confab_connections"), 3.0);
    QCOMPARE(e.value("confab_channels"), 2.0);
    QCOMPARE(e.value("confab_memberships"), 5.0);
    QCOMPARE(e.value("confab_presence_entries"), 4.0);
    QCOMPARE(e.value("confab_uptime_seconds"), 12.5);
    for (const char *name : {"confab_connections", "confab_channels", "confab_memberships",
                             "confab_presence_entries", "confab_uptime_seconds"})
        QCOMPARE(e.type.value(name), "gauge"_ba);
}

void tst_Metrics::latencyBucket_data()
{
    QTest::addColumn<qint64>("nanoseconds");
    QTest::addColumn<int>("bucket"); // index of the smallest `le` it counts in; 15 is +Inf only

    QTest::newRow("zero") << qint64(0) << 0;
    QTest::newRow("negative (clock step) counts as zero") << qint64(-5'000'000) << 0;
    QTest::newRow("1 ns") << qint64(1) << 0;
    // `le` means "less than or equal": a value exactly on a bound is in that bucket.
    QTest::newRow("exactly 50 us") << qint64(50'000) << 0;
    QTest::newRow("50 us + 1 ns") << qint64(50'001) << 1;
    QTest::newRow("exactly 100 us") << qint64(100'000) << 1;
    QTest::newRow("300 us") << qint64(300'000) << 3;
    QTest::newRow("999.999 us") << qint64(999'999) << 4;
    QTest::newRow("exactly 1 ms") << qint64(1'000'000) << 4;
    QTest::newRow("1 ms + 1 ns") << qint64(1'000'001) << 5;
    QTest::newRow("7 ms") << qint64(7'000'000) << 7;
    QTest::newRow("exactly 250 ms") << qint64(250'000'000) << 11;
    QTest::newRow("exactly 1 s") << qint64(1'000'000'000) << 13;
    QTest::newRow("exactly 2.5 s") << qint64(2'500'000'000) << 14;
    QTest::newRow("2.5 s + 1 ns") << qint64(2'500'000'001) << 15;
    QTest::newRow("1 minute") << qint64(60'000'000'000) << 15;
}

void tst_Metrics::latencyBucket()
{
    QFETCH(qint64, nanoseconds);
    QFETCH(int, bucket);

    Metrics m;
    m.observeDeliveryLatency(nanoseconds);
    const auto e = render(m);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    const auto b = histogram(e);
    QCOMPARE(b.counts.size(), qsizetype(BoundsNs.size() + 1));
    for (qsizetype i = 0; i < b.counts.size(); ++i)
        QVERIFY2(b.counts.at(i) == (i >= bucket ? 1.0 : 0.0),
                 qPrintable(u"le=%1 has %2"_s.arg(b.le.at(i)).arg(b.counts.at(i))));
    QCOMPARE(b.count, 1.0);
    QCOMPARE(b.sum, double(std::max<qint64>(0, nanoseconds)) / 1e9);
}

void tst_Metrics::histogramIsConsistent()
{
    Metrics m;
    // A spread of values, several per bucket and on its bounds, and a few beyond the last one.
    QList<qint64> observations;
    for (const qint64 bound : BoundsNs)
        observations << bound - 1 << bound << bound + 1 << bound / 3;
    observations << 3'000'000'000 << 10'000'000'000 << 0 << 0 << 123'456'789;
    for (const qint64 ns : observations)
        m.observeDeliveryLatency(ns);

    const auto e = render(m);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    QCOMPARE(e.type.value(QByteArray(Histogram.data(), Histogram.size())), "histogram"_ba);
    const auto b = histogram(e);

    // The bounds are the documented ones, in increasing order, with +Inf last.
    QCOMPARE(b.le.size(), qsizetype(BoundsNs.size() + 1));
    for (size_t i = 0; i < BoundsNs.size(); ++i) {
        QCOMPARE(b.le.at(qsizetype(i)), Metrics::LatencyBuckets[i]);
        QCOMPARE(b.le.at(qsizetype(i)), double(BoundsNs[i]) / 1e9);
    }
    QVERIFY(std::isinf(b.le.constLast()) && b.le.constLast() > 0);

    // Cumulative: each bucket counts every observation <= its bound, so counts never decrease.
    for (size_t i = 0; i < BoundsNs.size(); ++i) {
        const auto expected = std::count_if(observations.begin(), observations.end(),
                                            [&](qint64 ns) { return ns <= BoundsNs[i]; });
        QCOMPARE(b.counts.at(qsizetype(i)), double(expected));
    }
    for (qsizetype i = 1; i < b.counts.size(); ++i)
        QVERIFY(b.counts.at(i) >= b.counts.at(i - 1));
    QCOMPARE(b.counts.constLast(), b.count);
    QCOMPARE(b.count, double(observations.size()));

    qint64 totalNs = 0;
    for (const qint64 ns : observations)
        totalNs += ns;
    QVERIFY2(std::abs(b.sum - double(totalNs) / 1e9) <= 1e-9,
             qPrintable(u"_sum %1, want %2"_s.arg(b.sum, 0, 'g', 17).arg(double(totalNs) / 1e9, 0, 'g', 17)));
}

void tst_Metrics::expositionFormatIsValid()
{
    Metrics m;
    m.connectionOpened();
    m.frameIn();
    m.framesOut(2);
    m.rejected(u"MESSAGE_TOO_LARGE"_s);
    m.rejected(u"AUTH_INVALID_TOKEN"_s);
    m.observeDeliveryLatency(12'345);
    m.observeDeliveryLatency(4'000'000'000);
    const QByteArray text = m.prometheus({1, 1, 1, 0, 3.25});

    const auto e = parse(text);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    QVERIFY(!text.contains('\r'));
    QVERIFY(!text.contains('\t'));

    // Every metric family is declared, and every declared family has exactly its own series.
    const QList<QByteArray> families{
        "confab_connections",           "confab_connections_opened_total", "confab_channels",
        "confab_memberships",           "confab_presence_entries",        "confab_frames_received_total",
        "confab_frames_sent_total",     "confab_broadcasts_total",        "confab_presence_updates_total",
        "confab_http_requests_total",   "confab_rejected_total",          "confab_delivery_latency_seconds",
        "confab_uptime_seconds"};
    for (const auto &f : families) {
        QVERIFY2(e.help.contains(f), f.constData());
        QVERIFY2(e.type.contains(f), f.constData());
        QVERIFY2(!e.help.value(f).trimmed().isEmpty(), f.constData());
    }
    QCOMPARE(e.type.size(), families.size());
    for (const auto &s : e.samples)
        QVERIFY2(families.contains(familyOf(s.name, e.type)), s.name.constData());
    // Plain metrics have one unlabelled sample each.
    for (const auto &f : families) {
        if (f == "confab_rejected_total" || e.type.value(f) == "histogram")
            continue;
        const auto samples = e.named(f);
        QCOMPARE(samples.size(), 1);
        QVERIFY(samples.constFirst().labels.isEmpty());
    }
}

void tst_Metrics::labelValuesAreEscaped_data()
{
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QByteArray>("onTheWire"); // the label as it must appear in the text

    QTest::newRow("plain") << u"MESSAGE_TOO_LARGE"_s << R"(reason="MESSAGE_TOO_LARGE")"_ba;
    QTest::newRow("quotes") << u"say \"hi\""_s << R"(reason="say \"hi\"")"_ba;
    QTest::newRow("backslash") << u"a\\b"_s << R"(reason="a\\b")"_ba;
    QTest::newRow("trailing backslash") << u"end\\"_s << R"(reason="end\\")"_ba;
    QTest::newRow("newline") << u"two\nlines"_s << R"(reason="two\nlines")"_ba;
    QTest::newRow("backslash then n") << u"not\\n a newline"_s << R"(reason="not\\n a newline")"_ba;
    QTest::newRow("all together") << u"\\\"\n\"\\"_s << R"(reason="\\\"\n\"\\")"_ba;
    QTest::newRow("closing brace") << u"x} 1\nfake_metric 2"_s << R"(reason="x} 1\nfake_metric 2")"_ba;
    QTest::newRow("unicode") << u"é😀"_s << "reason=\"\xc3\xa9\xf0\x9f\x98\x80\""_ba;
    QTest::newRow("empty") << u""_s << R"(reason="")"_ba;
}

void tst_Metrics::labelValuesAreEscaped()
{
    QFETCH(QString, reason);
    QFETCH(QByteArray, onTheWire);

    Metrics m;
    m.rejected(reason);
    m.rejected(reason);
    m.rejected(u"OTHER"_s);
    const QByteArray text = m.prometheus({});
    const QByteArray line = "confab_rejected_total{" + onTheWire + "} 2\n";
    QVERIFY2(text.contains(line), text.constData());

    // A client-chosen code cannot break the format or inject a sample of its own.
    const auto e = parse(text);
    QVERIFY2(e.errors.isEmpty(), qPrintable(errors(e)));
    QVERIFY(e.named("fake_metric").isEmpty());
    QCOMPARE(e.value("confab_rejected_total", {{"reason", reason}}), 2.0);
    QCOMPARE(e.value("confab_rejected_total", {{"reason", u"OTHER"_s}}), 1.0);
}

void tst_Metrics::toJsonFields()
{
    {
        const Metrics empty;
        const auto json = empty.toJson({});
        QCOMPARE(json.value(u"rejected"_s).toObject(), QJsonObject());
        QCOMPARE(json.value(u"deliveryLatency"_s).toObject(),
                 (QJsonObject{{u"count"_s, 0}, {u"meanSeconds"_s, 0.0}})); // no division by zero
    }

    Metrics m;
    m.connectionOpened();
    for (int i = 0; i < 4; ++i)
        m.frameIn();
    m.framesOut(9);
    m.broadcast();
    m.broadcast();
    m.presenceUpdate();
    m.httpRequest();
    m.httpRequest();
    m.httpRequest();
    m.rejected(u"MESSAGE_TOO_LARGE"_s);
    m.rejected(u"MESSAGE_TOO_LARGE"_s);
    m.rejected(u"we\"ird\n"_s);
    m.observeDeliveryLatency(1'000'000);
    m.observeDeliveryLatency(3'000'000);

    Metrics::Gauges g;
    g.connections = 5;
    g.channels = 6;
    g.memberships = 7;
    g.presenceEntries = 8;
    g.uptimeSeconds = 99.5;
    const auto json = m.toJson(g);

    const QStringList expectedKeys{u"uptimeSeconds"_s, u"connections"_s,     u"connectionsOpened"_s,
                                   u"channels"_s,      u"memberships"_s,     u"presenceEntries"_s,
                                   u"framesReceived"_s, u"framesSent"_s,     u"broadcasts"_s,
                                   u"presenceUpdates"_s, u"httpRequests"_s,  u"rejected"_s,
                                   u"deliveryLatency"_s};
    QStringList keys = json.keys();
    keys.sort();
    QStringList sortedExpected = expectedKeys;
    sortedExpected.sort();
    QCOMPARE(keys, sortedExpected);

    QCOMPARE(json.value(u"uptimeSeconds"_s).toDouble(), 99.5);
    QCOMPARE(json.value(u"connections"_s).toInteger(), 5);
    QCOMPARE(json.value(u"connectionsOpened"_s).toInteger(), 1);
    QCOMPARE(json.value(u"channels"_s).toInteger(), 6);
    QCOMPARE(json.value(u"memberships"_s).toInteger(), 7);
    QCOMPARE(json.value(u"presenceEntries"_s).toInteger(), 8);
    QCOMPARE(json.value(u"framesReceived"_s).toInteger(), 4);
    QCOMPARE(json.value(u"framesSent"_s).toInteger(), 9);
    QCOMPARE(json.value(u"broadcasts"_s).toInteger(), 2);
    QCOMPARE(json.value(u"presenceUpdates"_s).toInteger(), 1);
    QCOMPARE(json.value(u"httpRequests"_s).toInteger(), 3);
    // JSON needs no escaping help: the reason is a key as it was given.
    QCOMPARE(json.value(u"rejected"_s).toObject(),
             (QJsonObject{{u"MESSAGE_TOO_LARGE"_s, 2}, {u"we\"ird\n"_s, 1}}));
    const auto latency = json.value(u"deliveryLatency"_s).toObject();
    QCOMPARE(latency.keys(), (QStringList{u"count"_s, u"meanSeconds"_s}));
    QCOMPARE(latency.value(u"count"_s).toInteger(), 2);
    QVERIFY(qFuzzyCompare(latency.value(u"meanSeconds"_s).toDouble(), 0.002));

    // And it serializes (no NaN or infinity sneaks in).
    const auto reparsed = QJsonDocument::fromJson(QJsonDocument(json).toJson());
    QCOMPARE(reparsed.object(), json);
}

void tst_Metrics::countsFromSeveralThreads()
{
    // Sessions count from several I/O threads; nothing may be lost.
    Metrics m;
    constexpr int Threads = 4;
    constexpr int PerThread = 20'000;
    std::vector<std::thread> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([&m] {
            for (int i = 0; i < PerThread; ++i) {
                m.frameIn();
                m.framesOut(2);
                m.observeDeliveryLatency(1'000'000);
                if (i % 100 == 0)
                    m.rejected(u"MESSAGE_RATE_LIMITED"_s);
            }
        });
    }
    for (auto &t : threads)
        t.join();

    QCOMPARE(m.framesInCount(), quint64(Threads) * PerThread);
    QCOMPARE(m.framesOutCount(), quint64(Threads) * PerThread * 2);
    QCOMPARE(m.rejectedCount(u"MESSAGE_RATE_LIMITED"_s), quint64(Threads) * (PerThread / 100));
    const auto b = histogram(render(m));
    QCOMPARE(b.count, double(Threads) * PerThread);
    QCOMPARE(b.counts.at(4), double(Threads) * PerThread); // all in le=0.001
    QCOMPARE(b.counts.at(3), 0.0);
}

QTEST_GUILESS_MAIN(tst_Metrics)
#include "tst_metrics.moc"
