// Session: the chat events (docs/protocol.md "Chat"). Every change goes through the store first;
// replies and deliveries happen only once it has committed.
#include "native/session.h"

#include "engine/chatrules.h"
#include "engine/hub.h"
#include "ops/logging.h"
#include "ops/metrics.h"

#include <ConfabProtocol/codes.h>

#include <QtCore/QJsonArray>
#include <QtCore/QPointer>
#include <QtCore/QRegularExpression>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace P = Confab::Protocol;
namespace Ev = Confab::Protocol::Events;
namespace Err = Confab::Protocol::Errors;

namespace {

constexpr int MaxHistoryLimit = 100; // a page; clients ask again for more

} // namespace

bool Session::requireChat(const P::Frame &frame, bool needsMembership)
{
    if (!m_user) {
        reject(Err::IdentityRequired,
               u"Say who you are first: hello, or config.user / an access token with a join"_s, frame.ref,
               frame.topic);
        return false;
    }
    if (!needsMembership)
        return true;
    const auto it = m_memberships.constFind(frame.topic);
    if (it == m_memberships.cend() || it->joining) {
        reject(Err::NotJoined, u"Join the channel (with config.chat) first"_s, frame.ref, frame.topic);
        return false;
    }
    return true;
}

void Session::handleChat(const P::Frame &frame, qint64 receivedAtNs)
{
    if (frame.event == Ev::MessageSend)
        handleSend(frame, receivedAtNs);
    else if (frame.event == Ev::MessageEdit)
        handleEdit(frame, receivedAtNs, false);
    else if (frame.event == Ev::MessageDelete)
        handleEdit(frame, receivedAtNs, true);
    else if (frame.event == Ev::History)
        handleHistory(frame);
    else if (frame.event == Ev::ReactionAdd)
        handleReaction(frame, receivedAtNs, true);
    else if (frame.event == Ev::ReactionRemove)
        handleReaction(frame, receivedAtNs, false);
    else if (frame.event == Ev::Read)
        handleRead(frame, receivedAtNs);
    else if (frame.event == Ev::TypingStart)
        handleTyping(frame, true);
    else if (frame.event == Ev::TypingStop)
        handleTyping(frame, false);
    else if (frame.event == Ev::ChannelCreate)
        handleCreateChannel(frame);
    else if (frame.event == Ev::ChannelInvite)
        handleInvite(frame);
    else
        reject(Err::UnknownEvent, u"Unknown event \"%1\""_s.arg(frame.event), frame.ref, frame.topic);
}

void Session::handleSend(const P::Frame &frame, qint64 receivedAtNs)
{
    if (!requireChat(frame))
        return;
    AppendRequest request;
    request.topic = frame.topic;
    request.author = *m_user;
    const int maxBody = m_context.config.chat.maxMessageBody;
    if (const auto error = readSend(frame.payload, maxBody, request)) {
        reject(error->code, error->message, frame.ref, frame.topic,
               error->code == Err::MessageTooLarge ? QJsonObject{{u"limit"_s, maxBody}} : QJsonObject());
        return;
    }
    // In the server's context, not ours: a stored message reaches the channel even when its
    // sender is gone by the time of the commit (only the ack is then lost; a resend gets it).
    const QPointer<Session> self(this);
    const SessionContext context = m_context;
    m_context.store.append(context.owner, request, [self, context, frame, receivedAtNs](const StoreResult<AppendResult> &result) {
        Session *sender = self && !self->m_finished ? self.data() : nullptr;
        if (!result.ok()) {
            if (sender)
                sender->rejectStore(frame, result.error, result.message);
            return;
        }
        const auto &message = result.value.message;
        QJsonObject ack{{u"id"_s, message.id},
                        {u"seq"_s, message.seq},
                        {u"ts"_s, message.toJson().value("ts"_L1)},
                        {u"client_id"_s, message.clientId}};
        if (result.value.duplicate) {
            ack.insert(u"duplicate"_s, true); // the original answer again; nothing is delivered twice
            if (sender)
                sender->replyOk(frame, ack);
            return;
        }
        if (sender)
            sender->replyOk(frame, ack);
        context.hub.deliverChat(sender, frame.topic, Ev::Message, message.toJson(), message.seq, receivedAtNs);
        notifyMentions(context.hub, context.store, context.owner, frame.topic, message);
    });
}

