#pragma once

#include "jwtverifier.h"
#include "ratelimiter.h"
#include "serverconfig.h"
#include "subscriber.h"

#include <ConfabProtocol/frame.h>

#include <QtCore/QDateTime>
#include <QtCore/QHash>
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
    void deliver(const QString &frame) override;

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
    TokenBucket m_bucket;
    StrikeCounter m_strikes;
    QTimer m_expiryTimer;
    qint64 m_lastActivityMs;
    bool m_finished = false;
    bool m_closing = false;
};

} // namespace Confab::Server
