#include "engine/chatrules.h"

#include "engine/hub.h"

#include <ConfabProtocol/codes.h>

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
    static const QRegularExpression re(uR"(^[A-Za-z0-9_\-]{1,64}$)"_s);
    return re.match(id).hasMatch();
}

bool isValidMessageId(const QString &id)
{
    static const QRegularExpression re(uR"(^[0-9a-fA-F\-]{1,64}$)"_s);
    return re.match(id).hasMatch();
}

bool isValidEmoji(const QString &emoji)
{
    // An emoji (or a short code like :+1:) is a handful of code points, never whitespace.
    if (emoji.isEmpty() || emoji.size() > 32)
        return false;
    return std::none_of(emoji.cbegin(), emoji.cend(), [](QChar c) { return c.isSpace(); });
}

std::optional<RuleError> checkBody(const QJsonValue &body, int maxBody)
{
    if (!body.isString() || body.toString().trimmed().isEmpty())
        return RuleError{Err::InvalidPayload, u"body must be non-empty text"_s};
    if (body.toString().size() > maxBody)
        return RuleError{Err::MessageTooLarge, u"A message body may have at most %1 characters"_s.arg(maxBody)};
    return std::nullopt;
}

std::optional<RuleError> readSend(const QJsonObject &payload, int maxBody, AppendRequest &request)
{
    const auto clientId = payload.value("client_id"_L1);
    if (!clientId.isString() || !isValidClientId(clientId.toString()))
        return RuleError{Err::InvalidId, u"client_id must be 1-64 of A-Z a-z 0-9 _ -"_s};
    if (auto error = checkBody(payload.value("body"_L1), maxBody))
        return error;
    const auto meta = payload.value("meta"_L1);
    if (!meta.isUndefined() && !meta.isNull() && !meta.isObject())
        return RuleError{Err::InvalidPayload, u"meta must be an object"_s};
    request.clientId = clientId.toString();
    request.body = payload.value("body"_L1).toString();
    request.mentions = parseMentions(request.body);
    request.meta = meta.toObject();
    return std::nullopt;
}

std::optional<RuleError> checkPresenceMeta(const QJsonObject &meta, qsizetype maxBytes)
{
    const auto status = meta.value("status"_L1);
    static const QStringList statuses{u"online"_s, u"away"_s, u"dnd"_s, u"invisible"_s};
    if (!status.isUndefined() && (!status.isString() || !statuses.contains(status.toString())))
        return RuleError{Err::InvalidPayload, u"meta.status must be one of online, away, dnd, invisible"_s};
    const auto text = meta.value("status_text"_L1);
    if (!text.isUndefined() && (!text.isString() || text.toString().size() > MaxStatusTextLength))
        return RuleError{Err::InvalidPayload,
                         u"meta.status_text must be text of at most %1 characters"_s.arg(MaxStatusTextLength)};
    const auto bytes = QJsonDocument(meta).toJson(QJsonDocument::Compact).size();
    if (bytes > maxBytes)
        return RuleError{Err::PresenceTooLarge,
                         u"Presence meta of %1 bytes exceeds the limit of %2 bytes"_s.arg(bytes).arg(maxBytes)};
    return std::nullopt;
}

void notifyMentions(Hub &hub, MessageStore &store, const QObject *context, const QString &topic,
                    const StoredMessage &message)
{
    if (message.mentions.isEmpty())
        return;
    const QJsonObject payload{{u"channel"_s, topic}, {u"message"_s, message.toJson()}};
    const auto kind = topicKind(topic);
    for (const auto &userId : message.mentions) {
        if (userId == message.author.id)
            continue;
        if (kind.type == "public"_L1) {
            hub.notifyUser(userId, Ev::Mention, payload);
        } else if (kind.type == "dm"_L1) {
            if (kind.dmUsers.contains(userId))
                hub.notifyUser(userId, Ev::Mention, payload);
        } else {
            // Private: only members may learn the message exists.
            Hub *h = &hub;
            store.access(context, topic, userId, [h, userId, payload](const StoreResult<ChannelAccess> &access) {
                if (access.ok() && access.value.allowed)
                    h->notifyUser(userId, Ev::Mention, payload);
            });
        }
    }
}

} // namespace Confab::Server
