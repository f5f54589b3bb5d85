#pragma once

#include "engine/caller.h"
#include "engine/failure.h"
#include "ops/serverconfig.h"
#include "storage/messagestore.h"

#include <QtCore/QJsonObject>
#include <QtCore/QObject>

#include <functional>
#include <optional>

namespace Confab::Server {

class Hub;
class Metrics;
class Policy;

//! \brief The chat use cases (docs/protocol.md "Chat"), once, for every door.
//!
//! Doors parse their wire format into a Request (the caller, the topic, and the fields of the
//! request in the JSON shape docs/protocol.md gives), and encode the Result: the native
//! session as a reply frame, HTTP as a JSON body with httpStatusFor(code). The service checks
//! the input rules (chatrules), asks the Policy, calls the store, and after a commit delivers
//! the event through the hub (encoded per dialect there) and notifies mentioned users.
//!
//! Store callbacks run in this service's context, not the door's: a committed change reaches
//! the channel even when the connection that asked is gone (only its answer is lost; resends
//! are idempotent). Lifetime: owned by the Server, destroyed after every door and before the
//! policy, the hub and the store; pending store callbacks are dropped with it.
class ChatService : public QObject
{
    Q_OBJECT
public:
    ChatService(const ServerConfig &config, Hub &hub, MessageStore &store, const Policy &policy, Metrics &metrics);
    ~ChatService() override;

    struct Request
    {
        Caller caller;
        QString topic;
        QJsonObject payload;    //!< the request's fields, as in docs/protocol.md
        quint64 origin = 0;     //!< the asking subscriber (it gets the reply, not the event); 0: none
        qint64 receivedAtNs = 0; //!< for the delivery-latency histogram
    };
    struct Result
    {
        std::optional<Failure> failure;
        QJsonObject response; //!< the reply's response / the HTTP body
        bool created = false; //!< a new message was stored (HTTP answers 201)
        [[nodiscard]] bool ok() const { return !failure; }
    };
    //! \brief Called once with the outcome, on the service's thread; never if \a replyTo (given
    //! with the request) is destroyed first.
    using Reply = std::function<void(const Result &)>;

    void send(const Request &request, const QObject *replyTo, Reply reply);
    void edit(const Request &request, const QObject *replyTo, Reply reply);
    void remove(const Request &request, const QObject *replyTo, Reply reply);
    void react(const Request &request, bool add, const QObject *replyTo, Reply reply);
    void markRead(const Request &request, const QObject *replyTo, Reply reply);
    //! \brief `history {before?, after?, limit?}`.
    void history(const Request &request, const QObject *replyTo, Reply reply);
    //! \brief Messages after `since` (at most \a limit), for a long-poll; the same access rules.
    void historyAfter(const Request &request, qint64 since, int limit, const QObject *replyTo,
                      std::function<void(const Result &, const HistoryPage &)> reply);
    //! \brief `unread {}`: every channel the caller has a read position in (no topic).
    void unread(const Request &request, const QObject *replyTo, Reply reply);
    void typing(const Request &request, bool start, const QObject *replyTo, Reply reply);
    void createPrivate(const Request &request, const QObject *replyTo, Reply reply);
    void invite(const Request &request, const QObject *replyTo, Reply reply);

    //! \brief What a chat join starts with: the caller's position (`type`, `last_seq`,
    //! `read_seq`, `unread`, `mentions`, `replay`, `gap`?, `reads`) and the missed messages
    //! after \a since (at most CATCHUP_LIMIT). Access is the door's join check, done before.
    struct JoinState
    {
        QJsonObject info;
        QList<StoredMessage> replay;
    };
    void joinState(const Caller &caller, const QString &topic, std::optional<qint64> since, const QObject *replyTo,
                   std::function<void(const Outcome<JoinState> &)> reply);

    //! \brief The history fields `{before?, after?, limit?}` (whole numbers; limit 1-100).
    [[nodiscard]] static Outcome<HistoryRequest> parseHistory(const QString &topic, const QJsonObject &fields);

private:
    //! Identity (when \a needsUser: everything that writes is attributed to someone) and the
    //! Policy's answer for \a right, then \a next; or the refusal to \a reply.
    void authorized(const Request &request, Right right, bool needsUser, const QObject *replyTo,
                    const Reply &reply, std::function<void()> next);
    //! What a committed change to a message answers and what it tells the channel.
    struct Change
    {
        QJsonObject response;
        QJsonObject event;
    };
    //! The store callback of edit, delete and react: the refusal, or the answer then the event.
    [[nodiscard]] MessageStore::Done<StoredMessage> changed(const Request &request, const Reply &reply,
                                                            QLatin1StringView event,
                                                            std::function<Change(const StoredMessage &)> shape);
    void notifyMentions(const QString &topic, const StoredMessage &message);
    [[nodiscard]] Failure failed(StoreError error, const QString &message) const;

    const ServerConfig &m_config;
    Hub &m_hub;
    MessageStore &m_store;
    const Policy &m_policy;
    Metrics &m_metrics;
};

} // namespace Confab::Server
