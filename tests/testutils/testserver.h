#pragma once

#include "server.h"
#include "ops/serverconfig.h"

#include <QtCore/QTemporaryDir>
#include <QtCore/QUrl>

#include <memory>

namespace Confab::Testing {

//! \brief A real Confab server in this process on 127.0.0.1 and an OS-chosen port.
//!
//! \code
//! TestServer server;              // defaults: loopback, port 0, open mode
//! QVERIFY(server.start());
//! client.open(server.webSocketUrl());
//! \endcode
class TestServer
{
public:
    //! \brief Loopback, port 0, warnings-only logging; limits as shipped. The data directory is
    //! empty: the TestServer then uses a temporary one of its own (see dataDir()).
    static Server::ServerConfig defaultConfig();

    explicit TestServer(Server::ServerConfig config = defaultConfig());
    ~TestServer();

    //! \brief Starts listening; on failure returns false and logs why (use with QVERIFY).
    [[nodiscard]] bool start();

    [[nodiscard]] Server::Server &server() const { return *m_server; }
    [[nodiscard]] quint16 port() const { return m_server->port(); }
    [[nodiscard]] QUrl webSocketUrl(const QString &path = QStringLiteral("/")) const;
    [[nodiscard]] QUrl httpUrl(const QString &path = QString()) const;
    //! \brief Where the SQLite database is (a temporary directory unless the config named one).
    [[nodiscard]] QString dataDir() const;

private:
    QTemporaryDir m_dataDir; // outlives the server (declared first)
    std::unique_ptr<Server::Server> m_server;
};

} // namespace Confab::Testing
