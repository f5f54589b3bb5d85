// Session: the chat events (docs/protocol.md "Chat"). The session only checks what is its own
// (identity on this connection, membership of the channel) and turns frames into ChatService
// requests; the service decides and the session encodes its answer.
#include "native/session.h"

#include <ConfabProtocol/codes.h>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace P = Confab::Protocol;
namespace Ev = Confab::Protocol::Events;
namespace Err = Confab::Protocol::Errors;

void Session::answer(const P::Frame &frame, const ChatService::Result &result)
{
    if (m_finished)
        return;
    if (result.failure)
        reject(*result.failure, frame.ref, frame.topic);
    else
        replyOk(frame, result.response);
}

void Session::handleChat(const P::Frame &frame, qint64 receivedAtNs)
{
    const auto &event = frame.event;
    const bool known = event == Ev::MessageSend || event == Ev::MessageEdit || event == Ev::MessageDelete
        || event == Ev::History || event == Ev::ReactionAdd || event == Ev::ReactionRemove || event == Ev::Read
        || event == Ev::TypingStart || event == Ev::TypingStop || event == Ev::ChannelCreate
        || event == Ev::ChannelInvite;
    if (!known) {
        reject({Err::UnknownEvent, u"Unknown event \"%1\""_s.arg(event)}, frame.ref, frame.topic);
        return;
    }
    if (!m_caller.user) {
        reject({Err::IdentityRequired, u"Say who you are first: hello, or config.user / an access token with a join"_s},
               frame.ref, frame.topic);
        return;
    }
    // Creating and inviting concern channels one is not in yet; everything else needs the
    // channel joined for chat on this connection (that is where its events arrive).
    const bool needsMembership = event != Ev::ChannelCreate && event != Ev::ChannelInvite;
    if (needsMembership) {
        const auto it = m_memberships.constFind(frame.topic);
        if (it == m_memberships.cend() || it->joining) {
            reject({Err::NotJoined, u"Join the channel (with config.chat) first"_s}, frame.ref, frame.topic);
            return;
        }
    }
    const ChatService::Request request{callerFor(frame.topic), frame.topic, frame.payload, m_id, receivedAtNs};
    auto reply = [this, frame](const ChatService::Result &result) { answer(frame, result); };
    auto &chat = m_context.chat;
    if (event == Ev::MessageSend)
        chat.send(request, this, reply);
    else if (event == Ev::MessageEdit)
        chat.edit(request, this, reply);
    else if (event == Ev::MessageDelete)
        chat.remove(request, this, reply);
    else if (event == Ev::History)
        chat.history(request, this, reply);
    else if (event == Ev::ReactionAdd || event == Ev::ReactionRemove)
        chat.react(request, event == Ev::ReactionAdd, this, reply);
    else if (event == Ev::Read)
        chat.markRead(request, this, reply);
    else if (event == Ev::TypingStart || event == Ev::TypingStop)
        chat.typing(request, event == Ev::TypingStart, this, reply);
    else if (event == Ev::ChannelCreate)
        chat.createPrivate(request, this, reply);
    else
        chat.invite(request, this, reply);
}

void Session::handleUnread(const P::Frame &frame)
{
    const ChatService::Request request{m_caller, frame.topic, frame.payload, m_id, monotonicNs()};
    m_context.chat.unread(request, this, [this, frame](const ChatService::Result &result) { answer(frame, result); });
}

} // namespace Confab::Server
