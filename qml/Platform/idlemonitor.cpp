#include "idlemonitor.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QEvent>

namespace Confab::App {

IdleMonitor::IdleMonitor(QObject *parent)
    : QObject(parent)
{
    m_timer.setSingleShot(true);
    m_timer.setInterval(m_timeout);
    connect(&m_timer, &QTimer::timeout, this, [this] { setIdle(true); });
    if (auto *app = QCoreApplication::instance())
        app->installEventFilter(this);
    m_timer.start();
}

IdleMonitor::~IdleMonitor()
{
    if (auto *app = QCoreApplication::instance())
        app->removeEventFilter(this);
}

void IdleMonitor::setTimeout(int milliseconds)
{
    if (milliseconds == m_timeout || milliseconds <= 0)
        return;
    m_timeout = milliseconds;
    m_timer.setInterval(m_timeout);
    if (m_enabled && !m_idle)
        m_timer.start();
    Q_EMIT timeoutChanged();
}

void IdleMonitor::setEnabled(bool enabled)
{
    if (enabled == m_enabled)
        return;
    m_enabled = enabled;
    if (m_enabled) {
        m_timer.start();
    } else {
        m_timer.stop();
        setIdle(false);
    }
    Q_EMIT enabledChanged();
}

void IdleMonitor::reset()
{
    setIdle(false);
    if (m_enabled)
        m_timer.start();
}

bool IdleMonitor::eventFilter(QObject *watched, QEvent *event)
{
    switch (event->type()) {
    case QEvent::KeyPress:
    case QEvent::MouseButtonPress:
    case QEvent::MouseMove:
    case QEvent::Wheel:
    case QEvent::TouchBegin:
        // The application object sees each event once per receiver; restarting a running timer
        // is cheap, so no filtering by receiver.
        reset();
        break;
    default:
        break;
    }
    return QObject::eventFilter(watched, event);
}

void IdleMonitor::setIdle(bool idle)
{
    if (idle == m_idle)
        return;
    m_idle = idle;
    Q_EMIT idleChanged();
}

} // namespace Confab::App
