#include "ConfabClient/messagemodel.h"

#include "ConfabClient/channel.h"
#include "ConfabClient/reply.h"
#include "reply_p.h"

#include <QtCore/QHash>
#include <QtCore/QJsonValue>

#include <algorithm>
#include <limits>

using namespace Qt::StringLiterals;

namespace Confab {

namespace {

QDateTime parseTime(const QJsonValue &value)
{
    if (!value.isString())
        return {};
    auto t = QDateTime::fromString(value.toString(), Qt::ISODateWithMs);
    return t.isValid() ? t.toUTC() : t;
}

QVariantMap reactionsFrom(const QJsonObject &reactions)
{
    QVariantMap out;
    for (auto it = reactions.begin(); it != reactions.end(); ++it) {
        QStringList users;
        for (const auto &u : it.value().toArray())
            users.append(u.toString());
        if (!users.isEmpty())
            out.insert(it.key(), users);
    }
    return out;
}

QStringList stringsFrom(const QJsonArray &array)
{
    QStringList out;
    for (const auto &v : array)
        out.append(v.toString());
    return out;
}

} // namespace

struct MessageModel::Private
{
    struct Row
    {
        QString id;
        qint64 seq = 0;
        QString clientId;
        QString authorId;
        QString authorName;
        QString body;
        QDateTime timestamp;
        QDateTime editedAt;
        bool deleted = false;
        State state = State::Sent;
        QString errorCode;
        QString errorMessage;
        QVariantMap reactions;
        QStringList mentions;
        QVariantMap meta;
    };

    static Row fromWire(const QJsonObject &m)
    {
        Row r;
        r.id = m.value("id"_L1).toString();
        r.seq = m.value("seq"_L1).toInteger();
        r.clientId = m.value("client_id"_L1).toString();
        const auto author = m.value("author"_L1).toObject();
        r.authorId = author.value("id"_L1).toString();
        r.authorName = author.value("name"_L1).toString();
        if (r.authorName.isEmpty())
            r.authorName = r.authorId;
        r.body = m.value("body"_L1).toString();
        r.timestamp = parseTime(m.value("ts"_L1));
        r.editedAt = parseTime(m.value("edited_at"_L1));
        r.deleted = m.value("deleted"_L1).toBool() || m.contains("deleted_at"_L1);
        if (r.deleted)
            r.body.clear();
        r.reactions = reactionsFrom(m.value("reactions"_L1).toObject());
        r.mentions = stringsFrom(m.value("mentions"_L1).toArray());
        r.meta = m.value("meta"_L1).toObject().toVariantMap();
        return r;
    }

    QList<Row> rows;   // [0, confirmed): by seq; then unconfirmed rows in send order
    qsizetype confirmed = 0;
    QHash<QString, qint64> seqOfId;
    QHash<QString, qint64> reads; // user id → read position (others' receipts)
    QString ownUserId;
    bool hasOlder = false;

