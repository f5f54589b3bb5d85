#include "notifier.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QVariantMap>
#include <QtDBus/QDBusConnection>
#include <QtDBus/QDBusConnectionInterface>
#include <QtDBus/QDBusMessage>

using namespace Qt::StringLiterals;

namespace Confab::App {

Notifier::Notifier(QObject *parent)
    : QObject(parent)
{
}

bool Notifier::notify(const QString &title, const QString &body)
{
    ++m_count;
    m_lastTitle = title;
    m_lastBody = body;
    Q_EMIT notified();

    const auto bus = QDBusConnection::sessionBus();
    if (!bus.isConnected())
        return false;
    // org.freedesktop.Notifications.Notify(app_name, replaces_id, app_icon, summary, body,
    // actions, hints, expire_timeout). Sent without waiting: a slow notification daemon must not
    // block the UI thread.
    auto message = QDBusMessage::createMethodCall(u"org.freedesktop.Notifications"_s,
                                                  u"/org/freedesktop/Notifications"_s,
                                                  u"org.freedesktop.Notifications"_s, u"Notify"_s);
    message << QCoreApplication::applicationName() << uint(0) << u"confab"_s << title << body
            << QStringList{} << QVariantMap{{u"desktop-entry"_s, u"confab"_s}} << int(-1);
    return bus.send(message);
}

} // namespace Confab::App
