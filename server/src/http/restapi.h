#pragma once

#include <QtCore/QObject>

#include <memory>

class QTcpServer;

namespace Confab::Server {

class Server;

//! \brief The REST API (README "REST API"): health, stats, metrics, channels, broadcast.
//!
//! Routes are served by Qt's QHttpServer on the server's listener; limits on head, body and
//! idle time are enforced before requests reach it (see Listener). Routes call the hub like a
//! session would, so delivery rules are never implemented twice.
class HttpApi : public QObject
{
    Q_OBJECT
public:
    explicit HttpApi(Server &server, QObject *parent = nullptr);
    ~HttpApi() override;

    //! \brief Serves HTTP connections that \a listener queues as pending (it must be listening).
    void bind(QTcpServer *listener);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab::Server
