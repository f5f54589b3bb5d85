#include "ConfabClient/channellistmodel.h"

#include "ConfabClient/channel.h"
#include "ConfabClient/messagemodel.h"
#include "ConfabClient/presencemodel.h"

#include <QtCore/QPointer>

namespace Confab {

struct ChannelListModel::Private
{
    QList<QPointer<Channel>> rows;
};

ChannelListModel::ChannelListModel(QObject *parent)
    : QAbstractListModel(parent), d(std::make_unique<Private>())
{
}

ChannelListModel::~ChannelListModel() = default;

int ChannelListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->rows.size());
}

QVariant ChannelListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Channel *channel = d->rows.at(index.row());
    if (!channel)
        return {};
    switch (role) {
    case Qt::DisplayRole:
    case TopicRole:
        return channel->topic();
    case StatusRole:
        return int(channel->status());
    case SubscribedRole:
        return channel->isSubscribed();
    case ErrorCodeRole:
        return channel->errorCode();
    case MemberCountRole:
        return channel->presence()->rowCount();
    case ChannelRole:
        return QVariant::fromValue(const_cast<Channel *>(channel));
    case ChannelTypeRole:
        return channel->channelType();
    case UnreadCountRole:
        return channel->unreadCount();
    case MentionCountRole:
        return channel->mentionCount();
    case LastMessageRole:
    case LastActivityRole: {
        const auto *messages = channel->messages();
        const int last = messages->rowCount() - 1;
        if (last < 0)
            return role == LastMessageRole ? QVariant(QString()) : QVariant(QDateTime());
        return messages->index(last).data(role == LastMessageRole ? MessageModel::BodyRole : MessageModel::TimestampRole);
    }
    }
    return {};
}

QHash<int, QByteArray> ChannelListModel::roleNames() const
{
    return {{TopicRole, "topic"}, {StatusRole, "status"}, {SubscribedRole, "subscribed"},
            {ErrorCodeRole, "errorCode"}, {MemberCountRole, "memberCount"}, {ChannelRole, "channel"},
            {ChannelTypeRole, "channelType"}, {UnreadCountRole, "unreadCount"}, {MentionCountRole, "mentionCount"},
            {LastMessageRole, "lastMessage"}, {LastActivityRole, "lastActivity"}};
}

Channel *ChannelListModel::at(int row) const
{
    return row >= 0 && row < d->rows.size() ? d->rows.at(row).data() : nullptr;
}

void ChannelListModel::append(Channel *channel)
{
    const int row = int(d->rows.size());
    beginInsertRows({}, row, row);
    d->rows.append(channel);
    endInsertRows();
    Q_EMIT countChanged();
    auto changed = [this, channel](const QList<int> &roles) {
        const auto at = d->rows.indexOf(channel);
        if (at >= 0)
            Q_EMIT dataChanged(index(int(at)), index(int(at)), roles);
    };
    connect(channel, &Channel::statusChanged, this,
            [changed] { changed({StatusRole, SubscribedRole, ErrorCodeRole}); });
    connect(channel->presence(), &PresenceModel::countChanged, this, [changed] { changed({MemberCountRole}); });
    connect(channel, &Channel::chatInfoChanged, this,
            [changed] { changed({ChannelTypeRole, UnreadCountRole, MentionCountRole}); });
    // The newest row may change on any insert, move, removal or edit; views only re-read two roles.
    auto *messages = channel->messages();
    auto newest = [changed] { changed({LastMessageRole, LastActivityRole}); };
    connect(messages, &QAbstractItemModel::rowsInserted, this, newest);
    connect(messages, &QAbstractItemModel::rowsRemoved, this, newest);
    connect(messages, &QAbstractItemModel::rowsMoved, this, newest);
    connect(messages, &QAbstractItemModel::modelReset, this, newest);
    connect(messages, &QAbstractItemModel::dataChanged, this, newest);
}

void ChannelListModel::remove(Channel *channel)
{
    const auto row = d->rows.indexOf(channel);
    if (row < 0)
        return;
    disconnect(channel, nullptr, this, nullptr);
    disconnect(channel->presence(), nullptr, this, nullptr);
    disconnect(channel->messages(), nullptr, this, nullptr);
    beginRemoveRows({}, int(row), int(row));
    d->rows.removeAt(row);
    endRemoveRows();
    Q_EMIT countChanged();
}

} // namespace Confab
