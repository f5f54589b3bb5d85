#pragma once

#include "ConfabClient/reply.h"

#include <QtCore/QMetaObject>

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
    //! Finishes \a reply from the event loop: a reply created and finished within one API call
    //! must still let the caller connect to finished() first.
    static void finishLater(Reply *reply, Reply::Status status, const QJsonObject &response = {},
                            const QString &code = {}, const QString &message = {})
    {
        QMetaObject::invokeMethod(
            reply, [reply, status, response, code, message] { reply->finish(status, response, code, message); },
            Qt::QueuedConnection);
    }
};

} // namespace Confab
