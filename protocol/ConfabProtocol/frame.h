#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QByteArrayView>
#include <QtCore/QJsonObject>
#include <QtCore/QString>
#include <QtCore/QStringView>

#include <optional>

namespace Confab::Protocol {

//! \brief One native-protocol frame: `[join_ref, ref, topic, event, payload]`.
//! A null `join_ref` or `ref` on the wire is `std::nullopt` here.
struct Frame
{
    std::optional<QString> joinRef;
    std::optional<QString> ref;
    QString topic;
    QString event;
    QJsonObject payload;
    //! The payload exactly as it came over the wire (the bytes of element 4, without the
    //! whitespace around it), set by decodeFrame(); empty for a frame built in code. Take a
    //! member's bytes with Json::objectMember(rawPayload, key) to relay it unchanged (see
    //! encodeBroadcast()). Guaranteed by decodeFrame() to pass Json::findTextDefect().
    //! (The `{}` keeps `Frame{joinRef, ref, topic, event, payload}` free of
    //! -Wmissing-field-initializers.)
    QByteArray rawPayload{};

    //! \brief Frames are equal when they mean the same: rawPayload is not compared, since the
    //! same payload has many spellings (key order, whitespace, `1.0` or `1`) and a frame built in
    //! code has none.
    friend bool operator==(const Frame &a, const Frame &b)
    {
        return a.joinRef == b.joinRef && a.ref == b.ref && a.topic == b.topic && a.event == b.event
            && a.payload == b.payload;
    }
};

//! \brief Why a frame could not be decoded, and as much of its address as could be read,
//! so that the error can still be answered on the right topic with the right ref.
//!
//! The ref and the topic are read independently: `[null,"7",12345,"chan:join",{}]` gives
//! INVALID_TOPIC with ref `"7"` and an empty topic. The answer (rejectionFrame()) is then:
//! - topic read: `[null, ref, topic, "chan:reply", {"status":"error","response":{"reason","code"}}]`
//!   (ref possibly null);
//! - topic not read, ref read: the same `chan:reply` on `$system`, with that ref, so that the
//!   client's pending request fails at once instead of timing out;
//! - neither: `[null, null, "$system", "chan:error", {"code","reason"}]`.
struct DecodeError
{
    QLatin1StringView code; //!< one of Protocol::Errors
    QString reason;         //!< human-readable, safe to send back
    //! The frame's ref when it is a valid ref string, even when other elements (the topic
    //! included) are not; std::nullopt when it is null, invalid, or could not be reached.
    std::optional<QString> ref;
    QString topic; //!< a valid topic (isValidTopic()), or empty when the topic could not be read

    //! \brief True when the error can be sent as a `chan:reply` to a known topic.
    [[nodiscard]] bool addressable() const { return !topic.isEmpty(); }
};

//! \brief The outcome of decodeFrame(): a frame, or an error.
struct DecodeResult
{
    std::optional<Frame> frame;
    DecodeError error;

    [[nodiscard]] bool ok() const { return frame.has_value(); }
};

//! \brief True when \a topic may name a channel: 1 to Bounds::MaxTopicLength UTF-16 units,
//! valid UTF-16, and no control character (Unicode category Cc: U+0000–U+001F, DEL,
//! U+0080–U+009F). A lone surrogate would print as `?`, so two topics could look alike; control
//! characters would carry NUL, line breaks or terminal escapes into logs, metric labels and file
//! names. `$system` is valid.
[[nodiscard]] bool isValidTopic(QStringView topic);

//! \brief Parses one text frame. Never throws; every defect becomes a DecodeError.
//!
//! Checks the shape of the frame and the bounds in Protocol::Bounds, nothing about events.
//! Beyond what QJsonDocument accepts, every element must pass Json::findTextDefect() (valid
//! UTF-8, RFC 8259 JSON, no unpaired surrogate escape), so that the payload can be relayed
//! byte for byte and every peer reads it the same way. Errors, in element order (the first
//! defect is reported, with the address read so far, see DecodeError):
//! - MALFORMED_FRAME: not JSON, not an array, not exactly 5 elements;
//! - INVALID_REF: `join_ref` or `ref` not null nor a string of at most Bounds::MaxRefLength;
//! - INVALID_TOPIC: topic not a string passing isValidTopic();
//! - INVALID_EVENT: event not a string of 1 to Bounds::MaxEventLength units, valid UTF-16;
//! - INVALID_PAYLOAD: payload not an object, or not relayable text (Json::findTextDefect()).
//!
//! A string element that is not relayable text (a lone surrogate escape, an escape RFC 8259
//! does not define) is refused with that element's code. On success Frame::rawPayload holds the
//! payload's bytes.
[[nodiscard]] DecodeResult decodeFrame(const QByteArray &utf8);

//! \brief Serializes a frame as compact JSON (UTF-8), the form sent over the wire.
//! A function of the frame's meaning: Frame::rawPayload is ignored, the payload is re-encoded.
[[nodiscard]] QByteArray encodeFrame(const Frame &frame);

//! \brief The broadcast fan-out frame
//! `[null,null,<topic>,"broadcast",{"type":"broadcast","event":<event>,"payload":<rawPayload>}]`,
//! with \a rawPayload copied byte for byte, so that receivers get exactly what the sender wrote.
//!
//! \a topic and \a event are written as JSON strings (Json::quote()). When \a rawPayload is
//! std::nullopt the `payload` member is left out, as when the sender sent none. \a rawPayload
//! must be one JSON value that passes Json::findTextDefect(): take it with
//! `Json::objectMember(frame.rawPayload, u"payload")` from a frame decodeFrame() accepted.
[[nodiscard]] QByteArray encodeBroadcast(QStringView topic, QStringView event,
                                         std::optional<QByteArrayView> rawPayload);

//! \brief A `chan:reply` frame: `{"status": "ok"|"error", "response": response}`.
[[nodiscard]] Frame replyFrame(const std::optional<QString> &ref, const QString &topic, bool ok,
                               const QJsonObject &response = {});

//! \brief An error reply whose response is `{"reason": reason, "code": code}` (code omitted if empty).
[[nodiscard]] Frame errorReplyFrame(const std::optional<QString> &ref, const QString &topic,
                                    QLatin1StringView code, const QString &reason,
                                    const QJsonObject &extra = {});

//! \brief The frame that answers \a error (see DecodeError for the three cases): an error
//! reply on the error's topic, an error reply on `$system` carrying the error's ref, or a
//! `chan:error` on `$system`. \a extra is merged into the response (`limit`, `retry_after`).
[[nodiscard]] Frame rejectionFrame(const DecodeError &error, const QJsonObject &extra = {});

} // namespace Confab::Protocol