    // First confirmed row with seq >= \a seq.
    qsizetype lowerBound(qint64 seq) const
    {
        const auto end = rows.cbegin() + confirmed;
        return std::lower_bound(rows.cbegin(), end, seq, [](const Row &r, qint64 s) { return r.seq < s; })
            - rows.cbegin();
    }
    qsizetype rowOfSeq(qint64 seq) const
    {
        const auto at = lowerBound(seq);
        return at < confirmed && rows.at(at).seq == seq ? at : -1;
    }
    qsizetype rowOfId(const QString &id) const
    {
        const auto it = seqOfId.constFind(id);
        return it == seqOfId.cend() ? -1 : rowOfSeq(*it);
    }
    qsizetype unconfirmedRowOf(const QString &clientId) const
    {
        for (auto i = confirmed; i < rows.size(); ++i) {
            if (rows.at(i).clientId == clientId)
                return i;
        }
        return -1;
    }
    bool isOwn(const Row &r) const
    {
        return r.state != State::Sent || (!ownUserId.isEmpty() && r.authorId == ownUserId);
    }
    QStringList readBy(const Row &r) const
    {
        QStringList users;
        if (r.state != State::Sent)
            return users;
        for (auto it = reads.cbegin(); it != reads.cend(); ++it) {
            if (it.value() >= r.seq && it.key() != r.authorId && it.key() != ownUserId)
                users.append(it.key());
        }
        users.sort();
        return users;
    }
    //! Takes what \a incoming knows that \a row does not; returns whether anything changed.
    //! Monotonic, so an older copy (a page fetched before a live edit) cannot undo news.
    static bool merge(Row &row, const Row &incoming)
    {
        bool changed = false;
        auto take = [&changed](auto &field, const auto &value) {
            if (field != value) {
                field = value;
                changed = true;
            }
        };
        take(row.id, incoming.id);
        if (incoming.timestamp.isValid())
            take(row.timestamp, incoming.timestamp);
        if (!incoming.authorName.isEmpty())
            take(row.authorName, incoming.authorName);
        if (incoming.deleted) {
            take(row.deleted, true);
            take(row.body, QString());
        } else if (!row.deleted && (!row.editedAt.isValid() || (incoming.editedAt.isValid() && incoming.editedAt >= row.editedAt))) {
            take(row.body, incoming.body);
            take(row.editedAt, incoming.editedAt);
            take(row.mentions, incoming.mentions);
        }
        take(row.reactions, incoming.reactions);
        return changed;
    }
};

MessageModel::MessageModel(QObject *parent) : QAbstractListModel(parent), d(std::make_unique<Private>()) {}

MessageModel::~MessageModel() = default;

int MessageModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->rows.size());
}

QVariant MessageModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto &r = d->rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case BodyRole:
        return r.body;
    case MessageIdRole:
        return r.id;
    case SeqRole:
        return r.seq;
    case ClientIdRole:
        return r.clientId;
    case AuthorIdRole:
        return r.authorId;
    case AuthorNameRole:
        return r.authorName;
    case TimestampRole:
        return r.timestamp;
    case EditedRole:
        return r.editedAt.isValid();
    case EditedAtRole:
        return r.editedAt;
    case DeletedRole:
        return r.deleted;
    case StateRole:
        return QVariant::fromValue(r.state);
    case ErrorCodeRole:
        return r.errorCode;
    case ErrorMessageRole:
        return r.errorMessage;
    case ReactionsRole:
        return r.reactions;
    case ReadByRole:
        return d->readBy(r);
    case MentionsMeRole:
        return !d->ownUserId.isEmpty() && r.mentions.contains(d->ownUserId);
    case OwnRole:
        return d->isOwn(r);
    case MentionsRole:
        return r.mentions;
    case MetaRole:
        return r.meta;
    }
    return {};
}

QHash<int, QByteArray> MessageModel::roleNames() const
{
    return {{MessageIdRole, "messageId"},   {SeqRole, "seq"},
            {ClientIdRole, "clientId"},     {AuthorIdRole, "authorId"},
            {AuthorNameRole, "authorName"}, {BodyRole, "body"},
            {TimestampRole, "timestamp"},   {EditedRole, "edited"},
            {EditedAtRole, "editedAt"},     {DeletedRole, "deleted"},
            {StateRole, "state"},           {ErrorCodeRole, "errorCode"},
            {ErrorMessageRole, "errorMessage"}, {ReactionsRole, "reactions"},
            {ReadByRole, "readBy"},         {MentionsMeRole, "mentionsMe"},
            {OwnRole, "own"},               {MentionsRole, "mentions"},
            {MetaRole, "meta"}};
}

int MessageModel::indexOfMessage(const QString &messageId) const
{
    return int(d->rowOfId(messageId));
}

int MessageModel::indexOfSeq(qint64 seq) const
{
    return int(d->rowOfSeq(seq));
}

