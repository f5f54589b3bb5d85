#include "engine/failure.h"

#include <ConfabProtocol/codes.h>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace Err = Confab::Protocol::Errors;

Failure storeFailure(StoreError error, const QString &message)
{
    switch (error) {
    case StoreError::None:
        break;
    case StoreError::NotFound:
        return {Err::NotFound, message, {}};
    case StoreError::Forbidden:
        return {Err::Forbidden, message, {}};
    case StoreError::MessageDeleted:
        return {Err::MessageDeleted, message, {}};
    case StoreError::AlreadyExists:
        return {Err::AlreadyExists, message, {}};
    case StoreError::Invalid:
        return {Err::InvalidPayload, message, {}};
    case StoreError::Unavailable:
        // The database's own message (a path, SQLite's words) stays in the server's log.
        return {Err::StorageUnavailable, u"The message store could not commit; nothing was stored, retry"_s, {}};
    }
    return {Err::StorageUnavailable, u"The message store failed; retry"_s, {}};
}

} // namespace Confab::Server
