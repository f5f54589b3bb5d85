// confab: the Confab desktop app. Parses the options, points the QML engine at the modules and
// loads Confab.App's Main.qml; everything else is QML on the Confab.Client library.
//
//   confab [--server chat.lan:4000] [--name Alice] [--quit-after <ms>]
#include <QtCore/QCommandLineParser>
#include <QtCore/QDir>
#include <QtCore/QFileInfo>
#include <QtCore/QTimer>
#include <QtCore/QUrl>
#include <QtGui/QGuiApplication>
#include <QtGui/QIcon>
#include <QtQml/QQmlApplicationEngine>

#include <cstdio>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    // QSettings and the client's default queue directory use these.
    QCoreApplication::setOrganizationName(u"Confab"_s);
    QCoreApplication::setOrganizationDomain(u"confab.chat"_s);
    QCoreApplication::setApplicationName(u"confab"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(CONFAB_VERSION));
    QGuiApplication::setApplicationDisplayName(u"Confab"_s);
    QGuiApplication::setDesktopFileName(u"confab"_s);
    QGuiApplication::setWindowIcon(QIcon::fromTheme(u"confab"_s));

    QCommandLineParser parser;
    parser.setApplicationDescription(u"Confab: realtime chat for your network."_s);
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption serverOption(u"server"_s,
        u"The server to sign in to (host:port or ws:// URL); default: the last one used."_s, u"url"_s);
    const QCommandLineOption nameOption(u"name"_s, u"Your name; default: the last one used."_s, u"name"_s);
    const QCommandLineOption quitOption(u"quit-after"_s,
        u"Quit after <ms> milliseconds (for tests)."_s, u"ms"_s);
    parser.addOptions({serverOption, nameOption, quitOption});
    parser.process(app);

    QQmlApplicationEngine engine;
    // Workaround: before Qt 6.5, qrc:/qt/qml (where the app's own modules live) is not a default
    // import path.
    engine.addImportPath(u"qrc:/qt/qml"_s);
    // Confab.Client: from the build tree when this is the build tree's binary, else from the
    // install prefix next to bin/. QML_IMPORT_PATH is honoured as well.
    const QString appDir = QCoreApplication::applicationDirPath();
    if (QFileInfo(appDir) == QFileInfo(QStringLiteral(CONFAB_BUILD_APP_DIR)))
        engine.addImportPath(QStringLiteral(CONFAB_BUILD_QML_IMPORT_DIR));
    else
        engine.addImportPath(QDir(appDir).filePath(QStringLiteral(CONFAB_INSTALLED_QML_RELATIVE)));

    const bool autoSignIn = parser.isSet(serverOption) && parser.isSet(nameOption);
    engine.setInitialProperties({
        {u"initialServer"_s, parser.value(serverOption)},
        {u"initialName"_s, parser.value(nameOption)},
        {u"autoSignIn"_s, autoSignIn},
    });
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app,
                     [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(u"qrc:/qt/qml/Confab/App/Main.qml"_s));
    if (engine.rootObjects().isEmpty()) {
        std::fputs("confab: the user interface (QML) failed to load; see the messages above.\n", stderr);
        return 1;
    }

    if (parser.isSet(quitOption)) {
        bool ok = false;
        const int ms = parser.value(quitOption).toInt(&ok);
        if (!ok || ms < 0) {
            std::fputs("confab: --quit-after needs a number of milliseconds\n", stderr);
            return 2;
        }
        QTimer::singleShot(ms, &app, &QCoreApplication::quit);
    }
    return QGuiApplication::exec();
}
