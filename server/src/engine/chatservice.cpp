#include "engine/chatservice.h"

#include "engine/chatrules.h"
#include "engine/hub.h"
#include "engine/policy.h"
#include "ops/logging.h"
#include "ops/metrics.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QJsonArray>
#include <QtCore/QPointer>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;
namespace Ev = Confab::Protocol::Events;

namespace {

constexpr int DefaultHistoryLimit = 50;
constexpr int MaxHistoryLimit = 100; // a page; clients ask again for more

using Result = ChatService::Result;

Result refused(const Failure &failure)
{
    return Result{failure, {}, false};
}

Result answer(const QJsonObject &response, bool created = false)
{
    return Result{std::nullopt, response, created};
}

//! Calls \a reply only while \a replyTo lives (the door's session or HTTP exchange).
ChatService::Reply guarded(const QObject *replyTo, ChatService::Reply reply)
{
    return [target = QPointer<const QObject>(replyTo), hasTarget = replyTo != nullptr,
            reply = std::move(reply)](const Result &result) {
        if (hasTarget && !target)
            return;
        reply(result);
    };
}

QJsonObject userJson(const ChatUser &user)
{
    return {{u"id"_s, user.id}, {u"name"_s, user.name}};
}

//! The `id` of the message a request is about, when it is a valid message id.
std::optional<QString> messageId(const QJsonObject &payload)
{
    const auto id = payload.value("id"_L1);
    if (!id.isString() || !isValidMessageId(id.toString()))
        return std::nullopt;
    return id.toString();
}

std::optional<qint64> wholeNumber(const QJsonValue &v)
{
    if (!v.isDouble() || v.toDouble() < 0 || v.toDouble() != double(v.toInteger()))
        return std::nullopt;
    return v.toInteger();
}

} // namespace

ChatService::ChatService(const ServerConfig &config, Hub &hub, MessageStore &store, const Policy &policy,
                         Metrics &metrics)
    : m_config(config), m_hub(hub), m_store(store), m_policy(policy), m_metrics(metrics)
{
}

ChatService::~ChatService() = default;

Failure ChatService::failed(StoreError error, const QString &message) const
{
    if (error == StoreError::Unavailable)
        logEvent(lcServer(), QtWarningMsg, "storage.unavailable", {{u"error"_s, message}});
    return storeFailure(error, message);
}

void ChatService::authorized(const Request &request, Right right, bool needsUser, const QObject *replyTo,
                             const Reply &reply, std::function<void()> next)
{
    if (needsUser && !request.caller.user) {
        reply(refused({Err::IdentityRequired,
                       u"Say who you are first: hello, or config.user / an access token with a join"_s}));
        return;
    }
    m_policy.authorize(request.caller, request.topic, right, this,
                       [guard = QPointer<const QObject>(replyTo), hasTarget = replyTo != nullptr, reply,
                        next = std::move(next)](const std::optional<Failure> &denied) {
        if (denied) {
            if (!hasTarget || guard)
                reply(refused(*denied));
            return;
        }
        next(); // the store call it makes must happen even if the asker is gone
    });
}

void ChatService::send(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    authorized(request, Right::Post, true, replyTo, reply, [this, request, reply] {
        AppendRequest append;
        append.topic = request.topic;
        append.author = *request.caller.user;
        if (const auto invalid = readSend(request.payload, m_config.chat.maxMessageBody, append)) {
            reply(refused(*invalid));
            return;
        }
        m_store.append(this, append, [this, request, reply](const StoreResult<AppendResult> &result) {
            if (!result.ok()) {
                reply(refused(failed(result.error, result.message)));
                return;
            }
            const auto &message = result.value.message;
            const auto json = message.toJson();
            QJsonObject ack{{u"id"_s, message.id},
                            {u"seq"_s, message.seq},
                            {u"ts"_s, json.value("ts"_L1)},
                            {u"client_id"_s, message.clientId}};
            if (result.value.duplicate) {
                ack.insert(u"duplicate"_s, true); // the original answer again; nothing is delivered twice
                reply(answer(ack));
                return;
            }
            reply(answer(ack, true));
            m_hub.deliverChat(request.origin, request.topic, Ev::Message, json, message.seq, request.receivedAtNs);
            notifyMentions(request.topic, message);
        });
    });
}

