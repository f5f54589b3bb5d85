#include "ConfabProtocol/frame.h"

#include "ConfabProtocol/codes.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonParseError>

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

bool validTopic(const QJsonValue &v)
{
    if (!v.isString())
        return false;
    const auto s = v.toString();
    // An escaped lone surrogate (\ud800) parses as JSON but is not text: it would print as "?"
    // in logs and metrics and could make two topics look alike.
    return !s.isEmpty() && s.size() <= Bounds::MaxTopicLength && QStringView(s).isValidUtf16();
}

QJsonValue refValue(const std::optional<QString> &ref)
{
    return ref ? QJsonValue(*ref) : QJsonValue(QJsonValue::Null);
}

} // namespace

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
    // Read what address we can first, so even a badly shaped frame gets its error on its topic.
    std::optional<QString> ref;
    const bool refOk = a.size() > 1 && readRef(a.at(1), ref);
    const QString topic = a.size() > 2 && validTopic(a.at(2)) ? a.at(2).toString() : QString();

    if (a.size() != 5)
        return fail(Errors::MalformedFrame,
                    u"Frame must have exactly 5 elements [join_ref, ref, topic, event, payload], got %1"_s
                        .arg(a.size()),
                    ref, topic);

    std::optional<QString> joinRef;
    if (!readRef(a.at(0), joinRef))
        return fail(Errors::InvalidRef,
                    u"join_ref must be a string of at most %1 characters, or null"_s.arg(Bounds::MaxRefLength),
                    ref, topic);
    if (!refOk)
        return fail(Errors::InvalidRef,
                    u"ref must be a string of at most %1 characters, or null"_s.arg(Bounds::MaxRefLength),
                    std::nullopt, topic);
    if (topic.isEmpty())
        return fail(Errors::InvalidTopic,
                    u"topic must be a non-empty string of at most %1 characters"_s.arg(Bounds::MaxTopicLength),
                    ref, {});
    const auto event = a.at(3);
    if (!event.isString() || event.toString().isEmpty()
        || event.toString().size() > Bounds::MaxEventLength || !QStringView(event.toString()).isValidUtf16())
        return fail(Errors::InvalidEvent,
                    u"event must be a non-empty string of at most %1 characters"_s.arg(Bounds::MaxEventLength),
                    ref, topic);
    if (!a.at(4).isObject())
        return fail(Errors::InvalidPayload, u"payload must be a JSON object"_s, ref, topic);

    return {Frame{joinRef, ref, topic, event.toString(), a.at(4).toObject()}, {}};
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

} // namespace Confab::Protocol
