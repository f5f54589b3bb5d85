#pragma once

#include "ops/serverconfig.h"

#include <QtCore/QObject>
#include <QtCore/QThread>
#include <QtCore/QUrl>

#include <functional>

namespace Confab::Server {

class Server;

//! \brief Runs a Server on a thread of its own, for hosts that embed it (Confab::LocalServer,
//! the desktop app's "Host on this computer") and must not share their GUI thread with it.
//!
//! Every method is called from the owner's thread and blocks until the server thread has done
//! it. The Server is created, used and deleted in the server thread, where its sockets live.
class ServerThread
{
public:
    explicit ServerThread(const QString &threadName = QStringLiteral("Confab::Server"));
    //! \brief Stops the server if running and joins the thread.
    ~ServerThread();
    ServerThread(const ServerThread &) = delete;
    ServerThread &operator=(const ServerThread &) = delete;

    //! \brief Creates and starts a Server with \a config; false with \a error on failure.
    //! \a onStarted, if given, runs in the server thread right after a successful start (to
    //! connect signals, say).
    [[nodiscard]] bool start(const ServerConfig &config, QString *error,
                             const std::function<void(Server &)> &onStarted = {});
    //! \brief Graceful shutdown (close code 1001 to clients), then deletes the server. Returns
    //! when every connection has closed or the server's grace has passed.
    void stop();
    [[nodiscard]] bool isRunning() const { return m_server != nullptr; }

    //! \brief Runs \a f with the server in the server thread and waits; not while stopped.
    void run(const std::function<void(Server &)> &f);

    [[nodiscard]] quint16 port() const { return m_port; }   //!< after start()
    [[nodiscard]] QUrl webSocketUrl() const { return m_url; } //!< after start()

    //! \brief The object living in the server thread (a context for queued calls into it).
    [[nodiscard]] QObject *context() const { return m_context; }
    //! \brief The server, or null when stopped. Use it only in the server thread (run()), or
    //! while that thread is known to be blocked (a test fixture's pause gate).
    [[nodiscard]] Server *server() const { return m_server; }

private:
    QThread m_thread;
    QObject *m_context = nullptr;
    Server *m_server = nullptr;
    quint16 m_port = 0;
    QUrl m_url;
};

} // namespace Confab::Server
