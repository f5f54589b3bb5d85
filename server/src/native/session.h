#pragma once

#include "auth/jwtverifier.h"
#include "storage/messagestore.h"
#include "ops/ratelimiter.h"
#include "ops/serverconfig.h"
#include "engine/subscriber.h"

#include <ConfabProtocol/frame.h>

#include <QtCore/QDateTime>
#include <QtCore/QHash>
#include <QtCore/QSet>
#include <QtCore/QObject>
#include <QtCore/QTimer>
#include <QtWebSockets/QWebSocket>

#include <memory>
#include <optional>

namespace Confab::Server {

class Hub;
class Metrics;

//! \brief What every session shares: configuration, the verifier, metrics and the hub.
struct SessionContext
{
    const ServerConfig &config;
    const JwtVerifier *verifier; //!< null: open mode, names are self-declared
    Metrics &metrics;
    Hub &hub;
    MessageStore &store;
    //! Outlives every session (the server): store callbacks whose effect others must see (a
    //! message's fan-out) run in its context, so a sender that disconnects before the commit
    //! cannot take the delivery down with it.
    QObject *owner;
};

//! \brief One WebSocket connection speaking the native protocol (docs/protocol.md).
//!
//! Owns its socket and all per-connection state (memberships, limits, token expiry), and lives
//! on one thread. Turns frames into hub operations and replies; never touches other sessions.
class Session : public QObject, public Subscriber
{
    Q_OBJECT
public:
    Session(quint64 id, QWebSocket *socket, const SessionContext &context, QObject *parent = nullptr);
    ~Session() override;

    [[nodiscard]] quint64 subscriberId() const override { return m_id; }
    [[nodiscard]] QString clientId() const override { return m_clientId; }
    [[nodiscard]] Dialect dialect() const override { return Dialect::Native; }
    void deliver(const QString &topic, const QString &frame, qint64 messageSeq) override;

    //! \brief Monotonic ms of the last frame received, for the server's idle sweep.
    [[nodiscard]] qint64 lastActivityMs() const { return m_lastActivityMs; }
    [[nodiscard]] QStringList topics() const { return m_memberships.keys(); }
    [[nodiscard]] QWebSocket *socket() const { return m_socket; }

    //! \brief Starts the closing handshake with \a code and \a reason (at most 123 bytes).
    void close(QWebSocketProtocol::CloseCode code, const QString &reason);

Q_SIGNALS:
    //! \brief The socket is gone and the session has left every channel; delete it later.
    void finished(Confab::Server::Session *session);

private:
    struct Membership
    {
        bool self = false;
        bool ack = false;
        std::optional<QString> presenceKey;
        std::optional<TokenClaims> claims; // auth mode: the token this channel was joined with
        bool chat = false;     // joined with config.chat
        QString kind;          // "public", "private" or "dm"
        // A chat join is completed asynchronously (read position, replay). Until then live
        // frames for the topic are held, so the reply and the replay come first.
        bool joining = false;
        quint64 generation = 0; // which join this is, so a late answer for an older one is ignored
        std::optional<QString> joinRef; // the join's ref, for its (late) reply
        qint64 replayedUpTo = 0; // live messages up to this seq were in the replay: not resent
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
    void handleLeave(const Protocol::Frame &frame);
    void handleBroadcast(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handlePresence(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handlePresenceState(const Protocol::Frame &frame);
    void handleAccessToken(const Protocol::Frame &frame);
    void handleHello(const Protocol::Frame &frame);

    // Joins (session.cpp) and chat (sessionchat.cpp)
    void continueJoin(JoinPlan plan);
    void completeChatJoin(const QString &topic, quint64 generation, const QJsonObject &chatInfo,
                          const QList<StoredMessage> &replay);
    void finishChatJoin(const QString &topic, quint64 generation, const QJsonObject &chatInfo,
                        const QList<StoredMessage> &replay);
    void failJoin(const Protocol::Frame &request, quint64 generation, QLatin1StringView code, const QString &reason);
    void handleChat(const Protocol::Frame &frame, qint64 receivedAtNs);
    bool requireChat(const Protocol::Frame &frame, bool needsMembership = true);
    void handleSend(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handleEdit(const Protocol::Frame &frame, qint64 receivedAtNs, bool remove);
    void handleHistory(const Protocol::Frame &frame);
    void handleReaction(const Protocol::Frame &frame, qint64 receivedAtNs, bool add);
    void handleRead(const Protocol::Frame &frame, qint64 receivedAtNs);
    void handleUnread(const Protocol::Frame &frame);
    void handleTyping(const Protocol::Frame &frame, bool start);
    void handleCreateChannel(const Protocol::Frame &frame);
    void handleInvite(const Protocol::Frame &frame);
    void rejectStore(const Protocol::Frame &frame, StoreError error, const QString &message);
    //! Sets the connection's user; false (with an error reply) when it conflicts with one set.
    bool adoptUser(const ChatUser &user, const Protocol::Frame &frame);
    [[nodiscard]] QJsonObject userJson() const;

    void send(const QString &frame); //!< every outgoing frame; enforces the send-buffer limit
    void sendFrame(const Protocol::Frame &frame);
    void sendPresenceState(const QString &topic);
    void replyOk(const Protocol::Frame &request, const QJsonObject &response = {});
    //! Refuses an input: error reply (or `chan:error` when unaddressable), metrics, strikes.
    void reject(QLatin1StringView code, const QString &reason, const std::optional<QString> &ref,
                const QString &topic, const QJsonObject &extra = {});
    void closeChannel(const QString &topic, QLatin1StringView code, const QString &reason);
    void leaveAll();
    void armExpiryTimer();
    void expireTokens();

    const quint64 m_id;
    const QString m_clientId;
    QWebSocket *m_socket;
    SessionContext m_context;
    QHash<QString, Membership> m_memberships;
    QSet<QString> m_pendingJoins; // joins waiting for an access check: not members yet
    std::optional<ChatUser> m_user;
    quint64 m_nextJoinGeneration = 0;
    TokenBucket m_bucket;
    StrikeCounter m_strikes;
    QTimer m_expiryTimer;
    qint64 m_lastActivityMs;
    bool m_finished = false;
    bool m_closing = false;
};

} // namespace Confab::Server
