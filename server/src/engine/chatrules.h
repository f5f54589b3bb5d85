#pragma once

#include "engine/failure.h"
#include "storage/messagestore.h"

#include <QtCore/QJsonObject>
#include <QtCore/QLatin1StringView>
#include <QtCore/QString>

#include <optional>

namespace Confab::Server {

//! \name The chat input rules (docs/protocol.md "Chat"), shared by WebSocket and HTTP.
//! @{
[[nodiscard]] bool isValidClientId(const QString &id);  //!< 1-64 of A-Z a-z 0-9 _ -
[[nodiscard]] bool isValidMessageId(const QString &id); //!< a UUID-like id
[[nodiscard]] bool isValidEmoji(const QString &emoji);  //!< 1-32 characters, no whitespace
//! \brief `message:send` / `POST /messages` fields into \a request (topic and author not set).
[[nodiscard]] std::optional<Failure> readSend(const QJsonObject &payload, int maxBody, AppendRequest &request);
//! \brief A message body for send or edit: non-empty text of at most \a maxBody characters
//! (code points: an emoji is one, whatever its UTF-16 length).
[[nodiscard]] std::optional<Failure> checkBody(const QJsonValue &body, int maxBody);
//! \brief Presence meta: its `status` and `status_text`, and its size.
[[nodiscard]] std::optional<Failure> checkPresenceMeta(const QJsonObject &meta, qsizetype maxBytes);
//! @}

} // namespace Confab::Server
