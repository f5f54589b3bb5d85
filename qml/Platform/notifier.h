#pragma once

#include <QtCore/QObject>
#include <QtQml/qqmlregistration.h>

namespace Confab::App {

//! \brief Desktop notifications through the freedesktop notification service (D-Bus), which
//! every Linux desktop runs; without a session bus notify() returns false and nothing happens.
//! `lastTitle` / `lastBody` / `count` record what was asked, so tests can check it.
class Notifier : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(int count READ count NOTIFY notified)
    Q_PROPERTY(QString lastTitle READ lastTitle NOTIFY notified)
    Q_PROPERTY(QString lastBody READ lastBody NOTIFY notified)
public:
    explicit Notifier(QObject *parent = nullptr);

    //! \brief Shows \a title and \a body; true if the desktop's notification service took it.
    Q_INVOKABLE bool notify(const QString &title, const QString &body);

    [[nodiscard]] int count() const { return m_count; }
    [[nodiscard]] QString lastTitle() const { return m_lastTitle; }
    [[nodiscard]] QString lastBody() const { return m_lastBody; }

Q_SIGNALS:
    void notified();

private:
    int m_count = 0;
    QString m_lastTitle;
    QString m_lastBody;
};

} // namespace Confab::App