int MessageModel::indexOfClientId(const QString &clientId) const
{
    const auto unconfirmed = d->unconfirmedRowOf(clientId);
    if (unconfirmed >= 0)
        return int(unconfirmed);
    for (qsizetype i = d->confirmed - 1; i >= 0; --i) {
        const auto &r = d->rows.at(i);
        if (r.clientId == clientId && d->isOwn(r))
            return int(i);
    }
    return -1;
}

QVariantMap MessageModel::get(int row) const
{
    QVariantMap out;
    if (row < 0 || row >= d->rows.size())
        return out;
    const auto names = roleNames();
    const auto at = index(row);
    for (auto it = names.cbegin(); it != names.cend(); ++it)
        out.insert(QString::fromLatin1(it.value()), data(at, it.key()));
    return out;
}

int MessageModel::confirmedCount() const
{
    return int(d->confirmed);
}

qint64 MessageModel::highestSeq() const
{
    return d->confirmed > 0 ? d->rows.at(d->confirmed - 1).seq : 0;
}

qint64 MessageModel::lowestSeq() const
{
    return d->confirmed > 0 ? d->rows.at(0).seq : 0;
}

bool MessageModel::hasOlder() const
{
    return d->hasOlder;
}

Channel *MessageModel::channel() const
{
    return qobject_cast<Channel *>(parent());
}

Reply *MessageModel::loadOlder(int limit)
{
    if (auto *owner = channel())
        return owner->loadOlder(limit);
    auto *reply = ReplyControl::create(this);
    ReplyControl::finishLater(reply, Reply::Status::Error, {}, u"NO_CHANNEL"_s, u"This model has no channel to load from"_s);
    return reply;
}

void MessageModel::setOwnUserId(const QString &userId)
{
    if (d->ownUserId == userId)
        return;
    d->ownUserId = userId;
    if (!d->rows.isEmpty())
        Q_EMIT dataChanged(index(0), index(int(d->rows.size()) - 1), {OwnRole, MentionsMeRole, ReadByRole});
}

QString MessageModel::ownUserId() const
{
    return d->ownUserId;
}

bool MessageModel::insertMessage(const QJsonObject &message)
{
    return insertMessages(QJsonArray{message}) > 0;
}

int MessageModel::insertMessages(const QJsonArray &messages)
{
    QList<Private::Row> incoming;
    incoming.reserve(messages.size());
    for (const auto &m : messages) {
        auto row = Private::fromWire(m.toObject());
        if (row.seq > 0)
            incoming.append(std::move(row));
    }
    std::stable_sort(incoming.begin(), incoming.end(), [](const auto &a, const auto &b) { return a.seq < b.seq; });

    int added = 0;
    QList<Private::Row> fresh;
    const qint64 highBefore = highestSeq();
    const qint64 lowBefore = lowestSeq();
    for (auto &row : incoming) {
        if (!fresh.isEmpty() && fresh.constLast().seq == row.seq)
            continue; // the same message twice in one batch
        const auto existing = d->rowOfSeq(row.seq);
        if (existing >= 0) {
            if (Private::merge(d->rows[existing], row)) {
                d->seqOfId.insert(d->rows.at(existing).id, row.seq);
                const auto at = index(int(existing));
                Q_EMIT dataChanged(at, at);
            }
            continue;
        }
        // Our own message coming back (a replay or page after a lost ack): it is the pending row.
        const bool maybeOwn = d->ownUserId.isEmpty() || row.authorId == d->ownUserId;
        if (maybeOwn && !row.clientId.isEmpty() && d->unconfirmedRowOf(row.clientId) >= 0) {
            QJsonObject ack{{u"id"_s, row.id}, {u"seq"_s, row.seq}};
            confirmPending(row.clientId, ack);
            const auto now = d->rowOfSeq(row.seq);
            if (now >= 0 && Private::merge(d->rows[now], row)) {
                const auto at = index(int(now));
                Q_EMIT dataChanged(at, at);
            }
            ++added;
            continue;
        }
        fresh.append(std::move(row));
    }

    // Insert runs of consecutive new rows that share an insertion point in one go: a history
    // page is one insert at the top, not fifty.
    qsizetype i = 0;
    while (i < fresh.size()) {
        const auto at = d->lowerBound(fresh.at(i).seq);
        const qint64 limit = at < d->confirmed ? d->rows.at(at).seq : std::numeric_limits<qint64>::max();
        qsizetype j = i;
        while (j < fresh.size() && fresh.at(j).seq < limit)
            ++j;
        beginInsertRows({}, int(at), int(at + (j - i) - 1));
        for (qsizetype k = i; k < j; ++k) {
            d->seqOfId.insert(fresh.at(k).id, fresh.at(k).seq);
            d->rows.insert(at + (k - i), std::move(fresh[k]));
        }
        d->confirmed += j - i;
        endInsertRows();
        added += int(j - i);
        i = j;
    }
    if (!fresh.isEmpty() || highBefore != highestSeq() || lowBefore != lowestSeq())
        Q_EMIT countChanged();
    return added;
}

