// confab-chat-qml: a chat window on one Confab channel, written in QML (Main.qml).
//
//   confab-chat-qml --url ws://127.0.0.1:4000/ --room room:lobby --name alice
#include <QtCore/QCommandLineParser>
#include <QtCore/QUrl>
#include <QtGui/QGuiApplication>
#include <QtQml/QQmlApplicationEngine>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"confab-chat-qml"_s);

    QCommandLineParser parser;
    parser.setApplicationDescription(u"A chat window on a Confab channel."_s);
    parser.addHelpOption();
    const QCommandLineOption urlOption(u"url"_s, u"The server's WebSocket URL."_s, u"url"_s,
                                       u"ws://127.0.0.1:4000/"_s);
    const QCommandLineOption roomOption(u"room"_s, u"The channel to chat in."_s, u"topic"_s,
                                        u"room:lobby"_s);
    const QCommandLineOption nameOption(u"name"_s, u"Your name (your presence key)."_s, u"name"_s,
                                        qEnvironmentVariable("USER", u"guest"_s));
    parser.addOptions({urlOption, roomOption, nameOption});
    parser.process(app);

    QQmlApplicationEngine engine;
    // Where `import Confab.Client` is found: the build tree's qml directory inside Confab's own
    // build, <prefix>/lib/qml when built against an installed Confab. QML_IMPORT_PATH still works.
    engine.addImportPath(QString::fromUtf8(CONFAB_QML_IMPORT_DIR));
    // Workaround: before Qt 6.5, qrc:/qt/qml is not a default import path.
    engine.addImportPath(u"qrc:/qt/qml"_s);
    engine.setInitialProperties({
        {u"serverUrl"_s, QUrl(parser.value(urlOption))},
        {u"room"_s, parser.value(roomOption)},
        {u"userName"_s, parser.value(nameOption)},
    });
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app,
                     [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(u"qrc:/qt/qml/ConfabChatExample/Main.qml"_s));
    if (engine.rootObjects().isEmpty())
        return 1;
    return QGuiApplication::exec();
}
