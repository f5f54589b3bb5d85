#pragma once

#include <ConfabClient/confabclient_export.h>

#include <QtCore/QAbstractListModel>

#include <memory>

namespace Confab {

class Channel;

//! \brief A client's channels, one row each, in the order they were created. Owned by its Client.
class CONFABCLIENT_EXPORT ChannelListModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    //! \brief Data roles; role names in QML are given in parentheses.
    enum Roles {
        TopicRole = Qt::UserRole + 1, //!< (topic) the channel's topic
        StatusRole,                   //!< (status) Channel::Status as an int
        SubscribedRole,               //!< (subscribed) status is Subscribed
        ErrorCodeRole,                //!< (errorCode) the channel's last error code
        MemberCountRole,              //!< (memberCount) presence keys in the channel
        ChannelRole,                  //!< (channel) the Confab::Channel object
        ChannelTypeRole,              //!< (channelType) chat: `public`, `private` or `dm`
        UnreadCountRole,              //!< (unreadCount) chat: others' unread messages
        MentionCountRole,             //!< (mentionCount) chat: unread messages mentioning this user
        LastMessageRole,              //!< (lastMessage) chat: the newest message's body, or empty
        LastActivityRole,             //!< (lastActivity) chat: the newest message's QDateTime, or invalid
    };
    Q_ENUM(Roles)

    //! \brief An empty model (each Client makes its own).
    explicit ChannelListModel(QObject *parent = nullptr);
    ~ChannelListModel() override;

    //! \brief The number of channels; 0 under a valid \a parent (the model is a flat list).
    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    //! \brief The \a role (see Roles; Qt::DisplayRole is the topic) of the channel at \a index.
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    //! \brief The role names QML uses, listed in Roles.
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

    //! \brief The channel at \a row, or null.
    [[nodiscard]] Q_INVOKABLE Confab::Channel *at(int row) const;

    //! \brief Adds \a channel at the end and follows its changes (done by Client).
    void append(Channel *channel);
    //! \brief Removes \a channel (done by Client).
    void remove(Channel *channel);

Q_SIGNALS:
    //! \brief The number of rows (the `count` property) changed.
    void countChanged();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab
