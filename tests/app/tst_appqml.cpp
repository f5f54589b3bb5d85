// QuickTest main for the app's component suites (tests/app/qml/tst_*.qml). The app's QML
// modules are compiled into this executable (ConfabAppQml); Confab.Client is loaded from the
// build tree. Suites whose test functions use channels start a real server (Confab::TestServer)
// of their own in init() (`fixture.startServer()`, then `fixture.serverUrl`) and stop it in
// cleanup(), so no test function sees what another one left; the sign-in suite only signs in to
// the one shared server, the context property `serverUrl`. `storageDir` is a temporary directory
// for the clients' send queues. With CONFAB_APP_TEST_NO_SERVER set (the hosting suite, which runs
// its own server in-process through Confab::LocalServer) no shared test server is started.
#include <ConfabTestServer/testserver.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QSettings>
#include <QtCore/QStandardPaths>
#include <QtCore/QTemporaryDir>
#include <QtQml/QQmlContext>
#include <QtQml/QQmlEngine>
#include <QtQuickTest/quicktest.h>

#include "qmlfixture.h"

#include <memory>

using namespace Qt::StringLiterals;

class Setup : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    void applicationAvailable()
    {
        // Settings written by the components go to the test's directory, never the user's.
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_storage.filePath(u"config"_s));
        QCoreApplication::setOrganizationName(u"ConfabTest"_s);
        // Data a component writes by itself (a hosted server's database) stays out of the
        // user's directories too.
        QStandardPaths::setTestModeEnabled(true);
        if (qEnvironmentVariableIsSet("CONFAB_APP_TEST_NO_SERVER"))
            return;
        m_server = std::make_unique<Confab::TestServer>();
        if (!m_server->start())
            qFatal("tst_appqml: the test server did not start: %s", qPrintable(m_server->errorString()));
    }

    void qmlEngineAvailable(QQmlEngine *engine)
    {
        // Workaround: before Qt 6.5, qrc:/qt/qml is not a default import path.
        engine->addImportPath(u"qrc:/qt/qml"_s);
        engine->addImportPath(QStringLiteral(CONFAB_BUILD_QML_IMPORT_DIR));
        engine->rootContext()->setContextProperty(u"serverUrl"_s, m_server ? m_server->url() : QUrl());
        engine->rootContext()->setContextProperty(u"httpUrl"_s, m_server ? m_server->httpUrl() : QUrl());
        engine->rootContext()->setContextProperty(u"storageDir"_s, m_storage.path());
        engine->rootContext()->setContextProperty(u"fixture"_s, &m_fixture);
    }

    void cleanupTestCase()
    {
        m_fixture.stopServer();
        m_server.reset();
    }

private:
    QTemporaryDir m_storage;
    std::unique_ptr<Confab::TestServer> m_server;
    Fixture m_fixture;
};

QUICK_TEST_MAIN_WITH_SETUP(tst_appqml, Setup)

#include "tst_appqml.moc"
