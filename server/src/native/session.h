#pragma once

#include "engine/caller.h"
#include "engine/chatservice.h"
#include "engine/subscriber.h"
#include "ops/iplimits.h"
#include "ops/ratelimiter.h"
#include "ops/serverconfig.h"

#include <ConfabProtocol/frame.h>

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QPointer>
#include <QtCore/QSet>
#include <QtCore/QTimer>
#include <QtWebSockets/QWebSocket>

#include <functional>
#include <memory>
#include <optional>

class QTcpSocket;

namespace Confab::Server {

class Hub;
class Metrics;
class Policy;

//! \brief What every native session uses. All of it outlives every session (the Server destroys
//! sessions first, docs/architecture.md "Ownership and teardown").
struct SessionContext
{
    const ServerConfig &config;
    Metrics &metrics;
    Hub &hub;
    const Policy &policy;
    ChatService &chat;
    //! Takes over the TCP socket's close right before Qt closes it, so the close frame reaches
    //! a peer that is still sending (see Lingerer).
    std::function<void(QTcpSocket *)> closeGracefully;
};

//! \brief One WebSocket connection speaking the native protocol (docs/protocol.md): the native
//! door. Parses frames into hub and chat-service calls, asks the Policy at each join, and
//! encodes results and deliveries as native frames. Knows nothing of other sessions.
//!
//! Owns its sockets: the QWebSocket, the TCP socket it was upgraded from (which Qt 6.4's
//! QWebSocket does not own) and the per-address slot; the Server owns the session. Once the
//! socket is gone the session has left every channel (finished()) and touches nothing shared
//! again; the Server deletes it on the next pass of the event loop.
class Session : public QObject, public Subscriber
{
    Q_OBJECT
public:
    //! \param webSocket the upgraded connection; \a tcp the socket it was upgraded from (it uses
    //! it); \a slot the connection's per-address count
    Session(quint64 id, std::unique_ptr<QWebSocket> webSocket, std::unique_ptr<QTcpSocket> tcp,
            IpLimits::Slot slot, const SessionContext &context);
    ~Session() override;

    [[nodiscard]] quint64 subscriberId() const override { return m_id; }
    [[nodiscard]] QString clientId() const override { return m_clientId; }
    [[nodiscard]] Dialect dialect() const override { return Dialect::Native; }
    void deliver(const QString &topic, const QString &frame, qint64 messageSeq) override;

    //! \brief Monotonic ms of the last frame received, for the server's idle sweep.
    [[nodiscard]] qint64 lastActivityMs() const { return m_lastActivityMs; }
    [[nodiscard]] QStringList topics() const { return m_memberships.keys(); }
    [[nodiscard]] bool isFinished() const { return m_finished; }
    [[nodiscard]] const QWebSocket &webSocket() const { return *m_webSocket; }

    //! \brief Starts the closing handshake with \a code and \a reason (at most 123 bytes).
    void close(QWebSocketProtocol::CloseCode code, const QString &reason);
    //! \brief Drops the TCP connection with no close frame (fault injection in tests).
    void abort();

Q_SIGNALS:
    //! \brief The socket is gone and the session has left every channel; the owner deletes it.
    void finished(Confab::Server::Session *session);

private:
    struct Membership
    {
        bool self = false;
        bool ack = false;
        std::optional<QString> presenceKey; // the join's config.presence.key
        Caller caller;                      // who joined: JWT mode, the token this channel was joined with
        bool chat = false;                  // joined with config.chat
        // A chat join is completed asynchronously (read position, replay). Until then live
        // frames for the topic are held, so the reply and the replay come first.
        bool joining = false;
        quint64 generation = 0;          // which join this is, so a late answer for an older one is ignored
        std::optional<QString> joinRef;  // the join's ref, for its (late) reply
        qint64 replayedUpTo = 0;         // live messages up to this seq were in the replay: not resent
        struct Held
        {
            QString frame;
            qint64 seq;
        };
        QList<Held> held;
    };

    //! What a join asked for, carried through its asynchronous steps.
    struct JoinPlan
    {
        Protocol::Frame request;
        Membership membership;
        std::optional<qint64> sinceSeq;
    };

    void onText(const QString &message);
    void onBinary(const QByteArray &message);
    void onDisconnected();
    void handleFrame(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handleJoin(const Protocol::Frame &frame);
    void continueJoin(JoinPlan plan);
    void finishChatJoin(const QString &topic, quint64 generation, const ChatService::JoinState &state);
    void failJoin(const Protocol::Frame &request, quint64 generation, const Failure &failure);
    void handleLeave(const Protocol::Frame &frame);
    void handleBroadcast(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handlePresence(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handlePresenceState(const Protocol::Frame &frame);
    void handleAccessToken(const Protocol::Frame &frame);
    void handleHello(const Protocol::Frame &frame);
    // Chat events (sessionchat.cpp): parsed here, decided by the ChatService.
    void handleChat(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handleUnread(const Protocol::Frame &frame);
    void answer(const Protocol::Frame &frame, const ChatService::Result &result);

    //! Sets the connection's user; false (with an error reply) when it conflicts with one set.
    bool adoptCaller(const Caller &caller, const Protocol::Frame &frame);
    //! Who asks on \a topic: the channel's token (JWT mode) or the connection's user.
    [[nodiscard]] Caller callerFor(const QString &topic) const;

    void send(const QString &frame); //!< every outgoing frame; enforces the send-buffer limit
    void sendFrame(const Protocol::Frame &frame);
    void sendPresenceState(const QString &topic);
    void replyOk(const Protocol::Frame &request, const QJsonObject &response = {});
    //! Refuses an input: an error reply on the topic, on `$system` with the ref, or a `chan:error`
    //! (Protocol::rejectionFrame()); counts it and the connection's strikes.
    void reject(const Failure &failure, const std::optional<QString> &ref, const QString &topic);
    void closeChannel(const QString &topic, QLatin1StringView code, const QString &reason);
    void leaveAll();
    void armExpiryTimer();
    void expireTokens();

    const quint64 m_id;
    const QString m_clientId;
    SessionContext m_context;
    // Sockets: destroyed in reverse order of declaration, the WebSocket before the TCP socket it
    // uses, the per-address slot last. The TCP socket is a QPointer because a later Qt may
    // delete it along with the WebSocket.
    IpLimits::Slot m_slot;
    QPointer<QTcpSocket> m_tcp;
    std::unique_ptr<QWebSocket> m_webSocket;
    QHash<QString, Membership> m_memberships;
    QSet<QString> m_pendingJoins; // joins waiting for the store's access check: not members yet
    Caller m_caller;              // the connection's identity (hello, or the first join that says who)
    quint64 m_nextJoinGeneration = 0;
    TokenBucket m_bucket;
    StrikeCounter m_strikes;
    QTimer m_expiryTimer;
    qint64 m_lastActivityMs;
    bool m_finished = false;
    bool m_closing = false;
};

} // namespace Confab::Server
