#include "ConfabClient/reply.h"

namespace Confab {

struct Reply::Private
{
    Status status = Status::Pending;
    QJsonObject response;
    QString errorCode;
    QString errorMessage;
    bool autoDelete = true;
};

Reply::Reply(QObject *parent) : QObject(parent), d(std::make_unique<Private>()) {}

Reply::~Reply() = default;

Reply::Status Reply::status() const
{
    return d->status;
}

QString Reply::errorCode() const
{
    return d->errorCode;
}

QString Reply::errorMessage() const
{
    return d->errorMessage;
}

QJsonObject Reply::response() const
{
    return d->response;
}

bool Reply::autoDelete() const
{
    return d->autoDelete;
}

void Reply::setAutoDelete(bool autoDelete)
{
    if (d->autoDelete == autoDelete)
        return;
    d->autoDelete = autoDelete;
    Q_EMIT autoDeleteChanged();
}

void Reply::finish(Status status, const QJsonObject &response, const QString &code, const QString &message)
{
    if (d->status != Status::Pending || status == Status::Pending)
        return; // a reply finishes once
    d->status = status;
    d->response = response;
    d->errorCode = code;
    d->errorMessage = message;
    Q_EMIT finished();
    if (d->autoDelete)
        deleteLater();
}

} // namespace Confab
