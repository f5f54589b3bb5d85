// consumer_fixture: the installed test fixture Confab::TestServer, as an application's own
// integration test would use it: a real server in this process on 127.0.0.1 and a free port, and
// a Client that connects and joins. Prints OK and exits 0, or says why and exits 1 after 10 s.
#include <ConfabClient/channel.h>
#include <ConfabClient/client.h>
#include <ConfabTestServer/testserver.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QTextStream out(stdout);
    QTextStream err(stderr);

    Confab::TestServer server;
    if (!server.start()) {
        err << "consumer_fixture: the test server did not start: " << server.errorString() << Qt::endl;
        return 1;
    }
    Confab::Client client(server.url());
    auto *room = client.channel(u"room:fixture"_s);
    QObject::connect(room, &Confab::Channel::subscribed, &app, [&] {
        if (server.memberCount(u"room:fixture"_s) != 1) {
            err << "consumer_fixture: the server counts " << server.memberCount(u"room:fixture"_s)
                << " members, expected 1" << Qt::endl;
            QCoreApplication::exit(1);
            return;
        }
        out << "OK" << Qt::endl;
        QCoreApplication::exit(0);
    });
    QTimer::singleShot(10'000, &app, [&] {
        err << "consumer_fixture: timed out after 10 s (client connected: " << client.isConnected()
            << ")" << Qt::endl;
        QCoreApplication::exit(1);
    });
    room->subscribe();
    client.connectToServer();
    return QCoreApplication::exec();
}
