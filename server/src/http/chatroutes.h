#pragma once

#include "net/listener.h"
#include "storage/messagestore.h"

#include <functional>
#include <optional>

#include <QtCore/QObject>

namespace Confab::Server {

class Server;

//! \brief The chat HTTP fallback for clients that cannot hold a WebSocket (docs/rest.md in the
//! README): `POST /messages`, `GET /channels/:channel/messages`, `GET /poll` (long-poll),
//! `POST /typing`, `GET|POST /presence/:channel`.
//!
//! Why not QHttpServer routes: these answer after the store commits or after a long wait, and
//! QHttpServer 6.4 cannot answer later safely (its deferred responders keep a raw socket pointer,
//! and its QFuture path keeps a reference to a request that is gone by then). So the listener
//! hands these requests here: each is read whole (the guard has already bounded head and body),
//! answered once, and the connection closed.
class ChatHttp : public QObject
{
    Q_OBJECT
public:
    explicit ChatHttp(Server &server, QObject *parent = nullptr);
    ~ChatHttp() override;

    //! \brief Takes \a socket if \a head is one of the chat routes (true), else leaves it.
    bool take(QTcpSocket *socket, const RequestHead &head);

private:
    class Exchange;
    void dispatch(Exchange *exchange);
    //! Who asks, and whether they may use \a topic; calls \a next, or answers the refusal.
    void access(Exchange *exchange, const QJsonObject &body, const QString &topic, bool needUser,
                std::function<void(std::optional<ChatUser>)> next);
    void postMessage(Exchange *exchange);
    void getMessages(Exchange *exchange, const QString &topic);
    void poll(Exchange *exchange);
    void postTyping(Exchange *exchange);
    void getPresence(Exchange *exchange, const QString &topic);
    void postPresence(Exchange *exchange, const QString &topic);

    Server &m_server;
};

} // namespace Confab::Server
