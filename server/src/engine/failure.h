#pragma once

#include "storage/messagestore.h"

#include <QtCore/QJsonObject>
#include <QtCore/QLatin1StringView>
#include <QtCore/QString>

#include <optional>

namespace Confab::Server {

//! \brief Why something was refused or failed: a code (Protocol::Errors, the same on every
//! door), a reason for people, and fields that go with the code (e.g. `limit`).
//! The native door sends it as an error reply; HTTP as `{"error":{code,message}}` with the
//! status httpStatusFor(code) gives.
struct Failure
{
    Failure(QLatin1StringView code = {}, QString message = {}, QJsonObject extra = {})
        : code(code), message(std::move(message)), extra(std::move(extra))
    {
    }
    QLatin1StringView code;
    QString message;
    QJsonObject extra;
};

//! \brief A value, or why there is none.
template<typename T>
struct Outcome
{
    std::optional<T> value;
    Failure failure;

    [[nodiscard]] bool ok() const { return value.has_value(); }
    static Outcome fail(QLatin1StringView code, const QString &message, const QJsonObject &extra = {})
    {
        return Outcome{std::nullopt, Failure{code, message, extra}};
    }
};

//! \brief The one mapping from store errors to wire codes, for every door.
[[nodiscard]] Failure storeFailure(StoreError error, const QString &message);

} // namespace Confab::Server
