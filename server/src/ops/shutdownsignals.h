#pragma once

#include <QtCore/QObject>

class QSocketNotifier;

namespace Confab::Server {

//! \brief Turns SIGINT and SIGTERM into a Qt signal delivered on the event loop.
//! A signal handler may only do async-signal-safe work, so it writes the signal number to a
//! socket pair and a QSocketNotifier picks it up (the pattern from Qt's "Calling Qt Functions
//! From Unix Signal Handlers").
class ShutdownSignals : public QObject
{
    Q_OBJECT
public:
    //! \brief Installs the handlers; only one instance may exist per process.
    explicit ShutdownSignals(QObject *parent = nullptr);
    ~ShutdownSignals() override;

Q_SIGNALS:
    void received(int signalNumber);

private:
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace Confab::Server
