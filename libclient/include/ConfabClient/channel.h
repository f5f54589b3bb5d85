#pragma once

#include <ConfabClient/confabclient_export.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QObject>
#include <QtCore/QVariantMap>

#include <functional>
#include <memory>

namespace Confab {

class ChannelPrivate;
class Client;
class PresenceModel;
class Reply;

//! \brief How a channel is joined. Sent with every (re)join.
struct CONFABCLIENT_EXPORT ChannelConfig
{
    Q_GADGET
    Q_PROPERTY(bool self MEMBER self)
    Q_PROPERTY(bool ack MEMBER ack)
    Q_PROPERTY(QString presenceKey MEMBER presenceKey)
public:
    bool self = false;   //!< receive your own broadcasts
    bool ack = false;    //!< the server confirms each broadcast; send() then reports recipientCount
    QString presenceKey; //!< the key track() uses (e.g. the user id); empty: the server's default

    //! \brief From QML/JS style options: `{self, ack, presenceKey}` (also `{broadcast: {self,
    //! ack}, presence: {key}}`, the realtime-message SDK's shape).
    static ChannelConfig fromVariantMap(const QVariantMap &options);
    //! \brief Equal when every field is equal.
    friend bool operator==(const ChannelConfig &, const ChannelConfig &) = default;
};

//! \brief One topic on a Client: subscribe, broadcast events, presence.
//!
//! Channels are made by Client::channel() and owned by the client. A channel keeps wanting what
//! it was last asked (subscribed or not): across reconnects the client rejoins it with the same
//! config and re-tracks its presence, and pushes made while it is not joined are buffered.
class CONFABCLIENT_EXPORT Channel : public QObject
{
    Q_OBJECT
    Q_MOC_INCLUDE("ConfabClient/presencemodel.h")
    Q_PROPERTY(QString topic READ topic CONSTANT)
    Q_PROPERTY(Status status READ status NOTIFY statusChanged)
    Q_PROPERTY(bool subscribed READ isSubscribed NOTIFY statusChanged)
    Q_PROPERTY(QString errorCode READ errorCode NOTIFY statusChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY statusChanged)
    Q_PROPERTY(bool tracked READ isTracked NOTIFY trackedChanged)
    Q_PROPERTY(Confab::PresenceModel *presence READ presence CONSTANT)
public:
    //! \brief Where the channel is.
    enum class Status {
        Idle,       //!< not subscribed and not asked to be
        Joining,    //!< join sent (or waiting for the connection)
        Subscribed, //!< joined: broadcasts and presence flow
        TimedOut,   //!< the join got no answer in time; retried with back-off
        Closed,     //!< unsubscribed, or closed by the server (errorCode() says why)
        Errored,    //!< the join was refused: errorCode() is the server's code. AUTH_* codes are
                    //!< not retried until the token changes (Client::setAuth())
    };
    Q_ENUM(Status)

    ~Channel() override;

    //! \brief The topic the channel was made for, e.g. `room:lobby`.
    [[nodiscard]] QString topic() const;
    //! \brief The config it joins with, as given to Client::channel().
    [[nodiscard]] ChannelConfig config() const;
    //! \brief Where the channel is; statusChanged() on every change.
    [[nodiscard]] Status status() const;
    //! \brief Whether status() is Status::Subscribed.
    [[nodiscard]] bool isSubscribed() const { return status() == Status::Subscribed; }
    //! \brief The last error: a server code such as `AUTH_TOKEN_EXPIRED`, or empty.
    [[nodiscard]] QString errorCode() const;
    //! \brief The last error's text for people, or empty.
    [[nodiscard]] QString errorMessage() const;
    //! \brief The client that owns the channel.
    [[nodiscard]] Client *client() const;

    //! \brief Joins now, or as soon as the client is connected; rejoins after every reconnect.
    Q_INVOKABLE void subscribe();
    //! \brief Leaves; the reply finishes when the server confirms (at once if not joined).
    Q_INVOKABLE Confab::Reply *unsubscribe();

    //! \brief Broadcasts \a event with \a payload to the channel. With ChannelConfig::ack the
    //! reply finishes when the server confirms (response `recipientCount`); without, it finishes
    //! ok once the frame is written. While not joined, the push waits in the client's bounded
    //! buffer (Reply error `BUFFER_FULL` when it is full).
    Q_INVOKABLE Confab::Reply *send(const QString &event, const QJsonValue &payload = {});

    //! \brief Tracks this connection's presence under the configured key with \a meta; the
    //! client re-tracks it after every rejoin until untrack().
    Q_INVOKABLE Confab::Reply *track(const QJsonObject &meta = {});
    //! \brief Removes this connection's presence.
    Q_INVOKABLE Confab::Reply *untrack();
    //! \brief Whether presence is wanted: track() was called and untrack() was not since.
    [[nodiscard]] bool isTracked() const;

    //! \brief Presence as the server last described it: `{key: [{presence_ref, meta}, …]}`.
    [[nodiscard]] Q_INVOKABLE QJsonObject presenceState() const;
    //! \brief The same presence as a list model (one row per key).
    [[nodiscard]] PresenceModel *presence() const;

    //! \brief Calls \a callback for every broadcast named \a event (all events when \a event is
    //! empty) until \a context is destroyed or the returned connection is disconnected.
    QMetaObject::Connection onBroadcast(const QString &event, const QObject *context,
                                       std::function<void(const QJsonValue &payload)> callback);

Q_SIGNALS:
    //! \brief status() changed to \a status (subscribed, errorCode and errorMessage may have too).
    void statusChanged(Confab::Channel::Status status);
    //! \brief The join succeeded (also after every rejoin).
    void subscribed();
    //! \brief The server refused or closed the channel (\a code e.g. `AUTH_TOKEN_EXPIRED`).
    void errorOccurred(const QString &code, const QString &message);
    //! \brief A broadcast arrived: \a event is its name, \a payload what the sender sent.
    void broadcastReceived(const QString &event, const QJsonValue &payload);
    //! \brief Presence was replaced or changed; presenceState() is current.
    void presenceSynced();
    //! \brief Entries joined under \a key: \a current are all of the key's entries now,
    //! \a joined the new ones (each `{presence_ref, meta}`).
    void presenceJoined(const QString &key, const QJsonArray &current, const QJsonArray &joined);
    //! \brief Entries left \a key; \a current is empty when the key has gone.
    void presenceLeft(const QString &key, const QJsonArray &current, const QJsonArray &left);
    //! \brief isTracked() changed.
    void trackedChanged();

private:
    Channel(Client *client, const QString &topic, const ChannelConfig &config);
    friend class Client;
    friend class ClientPrivate;
    friend class ChannelPrivate;
    std::unique_ptr<ChannelPrivate> d;
};

} // namespace Confab

Q_DECLARE_METATYPE(Confab::ChannelConfig)
