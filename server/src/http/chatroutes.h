#pragma once

#include "http/router.h"
#include "ops/serverconfig.h"

#include <QtCore/QObject>

#include <memory>
#include <unordered_map>

namespace Confab::Server {

class ChatService;
class Hub;
class Policy;

//! \brief The chat HTTP fallback for clients that cannot hold a WebSocket (docs/protocol.md
//! "HTTP fallback"): `POST /messages`, `GET /channels/<channel>/messages`, `GET /poll`
//! (long-poll), `POST /typing`, `GET|POST /presence/<channel>`.
//!
//! Parses requests into the ChatService (the same service the WebSocket door uses) and encodes
//! its results as JSON with the status httpStatusFor() gives. Owns the long-polls that wait for
//! the next message: each is answered by the message, by its timeout, or by shutdown().
class ChatRoutes : public QObject
{
    Q_OBJECT
public:
    ChatRoutes(const ServerConfig &config, ChatService &chat, Hub &hub, const Policy &policy, HttpRouter &router);
    ~ChatRoutes() override;

    //! \brief Answers every waiting long-poll now (with what it has: nothing new), so clients
    //! get an answer rather than a reset when the server stops.
    void shutdown();

private:
    class PollWait;
    void postMessage(const HttpRequest &request, const HttpResponder &responder);
    void getMessages(const HttpRequest &request, const HttpResponder &responder);
    void poll(const HttpRequest &request, const HttpResponder &responder);
    void postTyping(const HttpRequest &request, const HttpResponder &responder);
    void getPresence(const HttpRequest &request, const HttpResponder &responder);
    void postPresence(const HttpRequest &request, const HttpResponder &responder);
    void wait(const QString &topic, qint64 since, std::chrono::milliseconds timeout, const HttpResponder &responder);
    void endWait(PollWait *wait);

    const ServerConfig &m_config;
    ChatService &m_chat;
    Hub &m_hub;
    const Policy &m_policy;
    std::unordered_map<PollWait *, std::unique_ptr<PollWait>> m_waits;
    bool m_shuttingDown = false;
};

} // namespace Confab::Server
