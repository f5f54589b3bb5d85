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

#include <memory>

using namespace Qt::StringLiterals;

//! The context property `fixture`: a fresh server for each QML test function.
class Fixture : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QUrl serverUrl READ serverUrl NOTIFY serverChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY serverChanged)

public:
    using QObject::QObject;

    //! Replaces the server with a new one: an empty database on a new port. False on failure,
    //! with the reason in errorString.
    Q_INVOKABLE bool startServer()
    {
        m_server = std::make_unique<Confab::TestServer>();
        const bool started = m_server->start();
        m_error = started ? QString() : m_server->errorString();
        Q_EMIT serverChanged();
        return started;
    }
    //! Stops and removes the server. Disconnect the clients first and wait until
    //! connectionCount() is 0: while stop() blocks, this thread's clients cannot answer the
    //! server's close frames, and it would wait out its grace period for them.
    Q_INVOKABLE void stopServer()
    {
        m_server.reset();
        Q_EMIT serverChanged();
    }
    //! Open WebSocket connections to the server (0 without one).
    Q_INVOKABLE int connectionCount() const { return m_server ? m_server->connectionCount() : 0; }

    [[nodiscard]] QUrl serverUrl() const { return m_server ? m_server->url() : QUrl(); }
    [[nodiscard]] QString errorString() const { return m_error; }

Q_SIGNALS:
    void serverChanged();

private:
    std::unique_ptr<Confab::TestServer> m_server;
    QString m_error;
};

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
