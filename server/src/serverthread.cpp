#include "serverthread.h"

#include "server.h"

#include <QtCore/QEventLoop>

#include <memory>

namespace Confab::Server {

ServerThread::ServerThread(const QString &threadName)
{
    m_context = new QObject;
    m_context->moveToThread(&m_thread);
    QObject::connect(&m_thread, &QThread::finished, m_context, &QObject::deleteLater);
    m_thread.setObjectName(threadName);
    m_thread.start();
}

ServerThread::~ServerThread()
{
    stop();
    m_thread.quit();
    m_thread.wait();
}

bool ServerThread::start(const ServerConfig &config, QString *error,
                         const std::function<void(Server &)> &onStarted)
{
    if (m_server)
        return true;
    QMetaObject::invokeMethod(
        m_context,
        [&] {
            // Created in its thread, so its sockets and timers belong to that thread.
            auto server = std::make_unique<Server>(config);
            if (!server->start(error))
                return;
            if (onStarted)
                onStarted(*server);
            m_port = server->port();
            m_url = server->webSocketUrl();
            m_server = server.release();
        },
        Qt::BlockingQueuedConnection);
    return m_server != nullptr;
}

void ServerThread::stop()
{
    if (!m_server)
        return;
    QMetaObject::invokeMethod(
        m_context,
        [this] {
            // Shut down gracefully, wait for stopped() in a nested loop (sessions close
            // asynchronously), then delete the server here, where its sockets and timers live.
            std::unique_ptr<Server> doomed(std::exchange(m_server, nullptr));
            bool stopped = false;
            QEventLoop loop;
            QObject::connect(doomed.get(), &Server::stopped, &loop, [&] {
                stopped = true;
                loop.quit();
            });
            doomed->shutdown();
            if (!stopped)
                loop.exec();
        },
        Qt::BlockingQueuedConnection);
}

void ServerThread::run(const std::function<void(Server &)> &f)
{
    if (!m_server)
        return;
    QMetaObject::invokeMethod(m_context, [&] { f(*m_server); }, Qt::BlockingQueuedConnection);
}

} // namespace Confab::Server
