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

#include "qmlfixture.h"

#include <memory>

using namespace Qt::StringLiterals;

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