void Session::handleEdit(const P::Frame &frame, qint64 receivedAtNs, bool remove)
{
    if (!requireChat(frame))
        return;
    const auto &p = frame.payload;
    const auto id = p.value("id"_L1);
    if (!id.isString() || !isValidMessageId(id.toString())) {
        reject(Err::InvalidId, u"id must be a message id"_s, frame.ref, frame.topic);
        return;
    }
    // The server's context, as for a send: a committed change reaches the channel regardless.
    const QPointer<Session> self(this);
    const SessionContext context = m_context;
    auto done = [self, context, frame, receivedAtNs, remove](const StoreResult<StoredMessage> &result) {
        Session *sender = self && !self->m_finished ? self.data() : nullptr;
        if (!result.ok()) {
            if (sender)
                sender->rejectStore(frame, result.error, result.message);
            return;
        }
        const auto &message = result.value;
        const auto json = message.toJson();
        if (remove) {
            if (sender)
                sender->replyOk(frame, {{u"id"_s, message.id}, {u"seq"_s, message.seq},
                                        {u"deleted_at"_s, json.value("deleted_at"_L1)}});
            context.hub.deliverChat(sender, frame.topic, Ev::MessageDeleted,
                                    {{u"id"_s, message.id}, {u"seq"_s, message.seq},
                                     {u"deleted_at"_s, json.value("deleted_at"_L1)}},
                                    0, receivedAtNs);
        } else {
            if (sender)
                sender->replyOk(frame, {{u"id"_s, message.id}, {u"seq"_s, message.seq},
                                        {u"edited_at"_s, json.value("edited_at"_L1)}});
            context.hub.deliverChat(sender, frame.topic, Ev::MessageEdited, json, 0, receivedAtNs);
        }
    };
    if (remove) {
        m_context.store.remove(context.owner, frame.topic, id.toString(), m_user->id, done);
        return;
    }
    const auto body = p.value("body"_L1);
    const int maxBody = m_context.config.chat.maxMessageBody;
    if (const auto error = checkBody(body, maxBody)) {
        reject(error->code, error->message, frame.ref, frame.topic,
               error->code == Err::MessageTooLarge ? QJsonObject{{u"limit"_s, maxBody}} : QJsonObject());
        return;
    }
    m_context.store.edit(context.owner, frame.topic, id.toString(), m_user->id, body.toString(),
                         parseMentions(body.toString()), done);
}

void Session::handleHistory(const P::Frame &frame)
{
    if (!requireChat(frame))
        return;
    const auto &p = frame.payload;
    HistoryRequest request{frame.topic, std::nullopt, std::nullopt, 50};
    for (const auto &[name, target] : {std::pair{"before"_L1, &request.before}, std::pair{"after"_L1, &request.after}}) {
        const auto v = p.value(name);
        if (v.isUndefined() || v.isNull())
            continue;
        if (!v.isDouble() || v.toDouble() < 0 || v.toDouble() != double(v.toInteger())) {
            reject(Err::InvalidPayload, u"%1 must be a whole number >= 0"_s.arg(name), frame.ref, frame.topic);
            return;
        }
        *target = v.toInteger();
    }
    const auto limit = p.value("limit"_L1);
    if (!limit.isUndefined() && !limit.isNull()) {
        if (!limit.isDouble() || limit.toInteger() < 1 || limit.toInteger() > MaxHistoryLimit
            || limit.toDouble() != double(limit.toInteger())) {
            reject(Err::InvalidPayload, u"limit must be 1 to %1"_s.arg(MaxHistoryLimit), frame.ref, frame.topic);
            return;
        }
        request.limit = int(limit.toInteger());
    }
    m_context.store.history(this, request, [this, frame](const StoreResult<HistoryPage> &page) {
        if (m_finished)
            return;
        if (!page.ok()) {
            rejectStore(frame, page.error, page.message);
            return;
        }
        QJsonArray messages;
        for (const auto &m : page.value.messages)
            messages.append(m.toJson());
        replyOk(frame, {{u"messages"_s, messages}, {u"has_more"_s, page.value.hasMore}, {u"last_seq"_s, page.value.lastSeq}});
    });
}

void Session::handleReaction(const P::Frame &frame, qint64 receivedAtNs, bool add)
{
    if (!requireChat(frame))
        return;
    const auto id = frame.payload.value("id"_L1);
    const auto emoji = frame.payload.value("emoji"_L1);
    if (!id.isString() || !isValidMessageId(id.toString())) {
        reject(Err::InvalidId, u"id must be a message id"_s, frame.ref, frame.topic);
        return;
    }
    if (!emoji.isString() || !isValidEmoji(emoji.toString())) {
        reject(Err::InvalidPayload, u"emoji must be 1-32 characters without spaces"_s, frame.ref, frame.topic);
        return;
    }
    const QPointer<Session> self(this);
    const SessionContext context = m_context;
    m_context.store.react(context.owner, frame.topic, id.toString(), m_user->id, emoji.toString(), add,
                          [self, context, frame, receivedAtNs](const StoreResult<StoredMessage> &result) {
        Session *sender = self && !self->m_finished ? self.data() : nullptr;
        if (!result.ok()) {
            if (sender)
                sender->rejectStore(frame, result.error, result.message);
            return;
        }
        const auto reactions = result.value.toJson().value("reactions"_L1);
        const QJsonObject payload{{u"id"_s, result.value.id}, {u"seq"_s, result.value.seq}, {u"reactions"_s, reactions}};
        if (sender)
            sender->replyOk(frame, payload);
        context.hub.deliverChat(sender, frame.topic, Ev::Reaction, payload, 0, receivedAtNs);
    });
}

