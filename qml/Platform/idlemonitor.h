#pragma once

#include <QtCore/QObject>
#include <QtCore/QTimer>
#include <QtQml/qqmlregistration.h>

namespace Confab::App {

//! \brief Says when the user has not touched the app (keys, mouse, wheel, touch) for `timeout`
//! ms: the app's auto-away. Only input to this application counts (there is no portable way to
//! read the desktop's idle time); an inactive window counts as idle after the same time.
class IdleMonitor : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(int timeout READ timeout WRITE setTimeout NOTIFY timeoutChanged)
    Q_PROPERTY(bool idle READ isIdle NOTIFY idleChanged)
    Q_PROPERTY(bool enabled READ isEnabled WRITE setEnabled NOTIFY enabledChanged)
public:
    explicit IdleMonitor(QObject *parent = nullptr);
    ~IdleMonitor() override;

    //! \brief Milliseconds without input before idle (default 5 minutes).
    [[nodiscard]] int timeout() const { return m_timeout; }
    void setTimeout(int milliseconds);
    [[nodiscard]] bool isIdle() const { return m_idle; }
    [[nodiscard]] bool isEnabled() const { return m_enabled; }
    void setEnabled(bool enabled);

    //! \brief Counts as input now: no longer idle, and the timeout starts again.
    Q_INVOKABLE void reset();

Q_SIGNALS:
    void timeoutChanged();
    void idleChanged();
    void enabledChanged();

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void setIdle(bool idle);

    QTimer m_timer;
    int m_timeout = 5 * 60 * 1000;
    bool m_idle = false;
    bool m_enabled = true;
};

} // namespace Confab::App
