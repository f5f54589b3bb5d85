#include "storage/messagestore.h"

#include "ops/serverconfig.h"
#include "storage/sqlmessagestore.h"

#include <QtCore/QDir>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonArray>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// docs/protocol.md "Identity": 1–64 of A-Z a-z 0-9 _ . -
constexpr qsizetype MaxIdentityLength = 64;

bool isIdentityChar(QChar c)
{
    const char16_t u = c.unicode();
    return (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9')
        || u == u'_' || u == u'.' || u == u'-';
}

bool isIdentity(QStringView id)
{
    if (id.isEmpty() || id.size() > MaxIdentityLength)
        return false;
    return std::all_of(id.begin(), id.end(), isIdentityChar);
}

QString wireTime(const QDateTime &time)
{
    // Qt::ISODateWithMs writes "Z" for UTC, which is the wire form.
    return time.toUTC().toString(Qt::ISODateWithMs);
}

} // namespace

QJsonObject StoredMessage::toJson() const
{
    QJsonObject reactionsJson;
    for (auto it = reactions.cbegin(); it != reactions.cend(); ++it)
        reactionsJson.insert(it.key(), QJsonArray::fromStringList(it.value()));

    QJsonObject json{
        {u"id"_s, id},
        {u"seq"_s, seq},
        {u"ts"_s, wireTime(ts)},
        {u"client_id"_s, clientId},
        {u"author"_s, QJsonObject{{u"id"_s, author.id}, {u"name"_s, author.name}}},
        {u"body"_s, body},
        {u"mentions"_s, QJsonArray::fromStringList(mentions)},
        {u"reactions"_s, reactionsJson},
    };
    if (!meta.isEmpty())
        json.insert(u"meta"_s, meta);
    if (editedAt)
        json.insert(u"edited_at"_s, wireTime(*editedAt));
    if (deletedAt) {
        json.insert(u"deleted"_s, true);
        json.insert(u"deleted_at"_s, wireTime(*deletedAt));
    }
    return json;
}

TopicKind topicKind(const QString &topic)
{
    if (topic.startsWith("dm:"_L1)) {
        TopicKind kind{u"dm"_s, {}, false};
        const QStringList users = topic.mid(3).split(u':');
        // Byte order equals UTF-16 code unit order here: identities are ASCII.
        if (users.size() == 2 && isIdentity(users.at(0)) && isIdentity(users.at(1))
            && users.at(0) < users.at(1)) {
            kind.dmUsers = users;
            kind.valid = true;
        }
        return kind;
    }
    if (topic.startsWith("private:"_L1) && topic.size() > 8)
        return {u"private"_s, {}, true};
    return {u"public"_s, {}, true};
}

QStringList parseMentions(const QString &body)
{
    QStringList mentions;
    const qsizetype n = body.size();
    for (qsizetype i = 0; i < n; ++i) {
        if (body.at(i) != u'@')
            continue;
        // An @ inside a word (alice@example.org) is an address, not a mention.
        if (i > 0 && isIdentityChar(body.at(i - 1)))
            continue;
        qsizetype end = i + 1;
        while (end < n && isIdentityChar(body.at(end)))
            ++end;
        const qsizetype next = end;
        // "thanks @bob." ends a sentence: the full stop (or a dash) is punctuation, not the id.
        while (end > i + 1 && (body.at(end - 1) == u'.' || body.at(end - 1) == u'-'))
            --end;
        const QString id = body.mid(i + 1, end - i - 1);
        if (isIdentity(id) && !mentions.contains(id))
            mentions.append(id);
        i = next - 1;
    }
    return mentions;
}

std::unique_ptr<MessageStore> openMessageStore(const StorageConfig &config, QString *error)
{
    auto fail = [error](const QString &message) -> std::unique_ptr<MessageStore> {
        if (error)
            *error = message;
        return nullptr;
    };
    if (config.dataDir.isEmpty())
        return fail(u"storage: no data directory configured"_s);
    const QFileInfo dirInfo(config.dataDir);
    if (dirInfo.exists() && !dirInfo.isDir())
        return fail(u"storage: %1 exists and is not a directory"_s.arg(dirInfo.absoluteFilePath()));
    if (!QDir().mkpath(config.dataDir))
        return fail(u"storage: cannot create data directory %1"_s.arg(dirInfo.absoluteFilePath()));

    const QString path = QDir(config.dataDir).absoluteFilePath(u"confab.db"_s);
    QString openError;
    auto store = SqlMessageStore::open(path, config.fullSync, &openError);
    if (!store)
        return fail(openError);
    return store;
}

} // namespace Confab::Server