MessageStore::Done<StoredMessage> ChatService::changed(const Request &request, const Reply &reply,
                                                     QLatin1StringView event,
                                                     std::function<Change(const StoredMessage &)> shape)
{
    return [this, request, reply, event, shape = std::move(shape)](const StoreResult<StoredMessage> &result) {
        if (!result.ok()) {
            reply(refused(failed(result.error, result.message)));
            return;
        }
        const auto change = shape(result.value);
        reply(answer(change.response));
        m_hub.deliverChat(request.origin, request.topic, event, change.event, 0, request.receivedAtNs);
    };
}

void ChatService::edit(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    authorized(request, Right::Post, true, replyTo, reply, [this, request, reply] {
        const auto id = messageId(request.payload);
        if (!id) {
            reply(refused({Err::InvalidId, u"id must be a message id"_s}));
            return;
        }
        const auto body = request.payload.value("body"_L1);
        if (const auto invalid = checkBody(body, m_config.chat.maxMessageBody)) {
            reply(refused(*invalid));
            return;
        }
        m_store.edit(this, request.topic, *id, request.caller.user->id, body.toString(), parseMentions(body.toString()),
                     changed(request, reply, Ev::MessageEdited, [](const StoredMessage &m) {
            const auto json = m.toJson();
            return Change{{{u"id"_s, m.id}, {u"seq"_s, m.seq}, {u"edited_at"_s, json.value("edited_at"_L1)}}, json};
        }));
    });
}

void ChatService::remove(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    authorized(request, Right::Post, true, replyTo, reply, [this, request, reply] {
        const auto id = messageId(request.payload);
        if (!id) {
            reply(refused({Err::InvalidId, u"id must be a message id"_s}));
            return;
        }
        m_store.remove(this, request.topic, *id, request.caller.user->id,
                       changed(request, reply, Ev::MessageDeleted, [](const StoredMessage &m) {
            const QJsonObject event{{u"id"_s, m.id}, {u"seq"_s, m.seq}, {u"deleted_at"_s, m.toJson().value("deleted_at"_L1)}};
            return Change{event, event};
        }));
    });
}

void ChatService::react(const Request &request, bool add, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    authorized(request, Right::Post, true, replyTo, reply, [this, request, add, reply] {
        const auto id = messageId(request.payload);
        const auto emoji = request.payload.value("emoji"_L1);
        if (!id) {
            reply(refused({Err::InvalidId, u"id must be a message id"_s}));
            return;
        }
        if (!emoji.isString() || !isValidEmoji(emoji.toString())) {
            reply(refused({Err::InvalidPayload, u"emoji must be 1-32 characters without spaces"_s}));
            return;
        }
        m_store.react(this, request.topic, *id, request.caller.user->id, emoji.toString(), add,
                      changed(request, reply, Ev::Reaction, [](const StoredMessage &m) {
            const QJsonObject event{{u"id"_s, m.id}, {u"seq"_s, m.seq}, {u"reactions"_s, m.toJson().value("reactions"_L1)}};
            return Change{event, event};
        }));
    });
}

void ChatService::markRead(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    authorized(request, Right::Post, true, replyTo, reply, [this, request, reply] {
        const auto seq = wholeNumber(request.payload.value("seq"_L1));
        if (!seq) {
            reply(refused({Err::InvalidPayload, u"seq must be a whole number >= 0"_s}));
            return;
        }
        const auto &user = *request.caller.user;
        m_store.markRead(this, request.topic, user.id, *seq, [this, request, user, reply](const StoreResult<ReadState> &result) {
            if (!result.ok()) {
                reply(refused(failed(result.error, result.message)));
                return;
            }
            reply(answer({{u"read_seq"_s, result.value.readSeq}, {u"unread"_s, result.value.unread},
                          {u"mentions"_s, result.value.mentions}}));
            m_hub.deliverChat(request.origin, request.topic, Ev::Read,
                              {{u"user"_s, userJson(user)}, {u"seq"_s, result.value.readSeq}}, 0, request.receivedAtNs);
        });
    });
}

Outcome<HistoryRequest> ChatService::parseHistory(const QString &topic, const QJsonObject &fields)
{
    HistoryRequest request{topic, std::nullopt, std::nullopt, DefaultHistoryLimit};
    for (const auto &[name, target] : {std::pair{"before"_L1, &request.before}, std::pair{"after"_L1, &request.after}}) {
        const auto v = fields.value(name);
        if (v.isUndefined() || v.isNull())
            continue;
        const auto n = wholeNumber(v);
        if (!n)
            return Outcome<HistoryRequest>::fail(Err::InvalidPayload, u"%1 must be a whole number >= 0"_s.arg(name));
        *target = *n;
    }
    const auto limit = fields.value("limit"_L1);
    if (!limit.isUndefined() && !limit.isNull()) {
        const auto n = wholeNumber(limit);
        if (!n || *n < 1 || *n > MaxHistoryLimit)
            return Outcome<HistoryRequest>::fail(Err::InvalidPayload, u"limit must be 1 to %1"_s.arg(MaxHistoryLimit));
        request.limit = int(*n);
    }
    return {request, {}};
}

