#pragma once

#include <QtCore/QObject>
#include <QtCore/QSettings>
#include <QtCore/QVariant>
#include <QtQml/qqmlregistration.h>

namespace Confab::App {

//! \brief The app's persistent settings (QSettings with the application's organization and
//! name), for QML: `AppSettings { id: settings }` then `settings.value("server", "")`.
//!
//! Qt 6.4 has no QtCore.Settings and Qt.labs.settings is an extra package; this is the few lines
//! of QSettings the app needs. Values are written at once (sync on every set).
class AppSettings : public QObject
{
    Q_OBJECT
    QML_ELEMENT
public:
    explicit AppSettings(QObject *parent = nullptr);

    //! \brief The stored value of \a key, or \a defaultValue.
    Q_INVOKABLE QVariant value(const QString &key, const QVariant &defaultValue = {}) const;
    //! \brief Stores \a value under \a key.
    Q_INVOKABLE void setValue(const QString &key, const QVariant &value);
    //! \brief Removes \a key.
    Q_INVOKABLE void remove(const QString &key);

Q_SIGNALS:
    //! \brief \a key was set or removed.
    void valueChanged(const QString &key);

private:
    mutable QSettings m_settings;
};

} // namespace Confab::App
