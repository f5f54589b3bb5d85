#include "testserver.h"

#include <QtCore/QDebug>

namespace Confab::Testing {

Server::ServerConfig TestServer::defaultConfig()
{
    Server::ServerConfig config;
    config.bindAddress = QHostAddress::LocalHost;
    config.port = 0;
    config.logLevel = QtWarningMsg;
    config.storage.dataDir.clear(); // each TestServer gets its own temporary database
    config.storage.fullSync = false; // tests check crash safety with their own servers
    config.discovery.enabled = false; // no UDP beacons on the LAN from tests
    return config;
}

TestServer::TestServer(Server::ServerConfig config)
{
    if (config.storage.dataDir.isEmpty())
        config.storage.dataDir = m_dataDir.path();
    m_server = std::make_unique<Server::Server>(std::move(config));
}

QString TestServer::dataDir() const
{
    return m_server->config().storage.dataDir;
}

TestServer::~TestServer() = default;

bool TestServer::start()
{
    QString error;
    if (!m_server->start(&error)) {
        qWarning().noquote() << "TestServer failed to start:" << error;
        return false;
    }
    return m_server->port() > 0;
}

QUrl TestServer::webSocketUrl(const QString &path) const
{
    QUrl url = m_server->webSocketUrl();
    url.setPath(path);
    return url;
}

QUrl TestServer::httpUrl(const QString &path) const
{
    QUrl url = m_server->httpUrl();
    url.setPath(path);
    return url;
}

} // namespace Confab::Testing
