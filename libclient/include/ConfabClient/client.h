#pragma once

#include <ConfabClient/channel.h>
#include <ConfabClient/confabclient_export.h>

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QStringList>
#include <QtCore/QUrl>
#include <QtCore/QVariantMap>

#include <chrono>
#include <functional>
#include <memory>

namespace Confab {

class ChannelListModel;
class ClientPrivate;
class Reply;

//! \brief A connection to a Confab server (native protocol): the library's entry point.
//!
//! \code
//! Confab::Client client(QUrl(u"ws://chat.lan:4000/"_s));
//! client.setAuth(token);                       // optional: JWT mode
//! auto *room = client.channel(u"room:lobby"_s, {.self = false, .ack = true, .presenceKey = u"alice"_s});
//! QObject::connect(room, &Confab::Channel::broadcastReceived, [](const QString &event, const QJsonValue &payload) { … });
//! room->subscribe();
//! room->track({{u"status"_s, u"online"_s}});
//! client.connectToServer();
//! \endcode
//! The client reconnects on its own (exponential back-off with jitter, trying each URL in turn),
//! detects dead connections by heartbeat, and after every reconnect rejoins each subscribed
//! channel with its config and re-tracks its presence. Pushes made while disconnected wait in a
//! bounded buffer and are sent in order once their channel is joined again.
//!
//! **Chat.** Chat channels (ChannelConfig::chat) need to know who the user is: setUser() in open
//! mode, or the token's subject in JWT mode. Once connected, the client says `hello` before any
//! join. Chat messages being sent are kept in a queue file under storagePath(), one per server
//! and user, until the server acknowledges them: a restarted application finds them there and
//! sends them after connecting (creating a chat channel for a topic it does not open itself).
class CONFABCLIENT_EXPORT Client : public QObject
{
    Q_OBJECT
    Q_MOC_INCLUDE("ConfabClient/channellistmodel.h")
    Q_MOC_INCLUDE("ConfabClient/reply.h")
    Q_PROPERTY(QUrl url READ url WRITE setUrl NOTIFY urlsChanged)
    Q_PROPERTY(QList<QUrl> urls READ urls WRITE setUrls NOTIFY urlsChanged)
    Q_PROPERTY(QUrl currentUrl READ currentUrl NOTIFY stateChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(bool connected READ isConnected NOTIFY stateChanged)
    Q_PROPERTY(QString token READ token WRITE setAuth NOTIFY tokenChanged)
    Q_PROPERTY(int heartbeatInterval READ heartbeatInterval WRITE setHeartbeatInterval NOTIFY optionsChanged)
    Q_PROPERTY(int requestTimeout READ requestTimeout WRITE setRequestTimeout NOTIFY optionsChanged)
    Q_PROPERTY(int bufferLimit READ bufferLimit WRITE setBufferLimit NOTIFY optionsChanged)
    Q_PROPERTY(int bufferedCount READ bufferedCount NOTIFY bufferedCountChanged)
    Q_PROPERTY(int reconnectAttempt READ reconnectAttempt NOTIFY stateChanged)
    Q_PROPERTY(QString errorCode READ errorCode NOTIFY errorOccurred)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorOccurred)
    Q_PROPERTY(Confab::ChannelListModel *channels READ channels CONSTANT)
    Q_PROPERTY(QString userId READ userId NOTIFY userChanged)
    Q_PROPERTY(QString userName READ userName NOTIFY userChanged)
    Q_PROPERTY(QString storagePath READ storagePath WRITE setStoragePath NOTIFY storagePathChanged)
    Q_PROPERTY(int queuedMessageCount READ queuedMessageCount NOTIFY queuedMessageCountChanged)
public:
    //! \brief The connection's state.
    enum class State {
        Disconnected, //!< not connected and not trying (initially, and after disconnectFromServer())
        Connecting,   //!< first connection attempt under way
        Connected,    //!< the WebSocket is open and heartbeats are answered
        Reconnecting, //!< the connection was lost; waiting for the next attempt or trying it
    };
    Q_ENUM(State)

    //! \brief Supplies a token for each (re)join: call \a done with it, now or later.
    using TokenProvider = std::function<void(std::function<void(const QString &token)> done)>;
    //! \brief The delay before reconnect attempt \a attempt (1, 2, …).
    using Backoff = std::function<std::chrono::milliseconds(int attempt)>;