void Session::handleRead(const P::Frame &frame, qint64 receivedAtNs)
{
    if (!requireChat(frame))
        return;
    const auto seq = frame.payload.value("seq"_L1);
    if (!seq.isDouble() || seq.toDouble() < 0 || seq.toDouble() != double(seq.toInteger())) {
        reject(Err::InvalidPayload, u"seq must be a whole number >= 0"_s, frame.ref, frame.topic);
        return;
    }
    const QPointer<Session> self(this);
    const SessionContext context = m_context;
    const QJsonObject user = userJson();
    m_context.store.markRead(context.owner, frame.topic, m_user->id, seq.toInteger(),
                             [self, context, user, frame, receivedAtNs](const StoreResult<ReadState> &result) {
        Session *sender = self && !self->m_finished ? self.data() : nullptr;
        if (!result.ok()) {
            if (sender)
                sender->rejectStore(frame, result.error, result.message);
            return;
        }
        if (sender)
            sender->replyOk(frame, {{u"read_seq"_s, result.value.readSeq}, {u"unread"_s, result.value.unread},
                                    {u"mentions"_s, result.value.mentions}});
        context.hub.deliverChat(sender, frame.topic, Ev::Read,
                                {{u"user"_s, user}, {u"seq"_s, result.value.readSeq}}, 0, receivedAtNs);
    });
}

void Session::handleUnread(const P::Frame &frame)
{
    if (!requireChat(frame, false))
        return;
    m_context.store.unreadSummary(this, m_user->id, [this, frame](const StoreResult<QMap<QString, ReadState>> &result) {
        if (m_finished)
            return;
        if (!result.ok()) {
            rejectStore(frame, result.error, result.message);
            return;
        }
        QJsonObject channels;
        for (auto it = result.value.cbegin(); it != result.value.cend(); ++it) {
            channels.insert(it.key(), QJsonObject{{u"unread"_s, it->unread},
                                                  {u"mentions"_s, it->mentions},
                                                  {u"last_seq"_s, it->lastSeq},
                                                  {u"read_seq"_s, it->readSeq}});
        }
        replyOk(frame, {{u"channels"_s, channels}});
    });
}

void Session::handleTyping(const P::Frame &frame, bool start)
{
    if (!requireChat(frame))
        return;
    if (start) {
        const auto expires = monotonicNs() / 1'000'000 + m_context.config.chat.typingTimeout.count();
        m_context.hub.startTyping(frame.topic, *m_user, expires, this);
    } else {
        m_context.hub.stopTyping(frame.topic, m_user->id, this);
    }
    replyOk(frame);
}

void Session::handleCreateChannel(const P::Frame &frame)
{
    if (!requireChat(frame, false))
        return;
    if (topicKind(frame.topic).type != "private"_L1) {
        reject(Err::InvalidTopic, u"Only private:<name> channels are created; others exist by name"_s, frame.ref,
               frame.topic);
        return;
    }
    QStringList members;
    const auto list = frame.payload.value("members"_L1);
    if (!list.isUndefined() && !list.isArray()) {
        reject(Err::InvalidPayload, u"members must be a list of user ids"_s, frame.ref, frame.topic);
        return;
    }
    for (const auto &m : list.toArray()) {
        if (!m.isString() || !isValidUserId(m.toString())) {
            reject(Err::InvalidPayload, u"members must be a list of user ids"_s, frame.ref, frame.topic);
            return;
        }
        if (!members.contains(m.toString()))
            members.append(m.toString());
    }
    m_context.store.createPrivate(this, frame.topic, m_user->id, members,
                                  [this, frame](const StoreResult<ChannelAccess> &result) {
        if (m_finished)
            return;
        if (!result.ok()) {
            rejectStore(frame, result.error, result.message);
            return;
        }
        replyOk(frame, {{u"type"_s, result.value.type}, {u"owner"_s, result.value.owner},
                        {u"members"_s, QJsonArray::fromStringList(result.value.members)}});
    });
}

void Session::handleInvite(const P::Frame &frame)
{
    if (!requireChat(frame, false))
        return;
    const auto user = frame.payload.value("user"_L1);
    if (!user.isString() || !isValidUserId(user.toString())) {
        reject(Err::InvalidPayload, u"user must be a user id"_s, frame.ref, frame.topic);
        return;
    }
    m_context.store.invite(this, frame.topic, m_user->id, user.toString(),
                           [this, frame](const StoreResult<ChannelAccess> &result) {
        if (m_finished)
            return;
        if (!result.ok()) {
            rejectStore(frame, result.error, result.message);
            return;
        }
        replyOk(frame, {{u"type"_s, result.value.type}, {u"members"_s, QJsonArray::fromStringList(result.value.members)}});
    });
}

} // namespace Confab::Server
