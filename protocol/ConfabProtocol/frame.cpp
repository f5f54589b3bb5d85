#include "ConfabProtocol/frame.h"

#include "ConfabProtocol/codes.h"
#include "ConfabProtocol/json.h"
#include "ConfabProtocol/text.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonParseError>

#include <array>

namespace Confab::Protocol {

namespace {

DecodeResult fail(QLatin1StringView code, const QString &reason, std::optional<QString> ref = {},
                  QString topic = {})
{
    return {std::nullopt, DecodeError{code, reason, std::move(ref), std::move(topic)}};
}

// A ref is a string (the SDK's counters) or null; anything else cannot be echoed back faithfully.
bool readRef(const QJsonValue &v, std::optional<QString> &out)
{
    if (v.isNull()) {
        out.reset();
        return true;
    }
    if (!v.isString() || v.toString().size() > Bounds::MaxRefLength || !QStringView(v.toString()).isValidUtf16())
        return false;
    out = v.toString();
    return true;
}

QJsonValue refValue(const std::optional<QString> &ref)
{
    return ref ? QJsonValue(*ref) : QJsonValue(QJsonValue::Null);
}

} // namespace

bool isValidTopic(QStringView topic)
{
    return !topic.isEmpty() && topic.size() <= Bounds::MaxTopicLength && topic.isValidUtf16()
        && !Text::hasControlCharacter(topic);
}

DecodeResult decodeFrame(const QByteArray &utf8)
{
    QJsonParseError parseError;
    const auto doc = QJsonDocument::fromJson(utf8, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return fail(Errors::MalformedFrame, u"Frame is not valid JSON: "_s + parseError.errorString());
    if (!doc.isArray())
        return fail(Errors::MalformedFrame,
                    u"Frame must be a JSON array [join_ref, ref, topic, event, payload]"_s);

    const auto a = doc.array();
    // The bytes of the first five elements. QJsonDocument accepted the text and Grammar::Qt
    // accepts all it does, so this only fails if the two ever disagree; refuse rather than guess.
    const auto spans = Json::arrayElements(utf8, 5);
    if (!spans || spans->size() != std::min<qsizetype>(a.size(), 5))
        return fail(Errors::MalformedFrame, u"Frame is not valid JSON"_s);
    // QJsonDocument is more lenient than RFC 8259 and keeps lone surrogates, so each element's
    // own bytes are checked too: what is echoed back or relayed must read the same everywhere.
    auto defectOf = [&](qsizetype i) {
        auto defect = Json::findTextDefect(spans->at(i));
        if (defect)
            defect->offset += spans->at(i).data() - utf8.constData(); // an offset into the frame
        return defect;
    };
    std::array<std::optional<Json::TextDefect>, 4> nameDefects; // join_ref, ref, topic, event
    for (qsizetype i = 0; i < std::min<qsizetype>(spans->size(), 4); ++i)
        nameDefects[std::size_t(i)] = defectOf(i);
    auto relayable = [&](int i) { return i < spans->size() && !nameDefects[std::size_t(i)]; };
    // The reason names the defect when the bytes were the problem, not the type or length.
    auto because = [&](QString reason, int i) {
        if (const auto &defect = nameDefects[std::size_t(i)])
            reason += u" ("_s + defect->reason() + u')';
        return reason;
    };

    // Read what address we can first, so even a badly shaped frame gets its error on its topic.
    std::optional<QString> ref;
    const bool refOk = a.size() > 1 && relayable(1) && readRef(a.at(1), ref);
    const QString topic = a.size() > 2 && relayable(2) && a.at(2).isString() && isValidTopic(a.at(2).toString())
        ? a.at(2).toString()
        : QString();

    if (a.size() != 5)
        return fail(Errors::MalformedFrame,
                    u"Frame must have exactly 5 elements [join_ref, ref, topic, event, payload], got %1"_s
                        .arg(a.size()),
                    ref, topic);

    std::optional<QString> joinRef;
    if (!relayable(0) || !readRef(a.at(0), joinRef))
        return fail(Errors::InvalidRef,
                    because(u"join_ref must be a string of at most %1 characters, or null"_s.arg(Bounds::MaxRefLength), 0),
                    ref, topic);
    if (!refOk)
        return fail(Errors::InvalidRef,
                    because(u"ref must be a string of at most %1 characters, or null"_s.arg(Bounds::MaxRefLength), 1),
                    std::nullopt, topic);
    if (topic.isEmpty())
        return fail(Errors::InvalidTopic,
                    because(u"topic must be a string of 1 to %1 characters without control characters"_s.arg(
                                Bounds::MaxTopicLength),
                            2),
                    ref, {});
    const auto event = a.at(3);
    if (!relayable(3) || !event.isString() || event.toString().isEmpty()
        || event.toString().size() > Bounds::MaxEventLength || !QStringView(event.toString()).isValidUtf16())
        return fail(Errors::InvalidEvent,
                    because(u"event must be a non-empty string of at most %1 characters"_s.arg(Bounds::MaxEventLength), 3),
                    ref, topic);
    if (!a.at(4).isObject())
        return fail(Errors::InvalidPayload, u"payload must be a JSON object"_s, ref, topic);
    if (const auto defect = defectOf(4))
        return fail(Errors::InvalidPayload, u"payload: "_s + defect->reason(), ref, topic);
    const auto payloadBytes = spans->at(4);

    Frame frame{std::move(joinRef), std::move(ref), topic, event.toString(), a.at(4).toObject(),
                payloadBytes.toByteArray()};
    return {std::move(frame), {}};
}

QByteArray encodeFrame(const Frame &frame)
{
    const QJsonArray a{refValue(frame.joinRef), refValue(frame.ref), frame.topic, frame.event,
                       frame.payload};
    return QJsonDocument(a).toJson(QJsonDocument::Compact);
}

Frame replyFrame(const std::optional<QString> &ref, const QString &topic, bool ok,
                 const QJsonObject &response)
{
    return Frame{std::nullopt, ref, topic, QString(Events::Reply),
                 QJsonObject{{u"status"_s, ok ? u"ok"_s : u"error"_s}, {u"response"_s, response}}};
}

Frame errorReplyFrame(const std::optional<QString> &ref, const QString &topic, QLatin1StringView code,
                      const QString &reason, const QJsonObject &extra)
{
    QJsonObject response = extra;
    response.insert(u"reason"_s, reason);
    if (!code.isEmpty())
        response.insert(u"code"_s, QString(code));
    return replyFrame(ref, topic, false, response);
}

QByteArray encodeBroadcast(QStringView topic, QStringView event, std::optional<QByteArrayView> rawPayload)
{
    QByteArray out;
    out.reserve(topic.size() + event.size() + (rawPayload ? rawPayload->size() : 0) + 80);
    out += "[null,null,";
    out += Json::quote(topic);
    out += ",\"broadcast\",{\"type\":\"broadcast\",\"event\":";
    out += Json::quote(event);
    if (rawPayload) {
        out += ",\"payload\":";
        out += *rawPayload;
    }
    out += "}]";
    return out;
}

Frame rejectionFrame(const DecodeError &error, const QJsonObject &extra)
{
    if (error.addressable())
        return errorReplyFrame(error.ref, error.topic, error.code, error.reason, extra);
    if (error.ref)
        return errorReplyFrame(error.ref, QString(Topics::System), error.code, error.reason, extra);
    QJsonObject payload = extra;
    payload.insert(u"code"_s, QString(error.code));
    payload.insert(u"reason"_s, error.reason);
    return Frame{std::nullopt, std::nullopt, QString(Topics::System), QString(Events::Error), payload};
}

} // namespace Confab::Protocol
