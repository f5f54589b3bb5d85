#pragma once

#include <QtCore/QDateTime>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QUrl>

namespace Confab {

//! One chat message on its way: kept on disk from sendMessage() until the server acknowledges
//! it, so that neither a lost connection nor an application restart loses it.
struct QueuedMessage
{
    QString topic;
    QString clientId; //!< the idempotency key: resends carry the same one
    QString body;
    QJsonObject meta;
    QDateTime createdAt;
    bool failed = false; //!< refused by the server: not sent again until retried
    QString errorCode;
    QString errorMessage;
};

//! The queue file: `<storage>/queue-<hash of server and user>.json`, one per (server host:port,
//! user), rewritten whole and atomically (QSaveFile) on every change.
namespace Outbox {

//! `host:port` of \a server (the port defaulted from the scheme).
[[nodiscard]] QString serverKey(const QUrl &server);
//! The file name (no directory) for \a serverKey and \a userId.
[[nodiscard]] QString fileName(const QString &serverKey, const QString &userId);

enum class LoadStatus { Ok, Missing, Corrupt };
struct LoadResult
{
    LoadStatus status = LoadStatus::Missing;
    QList<QueuedMessage> messages;
    QString error; //!< why it is corrupt
};
//! Reads \a path; Missing when there is no file; Corrupt when it cannot be read or parsed.
[[nodiscard]] LoadResult load(const QString &path);
//! Writes \a messages to \a path atomically (creating the directory); false with \a error set.
[[nodiscard]] bool save(const QString &path, const QString &serverKey, const QString &userId,
                        const QList<QueuedMessage> &messages, QString *error);
//! Renames a corrupt \a path to `<path>.corrupt-<time>`; returns the new name (empty on failure).
QString moveAside(const QString &path);

} // namespace Outbox

} // namespace Confab
