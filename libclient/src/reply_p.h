#pragma once

#include "ConfabClient/reply.h"

namespace Confab {

//! The library's way to create and complete replies; applications only read them.
struct ReplyControl
{
    static Reply *create(QObject *parent) { return new Reply(parent); }
    static void finish(Reply *reply, Reply::Status status, const QJsonObject &response = {},
                       const QString &code = {}, const QString &message = {})
    {
        if (reply)
            reply->finish(status, response, code, message);
    }
};

} // namespace Confab
