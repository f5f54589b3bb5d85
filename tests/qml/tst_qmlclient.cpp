// QuickTest main for tests/qml/tst_*.qml: runs one real Confab server in this process (the
// installable fixture Confab::TestServer, on 127.0.0.1 and an OS-chosen port) and gives the QML
// tests its URL as the context property `serverUrl` (and `storageDir`, a temporary directory for
// the clients' chat queues). The tests load the Confab.Client module from
// the build tree (CONFAB_QML_IMPORT_DIR), exactly as an application would from an install.
#include <ConfabTestServer/testserver.h>

#include <QtCore/QTemporaryDir>
#include <QtQml/QQmlContext>
#include <QtQml/QQmlEngine>
#include <QtQuickTest/quicktest.h>

#include <memory>

using namespace Qt::StringLiterals;

class Setup : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    void applicationAvailable()
    {
        m_server = std::make_unique<Confab::TestServer>();
        if (!m_server->start())
            qFatal("tst_qmlclient: the test server did not start: %s", qPrintable(m_server->errorString()));
    }

    // Called once per QML test file, each with an engine of its own.
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        engine->addImportPath(QString::fromUtf8(CONFAB_QML_IMPORT_DIR));
        // A context property rather than a required property: QuickTest creates the TestCase
        // root itself, so there is no setInitialProperties() to hook into.
        engine->rootContext()->setContextProperty(u"serverUrl"_s, m_server->url());
        // Where chat clients keep their send queues: never the user's real data directory.
        engine->rootContext()->setContextProperty(u"storageDir"_s, m_storage.path());
    }

    void cleanupTestCase() { m_server.reset(); }

private:
    QTemporaryDir m_storage;
    std::unique_ptr<Confab::TestServer> m_server;
};

QUICK_TEST_MAIN_WITH_SETUP(tst_qmlclient, Setup)

#include "tst_qmlclient.moc"
