#pragma once

// Registers the ConfabClient types with QML (module Confab.Client) without touching the library:
// the C++ classes stay free of QtQml, and this header is all the QML module adds.

#include <ConfabClient/channel.h>
#include <ConfabClient/channellistmodel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/messagemodel.h>
#include <ConfabClient/presencemodel.h>
#include <ConfabClient/reply.h>
#include <ConfabClient/serverdiscovery.h>

// On Qt 6.4, <QtQml/qqmlregistration.h> alone does not compile QML_FOREIGN ("QmlResolved does not
// name a type"); the full header does.
#include <QtQml/qqml.h>

namespace Confab::Qml {

//! \brief `Client { url: "ws://…" }`: the connection, created from QML.
struct ForeignClient
{
    Q_GADGET
    QML_FOREIGN(Confab::Client)
    QML_NAMED_ELEMENT(Client)
};

//! \brief Channels come from `client.channel(topic, options)`.
struct ForeignChannel
{
    Q_GADGET
    QML_FOREIGN(Confab::Channel)
    QML_NAMED_ELEMENT(Channel)
    QML_UNCREATABLE("Channels are made by Client.channel(topic, options)")
};

//! \brief Replies come from Channel.send(), track(), untrack() and unsubscribe().
struct ForeignReply
{
    Q_GADGET
    QML_FOREIGN(Confab::Reply)
    QML_NAMED_ELEMENT(Reply)
    QML_UNCREATABLE("Replies are returned by Channel.send(), track(), untrack() and unsubscribe()")
};

//! \brief A channel's presence list: `channel.presence`.
struct ForeignPresenceModel
{
    Q_GADGET
    QML_FOREIGN(Confab::PresenceModel)
    QML_NAMED_ELEMENT(PresenceModel)
    QML_UNCREATABLE("Use Channel.presence")
};

//! \brief A client's channel list: `client.channels`.
struct ForeignChannelListModel
{
    Q_GADGET
    QML_FOREIGN(Confab::ChannelListModel)
    QML_NAMED_ELEMENT(ChannelListModel)
    QML_UNCREATABLE("Use Client.channels")
};

//! \brief A chat channel's messages: `channel.messages` (roles messageId, seq, body, state, …).
struct ForeignMessageModel
{
    Q_GADGET
    QML_FOREIGN(Confab::MessageModel)
    QML_NAMED_ELEMENT(MessageModel)
    QML_UNCREATABLE("Use Channel.messages")
};

//! \brief `ServerDiscovery { active: true }`: Confab servers announcing themselves on the LAN.
struct ForeignServerDiscovery
{
    Q_GADGET
    QML_FOREIGN(Confab::ServerDiscovery)
    QML_NAMED_ELEMENT(ServerDiscovery)
};

} // namespace Confab::Qml
