#include "testserver.h"

#include <QtCore/QDebug>

namespace Confab::Testing {

Server::ServerConfig TestServer::defaultConfig()
{
    Server::ServerConfig config;
    config.bindAddress = QHostAddress::LocalHost;
    config.port = 0;
    config.logLevel = QtWarningMsg;
    return config;
}

TestServer::TestServer(Server::ServerConfig config)
    : m_server(std::make_unique<Server::Server>(std::move(config)))
{
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
