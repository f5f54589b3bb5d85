#include "outbox_p.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QSaveFile>

using namespace Qt::StringLiterals;

namespace Confab::Outbox {

namespace {
constexpr int FormatVersion = 1;
} // namespace

QString serverKey(const QUrl &server)
{
    const bool secure = server.scheme() == "wss"_L1 || server.scheme() == "https"_L1;
    return server.host().toLower() + u':' + QString::number(server.port(secure ? 443 : 80));
}

QString fileName(const QString &serverKey, const QString &userId)
{
    // Hashed: user ids and hosts may hold characters a file name cannot, and the name should
    // not tell who uses the machine. The file itself names both, for people.
    const auto hash = QCryptographicHash::hash((serverKey + u'\n' + userId).toUtf8(), QCryptographicHash::Sha256);
    return u"queue-"_s + QString::fromLatin1(hash.toHex().left(24)) + u".json"_s;
}

LoadResult load(const QString &path)
{
    LoadResult result;
    QFile file(path);
    if (!file.exists())
        return result;
    if (!file.open(QIODevice::ReadOnly)) {
        result.status = LoadStatus::Corrupt;
        result.error = file.errorString();
        return result;
    }
    QJsonParseError parseError;
    const auto doc = QJsonDocument::fromJson(file.readAll(), &parseError);
    result.status = LoadStatus::Corrupt;
    if (parseError.error != QJsonParseError::NoError) {
        result.error = parseError.errorString();
        return result;
    }
    const auto root = doc.object();
    if (!doc.isObject() || root.value("version"_L1).toInt() != FormatVersion || !root.value("messages"_L1).isArray()) {
        result.error = u"not a version %1 queue file"_s.arg(FormatVersion);
        return result;
    }
    for (const auto &value : root.value("messages"_L1).toArray()) {
        const auto o = value.toObject();
        QueuedMessage m;
        m.topic = o.value("topic"_L1).toString();
        m.clientId = o.value("client_id"_L1).toString();
        m.body = o.value("body"_L1).toString();
        m.meta = o.value("meta"_L1).toObject();
        m.createdAt = QDateTime::fromString(o.value("created_at"_L1).toString(), Qt::ISODateWithMs);
        m.failed = o.value("state"_L1).toString() == "failed"_L1;
        m.errorCode = o.value("error_code"_L1).toString();
        m.errorMessage = o.value("error_message"_L1).toString();
        if (!value.isObject() || m.topic.isEmpty() || m.clientId.isEmpty() || m.body.isEmpty()) {
            result.messages.clear();
            result.error = u"an entry lacks its topic, client_id or body"_s;
            return result;
        }
        result.messages.append(m);
    }
    result.status = LoadStatus::Ok;
    return result;
}

bool save(const QString &path, const QString &serverKey, const QString &userId,
          const QList<QueuedMessage> &messages, QString *error)
{
    QJsonArray list;
    for (const auto &m : messages) {
        QJsonObject o{{u"topic"_s, m.topic},
                      {u"client_id"_s, m.clientId},
                      {u"body"_s, m.body},
                      {u"created_at"_s, m.createdAt.toUTC().toString(Qt::ISODateWithMs)},
                      {u"state"_s, m.failed ? u"failed"_s : u"pending"_s}};
        if (!m.meta.isEmpty())
            o.insert(u"meta"_s, m.meta);
        if (m.failed) {
            o.insert(u"error_code"_s, m.errorCode);
            o.insert(u"error_message"_s, m.errorMessage);
        }
        list.append(o);
    }
    const QJsonObject root{{u"version"_s, FormatVersion},
                           {u"server"_s, serverKey},
                           {u"user"_s, userId},
                           {u"messages"_s, list}};
    if (!QDir().mkpath(QFileInfo(path).absolutePath())) {
        *error = u"cannot create %1"_s.arg(QFileInfo(path).absolutePath());
        return false;
    }
    // QSaveFile writes a temporary file, fsyncs it and renames it over the old one: a crash
    // leaves either the old queue or the new one, never half of either.
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        *error = file.errorString();
        return false;
    }
    file.write(QJsonDocument(root).toJson(QJsonDocument::Indented));
    if (!file.commit()) {
        *error = file.errorString();
        return false;
    }
    return true;
}

QString moveAside(const QString &path)
{
    const QString target = path + u".corrupt-"_s + QDateTime::currentDateTimeUtc().toString(u"yyyyMMdd-HHmmss-zzz"_s);
    return QFile::rename(path, target) ? target : QString();
}

} // namespace Confab::Outbox
