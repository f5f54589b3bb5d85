// confab-server: parses options and runs one Server until SIGINT/SIGTERM. All logic lives in
// ConfabServerCore so that tests run the same server in-process.
#include "ops/configloader.h"
#include "ops/logging.h"
#include "server.h"
#include "ops/shutdownsignals.h"
#include "auth/tokencommand.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QTextStream>

#include <cstdio>

using namespace Qt::StringLiterals;
using namespace Confab::Server;

int main(int argc, char *argv[])
{
    // Qt's glib event dispatcher slows down badly with thousands of sockets; the Unix one was
    // measured ~7x faster at 10k connections. It must be chosen before the application exists.
    qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"confab-server"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(CONFAB_VERSION));

    QTextStream out(stdout);
    QTextStream err(stderr);
    auto arguments = QCoreApplication::arguments().mid(1);
    const auto env = QProcessEnvironment::systemEnvironment();

    if (!arguments.isEmpty() && arguments.first() == "token"_L1)
        return runTokenCommand(arguments.mid(1), env, out, err);

    const auto loaded = ConfigLoader::load(arguments, env);
    if (loaded.helpRequested) {
        out << "Usage: confab-server [options]\n"
               "       confab-server token --user ID [--name NAME] [--ttl 24h] [--channels 'room:*']\n\n"
            << ConfigLoader::helpText();
        return 0;
    }
    if (loaded.versionRequested) {
        out << "confab-server " << QCoreApplication::applicationVersion() << '\n';
        return 0;
    }
    if (!loaded.errors.isEmpty() || !loaded.positional.isEmpty()) {
        for (const auto &e : loaded.errors)
            err << "confab-server: " << e << '\n';
        for (const auto &p : loaded.positional)
            err << "confab-server: unexpected argument \"" << p << "\"; see --help\n";
        return 2;
    }

    installLogHandler(loaded.config.logFormat, loaded.config.logLevel);
    for (const auto &w : loaded.warnings)
        logEvent(lcServer(), QtWarningMsg, "config.warning", {{u"message"_s, w}});

    Server server(loaded.config);
    // Handlers first: a supervisor may send SIGTERM as soon as it sees "server.started".
    ShutdownSignals signals_;
    QObject::connect(&signals_, &ShutdownSignals::received, &server, [&server](int signalNumber) {
        logEvent(lcServer(), QtInfoMsg, "server.signal", {{u"signal"_s, signalNumber}});
        server.shutdown();
    });
    QString error;
    if (!server.start(&error)) {
        err << "confab-server: " << error << '\n';
        return 1;
    }
    QObject::connect(&server, &Server::stopped, &app, [] { QCoreApplication::exit(0); });
    return QCoreApplication::exec();
}
