#include "auth/identity.h"

#include <QtCore/QRegularExpression>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {
constexpr qsizetype MaxUserNameLength = 100; // a display name, not a paragraph
} // namespace

bool isValidUserId(const QString &id)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(uR"([A-Za-z0-9_.\-]{1,64})"_s));
    return re.match(id).hasMatch();
}

bool isValidUserName(const QString &name)
{
    if (name.size() > MaxUserNameLength || !QStringView(name).isValidUtf16())
        return false;
    // Names are shown in every client's member list and logs: no terminal escapes or NULs.
    return std::none_of(name.cbegin(), name.cend(),
                        [](QChar c) { return c.category() == QChar::Other_Control; });
}

std::optional<ChatUser> readUser(const QJsonObject &declared)
{
    const auto id = declared.value("id"_L1).toString();
    const auto name = declared.value("name"_L1).toString();
    if (!isValidUserId(id) || !isValidUserName(name))
        return std::nullopt;
    return ChatUser{id, name.isEmpty() ? id : name};
}

} // namespace Confab::Server
