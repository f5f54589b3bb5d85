// consumer_host: the installed Confab::Host, as the desktop app's "Host on this computer" uses it:
// a LocalServer in this process (port 0, a temporary data directory, no LAN beacons) and a Client
// that connects to its url and joins. Prints OK and exits 0, or says why and exits 1 after 10 s.
#include <ConfabClient/channel.h>
#include <ConfabClient/client.h>
#include <ConfabHost/localserver.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QTextStream out(stdout);
    QTextStream err(stderr);

    QTemporaryDir dir;
    Confab::LocalServer host;
    host.setDataDir(dir.path());
    host.setPort(0);
    host.setDiscovery(false);
    if (!host.start()) {
        err << "consumer_host: the local server did not start: " << host.errorString() << Qt::endl;
        return 1;
    }
    Confab::Client client(host.url());
    auto *room = client.channel(u"room:host"_s);
    QObject::connect(room, &Confab::Channel::subscribed, &app, [&] {
        out << "OK" << Qt::endl;
        QCoreApplication::exit(0);
    });
    QTimer::singleShot(10'000, &app, [&] {
        err << "consumer_host: timed out after 10 s (client connected: " << client.isConnected() << ")" << Qt::endl;
        QCoreApplication::exit(1);
    });
    room->subscribe();
    client.connectToServer();
    return QCoreApplication::exec();
}
