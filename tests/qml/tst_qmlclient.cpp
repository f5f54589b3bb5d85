// QuickTest main for tests/qml/tst_*.qml: runs real Confab servers in this process (the
// installable fixture Confab::TestServer, on 127.0.0.1 and an OS-chosen port) for the QML tests.
// Each test function starts a server of its own in init() (`fixture.startServer()`, then
// `fixture.serverUrl`) and stops it in cleanup(), so no test sees what another one left; `storageDir`
// is a temporary directory for the clients' chat queues. The tests load the Confab.Client module
// from the build tree (CONFAB_QML_IMPORT_DIR), exactly as an application would from an install.
#include <ConfabTestServer/testserver.h>

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
    // Called once per QML test file, each with an engine of its own.
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        engine->addImportPath(QString::fromUtf8(CONFAB_QML_IMPORT_DIR));
        // Context properties rather than required properties: QuickTest creates the TestCase
        // root itself, so there is no setInitialProperties() to hook into.
        engine->rootContext()->setContextProperty(u"fixture"_s, &m_fixture);
        // Where chat clients keep their send queues: never the user's real data directory.
        engine->rootContext()->setContextProperty(u"storageDir"_s, m_storage.path());
    }

    void cleanupTestCase() { m_fixture.stopServer(); }

private:
    QTemporaryDir m_storage;
    Fixture m_fixture;
};

QUICK_TEST_MAIN_WITH_SETUP(tst_qmlclient, Setup)

#include "tst_qmlclient.moc"