void MessageModel::addPending(const QString &clientId, const QString &body, const QJsonObject &meta,
                              const QDateTime &createdAt, const QString &authorName)
{
    if (d->unconfirmedRowOf(clientId) >= 0)
        return;
    Private::Row row;
    row.clientId = clientId;
    row.authorId = d->ownUserId;
    row.authorName = authorName.isEmpty() ? d->ownUserId : authorName;
    row.body = body;
    row.meta = meta.toVariantMap();
    row.timestamp = createdAt.toUTC();
    row.state = State::Pending;
    const int at = int(d->rows.size());
    beginInsertRows({}, at, at);
    d->rows.append(std::move(row));
    endInsertRows();
    Q_EMIT countChanged();
}

bool MessageModel::confirmPending(const QString &clientId, const QJsonObject &ack)
{
    const auto from = d->unconfirmedRowOf(clientId);
    if (from < 0)
        return false;
    const qint64 seq = ack.value("seq"_L1).toInteger();
    if (seq <= 0)
        return false;
    if (d->rowOfSeq(seq) >= 0) {
        // Already here (it came back in a replay before the ack): the pending row goes.
        beginRemoveRows({}, int(from), int(from));
        d->rows.removeAt(from);
        endRemoveRows();
        Q_EMIT countChanged();
        return true;
    }
    const auto to = d->lowerBound(seq); // <= confirmed <= from
    if (to != from) {
        beginMoveRows({}, int(from), int(from), {}, int(to));
        d->rows.move(from, to);
        endMoveRows();
    }
    auto &row = d->rows[to];
    row.state = State::Sent;
    row.seq = seq;
    row.id = ack.value("id"_L1).toString();
    if (const auto ts = parseTime(ack.value("ts"_L1)); ts.isValid())
        row.timestamp = ts;
    if (!d->ownUserId.isEmpty())
        row.authorId = d->ownUserId;
    row.errorCode.clear();
    row.errorMessage.clear();
    d->seqOfId.insert(row.id, seq);
    ++d->confirmed;
    const auto at = index(int(to));
    Q_EMIT dataChanged(at, at);
    Q_EMIT countChanged();
    return true;
}

void MessageModel::failPending(const QString &clientId, const QString &code, const QString &message)
{
    const auto row = d->unconfirmedRowOf(clientId);
    if (row < 0)
        return;
    auto &r = d->rows[row];
    r.state = State::Failed;
    r.errorCode = code;
    r.errorMessage = message;
    const auto at = index(int(row));
    Q_EMIT dataChanged(at, at, {StateRole, ErrorCodeRole, ErrorMessageRole});
}

