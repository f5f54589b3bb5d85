#pragma once

#include "storage/messagestore.h"

#include <QtCore/QJsonObject>
#include <QtCore/QLatin1StringView>
#include <QtCore/QString>

#include <optional>

class QObject;

namespace Confab::Server {

class Hub;

//! \brief Why an input was refused: a Protocol::Errors code and a reason for people.
struct RuleError
{
    QLatin1StringView code;
    QString message;
};

//! \name The chat input rules (docs/protocol.md "Chat"), shared by WebSocket and HTTP.
//! @{
[[nodiscard]] bool isValidClientId(const QString &id);  //!< 1-64 of A-Z a-z 0-9 _ -
[[nodiscard]] bool isValidMessageId(const QString &id); //!< a UUID-like id
[[nodiscard]] bool isValidEmoji(const QString &emoji);  //!< 1-32 characters, no whitespace
//! \brief `message:send` / `POST /messages` fields into \a request (topic and author not set).
[[nodiscard]] std::optional<RuleError> readSend(const QJsonObject &payload, int maxBody, AppendRequest &request);
//! \brief A message body for send or edit.
[[nodiscard]] std::optional<RuleError> checkBody(const QJsonValue &body, int maxBody);
//! \brief Presence meta: its `status` and `status_text`, and its size.
[[nodiscard]] std::optional<RuleError> checkPresenceMeta(const QJsonObject &meta, qsizetype maxBytes);
//! @}

//! \brief Tells every mentioned user (their connections, on `$system`) who may read \a topic.
void notifyMentions(Hub &hub, MessageStore &store, const QObject *context, const QString &topic,
                    const StoredMessage &message);

} // namespace Confab::Server
