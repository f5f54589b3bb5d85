#include "engine/chatrules.h"


#include <ConfabProtocol/codes.h>
#include <ConfabProtocol/text.h>

#include <QtCore/QJsonDocument>
#include <QtCore/QRegularExpression>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;
namespace Ev = Confab::Protocol::Events;

namespace {
constexpr qsizetype MaxStatusTextLength = 100; // "in a meeting until 3"
} // namespace

bool isValidClientId(const QString &id)
{
    // Echoed back and indexed per author: short and plain.
    static const QRegularExpression re(QRegularExpression::anchoredPattern(uR"([A-Za-z0-9_\-]{1,64})"_s));
    return re.match(id).hasMatch();
}

bool isValidMessageId(const QString &id)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(uR"([0-9a-fA-F\-]{1,64})"_s));
    return re.match(id).hasMatch();
}

bool isValidEmoji(const QString &emoji)
{
    // An emoji (or a short code like :+1:) is a handful of code points, never whitespace.
    if (emoji.isEmpty() || emoji.size() > 32)
        return false;
    return std::none_of(emoji.cbegin(), emoji.cend(), [](QChar c) { return c.isSpace(); });
}

std::optional<Failure> checkBody(const QJsonValue &body, int maxBody)
{
    if (!body.isString() || body.toString().trimmed().isEmpty())
        return Failure{Err::InvalidPayload, u"body must be non-empty text"_s};
    if (Protocol::Text::codePointCount(body.toString()) > maxBody)
        return Failure{Err::MessageTooLarge, u"A message body may have at most %1 characters"_s.arg(maxBody),
                       {{u"limit"_s, maxBody}}};
    return std::nullopt;
}

std::optional<Failure> readSend(const QJsonObject &payload, int maxBody, AppendRequest &request)
{
    const auto clientId = payload.value("client_id"_L1);
    if (!clientId.isString() || !isValidClientId(clientId.toString()))
        return Failure{Err::InvalidId, u"client_id must be 1-64 of A-Z a-z 0-9 _ -"_s};
    if (auto error = checkBody(payload.value("body"_L1), maxBody))
        return error;
    const auto meta = payload.value("meta"_L1);
    if (!meta.isUndefined() && !meta.isNull() && !meta.isObject())
        return Failure{Err::InvalidPayload, u"meta must be an object"_s};
    request.clientId = clientId.toString();
    request.body = payload.value("body"_L1).toString();
    request.mentions = parseMentions(request.body);
    request.meta = meta.toObject();
    return std::nullopt;
}

std::optional<Failure> checkPresenceMeta(const QJsonObject &meta, qsizetype maxBytes)
{
    const auto status = meta.value("status"_L1);
    static const QStringList statuses{u"online"_s, u"away"_s, u"dnd"_s, u"invisible"_s};
    if (!status.isUndefined() && (!status.isString() || !statuses.contains(status.toString())))
        return Failure{Err::InvalidPayload, u"meta.status must be one of online, away, dnd, invisible"_s};
    const auto text = meta.value("status_text"_L1);
    if (!text.isUndefined() && (!text.isString() || text.toString().size() > MaxStatusTextLength))
        return Failure{Err::InvalidPayload,
                         u"meta.status_text must be text of at most %1 characters"_s.arg(MaxStatusTextLength)};
    const auto bytes = QJsonDocument(meta).toJson(QJsonDocument::Compact).size();
    if (bytes > maxBytes)
        return Failure{Err::PresenceTooLarge,
                       u"Presence meta of %1 bytes exceeds the limit of %2 bytes"_s.arg(bytes).arg(maxBytes),
                       {{u"limit"_s, qint64(maxBytes)}}};
    return std::nullopt;
}

} // namespace Confab::Server
