#pragma once

#include <QtCore/QJsonObject>
#include <QtCore/QString>

#include <optional>

namespace Confab::Server {

//! \brief Who wrote or did something: a user id and display name.
struct ChatUser
{
    QString id;
    QString name;
    friend bool operator==(const ChatUser &, const ChatUser &) = default;
};

//! \brief A user id: 1-64 of A-Z a-z 0-9 _ . - (docs/protocol.md "Identity"). The same rule
//! for self-declared ids (open mode), token subjects (JWT mode) and `POST /api/session` ids:
//! ids appear in DM topics, mentions and presence keys, so they must stay short and plain.
[[nodiscard]] bool isValidUserId(const QString &id);

//! \brief A display name: at most 100 characters, no control characters.
[[nodiscard]] bool isValidUserName(const QString &name);

//! \brief A self-declared user `{id, name}` (open mode); the name defaults to the id.
[[nodiscard]] std::optional<ChatUser> readUser(const QJsonObject &declared);

} // namespace Confab::Server
