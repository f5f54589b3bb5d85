#pragma once

#include "ConfabClient/client.h"

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
};

} // namespace Confab
