#pragma once

#include "ConfabClient/client.h"

#include "outbox_p.h"

#include <ConfabProtocol/frame.h>

#include <QtCore/QDeadlineTimer>
#include <QtCore/QHash>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtWebSockets/QWebSocket>

#include <memory>
#include <optional>

namespace Confab {

class Reply;

//! Everything of a Client that is not its API: the socket, refs and pending requests,
//! heartbeats, reconnects and the push buffer's accounting. Lives on the client's thread.
class ClientPrivate
{
public:
    explicit ClientPrivate(Client *q);
    ~ClientPrivate();

    //! What to do with the server's reply to a request; the payload is `{status, response}`.
    using ReplyHandler = std::function<void(const QJsonObject &payload)>;
    struct Pending
    {
        QPointer<Channel> channel;
        ReplyHandler onReply;
        std::function<void()> onTimeout;
        std::function<void(const QString &code, const QString &message)> onLost;
        QDeadlineTimer deadline;
    };

    // Connection
    void open();
    void onSocketOpen();
    void onEstablished();
    void onSocketEnded();
    void onText(const QString &text);
    void scheduleReconnect();
    void setState(Client::State state);
    void setError(const QString &code, const QString &message);
    void heartbeat();
    void sweepTimeouts();

    // Requests
    //! Sends a frame that expects a reply; returns its ref. The handlers run at most once.
    QString request(const QString &topic, const QString &event, const QJsonObject &payload,
                    const std::optional<QString> &joinRef, Pending pending);
    //! Sends a frame with a null ref (no reply wanted).
    void post(const QString &topic, const QString &event, const QJsonObject &payload,
              const std::optional<QString> &joinRef);
    void send(const Protocol::Frame &frame);
    //! Fails every request awaiting a reply (their refs die with the connection).
    void failPending(const QString &code, const QString &message);
    //! Calls \a done with the token for a join: from the provider, or the static one.
    void fetchToken(const QObject *context, std::function<void(const QString &token)> done);

    // Push buffer accounting (the pushes themselves wait in their channel)
    bool reserveBufferSlot();
    void releaseBufferSlots(int n);

    Channel *findChannel(const QString &topic) const;

    // Identity (docs/protocol.md "Identity")
    //! The connection is up: say hello (if there is anyone to be), then let channels join.
    void beginSession();
    void sendHello(const QString &token);
    void onHelloReply(const QJsonObject &payload);
    //! Lets every channel join (hello, if any, is on the wire before the first join).
    void channelsUp();
    void setUserInternal(const QString &id, const QString &name);

    // The on-disk queue of chat messages (outbox_p.h)
    //! The user the queue file is for: userId, or the static token's subject before hello.
    QString queueUserId() const;
    //! The file for the current server and user; empty while the user is unknown.
    QString currentQueueFile() const;
    //! Loads the queue file if it is not the one loaded (first use, another user or server).
    void ensureQueue();
    //! Writes the queue (atomically) and tells about the count.
    void saveQueue();
    qsizetype indexOfQueued(const QString &clientId) const;
    void enqueue(const QueuedMessage &message);
    void removeQueued(const QString &clientId);
    //! After connecting: a chat channel for every topic with queued messages and no channel.
    void adoptOrphanedTopics();
    bool queueActive() const { return !queueFile.isEmpty() || !outbox.isEmpty(); }

    Client *q;
    // A fresh socket per attempt: QWebSocket keeps the close code and reason of its last
    // connection, which would otherwise be reported again for a later, reasonless drop.
    std::unique_ptr<QWebSocket> socket;
    QList<QUrl> urls;
    int urlIndex = 0;
    QUrl currentUrl;
    Client::State state = Client::State::Disconnected;
    bool wanted = false;       // connectToServer() was called and not undone
    bool socketActive = false; // an attempt or connection is under way on the socket
    bool socketOpen = false;   // the WebSocket handshake is done (not yet Connected: see onSocketOpen)
    QString token;
    Client::TokenProvider tokenProvider;
    Client::Backoff backoff;
    int heartbeatInterval = 25000;
    int requestTimeout = 10000;
    int bufferLimit = 100;
    int buffered = 0;
    int attempt = 0;
    QString errorCode;
    QString errorMessage;
    QTimer heartbeatTimer;
    QTimer reconnectTimer;
    QTimer connectTimer;
    QTimer timeoutSweep;
    std::optional<QString> heartbeatRef;
    quint64 nextRef = 0;
    QHash<QString, Pending> pending;
    QList<Channel *> channels;
    ChannelListModel *model = nullptr;

    // Chat
    QString userId;
    QString userName;
    bool userSet = false;         // setUser() was called (the app declares the identity)
    bool hasServerIdentity = false; // the server confirmed an identity on this connection
    bool joinsReady = false;      // hello (if any) is on the wire: joins may follow it
    quint64 session = 0;          // counts connections, so late callbacks see theirs ended
    quint64 helloSession = 0;     // the session in which hello was last sent
    QString storagePath;          // empty: the default
    QList<QueuedMessage> outbox;  // every channel's, in send order (per topic = send order)
    QString queueFile;            // the file outbox belongs to; empty: not loaded (memory only)
};

} // namespace Confab
