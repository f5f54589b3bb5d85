#include "serverprocess.h"

#include <QtTest/QTest>

using namespace Qt::StringLiterals;

namespace Confab::Testing {

ServerProcess::ServerProcess(const QString &program, const QString &workDir)
{
    const auto system = QProcessEnvironment::systemEnvironment();
    m_env.insert(u"PATH"_s, system.value(u"PATH"_s, u"/usr/bin:/bin"_s));
    m_env.insert(u"HOME"_s, workDir);
    // The executable announces itself on the LAN by default; tests must not.
    m_env.insert(u"DISCOVERY"_s, u"off"_s);
    m_process.setWorkingDirectory(workDir);
    m_process.setProgram(program);
    connect(&m_process, &QProcess::readyReadStandardOutput, this, [this] { m_stdout += m_process.readAllStandardOutput(); });
    connect(&m_process, &QProcess::readyReadStandardError, this, [this] { m_stderr += m_process.readAllStandardError(); });
}

ServerProcess::~ServerProcess()
{
    if (m_process.state() != QProcess::NotRunning) {
        m_process.kill();
        m_process.waitForFinished(5000);
    }
}

void ServerProcess::start(const QStringList &arguments)
{
    m_process.setProcessEnvironment(m_env);
    m_process.setArguments(arguments);
    m_process.start();
}

bool ServerProcess::startServing(const QStringList &arguments, int timeoutMs)
{
    start(arguments);
    return waitForStderrLine("\"server.started\"", timeoutMs).has_value() && isRunning();
}

bool ServerProcess::run(const QStringList &arguments, int timeoutMs)
{
    start(arguments);
    return waitForExit(timeoutMs);
}

bool ServerProcess::waitForExit(int timeoutMs)
{
    const bool exited = QTest::qWaitFor([this] { return m_process.state() == QProcess::NotRunning; }, timeoutMs);
    m_stdout += m_process.readAllStandardOutput();
    m_stderr += m_process.readAllStandardError();
    return exited && m_process.error() != QProcess::FailedToStart;
}

std::optional<QByteArray> ServerProcess::waitForStderrLine(const QByteArray &needle, int timeoutMs)
{
    std::optional<QByteArray> found;
    (void)QTest::qWaitFor(
        [&] {
            for (const QByteArray &line : stderrLines()) {
                if (line.contains(needle)) {
                    found = line;
                    return true;
                }
            }
            return m_process.state() == QProcess::NotRunning;
        },
        timeoutMs);
    return found;
}

QList<QByteArray> ServerProcess::stderrLines() const
{
    auto lines = m_stderr.split('\n');
    lines.removeLast(); // incomplete, or empty after the final newline
    return lines;
}

} // namespace Confab::Testing
