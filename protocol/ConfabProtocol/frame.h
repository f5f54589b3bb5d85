#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QJsonObject>
#include <QtCore/QString>

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

    friend bool operator==(const Frame &, const Frame &) = default;
};

//! \brief Why a frame could not be decoded, and as much of its address as could be read,
//! so that the error can still be answered on the right topic with the right ref.
struct DecodeError
{
    QLatin1StringView code; //!< one of Protocol::Errors
    QString reason;         //!< human-readable, safe to send back
    std::optional<QString> ref;
    QString topic; //!< empty when the topic could not be read

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

//! \brief Parses one text frame. Never throws; every defect becomes a DecodeError.
//! Checks the shape of the frame and the bounds in Protocol::Bounds, nothing about events.
[[nodiscard]] DecodeResult decodeFrame(const QByteArray &utf8);

//! \brief Serializes a frame as compact JSON (UTF-8), the form sent over the wire.
[[nodiscard]] QByteArray encodeFrame(const Frame &frame);

//! \brief A `chan:reply` frame: `{"status": "ok"|"error", "response": response}`.
[[nodiscard]] Frame replyFrame(const std::optional<QString> &ref, const QString &topic, bool ok,
                               const QJsonObject &response = {});

//! \brief An error reply whose response is `{"reason": reason, "code": code}` (code omitted if empty).
[[nodiscard]] Frame errorReplyFrame(const std::optional<QString> &ref, const QString &topic,
                                    QLatin1StringView code, const QString &reason,
                                    const QJsonObject &extra = {});

} // namespace Confab::Protocol
