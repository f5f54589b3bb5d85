// confab-chat-cli: a console chat on one Confab channel.
//
//   confab-chat-cli --url ws://127.0.0.1:4000/ --room room:lobby --name alice
//
// Every line typed on stdin is broadcast to the room as a "message" event; other people's
// messages and their presence joins and leaves are printed. End of input (Ctrl+D) leaves the room
// once the messages sent so far are confirmed, and exits.
#include <ConfabClient/channel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/reply.h>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QJsonObject>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTextStream>

#include <unistd.h>

using namespace Qt::StringLiterals;

namespace {

class ConsoleChat
{
public:
    ConsoleChat(const QUrl &url, const QString &room, const QString &name)
        : m_client(url), m_name(name),
          m_channel(m_client.channel(room, {.self = false, .ack = true, .presenceKey = name})),
          m_stdin(STDIN_FILENO, QSocketNotifier::Read)
    {
        QObject::connect(m_channel, &Confab::Channel::subscribed, m_channel, [this] {
            m_out << "* you are in " << m_channel->topic() << " as " << m_name << Qt::endl;
        });
        QObject::connect(m_channel, &Confab::Channel::broadcastReceived, m_channel,
                         [this](const QString &event, const QJsonValue &payload) {
                             if (event != "message"_L1)
                                 return;
                             const auto message = payload.toObject();
                             m_out << message.value("name"_L1).toString() << ": "
                                   << message.value("text"_L1).toString() << Qt::endl;
                         });
        // Only whole people: a second device of someone already here is not a join. Once we
        // leave, the channel forgets everyone's presence; that is not them leaving.
        QObject::connect(m_channel, &Confab::Channel::presenceJoined, m_channel,
                         [this](const QString &key, const QJsonArray &current, const QJsonArray &joined) {
                             if (!m_leaving && key != m_name && current.size() == joined.size())
                                 m_out << "* " << key << " joined" << Qt::endl;
                         });
        QObject::connect(m_channel, &Confab::Channel::presenceLeft, m_channel,
                         [this](const QString &key, const QJsonArray &current, const QJsonArray &) {
                             if (!m_leaving && key != m_name && current.isEmpty())
                                 m_out << "* " << key << " left" << Qt::endl;
                         });
        QObject::connect(m_channel, &Confab::Channel::errorOccurred, m_channel,
                         [this](const QString &code, const QString &message) {
                             m_err << "! channel error " << code << ": " << message << Qt::endl;
                         });
        QObject::connect(&m_client, &Confab::Client::errorOccurred, &m_client,
                         [this](const QString &code, const QString &message) {
                             m_err << "! " << code << ": " << message << Qt::endl;
                         });
        QObject::connect(&m_client, &Confab::Client::reconnectScheduled, &m_client,
                         [this](int attempt, int delayMs) {
                             m_err << "! connection lost, reconnect attempt " << attempt << " in "
                                   << delayMs << " ms" << Qt::endl;
                         });
        QObject::connect(&m_stdin, &QSocketNotifier::activated, &m_client, [this] { readInput(); });
    }

    void start()
    {
        m_channel->subscribe();
        m_channel->track({{u"status"_s, u"online"_s}});
        m_client.connectToServer();
    }

private:
    void readInput()
    {
        char buffer[4096];
        const auto n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) {
            m_stdin.setEnabled(false);
            m_inputDone = true;
            if (!m_pending.trimmed().isEmpty())
                send(QString::fromUtf8(m_pending).trimmed());
            m_pending.clear();
            quitWhenDone();
            return;
        }
        m_pending.append(buffer, n);
        for (auto newline = m_pending.indexOf('\n'); newline >= 0; newline = m_pending.indexOf('\n')) {
            const auto line = QString::fromUtf8(m_pending.left(newline)).trimmed();
            m_pending.remove(0, newline + 1);
            if (!line.isEmpty())
                send(line);
        }
    }

    void send(const QString &text)
    {
        auto *reply = m_channel->send(u"message"_s, QJsonObject{{u"name"_s, m_name}, {u"text"_s, text}});
        ++m_inFlight;
        QObject::connect(reply, &Confab::Reply::finished, &m_client, [this, reply] {
            --m_inFlight;
            if (!reply->isOk())
                m_err << "! not delivered (" << reply->errorCode() << "): " << reply->errorMessage() << Qt::endl;
            quitWhenDone();
        });
    }

    // Leave politely once every message is confirmed, so none is lost by exiting early.
    void quitWhenDone()
    {
        if (!m_inputDone || m_inFlight > 0 || m_leaving)
            return;
        m_leaving = true;
        auto *reply = m_channel->unsubscribe();
        QObject::connect(reply, &Confab::Reply::finished, &m_client, [] { QCoreApplication::quit(); });
    }

    Confab::Client m_client;
    QString m_name;
    Confab::Channel *m_channel;
    QSocketNotifier m_stdin;
    QByteArray m_pending;
    int m_inFlight = 0;
    bool m_inputDone = false;
    bool m_leaving = false;
    QTextStream m_out{stdout};
    QTextStream m_err{stderr};
};

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"confab-chat-cli"_s);

    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Console chat on a Confab channel: lines read from stdin are sent to the room, and "
        "other people's messages, joins and leaves are printed."_s);
    parser.addHelpOption();
    const QCommandLineOption urlOption(u"url"_s, u"The server's WebSocket URL."_s, u"url"_s,
                                       u"ws://127.0.0.1:4000/"_s);
    const QCommandLineOption roomOption(u"room"_s, u"The channel to chat in."_s, u"topic"_s,
                                        u"room:lobby"_s);
    const QCommandLineOption nameOption(u"name"_s, u"Your name (your presence key)."_s, u"name"_s,
                                        qEnvironmentVariable("USER", u"guest"_s));
    parser.addOptions({urlOption, roomOption, nameOption});
    parser.process(app);

    const QUrl url(parser.value(urlOption));
    if (!url.isValid() || (url.scheme() != "ws"_L1 && url.scheme() != "wss"_L1)) {
        QTextStream(stderr) << "confab-chat-cli: --url must be a ws:// or wss:// URL\n";
        return 2;
    }
    const auto name = parser.value(nameOption).trimmed();
    if (name.isEmpty()) {
        QTextStream(stderr) << "confab-chat-cli: --name must not be empty\n";
        return 2;
    }

    ConsoleChat chat(url, parser.value(roomOption), name);
    chat.start();
    return QCoreApplication::exec();
}
