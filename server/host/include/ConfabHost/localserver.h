#pragma once

#include <ConfabHost/confabhost_export.h>

#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtCore/QUrl>

#include <memory>

namespace Confab {

//! \brief The Confab server inside an application ("Host on this computer"): the real
//! `confab-server`, on a thread of its own, listening on every IPv4 interface so that others on
//! the LAN can connect.
//!
//! Set the properties, then start(). Changes to `port`, `dataDir`, `joinPassword`, `serverName` and
//! `discovery` while running apply at the next start(). History is kept in `dataDir`, so a
//! stopped and restarted server still has its messages.
//! \code
//! Confab::LocalServer host;
//! host.setJoinPassword(u"team"_s);
//! if (!host.start())
//!     qWarning() << host.errorString();
//! client.setUrl(host.url());               // this computer
//! shareWithOthers(host.lanUrls());         // e.g. ws://192.168.1.20:4000/
//! \endcode
//! With a join password, clients sign in with `POST /api/session` (name and password in, a
//! token out); the token is signed with a random secret made at each start(), so tokens end
//! with the server run. With `discovery`, the server announces itself on the LAN
//! (Confab::ServerDiscovery lists it).
//!
//! Not registered with QML by this library (it does not link QtQml); an application registers
//! it with `QML_FOREIGN(Confab::LocalServer)`. Use it from one thread, the one that created it:
//! start() and stop() block until the server thread has done what they say.
class CONFABHOST_EXPORT LocalServer : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool running READ isRunning NOTIFY runningChanged)
    Q_PROPERTY(int port READ port WRITE setPort NOTIFY portChanged)
    Q_PROPERTY(QString dataDir READ dataDir WRITE setDataDir NOTIFY dataDirChanged)
    Q_PROPERTY(QString joinPassword READ joinPassword WRITE setJoinPassword NOTIFY joinPasswordChanged)
    Q_PROPERTY(QString serverName READ serverName WRITE setServerName NOTIFY serverNameChanged)
    Q_PROPERTY(bool discovery READ discovery WRITE setDiscovery NOTIFY discoveryChanged)
    Q_PROPERTY(QUrl url READ url NOTIFY urlChanged)
    Q_PROPERTY(QStringList lanUrls READ lanUrls NOTIFY lanUrlsChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)
public:
    //! \brief The port tried first unless `port` is set: the server's usual one.
    static constexpr int DefaultPort = 4000;

    //! \brief A stopped server with the defaults below.
    explicit LocalServer(QObject *parent = nullptr);
    //! \brief Stops the server (clients see close code 1001) and joins its thread.
    ~LocalServer() override;

    //! \brief Starts the server; true at once if it is running. On failure returns false and
    //! sets `errorString` (data directory unusable, no port free, ...).
    Q_INVOKABLE bool start();
    //! \brief Stops the server: clients see their connections close (1001). Returns when they
    //! have closed (or after a 3 s grace).
    Q_INVOKABLE void stop();

    //! \brief Whether the server is running.
    [[nodiscard]] bool isRunning() const;

    //! \brief While running, the port listened on; otherwise the port the next start() tries.
    //! Default DefaultPort. 0 lets the OS choose; a port that is taken falls back to a free one
    //! (the property then shows the port used).
    [[nodiscard]] int port() const;
    //! \brief Sets the port the next start() tries (0 = any free port).
    void setPort(int port);

    //! \brief Where the server keeps its database; default
    //! `QStandardPaths::AppDataLocation + "/server"`. Created if missing.
    [[nodiscard]] QString dataDir() const;
    //! \brief Sets `dataDir`.
    void setDataDir(const QString &dir);

    //! \brief The join password; empty (the default) for an open server, where names are
    //! self-declared. When set, JWT mode is on and clients sign in with `POST /api/session`.
    [[nodiscard]] QString joinPassword() const;
    //! \brief Sets `joinPassword`.
    void setJoinPassword(const QString &password);

    //! \brief The name the server announces on the LAN; default this computer's host name.
    [[nodiscard]] QString serverName() const;
    //! \brief Sets `serverName`.
    void setServerName(const QString &name);

    //! \brief Whether the server announces itself on the LAN (UDP beacons); default true.
    [[nodiscard]] bool discovery() const;
    //! \brief Sets `discovery`.
    void setDiscovery(bool enabled);

    //! \brief `ws://127.0.0.1:<port>/` while running, for a client on this computer; else empty.
    [[nodiscard]] QUrl url() const;
    //! \brief While running, `ws://<address>:<port>/` for each IPv4 address of this computer
    //! other than loopback: what others on the LAN use. Empty when stopped or offline.
    [[nodiscard]] QStringList lanUrls() const;
    //! \brief Why the last start() failed; empty after a successful one.
    [[nodiscard]] QString errorString() const;

Q_SIGNALS:
    //! \brief `running` changed.
    void runningChanged();
    //! \brief `port` changed.
    void portChanged();
    //! \brief `dataDir` changed.
    void dataDirChanged();
    //! \brief `joinPassword` changed.
    void joinPasswordChanged();
    //! \brief `serverName` changed.
    void serverNameChanged();
    //! \brief `discovery` changed.
    void discoveryChanged();
    //! \brief `url` changed (at start() and stop()).
    void urlChanged();
    //! \brief `lanUrls` changed (at start() and stop()).
    void lanUrlsChanged();
    //! \brief `errorString` changed.
    void errorStringChanged();

private:
    class Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab
