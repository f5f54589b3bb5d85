// confab-storebench: how fast the server's message store commits chat messages, without a
// server or network around it.
//
// Opens a fresh SQLite store (the server's SqlMessageStore) in a temporary directory and lets R
// requesters each keep one append in flight, as R chatting sessions do, until N appends are
// answered. Reports appends per second and the commit latency of each append (issued to
// answered: queueing, the group-commit transaction and its fsync). Speed is reported, never
// asserted; a failed append prints FAIL and exits 1.
#include "storage/sqlmessagestore.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QDir>
#include <QtCore/QElapsedTimer>
#include <QtCore/QLoggingCategory>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

using namespace Confab::Server;
using namespace Qt::StringLiterals;

namespace {

struct Options
{
    int count = 3000;
    int requesters = 50;
    int maxBatch = 1000;
    bool fullSync = true;
    QString dir; // empty: the system's temporary directory
};

double percentileMs(const std::vector<qint64> &sortedUs, double fraction)
{
    if (sortedUs.empty())
        return 0;
    const auto at = std::min(sortedUs.size() - 1, size_t(double(sortedUs.size()) * fraction));
    return double(sortedUs[at]) / 1000.0;
}

int run(const Options &options)
{
    // A new database every run: an existing one would make the numbers depend on its size.
    QTemporaryDir dir(options.dir.isEmpty() ? QDir::tempPath() + u"/confab-storebench-XXXXXX"_s
                                            : options.dir + u"/confab-storebench-XXXXXX"_s);
    if (!dir.isValid()) {
        std::fprintf(stderr, "confab-storebench: cannot create a directory: %s\n", qPrintable(dir.errorString()));
        return 2;
    }
    QString error;
    auto store = SqlMessageStore::open(dir.filePath(u"confab.db"_s), options.fullSync, &error);
    if (!store) {
        std::fprintf(stderr, "confab-storebench: cannot open the store: %s\n", qPrintable(error));
        return 2;
    }
    store->setMaxBatchSize(options.maxBatch);

    std::vector<std::unique_ptr<QObject>> requesters;
    std::vector<qint64> latenciesUs;
    latenciesUs.reserve(size_t(options.count));
    int issued = 0;
    int answered = 0;
    int failed = 0;
    QString firstError;
    QElapsedTimer clock;
    // Each requester issues its next append from the answer to its previous one.
    std::function<void(QObject *)> next = [&](QObject *requester) {
        if (issued >= options.count)
            return;
        const int n = ++issued;
        const qint64 sentNs = clock.nsecsElapsed();
        const ChatUser author{u"u%1"_s.arg(n % options.requesters), u"User %1"_s.arg(n % options.requesters)};
        store->append(requester,
                      AppendRequest{u"room:bench"_s, u"c%1"_s.arg(n), author,
                                    u"benchmark message %1 with a typical length of text"_s.arg(n), {}, {}},
                      [&, requester, sentNs](const StoreResult<AppendResult> &result) {
                          latenciesUs.push_back((clock.nsecsElapsed() - sentNs) / 1000);
                          if (!result.ok() && ++failed == 1)
                              firstError = result.message;
                          if (++answered == options.count)
                              QCoreApplication::quit();
                          next(requester);
                      });
    };
    clock.start();
    for (int i = 0; i < options.requesters; ++i) {
        requesters.push_back(std::make_unique<QObject>());
        next(requesters.back().get());
    }
    if (const int code = QCoreApplication::exec(); code != 0)
        return code; // timed out
    const double seconds = double(clock.nsecsElapsed()) / 1e9;

    std::sort(latenciesUs.begin(), latenciesUs.end());
    std::printf("store:    SQLite in %s, sync %s, batch limit %d (appends per transaction), %d requesters\n",
                qPrintable(QDir::toNativeSeparators(dir.path())), options.fullSync ? "full" : "normal",
                options.maxBatch, options.requesters);
    std::printf("appends:  %d in %.2f s = %.0f appends/s\n", answered, seconds, answered / seconds);
    std::printf("commit latency ms (append to answer): p50 %.2f  p99 %.2f  max %.2f\n",
                percentileMs(latenciesUs, 0.50), percentileMs(latenciesUs, 0.99),
                latenciesUs.empty() ? 0.0 : double(latenciesUs.back()) / 1000.0);
    if (failed > 0) {
        std::printf("FAIL: %d appends failed (first: %s)\n", failed, qPrintable(firstError));
        return 1;
    }
    return 0;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    // The store's info lines (opened, migrated) would interleave with the report; warnings stay.
    // QT_LOGGING_RULES still overrides this.
    QLoggingCategory::setFilterRules(u"confab.*.info=false\nconfab.*.debug=false"_s);
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Appends chat messages to a fresh SQLite message store (the server's, without the server) "
        "and reports appends per second and commit latency."_s);
    parser.addHelpOption();
    parser.addOptions({
        {u"count"_s, u"Appends in total."_s, u"n"_s, u"3000"_s},
        {u"sync"_s, u"full: fsync every commit (the server's default); normal: only at checkpoints."_s,
         u"mode"_s, u"full"_s},
        {u"requesters"_s, u"Requesters, each with one append in flight (chatting sessions)."_s, u"n"_s, u"50"_s},
        {u"batch"_s, u"At most this many appends per transaction; 1 turns group commit off."_s, u"n"_s, u"1000"_s},
        {u"dir"_s, u"Directory to create the database in (a fresh subdirectory, removed afterwards), "
                   "to measure that disk. Default: the system's temporary directory."_s, u"path"_s},
        {u"timeout"_s, u"Give up after this many seconds."_s, u"s"_s, u"300"_s},
    });
    parser.process(app);

    Options options;
    const QString sync = parser.value(u"sync"_s);
    if (sync != u"full"_s && sync != u"normal"_s) {
        std::fprintf(stderr, "confab-storebench: --sync is full or normal, not \"%s\"\n", qPrintable(sync));
        return 2;
    }
    options.fullSync = sync == u"full"_s;
    options.count = std::max(1, parser.value(u"count"_s).toInt());
    options.requesters = std::clamp(parser.value(u"requesters"_s).toInt(), 1, options.count);
    options.maxBatch = std::max(1, parser.value(u"batch"_s).toInt());
    options.dir = parser.value(u"dir"_s);
    QTimer::singleShot(std::chrono::seconds(std::max(1, parser.value(u"timeout"_s).toInt())), &app, [] {
        std::fprintf(stderr, "confab-storebench: timed out\n");
        QCoreApplication::exit(3);
    });
    return run(options);
}