    //! \brief A client with no server yet: set url (or urls) before connectToServer().
    explicit Client(QObject *parent = nullptr);
    //! \brief A client for the server at \a url.
    explicit Client(const QUrl &url, QObject *parent = nullptr);
    ~Client() override;

    [[nodiscard]] QUrl url() const; //!< the first of urls()
    //! \brief Makes \a url the only server (same as setUrls({url})).
    void setUrl(const QUrl &url);
    //! \brief The servers to connect to, tried in turn.
    [[nodiscard]] QList<QUrl> urls() const;
    //! \brief Servers to try in turn: each reconnect attempt moves to the next one.
    void setUrls(const QList<QUrl> &urls);
    //! \brief The URL of the current (or last) connection attempt.
    [[nodiscard]] QUrl currentUrl() const;

    //! \brief The connection's state; stateChanged() on every change.
    [[nodiscard]] State state() const;
    //! \brief Whether state() is State::Connected.
    [[nodiscard]] bool isConnected() const { return state() == State::Connected; }

    //! \brief The token given to setAuth(), or empty (open server, or a token provider).
    [[nodiscard]] QString token() const;
    //! \brief Sets the JWT sent with joins; on a live connection it is sent to every joined
    //! channel at once (`access_token`), and channels refused for an `AUTH_*` reason rejoin.
    Q_INVOKABLE void setAuth(const QString &token);
    //! \brief Asks \a provider for a token before every (re)join instead of using token();
    //! also used to recover when the server closes channels because their token expired. With a
    //! provider, the chat identity (`hello`) goes out with the first chat join of a connection,
    //! with that join's token; queued messages of channels the application has not opened are
    //! sent once it joins a chat channel.
    void setTokenProvider(TokenProvider provider);

    //! \brief Heartbeat period in ms (default 25000). A heartbeat unanswered by the next one
    //! marks the connection dead: it is dropped and the client reconnects.
    [[nodiscard]] int heartbeatInterval() const;
    //! \brief Sets heartbeatInterval() to \a milliseconds.
    void setHeartbeatInterval(int milliseconds);
    //! \brief How long a join or acknowledged push may wait for its reply, and how long a
    //! connection attempt may take, in ms (default 10000).
    [[nodiscard]] int requestTimeout() const;
    //! \brief Sets requestTimeout() to \a milliseconds.
    void setRequestTimeout(int milliseconds);
    //! \brief Most pushes kept while disconnected (default 100); beyond it a push fails with
    //! `BUFFER_FULL` (and errorOccurred()) instead of being dropped silently.
    [[nodiscard]] int bufferLimit() const;
    //! \brief Sets bufferLimit() to \a pushes.
    void setBufferLimit(int pushes);
    //! \brief Pushes waiting in the buffer for their channel to be joined.
    [[nodiscard]] int bufferedCount() const;
    //! \brief Replaces the reconnect delays (default: defaultBackoff()).
    void setBackoff(Backoff backoff);
    //! \brief 1 s doubling to at most 30 s, each drawn at random from its upper half (jitter),
    //! so clients dropped together do not come back together.
    static std::chrono::milliseconds defaultBackoff(int attempt);
    //! \brief Attempts since the connection was lost (0 when connected).
    [[nodiscard]] int reconnectAttempt() const;

    //! \brief The last client-level error (e.g. `BUFFER_FULL`, `CONNECTION_LIMIT`), or empty.
    [[nodiscard]] QString errorCode() const;
    //! \brief The last client-level error's text for people, or empty.
    [[nodiscard]] QString errorMessage() const;

    //! \brief Who this client is for chat: the id given to setUser(), or the one the server
    //! confirmed in its `hello` reply (in JWT mode the token's `sub`).
    [[nodiscard]] QString userId() const;
    //! \brief The display name that goes with userId().
    [[nodiscard]] QString userName() const;
    //! \brief Sets who the user is (open mode: the server believes it; JWT mode: the token
    //! decides and the server's answer replaces it). Sent in `hello` when the connection is up;
    //! a live connection that already has an identity keeps it until it reconnects.
    Q_INVOKABLE void setUser(const QString &id, const QString &name = {});

