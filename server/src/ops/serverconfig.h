#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtNetwork/QHostAddress>

#include <chrono>

namespace Confab::Server {

using namespace std::chrono_literals;

enum class LogFormat { Json, Text };

//! \brief JWT settings. Auth is on only when `enabled` and a key (secret or public key) is set.
struct AuthConfig
{
    bool enabled = false;
    QByteArray secret;      //!< HS256/384/512 shared secret (AUTH_SECRET)
    QString publicKeyFile;  //!< PEM public key for RS256/ES256 verification (AUTH_PUBLIC_KEY_FILE)
    QString privateKeyFile; //!< PEM private key, used only by `confab-server token` for RS256/ES256
    QStringList algorithms; //!< allow-list; empty = every algorithm the configured keys can verify
    QString issuer;         //!< when set, tokens must carry this `iss`
    QString audience;       //!< when set, tokens must carry this `aud`
    //! LAN sign-in (JOIN_PASSWORD): when set, `POST /api/session` trades a name and this password
    //! for a token, and JWT mode is on (with a random per-process secret if no key is set).
    QString joinPassword;
    //! The operator's credential (ADMIN_TOKEN): `Authorization: Bearer <it>` reaches the
    //! operator routes (all channel listings, broadcast to any channel, /api/stats, /metrics).
    //! Tokens whose `admin` claim is true have the same rights. Empty: in open mode every caller
    //! is the operator (a trusted LAN); in JWT mode only admin tokens are.
    QByteArray adminToken;
    //! Lifetime of a `POST /api/session` token: a working day and a night, so a laptop that
    //! sleeps overnight signs in again once a day, not every hour.
    std::chrono::seconds sessionTtl = 24h;
};

//! \brief LAN discovery: UDP beacons that let desktop apps list this server (docs/protocol.md).
struct DiscoveryConfig
{
    bool enabled = true;       //!< the binary announces itself; the test fixtures turn this off
    quint16 port = 41234;      //!< UDP port the beacons go to (apps listen there)
    QString serverName;        //!< shown in the apps' server list; empty = this host's name
    //! Empty = broadcast (255.255.255.255 and each interface's broadcast address); otherwise
    //! exactly these addresses (tests use 127.0.0.1).
    QList<QHostAddress> targets;
    //! A beacon every 2 s: apps drop a server 7 s after its last one, so two may be lost.
    std::chrono::milliseconds interval = 2s;
};

//! \brief Every limit the server enforces. Each has a default and the reason for it.
struct Limits
{
    //! The open-file limit here is 20000 per process; leave room for HTTP clients and storage.
    int maxConnections = 10000;
    //! A LAN host rarely runs more than a few clients; stops one host exhausting the sockets.
    int maxConnectionsPerIp = 256;
    //! Chat messages and presence fit easily; bounds the memory one frame can take.
    qsizetype maxMessageBytes = 100 * 1024;
    //! A chat client watches tens of channels; bounds per-connection fan-out bookkeeping.
    int maxChannelsPerConnection = 100;
    //! 10 a second on average sustains fast typing and bursts; one flood cannot starve the rest.
    int messagesPerMinute = 600;
    //! Presence metadata is a name and a status; anything bigger is multiplied by every member.
    qsizetype maxPresenceMetaBytes = 10 * 1024;
    //! A client that stops reading must not make the server hold its frames without bound;
    //! 8 MiB is tens of thousands of chat frames. Over it the client is closed (1008).
    qsizetype maxSendBufferBytes = 8 * 1024 * 1024;
    //! Honest clients see a few errors; a client rejected this often in a minute is closed (1008).
    int maxRejectsPerMinute = 60;
    //! Clients heartbeat every 25 s by default; 60 s tolerates one lost heartbeat plus latency.
    std::chrono::milliseconds idleTimeout = 60s;
    //! Request heads are a few hundred bytes; 16 KiB fits large cookies and tokens.
    qsizetype httpMaxHeaderBytes = 16 * 1024;
    //! REST bodies are events no bigger than a message, or small batches of them.
    qsizetype httpMaxBodyBytes = 1024 * 1024;
    //! Frees sockets of HTTP clients that stopped talking (keep-alive or slow senders).
    std::chrono::milliseconds httpIdleTimeout = 30s;
    //! A request head (HTTP or WebSocket upgrade) must be complete this soon after connecting.
    std::chrono::milliseconds requestHeadTimeout = 10s;
    //! Wrong join passwords per address per minute before 429: plenty for typos, far too few
    //! to guess a password.
    int sessionFailuresPerMinute = 10;
};

//! \brief Where chat messages are kept.
struct StorageConfig
{
    //! SQLite database `confab.db` lives here; created if missing. Relative to the working dir.
    QString dataDir = QStringLiteral("data");
    //! fsync every commit (SQLite synchronous=FULL): an acknowledged message survives a power
    //! cut, not only a crash. `normal` trades that for write speed.
    bool fullSync = true;
};

//! \brief Chat behaviour and its limits.
struct ChatConfig
{
    //! A reconnecting client is replayed at most this many missed messages; beyond it pages.
    int catchupLimit = 200;
    //! A typing indicator with no stop ends after this (clients renew every ~2 s).
    std::chrono::milliseconds typingTimeout = 3s;
    //! Characters in a message body: a long chat message, far below the frame limit.
    int maxMessageBody = 8000;
    //! HTTP long-poll waits this long for new messages; under common proxy idle timeouts (30 s+).
    std::chrono::milliseconds longPollTimeout = 25s;
};

//! \brief The whole server configuration. Built by ConfigLoader from flags, environment and .env.
struct ServerConfig
{
    QHostAddress bindAddress = QHostAddress::Any; //!< all interfaces, IPv4 and IPv6: LAN clients connect
    quint16 port = 4000;                          //!< 0 lets the OS choose (tests)
    int listenBacklog = 1024; //!< QWebSocketServer's own is 50; reconnect storms need more
    QStringList allowedOrigins; //!< empty = any Origin; otherwise exact matches, or "*"
    //! A second address serving only `GET /metrics` and `GET /health`, with no credential, for a
    //! Prometheus scraper on a private network (METRICS_BIND). Port 0 = none.
    QHostAddress metricsAddress = QHostAddress::LocalHost;
    quint16 metricsPort = 0;
    AuthConfig auth;
    Limits limits;
    StorageConfig storage;
    ChatConfig chat;
    DiscoveryConfig discovery;
    LogFormat logFormat = LogFormat::Json;
    QtMsgType logLevel = QtInfoMsg;
};

} // namespace Confab::Server
