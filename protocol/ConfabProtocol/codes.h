#pragma once

#include <QtCore/QLatin1StringView>

//! \brief Names shared by the client and the server for the native protocol.
//! docs/protocol.md is the reference for what each one means on the wire.
namespace Confab::Protocol {

using namespace Qt::StringLiterals;

//! Topics with a meaning of their own.
namespace Topics {
inline constexpr auto System = "$system"_L1; //!< heartbeats and connection-level errors
} // namespace Topics

//! Event names (the fourth element of a frame).
namespace Events {
inline constexpr auto Heartbeat = "heartbeat"_L1;
inline constexpr auto Join = "chan:join"_L1;
inline constexpr auto Leave = "chan:leave"_L1;
inline constexpr auto Reply = "chan:reply"_L1;
inline constexpr auto Close = "chan:close"_L1;
inline constexpr auto Error = "chan:error"_L1;
inline constexpr auto Broadcast = "broadcast"_L1;
inline constexpr auto Presence = "presence"_L1;
inline constexpr auto PresenceState = "presence_state"_L1;
inline constexpr auto PresenceDiff = "presence_diff"_L1;
inline constexpr auto AccessToken = "access_token"_L1;
// Chat (docs/protocol.md "Chat")
inline constexpr auto Hello = "hello"_L1;
inline constexpr auto Unread = "unread"_L1;
inline constexpr auto Mention = "mention"_L1;
inline constexpr auto MessageSend = "message:send"_L1;
inline constexpr auto MessageEdit = "message:edit"_L1;
inline constexpr auto MessageDelete = "message:delete"_L1;
inline constexpr auto Message = "message"_L1;
inline constexpr auto MessageEdited = "message:edited"_L1;
inline constexpr auto MessageDeleted = "message:deleted"_L1;
inline constexpr auto History = "history"_L1;
inline constexpr auto ReactionAdd = "reaction:add"_L1;
inline constexpr auto ReactionRemove = "reaction:remove"_L1;
inline constexpr auto Reaction = "reaction"_L1;
inline constexpr auto Read = "read"_L1;
inline constexpr auto TypingStart = "typing:start"_L1;
inline constexpr auto TypingStop = "typing:stop"_L1;
inline constexpr auto Typing = "typing"_L1;
inline constexpr auto TypingState = "typing_state"_L1;
inline constexpr auto ChannelCreate = "channel:create"_L1;
inline constexpr auto ChannelInvite = "channel:invite"_L1;
} // namespace Events

//! Error codes carried in `response.code` of an error reply, or in `code` of a `chan:error`.
//! Codes starting with `AUTH_` tell clients not to retry a join.
namespace Errors {
// Frame shape (the codec)
inline constexpr auto MalformedFrame = "MALFORMED_FRAME"_L1;
inline constexpr auto InvalidRef = "INVALID_REF"_L1;
inline constexpr auto InvalidTopic = "INVALID_TOPIC"_L1;
inline constexpr auto InvalidEvent = "INVALID_EVENT"_L1;
inline constexpr auto InvalidPayload = "INVALID_PAYLOAD"_L1;
inline constexpr auto UnsupportedFrame = "UNSUPPORTED_FRAME"_L1;
inline constexpr auto UnknownEvent = "UNKNOWN_EVENT"_L1;
// Channel state
inline constexpr auto AlreadyJoined = "ALREADY_JOINED"_L1;
inline constexpr auto NotJoined = "NOT_JOINED"_L1;
inline constexpr auto ChannelNotFound = "CHANNEL_NOT_FOUND"_L1;
// Limits
inline constexpr auto MessageTooLarge = "MESSAGE_TOO_LARGE"_L1;
inline constexpr auto RateLimited = "MESSAGE_RATE_LIMITED"_L1;
inline constexpr auto PresenceTooLarge = "PRESENCE_PAYLOAD_TOO_LARGE"_L1;
inline constexpr auto ChannelLimit = "CHANNEL_LIMIT_EXCEEDED"_L1;
// Chat
inline constexpr auto IdentityRequired = "IDENTITY_REQUIRED"_L1;
inline constexpr auto Forbidden = "FORBIDDEN"_L1;
inline constexpr auto NotFound = "NOT_FOUND"_L1;
inline constexpr auto AlreadyExists = "ALREADY_EXISTS"_L1;
inline constexpr auto MessageDeleted = "MESSAGE_DELETED"_L1;
inline constexpr auto InvalidId = "INVALID_ID"_L1;
inline constexpr auto StorageUnavailable = "STORAGE_UNAVAILABLE"_L1;
// Authentication and authorization
inline constexpr auto AuthTokenRequired = "AUTH_TOKEN_REQUIRED"_L1;
inline constexpr auto AuthInvalidToken = "AUTH_INVALID_TOKEN"_L1;
inline constexpr auto AuthTokenExpired = "AUTH_TOKEN_EXPIRED"_L1;
inline constexpr auto AuthInvalidSignature = "AUTH_INVALID_SIGNATURE"_L1;
inline constexpr auto AuthClaimInvalid = "AUTH_CLAIM_INVALID"_L1;
inline constexpr auto AuthChannelDenied = "AUTH_CHANNEL_DENIED"_L1;
} // namespace Errors

//! Protocol-level bounds, checked by the codec.
namespace Bounds {
inline constexpr qsizetype MaxTopicLength = 255; //!< names are identifiers, not content
inline constexpr qsizetype MaxEventLength = 128; //!< same; keeps per-event bookkeeping small
inline constexpr qsizetype MaxRefLength = 64;    //!< refs are counters; they are echoed back
} // namespace Bounds

} // namespace Confab::Protocol