    //! \brief Where the queue of unsent chat messages is kept (default: the application's
    //! local data directory + `/confab`).
    [[nodiscard]] QString storagePath() const;
    //! \brief Sets storagePath() to \a dir (created when first written).
    void setStoragePath(const QString &dir);
    //! \brief Chat messages waiting for the server's acknowledgement, in every channel
    //! (Failed ones included).
    [[nodiscard]] int queuedMessageCount() const;

    //! \brief Asks the server for the unread and mention counts of every channel this user
    //! joined for chat (`unread` on `$system`) and updates the client's channels; the response
    //! is `{channels: {topic: {unread, mentions, last_seq, read_seq}}}`.
    Q_INVOKABLE Confab::Reply *refreshUnread();
    //! \brief Creates the private channel \a topic (`private:<name>`) with this user as owner
    //! and \a members (response `{type, owner, members}`; `ALREADY_EXISTS` if it exists).
    Q_INVOKABLE Confab::Reply *createPrivateChannel(const QString &topic, const QStringList &members = {});
    //! \brief Adds \a userId to the private channel \a topic (this user must be a member).
    Q_INVOKABLE Confab::Reply *inviteToChannel(const QString &topic, const QString &userId);

    //! \brief Connects (and keeps reconnecting until disconnectFromServer()).
    Q_INVOKABLE void connectToServer();
    //! \brief Closes the connection and stops reconnecting. Buffered pushes fail with
    //! `CLIENT_DISCONNECTED`; channels keep their wish to be subscribed for the next connect.
    Q_INVOKABLE void disconnectFromServer();

    //! \brief The channel for \a topic, created with \a config if it does not exist yet.
    Channel *channel(const QString &topic, const ChannelConfig &config);
    //! \brief The channel for \a topic, created with the default config if it does not exist.
    Q_INVOKABLE Confab::Channel *channel(const QString &topic);
    //! \brief For QML: \a options as in ChannelConfig::fromVariantMap().
    Q_INVOKABLE Confab::Channel *channel(const QString &topic, const QVariantMap &options);
    //! \brief Leaves (if joined) and deletes \a channel.
    Q_INVOKABLE void removeChannel(Confab::Channel *channel);
    //! \brief removeChannel() for every channel.
    Q_INVOKABLE void removeAllChannels();
    //! \brief The channels, in the order they were created.
    [[nodiscard]] QList<Channel *> channelList() const;
    //! \brief The channels as a list model (topic, status, …).
    [[nodiscard]] ChannelListModel *channels() const;

Q_SIGNALS:
    //! \brief state() changed to \a state.
    void stateChanged(Confab::Client::State state);
    //! \brief The connection is up: state() became Connected (also after every reconnect).
    void connected();
    //! \brief state() became Disconnected: the client stopped trying (a lost connection
    //! is Reconnecting instead).
    void disconnected();
    //! \brief urls() (and so url()) changed.
    void urlsChanged();
    //! \brief token() changed.
    void tokenChanged();
    //! \brief heartbeatInterval(), requestTimeout() or bufferLimit() changed.
    void optionsChanged();
    //! \brief bufferedCount() changed.
    void bufferedCountChanged();
    //! \brief A reconnect attempt is due in \a delayMs.
    void reconnectScheduled(int attempt, int delayMs);
    //! \brief A client-level error: \a code is machine-readable, \a message for people.
    //! Chat adds `QUEUE_CORRUPT` (the queue file could not be read; it was renamed aside and
    //! the queue starts empty) and `QUEUE_WRITE_FAILED` (the queue could not be saved).
    void errorOccurred(const QString &code, const QString &message);
    //! \brief userId() or userName() changed.
    void userChanged();
    //! \brief storagePath() changed.
    void storagePathChanged();
    //! \brief queuedMessageCount() changed.
    void queuedMessageCountChanged();
    //! \brief Another user mentioned this one (`@id`) in \a topic, also in a channel this
    //! client has not joined; \a message is the message's wire form.
    void mentioned(const QString &topic, const QJsonObject &message);

private:
    friend class Channel;
    friend class ChannelPrivate;
    std::unique_ptr<ClientPrivate> d;
};

} // namespace Confab
