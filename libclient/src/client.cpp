#include "ConfabClient/client.h"

#include "ConfabClient/channellistmodel.h"
#include "ConfabClient/messagemodel.h"
#include "ConfabClient/reply.h"
#include "reply_p.h"
#include "channel_p.h"
#include "client_p.h"
#include "logging_p.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QDir>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QRandomGenerator>
#include <QtCore/QStandardPaths>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab {

// Debug output is opt-in (QT_LOGGING_RULES="confab.client*.debug=true"): an application that
// embeds the library should not see frame dumps by default.
Q_LOGGING_CATEGORY(lcClient, "confab.client", QtInfoMsg)
Q_LOGGING_CATEGORY(lcClientNet, "confab.client.net", QtInfoMsg)
Q_LOGGING_CATEGORY(lcClientChat, "confab.client.chat", QtInfoMsg)

namespace P = Confab::Protocol;

namespace {
// Timeouts are checked by one sweep instead of a timer per request; this is its resolution.
constexpr std::chrono::milliseconds SweepInterval{100};

// The queue file is named after the user; before the server's hello reply a static JWT's
// subject is the best guess (the server takes the user from that very token). Not verified:
// it only picks a file name.
QString tokenSubject(const QString &token)
{
    const auto parts = token.split(u'.');
    if (parts.size() < 2)
        return {};
    const auto json = QByteArray::fromBase64(parts.at(1).toLatin1(),
                                             QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    return QJsonDocument::fromJson(json).object().value("sub"_L1).toString();
}
} // namespace

// ---- ClientPrivate -------------------------------------------------------------------------

ClientPrivate::ClientPrivate(Client *q) : q(q), backoff(&Client::defaultBackoff)
{
    model = new ChannelListModel(q);
    heartbeatTimer.setInterval(heartbeatInterval);
    reconnectTimer.setSingleShot(true);
    connectTimer.setSingleShot(true);
    timeoutSweep.setInterval(SweepInterval);
    QObject::connect(&heartbeatTimer, &QTimer::timeout, q, [this] { heartbeat(); });
    QObject::connect(&reconnectTimer, &QTimer::timeout, q, [this] { open(); });
    QObject::connect(&connectTimer, &QTimer::timeout, q, [this] {
        // QWebSocket has no connect timeout: a server that accepts TCP but never answers the
        // handshake (or our first heartbeat) would hold the attempt forever.
        qCInfo(lcClient) << "connection attempt to" << currentUrl << "timed out";
        if (socket)
            socket->abort();
        onSocketEnded();
    });
    QObject::connect(&timeoutSweep, &QTimer::timeout, q, [this] { sweepTimeouts(); });
}

ClientPrivate::~ClientPrivate() = default;

void ClientPrivate::setState(Client::State newState)
{
    if (state == newState)
        return;
    state = newState;
    Q_EMIT q->stateChanged(state);
    if (state == Client::State::Connected)
        Q_EMIT q->connected();
    else if (state == Client::State::Disconnected)
        Q_EMIT q->disconnected();
}

void ClientPrivate::setError(const QString &code, const QString &message)
{
    errorCode = code;
    errorMessage = message;
    qCWarning(lcClient).noquote() << code << message;
    Q_EMIT q->errorOccurred(code, message);
}

void ClientPrivate::open()
{
    if (!wanted || urls.isEmpty())
        return;
    if (socket) {
        socket->disconnect(q);
        socket->abort();
        socket.release()->deleteLater(); // may be inside one of its own signals
    }
    socket = std::make_unique<QWebSocket>();
    auto *s = socket.get();
    QObject::connect(s, &QWebSocket::connected, q, [this] { onSocketOpen(); });
    QObject::connect(s, &QWebSocket::disconnected, q, [this] { onSocketEnded(); });
    // Qt 6.4: the signal is error(); errorOccurred() arrived in 6.5.
    QObject::connect(s, QOverload<QAbstractSocket::SocketError>::of(&QWebSocket::error), q,
                     [this, s](QAbstractSocket::SocketError) {
                         if (s->state() == QAbstractSocket::UnconnectedState)
                             onSocketEnded();
                     });
    QObject::connect(s, &QWebSocket::textMessageReceived, q, [this](const QString &text) { onText(text); });

    currentUrl = urls.at(urlIndex % urls.size());
    socketActive = true;
    socketOpen = false;
    setState(attempt == 0 ? Client::State::Connecting : Client::State::Reconnecting);
    qCDebug(lcClient) << "connecting to" << currentUrl << "attempt" << attempt;
    connectTimer.start(requestTimeout);
    s->open(currentUrl);
}

void ClientPrivate::onSocketOpen()
{
    // The handshake is done, but a server at its connection limit also completes it, only to
    // close at once. Connected means the server answers: send a heartbeat and wait for it.
    socketOpen = true;
    heartbeatRef.reset();
    heartbeat();
}

void ClientPrivate::onEstablished()
{
    connectTimer.stop();
    attempt = 0;
    heartbeatTimer.start(heartbeatInterval);
    qCInfo(lcClient) << "connected to" << currentUrl;
    beginSession();
}

void ClientPrivate::beginSession()
{
    const auto current = ++session;
    hasServerIdentity = false;
    // hello goes first so that chat joins find the identity; with nothing to say, joins go now.
    // A token provider is asked once per join (its documented contract), so with one the hello
    // rides on the first chat join instead, with that join's token (ChannelPrivate::join()).
    const bool wantsHello = !tokenProvider && (!userId.isEmpty() || !token.isEmpty());
    joinsReady = !wantsHello;
    setState(Client::State::Connected);
    if (session != current || state != Client::State::Connected)
        return; // a connected() handler disconnected
    if (joinsReady) {
        channelsUp();
        return;
    }
    fetchToken(q, [this, current](const QString &fresh) {
        if (session != current || state != Client::State::Connected || joinsReady)
            return;
        sendHello(fresh);
        joinsReady = true;
        channelsUp();
    });
}

void ClientPrivate::channelsUp()
{
    const auto all = channels;
    for (auto *channel : all) {
        if (channels.contains(channel))
            channel->d->connectionUp();
    }
}

void ClientPrivate::sendHello(const QString &helloToken)
{
    QJsonObject payload;
    if (!userId.isEmpty())
        payload.insert(u"user"_s, QJsonObject{{u"id"_s, userId}, {u"name"_s, userName.isEmpty() ? userId : userName}});
    if (!helloToken.isEmpty())
        payload.insert(u"access_token"_s, helloToken);
    if (payload.isEmpty())
        return;
    const auto current = session;
    helloSession = current;
    Pending pending;
    pending.onReply = [this, current](const QJsonObject &answer) {
        if (session == current)
            onHelloReply(answer);
    };
    request(QString(P::Topics::System), QString(P::Events::Hello), payload, std::nullopt, std::move(pending));
}

void ClientPrivate::onHelloReply(const QJsonObject &payload)
{
    const auto response = payload.value("response"_L1).toObject();
    if (payload.value("status"_L1).toString() != "ok"_L1) {
        const auto code = response.value("code"_L1).toString();
        const auto reason = response.value("reason"_L1).toString();
        // Without setUser() the hello only carried a token (which may be meant for joins
        // alone, on a server in open mode): not an error of the application's.
        if (userSet)
            setError(code, reason);
        else
            qCInfo(lcClientChat).noquote() << "hello refused:" << code << reason;
        return;
    }
    hasServerIdentity = true;
    const auto user = response.value("user"_L1).toObject();
    const auto id = user.value("id"_L1).toString();
    if (!id.isEmpty())
        setUserInternal(id, user.value("name"_L1).toString());
    // The queue is loaded when the client connects (its user is certain now) ...
    ensureQueue();
    // ... and channels refused for want of an identity may join now.
    for (auto *channel : std::as_const(channels)) {
        if (channel->d->wanted && channel->d->authBlocked && channel->d->errorCode == P::Errors::IdentityRequired) {
            channel->d->authBlocked = false;
            channel->d->join();
        }
    }
    adoptOrphanedTopics();
}

void ClientPrivate::setUserInternal(const QString &id, const QString &name)
{
    const auto shownName = name.isEmpty() ? id : name;
    if (userId == id && userName == shownName)
        return;
    userId = id;
    userName = shownName;
    for (auto *channel : std::as_const(channels))
        channel->d->messages->setOwnUserId(userId);
    Q_EMIT q->userChanged();
    if (queueActive())
        ensureQueue();
}

QString ClientPrivate::queueUserId() const
{
    return userId.isEmpty() ? tokenSubject(token) : userId;
}

QString ClientPrivate::currentQueueFile() const
{
    const auto user = queueUserId();
    if (user.isEmpty() || urls.isEmpty())
        return {};
    // The first URL names the server: the others are the same service's fail-overs.
    return QDir(q->storagePath()).filePath(Outbox::fileName(Outbox::serverKey(urls.constFirst()), user));
}

void ClientPrivate::ensureQueue()
{
    const auto file = currentQueueFile();
    if (file == queueFile)
        return;
    QList<QueuedMessage> loaded;
    if (!file.isEmpty()) {
        auto result = Outbox::load(file);
        if (result.status == Outbox::LoadStatus::Corrupt) {
            const auto aside = Outbox::moveAside(file);
            setError(u"QUEUE_CORRUPT"_s,
                     u"The queue of unsent messages could not be read (%1); it was moved to %2 and the queue starts empty"_s
                         .arg(result.error, aside.isEmpty() ? u"(could not be moved)"_s : aside));
        } else {
            loaded = std::move(result.messages);
        }
        qCDebug(lcClientChat) << "queue" << file << "holds" << loaded.size() << "messages";
    }
    bool merged = false;
    if (queueFile.isEmpty()) {
        // Sent while the user was not known yet: they belong to this user's queue.
        for (const auto &m : std::as_const(outbox)) {
            const bool known = std::any_of(loaded.cbegin(), loaded.cend(),
                                           [&m](const QueuedMessage &l) { return l.clientId == m.clientId; });
            if (!known) {
                loaded.append(m);
                merged = true;
            }
        }
    }
    // Otherwise (another user or server) the old entries stay in their own file.
    const bool countChanged = loaded.size() != outbox.size();
    outbox = std::move(loaded);
    queueFile = file;
    if (merged)
        saveQueue();
    else if (countChanged)
        Q_EMIT q->queuedMessageCountChanged();
    for (auto *channel : std::as_const(channels))
        channel->d->syncOutboxRows();
}

void ClientPrivate::saveQueue()
{
    Q_EMIT q->queuedMessageCountChanged();
    if (queueFile.isEmpty())
        return; // the user is not known yet; ensureQueue() writes it once they are
    QString error;
    if (!Outbox::save(queueFile, Outbox::serverKey(urls.value(0)), queueUserId(), outbox, &error))
        setError(u"QUEUE_WRITE_FAILED"_s, u"The queue of unsent messages could not be saved: %1"_s.arg(error));
}

qsizetype ClientPrivate::indexOfQueued(const QString &clientId) const
{
    for (qsizetype i = 0; i < outbox.size(); ++i) {
        if (outbox.at(i).clientId == clientId)
            return i;
    }
    return -1;
}

void ClientPrivate::enqueue(const QueuedMessage &message)
{
    outbox.append(message);
    saveQueue();
}

void ClientPrivate::removeQueued(const QString &clientId)
{
    const auto at = indexOfQueued(clientId);
    if (at < 0)
        return;
    outbox.removeAt(at);
    saveQueue();
}

void ClientPrivate::adoptOrphanedTopics()
{
    QStringList topics;
    for (const auto &m : std::as_const(outbox)) {
        if (!m.failed && !topics.contains(m.topic) && !findChannel(m.topic))
            topics.append(m.topic);
    }
    for (const auto &topic : std::as_const(topics)) {
        // The application did not open this channel (yet): open one so that what the user sent
        // gets delivered; it goes away once its queue is empty, or when the application asks
        // for the channel itself.
        qCInfo(lcClientChat) << "sending queued messages of" << topic;
        ChannelConfig config;
        config.chat = true;
        auto *channel = q->channel(topic, config);
        channel->d->autoCreated = true;
        channel->subscribe();
    }
}

void ClientPrivate::onSocketEnded()
{
    if (!socketActive)
        return;
    socketActive = false;
    socketOpen = false;
    joinsReady = false;
    hasServerIdentity = false;
    ++session;
    connectTimer.stop();
    heartbeatTimer.stop();
    timeoutSweep.stop();
    heartbeatRef.reset();
    const auto code = socket ? socket->closeCode() : QWebSocketProtocol::CloseCodeNormal;
    const auto reason = socket ? socket->closeReason() : QString();
    // A server that refuses us says why in the close reason ("CODE: message"); surface it.
    if (code != QWebSocketProtocol::CloseCodeNormal && code != QWebSocketProtocol::CloseCodeGoingAway
        && !reason.isEmpty()) {
        const auto colon = reason.indexOf(u':');
        setError(colon > 0 ? reason.left(colon) : u"CONNECTION_CLOSED"_s, reason);
    }
    failPending(u"CONNECTION_LOST"_s, u"The connection was lost before the server answered"_s);
    for (auto *channel : std::as_const(channels))
        channel->d->connectionLost();
    if (!wanted) {
        setState(Client::State::Disconnected);
        return;
    }
    scheduleReconnect();
}

void ClientPrivate::scheduleReconnect()
{
    ++attempt;
    ++urlIndex; // the next attempt tries the next server
    const auto delay = backoff ? backoff(attempt) : Client::defaultBackoff(attempt);
    setState(Client::State::Reconnecting);
    qCInfo(lcClient) << "reconnecting in" << delay.count() << "ms, attempt" << attempt;
    Q_EMIT q->reconnectScheduled(attempt, int(delay.count()));
    reconnectTimer.start(delay);
}

void ClientPrivate::heartbeat()
{
    if (heartbeatRef) {
        // The previous heartbeat is still unanswered: the connection is dead even if TCP
        // has not noticed (a frozen server, a dropped route).
        qCWarning(lcClient) << "heartbeat timeout on" << currentUrl;
        setError(u"HEARTBEAT_TIMEOUT"_s, u"The server did not answer a heartbeat in time"_s);
        socket->abort();
        onSocketEnded();
        return;
    }
    const auto ref = QString::number(++nextRef);
    heartbeatRef = ref;
    send(P::Frame{std::nullopt, ref, QString(P::Topics::System), QString(P::Events::Heartbeat), {}});
}

void ClientPrivate::send(const P::Frame &frame)
{
    const auto bytes = P::encodeFrame(frame);
    qCDebug(lcClientNet).noquote() << "send" << bytes.left(200);
    if (socket)
        socket->sendTextMessage(QString::fromUtf8(bytes));
}

QString ClientPrivate::request(const QString &topic, const QString &event, const QJsonObject &payload,
                               const std::optional<QString> &joinRef, Pending entry)
{
    const auto ref = QString::number(++nextRef);
    entry.deadline = QDeadlineTimer(requestTimeout);
    pending.insert(ref, std::move(entry));
    if (!timeoutSweep.isActive()) // runs only while something waits: idle clients cost no wakeups
        timeoutSweep.start();
    send(P::Frame{joinRef, ref, topic, event, payload});
    return ref;
}

void ClientPrivate::post(const QString &topic, const QString &event, const QJsonObject &payload,
                         const std::optional<QString> &joinRef)
{
    send(P::Frame{joinRef, std::nullopt, topic, event, payload});
}

void ClientPrivate::failPending(const QString &code, const QString &message)
{
    const auto lost = std::exchange(pending, {});
    for (const auto &entry : lost) {
        if (entry.onLost)
            entry.onLost(code, message);
    }
}

void ClientPrivate::sweepTimeouts()
{
    QStringList expired;
    for (auto it = pending.cbegin(); it != pending.cend(); ++it) {
        if (it->deadline.hasExpired())
            expired.append(it.key());
    }
    for (const auto &ref : std::as_const(expired)) {
        const auto entry = pending.take(ref);
        if (entry.onTimeout)
            entry.onTimeout();
    }
    if (pending.isEmpty())
        timeoutSweep.stop();
}

void ClientPrivate::onText(const QString &text)
{
    const auto decoded = P::decodeFrame(text.toUtf8());
    if (!decoded.ok()) {
        qCWarning(lcClient) << "undecodable frame from server:" << decoded.error.reason;
        return;
    }
    const auto &frame = *decoded.frame;
    qCDebug(lcClientNet).noquote() << "recv" << text.left(200);

    if (frame.event == P::Events::Reply) {
        if (frame.topic == P::Topics::System && frame.ref && frame.ref == heartbeatRef) {
            heartbeatRef.reset();
            if (state != Client::State::Connected)
                onEstablished();
            return;
        }
        if (frame.ref) {
            const auto it = pending.find(*frame.ref);
            if (it != pending.end()) {
                const auto entry = *it;
                pending.erase(it);
                if (entry.onReply)
                    entry.onReply(frame.payload);
                return;
            }
        }
        // An error for a fire-and-forget push (null ref): it has no reply to finish, so the
        // channel reports it.
        if (frame.payload.value("status"_L1).toString() == "error"_L1) {
            const auto response = frame.payload.value("response"_L1).toObject();
            if (auto *channel = findChannel(frame.topic))
                Q_EMIT channel->errorOccurred(response.value("code"_L1).toString(),
                                              response.value("reason"_L1).toString());
        }
        return;
    }
    if (frame.topic == P::Topics::System) {
        if (frame.event == P::Events::Error)
            setError(frame.payload.value("code"_L1).toString(), frame.payload.value("reason"_L1).toString());
        else if (frame.event == P::Events::Mention)
            Q_EMIT q->mentioned(frame.payload.value("channel"_L1).toString(), frame.payload.value("message"_L1).toObject());
        return;
    }
    if (auto *channel = findChannel(frame.topic))
        channel->d->onFrame(frame.event, frame.payload);
}

void ClientPrivate::fetchToken(const QObject *context, std::function<void(const QString &)> done)
{
    if (!tokenProvider) {
        done(token);
        return;
    }
    QPointer<const QObject> guard(context);
    tokenProvider([guard, done = std::move(done)](const QString &fresh) {
        if (guard)
            done(fresh);
    });
}

bool ClientPrivate::reserveBufferSlot()
{
    if (buffered >= bufferLimit)
        return false;
    ++buffered;
    Q_EMIT q->bufferedCountChanged();
    return true;
}

void ClientPrivate::releaseBufferSlots(int n)
{
    if (n <= 0)
        return;
    buffered = std::max(0, buffered - n);
    Q_EMIT q->bufferedCountChanged();
}

Channel *ClientPrivate::findChannel(const QString &topic) const
{
    for (auto *channel : channels) {
        if (channel->d->topic == topic)
            return channel;
    }
    return nullptr;
}

// ---- Client --------------------------------------------------------------------------------

Client::Client(QObject *parent) : QObject(parent), d(std::make_unique<ClientPrivate>(this)) {}

Client::Client(const QUrl &url, QObject *parent) : Client(parent)
{
    d->urls = {url};
}

Client::~Client()
{
    d->wanted = false;
    d->reconnectTimer.stop();
    // No handler runs during destruction (it could reach back into this half-destroyed
    // client); outstanding replies are children of their channels and go with them.
    d->pending.clear();
    d->socketActive = false;
    if (d->socket)
        d->socket->abort();
    qDeleteAll(std::exchange(d->channels, {}));
}

QUrl Client::url() const
{
    return d->urls.value(0);
}

void Client::setUrl(const QUrl &url)
{
    setUrls({url});
}

QList<QUrl> Client::urls() const
{
    return d->urls;
}

void Client::setUrls(const QList<QUrl> &urls)
{
    if (d->urls == urls)
        return;
    d->urls = urls;
    d->urlIndex = 0;
    Q_EMIT urlsChanged();
    if (d->queueActive())
        d->ensureQueue();
}

QUrl Client::currentUrl() const
{
    return d->currentUrl;
}

Client::State Client::state() const
{
    return d->state;
}

QString Client::token() const
{
    return d->token;
}

void Client::setAuth(const QString &token)
{
    if (d->token == token)
        return;
    d->token = token;
    Q_EMIT tokenChanged();
    if (d->queueActive())
        d->ensureQueue(); // the token's subject may name another user
    for (auto *channel : std::as_const(d->channels))
        channel->d->tokenChanged(token);
}

void Client::setTokenProvider(TokenProvider provider)
{
    d->tokenProvider = std::move(provider);
}

int Client::heartbeatInterval() const
{
    return d->heartbeatInterval;
}

void Client::setHeartbeatInterval(int milliseconds)
{
    milliseconds = std::max(100, milliseconds);
    if (d->heartbeatInterval == milliseconds)
        return;
    d->heartbeatInterval = milliseconds;
    d->heartbeatTimer.setInterval(milliseconds);
    Q_EMIT optionsChanged();
}

int Client::requestTimeout() const
{
    return d->requestTimeout;
}

void Client::setRequestTimeout(int milliseconds)
{
    milliseconds = std::max(100, milliseconds);
    if (d->requestTimeout == milliseconds)
        return;
    d->requestTimeout = milliseconds;
    Q_EMIT optionsChanged();
}

int Client::bufferLimit() const
{
    return d->bufferLimit;
}

void Client::setBufferLimit(int pushes)
{
    pushes = std::max(0, pushes);
    if (d->bufferLimit == pushes)
        return;
    d->bufferLimit = pushes;
    Q_EMIT optionsChanged();
}

int Client::bufferedCount() const
{
    return d->buffered;
}

void Client::setBackoff(Backoff backoff)
{
    d->backoff = std::move(backoff);
}

std::chrono::milliseconds Client::defaultBackoff(int attempt)
{
    using namespace std::chrono;
    const auto exponent = std::clamp(attempt - 1, 0, 5);
    const auto ceiling = std::min(milliseconds(1000) * (1 << exponent), milliseconds(30000));
    // "Equal jitter": half fixed, half random, so the delay still grows but spreads out.
    const auto half = ceiling.count() / 2;
    return milliseconds(half + QRandomGenerator::global()->bounded(qint64(half) + 1));
}

int Client::reconnectAttempt() const
{
    return d->attempt;
}

QString Client::errorCode() const
{
    return d->errorCode;
}

QString Client::errorMessage() const
{
    return d->errorMessage;
}

void Client::connectToServer()
{
    if (d->wanted && d->state != State::Disconnected)
        return;
    if (d->urls.isEmpty()) {
        d->setError(u"NO_URL"_s, u"Set a server URL before connecting"_s);
        return;
    }
    d->wanted = true;
    d->attempt = 0;
    d->open();
}

void Client::disconnectFromServer()
{
    d->wanted = false;
    d->reconnectTimer.stop();
    for (auto *channel : std::as_const(d->channels))
        channel->d->failBuffered(u"CLIENT_DISCONNECTED"_s, u"disconnectFromServer() was called"_s);
    if (d->socketActive) {
        // The closing handshake finishes in the background; the state is settled now, so
        // callers can rely on it (the socket's own disconnected() is then ignored).
        d->socket->close(QWebSocketProtocol::CloseCodeNormal, u"client disconnect"_s);
        d->onSocketEnded();
    }
    d->attempt = 0;
    d->setState(State::Disconnected);
}

Channel *Client::channel(const QString &topic, const ChannelConfig &config)
{
    if (auto *existing = d->findChannel(topic)) {
        if (!existing->d->autoCreated)
            return existing;
        // The channel the client opened to deliver queued messages gives way to the
        // application's own (with its config): that one sends what is still queued.
        removeChannel(existing);
    }
    auto *channel = new Channel(this, topic, config);
    d->channels.append(channel);
    d->model->append(channel);
    if (config.chat) {
        d->ensureQueue();
        channel->d->syncOutboxRows();
    }
    return channel;
}

Channel *Client::channel(const QString &topic)
{
    return channel(topic, ChannelConfig{});
}

Channel *Client::channel(const QString &topic, const QVariantMap &options)
{
    return channel(topic, ChannelConfig::fromVariantMap(options));
}

void Client::removeChannel(Channel *channel)
{
    if (!channel || !d->channels.contains(channel))
        return;
    // Also when the join is still on the wire: the server reads this leave right after it.
    channel->d->wanted = false;
    if ((channel->d->joinRef || channel->d->joinPendingRef) && isConnected())
        d->post(channel->d->topic, QString(P::Events::Leave), {}, channel->d->joinRef);
    channel->d->failBuffered(u"CHANNEL_REMOVED"_s, u"The channel was removed"_s);
    channel->d->detachChat();
    for (const auto &reply : std::as_const(channel->d->trackReplies)) {
        if (reply)
            ReplyControl::finish(reply, Reply::Status::Error, {}, u"CHANNEL_REMOVED"_s, u"The channel was removed"_s);
    }
    // Requests in flight for this channel end with it: their replies are its children.
    for (auto it = d->pending.begin(); it != d->pending.end();) {
        if (it->channel == channel) {
            const auto entry = *it;
            it = d->pending.erase(it);
            if (entry.onLost)
                entry.onLost(u"CHANNEL_REMOVED"_s, u"The channel was removed"_s);
        } else {
            ++it;
        }
    }
    d->channels.removeOne(channel);
    d->model->remove(channel);
    channel->deleteLater();
}

void Client::removeAllChannels()
{
    const auto all = d->channels;
    for (auto *channel : all)
        removeChannel(channel);
}

QList<Channel *> Client::channelList() const
{
    return d->channels;
}

ChannelListModel *Client::channels() const
{
    return d->model;
}

QString Client::userId() const
{
    return d->userId;
}

QString Client::userName() const
{
    return d->userName;
}

void Client::setUser(const QString &id, const QString &name)
{
    d->userSet = !id.isEmpty();
    d->setUserInternal(id, name);
    // A live connection with no identity yet can take one now (one with an identity keeps it:
    // the server ties messages and reads to it).
    if (isConnected() && d->joinsReady && d->helloSession != d->session && !id.isEmpty())
        d->sendHello({});
}

QString Client::storagePath() const
{
    if (!d->storagePath.isEmpty())
        return d->storagePath;
    return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + u"/confab"_s;
}

void Client::setStoragePath(const QString &dir)
{
    if (d->storagePath == dir)
        return;
    d->storagePath = dir;
    Q_EMIT storagePathChanged();
    if (d->queueActive())
        d->ensureQueue();
}

int Client::queuedMessageCount() const
{
    return int(d->outbox.size());
}

namespace {
// A request outside any channel's membership ($system, or a topic not joined): the reply
// carries the server's answer; \a onOk sees an ok response first.
Reply *topicRequest(ClientPrivate *d, Client *q, const QString &topic, QLatin1StringView event, const QJsonObject &payload,
                    std::function<void(const QJsonObject &)> onOk = {})
{
    auto *reply = ReplyControl::create(q);
    if (!q->isConnected() || !d->joinsReady) {
        ReplyControl::finishLater(reply, Reply::Status::Error, {}, u"NOT_CONNECTED"_s, u"The client is not connected"_s);
        return reply;
    }
    QPointer<Reply> target(reply);
    ClientPrivate::Pending pending;
    pending.onReply = [target, onOk = std::move(onOk)](const QJsonObject &answer) {
        const auto response = answer.value("response"_L1).toObject();
        if (answer.value("status"_L1).toString() == "ok"_L1) {
            if (onOk)
                onOk(response);
            ReplyControl::finish(target, Reply::Status::Ok, response);
        } else {
            ReplyControl::finish(target, Reply::Status::Error, response, response.value("code"_L1).toString(),
                                 response.value("reason"_L1).toString());
        }
    };
    pending.onTimeout = [target] {
        ReplyControl::finish(target, Reply::Status::TimedOut, {}, u"TIMEOUT"_s, u"The server did not answer in time"_s);
    };
    pending.onLost = [target](const QString &code, const QString &message) {
        ReplyControl::finish(target, Reply::Status::Error, {}, code, message);
    };
    d->request(topic, QString(event), payload, std::nullopt, std::move(pending));
    return reply;
}
} // namespace

Reply *Client::refreshUnread()
{
    return topicRequest(d.get(), this, QString(P::Topics::System), P::Events::Unread, {},
                        [this](const QJsonObject &response) {
                            const auto counts = response.value("channels"_L1).toObject();
                            for (auto *channel : std::as_const(d->channels)) {
                                if (channel->d->config.chat && counts.contains(channel->d->topic))
                                    channel->d->applyUnread(counts.value(channel->d->topic).toObject());
                            }
                        });
}

Reply *Client::createPrivateChannel(const QString &topic, const QStringList &members)
{
    return topicRequest(d.get(), this, topic, P::Events::ChannelCreate,
                        {{u"members"_s, QJsonArray::fromStringList(members)}});
}

Reply *Client::inviteToChannel(const QString &topic, const QString &userId)
{
    return topicRequest(d.get(), this, topic, P::Events::ChannelInvite, {{u"user"_s, userId}});
}

} // namespace Confab