void ChatService::history(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    authorized(request, Right::Read, false, replyTo, reply, [this, request, reply] {
        const auto parsed = parseHistory(request.topic, request.payload);
        if (!parsed.ok()) {
            reply(refused(parsed.failure));
            return;
        }
        m_store.history(this, *parsed.value, [this, reply](const StoreResult<HistoryPage> &page) {
            if (!page.ok()) {
                reply(refused(failed(page.error, page.message)));
                return;
            }
            QJsonArray messages;
            for (const auto &m : page.value.messages)
                messages.append(m.toJson());
            reply(answer({{u"messages"_s, messages}, {u"has_more"_s, page.value.hasMore},
                          {u"last_seq"_s, page.value.lastSeq}}));
        });
    });
}

void ChatService::historyAfter(const Request &request, qint64 since, int limit, const QObject *replyTo,
                               std::function<void(const Result &, const HistoryPage &)> reply)
{
    const QPointer<const QObject> guard(replyTo);
    const Reply onFailure = [guard, reply](const Result &result) {
        if (guard)
            reply(result, {});
    };
    authorized(request, Right::Read, false, replyTo, onFailure, [this, request, since, limit, guard, reply] {
        const HistoryRequest history{request.topic, std::nullopt, since, limit};
        m_store.history(this, history, [this, guard, reply](const StoreResult<HistoryPage> &page) {
            if (!guard)
                return;
            if (!page.ok())
                reply(refused(failed(page.error, page.message)), {});
            else
                reply(answer({}), page.value);
        });
    });
}

void ChatService::unread(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    if (!request.caller.user) {
        reply(refused({Err::IdentityRequired, u"Say who you are first: hello, or a user / an access token"_s}));
        return;
    }
    m_store.unreadSummary(this, request.caller.user->id, [this, reply](const StoreResult<QMap<QString, ReadState>> &result) {
        if (!result.ok()) {
            reply(refused(failed(result.error, result.message)));
            return;
        }
        QJsonObject channels;
        for (auto it = result.value.cbegin(); it != result.value.cend(); ++it) {
            channels.insert(it.key(), QJsonObject{{u"unread"_s, it->unread},
                                                  {u"mentions"_s, it->mentions},
                                                  {u"last_seq"_s, it->lastSeq},
                                                  {u"read_seq"_s, it->readSeq}});
        }
        reply(answer({{u"channels"_s, channels}}));
    });
}

void ChatService::typing(const Request &request, bool start, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    authorized(request, Right::Post, true, replyTo, reply, [this, request, start, reply] {
        if (start) {
            const auto expires = monotonicNs() / 1'000'000 + m_config.chat.typingTimeout.count();
            m_hub.startTyping(request.topic, *request.caller.user, expires, request.origin);
        } else {
            m_hub.stopTyping(request.topic, request.caller.user->id, request.origin);
        }
        reply(answer({}));
    });
}

void ChatService::createPrivate(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    if (!request.caller.user) {
        reply(refused({Err::IdentityRequired, u"Say who you are first: hello, or a user / an access token"_s}));
        return;
    }
    if (topicKind(request.topic).type != "private"_L1) {
        reply(refused({Err::InvalidTopic, u"Only private:<name> channels are created; others exist by name"_s}));
        return;
    }
    if (const auto denied = m_policy.mayName(request.caller, request.topic)) {
        reply(refused(*denied));
        return;
    }
    QStringList members;
    const auto list = request.payload.value("members"_L1);
    if (!list.isUndefined() && !list.isArray()) {
        reply(refused({Err::InvalidPayload, u"members must be a list of user ids"_s}));
        return;
    }
    for (const auto &m : list.toArray()) {
        if (!m.isString() || !isValidUserId(m.toString())) {
            reply(refused({Err::InvalidPayload, u"members must be a list of user ids"_s}));
            return;
        }
        if (!members.contains(m.toString()))
            members.append(m.toString());
    }
    m_store.createPrivate(this, request.topic, request.caller.user->id, members,
                          [this, reply](const StoreResult<ChannelAccess> &result) {
        if (!result.ok()) {
            reply(refused(failed(result.error, result.message)));
            return;
        }
        reply(answer({{u"type"_s, result.value.type}, {u"owner"_s, result.value.owner},
                      {u"members"_s, QJsonArray::fromStringList(result.value.members)}}));
    });
}

