// consumer_qml <ws-url>: loads consumer.qml, which uses the installed QML module Confab.Client
// (found through QML_IMPORT_PATH) and ends the program with Qt.exit(0) or Qt.exit(1).
#include <QtCore/QTextStream>
#include <QtCore/QUrl>
#include <QtGui/QGuiApplication>
#include <QtQml/QQmlApplicationEngine>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    if (argc != 2) {
        QTextStream(stderr) << "usage: consumer_qml ws://host:port/\n";
        return 2;
    }
    QQmlApplicationEngine engine; // forwards Qt.exit() to QCoreApplication::exit()
    engine.setInitialProperties({{u"serverUrl"_s, QUrl(QString::fromLocal8Bit(argv[1]))}});
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app,
                     [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(u"qrc:/consumer.qml"_s));
    if (engine.rootObjects().isEmpty())
        return 1;
    return QGuiApplication::exec();
}
