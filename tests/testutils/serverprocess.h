#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QProcess>
#include <QtCore/QStringList>

#include <optional>

namespace Confab::Testing {

//! \brief One run of the confab-server executable, with stdout and stderr collected as they
//! arrive. A clean environment (PATH, and HOME = the working directory) and a working directory
//! of the test's: nothing from the developer's shell or a stray `.env` leaks in.
class ServerProcess : public QObject
{
public:
    //! \a program is the executable (the build passes CONFAB_SERVER_BIN).
    ServerProcess(const QString &program, const QString &workDir);
    //! Kills the process if it still runs.
    ~ServerProcess() override;

    void setEnv(const QString &name, const QString &value) { m_env.insert(name, value); }

    //! Starts it; does not wait.
    void start(const QStringList &arguments);
    //! Starts it and waits for its "server.started" log line (start it with `--log-format json`
    //! or the default); false, with the output in err(), if it exited or did not get there.
    [[nodiscard]] bool startServing(const QStringList &arguments, int timeoutMs = 15000);
    //! Runs to completion; false if it did not start or finish in time.
    [[nodiscard]] bool run(const QStringList &arguments, int timeoutMs = 15000);
    //! SIGKILL: no handler runs, nothing is flushed.
    void kill() { m_process.kill(); }
    //! SIGTERM: graceful shutdown.
    void terminate() { m_process.terminate(); }
    [[nodiscard]] bool waitForExit(int timeoutMs = 15000);

    //! Waits for a complete stderr line that contains \a needle; returns it.
    [[nodiscard]] std::optional<QByteArray> waitForStderrLine(const QByteArray &needle, int timeoutMs = 15000);
    //! Complete lines written to stderr so far.
    [[nodiscard]] QList<QByteArray> stderrLines() const;

    [[nodiscard]] const QByteArray &out() const { return m_stdout; }
    [[nodiscard]] const QByteArray &err() const { return m_stderr; }
    [[nodiscard]] int exitCode() const { return m_process.exitCode(); }
    [[nodiscard]] QProcess::ExitStatus exitStatus() const { return m_process.exitStatus(); }
    [[nodiscard]] qint64 pid() const { return m_process.processId(); }
    [[nodiscard]] bool isRunning() const { return m_process.state() == QProcess::Running; }

private:
    QProcess m_process;
    QProcessEnvironment m_env;
    QByteArray m_stdout;
    QByteArray m_stderr;
};

} // namespace Confab::Testing