void ChatService::invite(const Request &request, const QObject *replyTo, Reply reply)
{
    reply = guarded(replyTo, std::move(reply));
    if (!request.caller.user) {
        reply(refused({Err::IdentityRequired, u"Say who you are first: hello, or a user / an access token"_s}));
        return;
    }
    if (const auto denied = m_policy.mayName(request.caller, request.topic)) {
        reply(refused(*denied));
        return;
    }
    const auto user = request.payload.value("user"_L1);
    if (!user.isString() || !isValidUserId(user.toString())) {
        reply(refused({Err::InvalidPayload, u"user must be a user id"_s}));
        return;
    }
    // The store checks that the inviter is a member of the private channel.
    m_store.invite(this, request.topic, request.caller.user->id, user.toString(),
                   [this, reply](const StoreResult<ChannelAccess> &result) {
        if (!result.ok()) {
            reply(refused(failed(result.error, result.message)));
            return;
        }
        reply(answer({{u"type"_s, result.value.type}, {u"members"_s, QJsonArray::fromStringList(result.value.members)}}));
    });
}

void ChatService::joinState(const Caller &caller, const QString &topic, std::optional<qint64> since,
                            const QObject *replyTo, std::function<void(const Outcome<JoinState> &)> reply)
{
    if (!caller.user) {
        reply(Outcome<JoinState>::fail(
            Err::IdentityRequired,
            u"Chat needs to know who you are: send hello, or config.user / an access token with the join"_s));
        return;
    }
    const QPointer<const QObject> guard(replyTo);
    auto done = [guard, reply](const Outcome<JoinState> &outcome) {
        if (guard)
            reply(outcome);
    };
    const auto kind = topicKind(topic).type;
    m_store.readState(this, topic, caller.user->id, [this, topic, since, kind, done](const StoreResult<ReadState> &state) {
        if (!state.ok()) {
            const auto f = failed(state.error, state.message);
            done(Outcome<JoinState>::fail(Err::StorageUnavailable, f.message));
            return;
        }
        QJsonObject info{{u"type"_s, kind},
                         {u"last_seq"_s, state.value.lastSeq},
                         {u"read_seq"_s, state.value.readSeq},
                         {u"unread"_s, state.value.unread},
                         {u"mentions"_s, state.value.mentions}};
        // Others' read positions come with the join, so "seen by" is right from the start.
        auto withReads = [this, topic, done](const QJsonObject &position, const QList<StoredMessage> &replay) {
            m_store.readPositions(this, topic, [info = position, replay, done](const StoreResult<QMap<QString, qint64>> &reads) mutable {
                QJsonObject positions;
                if (reads.ok()) {
                    for (auto it = reads.value.cbegin(); it != reads.value.cend(); ++it)
                        positions.insert(it.key(), it.value());
                }
                info.insert(u"reads"_s, positions);
                done({JoinState{info, replay}, {}});
            });
        };
        const qint64 missed = since ? std::max<qint64>(0, state.value.lastSeq - *since) : 0;
        if (!since || missed == 0) {
            info.insert(u"replay"_s, 0);
            withReads(info, {});
            return;
        }
        if (missed > m_config.chat.catchupLimit) {
            info.insert(u"gap"_s, true);
            info.insert(u"replay"_s, 0);
            withReads(info, {});
            return;
        }
        const HistoryRequest request{topic, std::nullopt, since, int(missed)};
        m_store.history(this, request, [this, info, withReads, done](const StoreResult<HistoryPage> &page) mutable {
            if (!page.ok()) {
                const auto f = failed(page.error, page.message);
                done(Outcome<JoinState>::fail(Err::StorageUnavailable, f.message));
                return;
            }
            info.insert(u"replay"_s, page.value.messages.size());
            withReads(info, page.value.messages);
        });
    });
}

void ChatService::notifyMentions(const QString &topic, const StoredMessage &message)
{
    if (message.mentions.isEmpty())
        return;
    const QJsonObject payload{{u"channel"_s, topic}, {u"message"_s, message.toJson()}};
    for (const auto &userId : message.mentions) {
        if (userId == message.author.id)
            continue;
        // Only those who may read the channel learn that the message exists.
        m_policy.memberMayRead(userId, topic, this, [this, userId, payload](bool mayRead) {
            if (mayRead)
                m_hub.notifyUser(userId, Ev::Mention, payload);
        });
    }
}

} // namespace Confab::Server
