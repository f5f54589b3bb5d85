// consumer_cpp <ws-url>: the C++ API of an installed ConfabClient against a running server.
// Joins room:install (self + ack), broadcasts, and waits for its own echo, the ack and an ok
// track() reply (a client gets no presence diff for its own track). Prints OK and exits 0, or
// says what is missing and exits 1 after 10 s.
#include <ConfabClient/channel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/reply.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QJsonObject>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

#include <utility>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (argc != 2) {
        err << "usage: consumer_cpp ws://host:port/\n";
        return 2;
    }

    Confab::Client client(QUrl(QString::fromLocal8Bit(argv[1])));
    auto *room = client.channel(u"room:install"_s, {.self = true, .ack = true, .presenceKey = u"consumer-cpp"_s});
    bool started = false;
    bool echoed = false;
    bool acked = false;
    bool tracked = false;

    const auto fail = [&err](const QString &why) {
        err << "consumer_cpp: " << why << Qt::endl;
        QCoreApplication::exit(1);
    };
    const auto finishIfDone = [&] {
        if (echoed && acked && tracked) {
            out << "OK" << Qt::endl;
            QCoreApplication::exit(0);
        }
    };

    QObject::connect(room, &Confab::Channel::broadcastReceived, &app,
                     [&](const QString &event, const QJsonValue &payload) {
                         if (event == "hello"_L1 && payload.toObject().value("from"_L1).toString() == "consumer_cpp"_L1) {
                             echoed = true;
                             finishIfDone();
                         }
                     });
    QObject::connect(room, &Confab::Channel::errorOccurred, &app,
                     [&](const QString &code, const QString &message) { fail(u"channel error "_s + code + u": "_s + message); });
    QObject::connect(room, &Confab::Channel::subscribed, &app, [&] {
        if (std::exchange(started, true))
            return; // a rejoin: the requests below are already under way
        auto *sent = room->send(u"hello"_s, QJsonObject{{u"from"_s, u"consumer_cpp"_s}});
        QObject::connect(sent, &Confab::Reply::finished, &app, [&, sent] {
            if (!sent->isOk())
                return fail(u"send() failed: "_s + sent->errorCode());
            if (sent->response().value("recipientCount"_L1).toInt() < 1)
                return fail(u"the ack counts no recipient"_s);
            acked = true;
            finishIfDone();
        });
        auto *track = room->track({{u"status"_s, u"online"_s}});
        QObject::connect(track, &Confab::Reply::finished, &app, [&, track] {
            if (!track->isOk())
                return fail(u"track() failed: "_s + track->errorCode());
            tracked = true;
            finishIfDone();
        });
    });
    QTimer::singleShot(10'000, &app, [&] {
        fail(u"timed out after 10 s: subscribed %1, echo %2, ack %3, track %4"_s.arg(started).arg(echoed).arg(acked).arg(tracked));
    });

    room->subscribe();
    client.connectToServer();
    return QCoreApplication::exec();
}
