#pragma once

// Registers Confab::LocalServer (the bundled server run in-process, "Host on this computer") as
// the QML type LocalServer when the library provides it (target Confab::Host). Without it the
// sign-in page hides its Host button: HostSupport.available is false.

#include <QtCore/QObject>
#include <QtCore/QStandardPaths>
#include <QtQml/qqml.h>

#if defined(CONFAB_APP_HAVE_HOST)
#include <ConfabHost/localserver.h>
#endif

namespace Confab::App {

//! \brief `HostSupport.available`: whether this build can host a server in-process.
class HostSupport : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON
    Q_PROPERTY(bool available READ isAvailable CONSTANT)
    Q_PROPERTY(QString dataDir READ dataDir CONSTANT)
public:
    using QObject::QObject;
    //! \brief Where a server hosted by this app keeps its database: the app's data directory.
    [[nodiscard]] static QString dataDir()
    {
        return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation)
            + QStringLiteral("/server");
    }
    [[nodiscard]] static bool isAvailable()
    {
#if defined(CONFAB_APP_HAVE_HOST)
        return true;
#else
        return false;
#endif
    }
};

#if defined(CONFAB_APP_HAVE_HOST)
struct ForeignLocalServer
{
    Q_GADGET
    QML_FOREIGN(Confab::LocalServer)
    QML_NAMED_ELEMENT(LocalServer)
};
#endif

} // namespace Confab::App
