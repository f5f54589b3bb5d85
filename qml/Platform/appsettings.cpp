#include "appsettings.h"

namespace Confab::App {

AppSettings::AppSettings(QObject *parent)
    : QObject(parent)
{
}

QVariant AppSettings::value(const QString &key, const QVariant &defaultValue) const
{
    return m_settings.value(key, defaultValue);
}

void AppSettings::setValue(const QString &key, const QVariant &value)
{
    if (m_settings.value(key) == value)
        return;
    m_settings.setValue(key, value);
    m_settings.sync();
    Q_EMIT valueChanged(key);
}

void AppSettings::remove(const QString &key)
{
    m_settings.remove(key);
    m_settings.sync();
    Q_EMIT valueChanged(key);
}

} // namespace Confab::App