void MessageModel::retryPending(const QString &clientId)
{
    auto row = d->unconfirmedRowOf(clientId);
    if (row < 0)
        return;
    const auto last = d->rows.size() - 1;
    if (row != last) {
        // It goes to the back of the queue, so it is shown where it will be sent.
        beginMoveRows({}, int(row), int(row), {}, int(d->rows.size()));
        d->rows.move(row, last);
        endMoveRows();
        row = last;
    }
    auto &r = d->rows[row];
    r.state = State::Pending;
    r.errorCode.clear();
    r.errorMessage.clear();
    const auto at = index(int(row));
    Q_EMIT dataChanged(at, at, {StateRole, ErrorCodeRole, ErrorMessageRole});
}

void MessageModel::removePending(const QString &clientId)
{
    const auto row = d->unconfirmedRowOf(clientId);
    if (row < 0)
        return;
    beginRemoveRows({}, int(row), int(row));
    d->rows.removeAt(row);
    endRemoveRows();
    Q_EMIT countChanged();
}

void MessageModel::applyEdited(const QJsonObject &message)
{
    const auto row = d->rowOfId(message.value("id"_L1).toString());
    if (row < 0)
        return;
    auto &r = d->rows[row];
    if (r.deleted)
        return;
    const auto editedAt = parseTime(message.value("edited_at"_L1));
    if (r.editedAt.isValid() && editedAt.isValid() && editedAt < r.editedAt)
        return; // an older edit than the one shown
    if (message.contains("body"_L1))
        r.body = message.value("body"_L1).toString();
    if (editedAt.isValid())
        r.editedAt = editedAt;
    if (message.contains("mentions"_L1))
        r.mentions = stringsFrom(message.value("mentions"_L1).toArray());
    if (message.contains("reactions"_L1))
        r.reactions = reactionsFrom(message.value("reactions"_L1).toObject());
    const auto at = index(int(row));
    Q_EMIT dataChanged(at, at);
}

void MessageModel::applyDeleted(const QString &messageId, const QDateTime &deletedAt)
{
    Q_UNUSED(deletedAt)
    const auto row = d->rowOfId(messageId);
    if (row < 0)
        return;
    auto &r = d->rows[row];
    if (r.deleted)
        return;
    r.deleted = true;
    r.body.clear();
    const auto at = index(int(row));
    Q_EMIT dataChanged(at, at, {Qt::DisplayRole, BodyRole, DeletedRole});
}

void MessageModel::applyReactions(const QString &messageId, const QJsonObject &reactions)
{
    const auto row = d->rowOfId(messageId);
    if (row < 0)
        return;
    auto value = reactionsFrom(reactions);
    if (d->rows.at(row).reactions == value)
        return;
    d->rows[row].reactions = std::move(value);
    const auto at = index(int(row));
    Q_EMIT dataChanged(at, at, {ReactionsRole});
}

void MessageModel::applyRead(const QString &userId, qint64 seq)
{
    if (userId.isEmpty())
        return;
    const qint64 old = d->reads.value(userId, 0);
    if (seq <= old)
        return;
    d->reads.insert(userId, seq);
    // Only the rows in (old, seq] gain a reader; they are contiguous in seq order.
    const auto first = d->lowerBound(old + 1);
    const auto end = d->lowerBound(seq + 1);
    if (first < end)
        Q_EMIT dataChanged(index(int(first)), index(int(end - 1)), {ReadByRole});
}

void MessageModel::clearConfirmed()
{
    if (d->confirmed == 0)
        return;
    beginRemoveRows({}, 0, int(d->confirmed) - 1);
    d->rows.remove(0, d->confirmed);
    d->confirmed = 0;
    d->seqOfId.clear();
    endRemoveRows();
    Q_EMIT countChanged();
}

void MessageModel::setHasOlder(bool hasOlder)
{
    if (d->hasOlder == hasOlder)
        return;
    d->hasOlder = hasOlder;
    Q_EMIT hasOlderChanged();
}

} // namespace Confab
