// No `pragma ComponentBehavior: Bound` here: on Qt 6.4 it leaves a ListView's header and footer
// components "not ready" (they are created in the view's own context).
import QtQuick
import QtQuick.Controls.Basic
import Confab.Client
import Confab.App.Style

// A chat channel's messages, oldest at the top. Scrolling near the top loads older pages
// (channel.loadOlder); new messages keep the view at the bottom when it was there; the channel
// is marked read while `readActive` (the window is active and this channel shown).
Item {
    id: timeline

    property Channel channel: null
    property string selfId: ""
    property var names: ({})          // user id → display name, for "seen by"
    property bool readActive: true
    property bool loadingOlder: false
    readonly property alias view: list
    readonly property bool atEnd: list.atYEnd || list.contentHeight <= list.height
    // "Seen by" goes under my latest message (who has read that far), as in most chat apps.
    readonly property int lastOwnRow: {
        const model = list.model
        for (let row = list.count - 1; model && row >= 0; --row) {
            if (model.get(row).own)
                return row
        }
        return -1
    }

    signal errorOccurred(string message)

    function startsGroup(row: int): bool {
        if (row <= 0 || !list.model)
            return true
        const current = list.model.get(row)
        const previous = list.model.get(row - 1)
        if (previous.authorId !== current.authorId || previous.deleted !== current.deleted)
            return true
        // A new group after five quiet minutes, or on a new day.
        return current.timestamp - previous.timestamp > 5 * 60 * 1000
            || !Format.sameDay(current.timestamp, previous.timestamp)
    }

    function startsDay(row: int): bool {
        if (!list.model)
            return false
        if (row <= 0)
            return !(list.model.hasOlder)
        return !Format.sameDay(list.model.get(row).timestamp, list.model.get(row - 1).timestamp)
    }

    function seenByText(readBy: var, authorId: string): string {
        const names = []
        for (const id of (readBy || [])) {
            if (id === timeline.selfId || id === authorId)
                continue
            names.push(timeline.names[id] || id)
        }
        if (names.length > 3)
            return qsTr("%1, %2 and %3 others").arg(names[0]).arg(names[1]).arg(names.length - 2)
        return names.join(", ")
    }

    // Reports a refused request (edit, delete, reaction) once its reply finishes.
    function watch(reply: Reply, what: string) {
        if (!reply)
            return
        reply.finished.connect(() => {
            if (!reply.ok)
                timeline.errorOccurred(qsTr("%1 failed: %2").arg(what).arg(reply.errorMessage || reply.errorCode))
        })
    }

    function maybeLoadOlder() {
        if (!timeline.channel || !list.model || timeline.loadingOlder || !list.model.hasOlder)
            return
        if (list.contentY - list.originY > 600 && list.contentHeight > list.height)
            return
        timeline.loadingOlder = true
        const reply = timeline.channel.loadOlder(50)
        reply.finished.connect(() => {
            timeline.loadingOlder = false
            if (!reply.ok)
                timeline.errorOccurred(qsTr("Could not load older messages: %1").arg(reply.errorMessage || reply.errorCode))
        })
    }

    function scrollToEnd() {
        list.positionViewAtEnd()
    }

    onChannelChanged: Qt.callLater(timeline.scrollToEnd)

    ListView {
        id: list

        property bool stickToEnd: true

        objectName: "timelineView"
        anchors.fill: parent
        model: timeline.channel ? timeline.channel.messages : null
        clip: true
        boundsBehavior: Flickable.StopAtBounds
        cacheBuffer: 1200
        // A short conversation sits at the bottom, next to the composer, as in every chat app.
        // Set after layout rather than bound: relayouts re-estimate contentHeight, and a binding
        // would chase its own tail.
        function updateTopMargin() {
            const margin = Math.max(0, list.height - list.contentHeight)
            if (Math.abs(margin - list.topMargin) > 1)
                list.topMargin = margin
        }
        onContentHeightChanged: Qt.callLater(list.updateTopMargin)
        reuseItems: false
        Accessible.role: Accessible.List
        Accessible.name: qsTr("Messages")
        ScrollBar.vertical: ScrollBar {
            policy: ScrollBar.AsNeeded
        }

        header: Item {
            width: list.width
            height: list.model && list.model.hasOlder ? 40 : 96
            BusyIndicator {
                anchors.centerIn: parent
                running: timeline.loadingOlder
                visible: running
                width: 28
                height: 28
            }
            Column {
                visible: list.model !== null && !list.model.hasOlder && timeline.channel !== null
                x: Theme.largeSpacing
                anchors.bottom: parent.bottom
                anchors.bottomMargin: 8
                spacing: 2
                Label {
                    text: {
                        if (!timeline.channel)
                            return ""
                        const topic = timeline.channel.topic
                        const name = Format.channelName(topic, timeline.selfId)
                        return Format.channelGlyph(topic) + " "
                            + (Format.isDm(topic) && timeline.names[name] ? timeline.names[name] : name)
                    }
                    color: Theme.text
                    font.pixelSize: Theme.headingFontSize
                    font.weight: Font.Bold
                }
                Label {
                    text: qsTr("This is the beginning of the conversation.")
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontSize
                }
            }
        }
        footer: Item {
            width: list.width
            height: 8
        }

        delegate: MessageDelegate {
            id: delegate
            width: list.width
            selfId: timeline.selfId
            showHeader: timeline.startsGroup(delegate.index)
            showDay: timeline.startsDay(delegate.index)
            seenBy: delegate.index === timeline.lastOwnRow ? timeline.seenByText(delegate.readBy, delegate.authorId) : ""
            onReactionToggled: (emoji, add) => timeline.watch(
                add ? timeline.channel.addReaction(delegate.messageId, emoji)
                    : timeline.channel.removeReaction(delegate.messageId, emoji), qsTr("Reaction"))
            onEditSubmitted: body => timeline.watch(timeline.channel.editMessage(delegate.messageId, body), qsTr("Edit"))
            onDeleteRequested: timeline.watch(timeline.channel.deleteMessage(delegate.messageId), qsTr("Delete"))
            onRetryRequested: timeline.watch(timeline.channel.retryMessage(delegate.clientId), qsTr("Retry"))
            onDiscardRequested: timeline.channel.discardMessage(delegate.clientId)
        }

        onMovementEnded: list.stickToEnd = list.atYEnd
        onContentYChanged: {
            if (list.moving || list.dragging)
                list.stickToEnd = list.atYEnd
            timeline.maybeLoadOlder()
        }
        onCountChanged: {
            if (list.stickToEnd)
                Qt.callLater(list.positionViewAtEnd)
            Qt.callLater(timeline.maybeLoadOlder)
        }
        onHeightChanged: {
            Qt.callLater(list.updateTopMargin)
            if (list.stickToEnd)
                Qt.callLater(list.positionViewAtEnd)
        }
    }

    // Back to the newest messages.
    RoundButton {
        id: jumpButton
        visible: !list.stickToEnd && !timeline.atEnd
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        anchors.margins: Theme.largeSpacing
        width: 38
        height: 38
        Accessible.name: qsTr("Jump to the newest message")
        onClicked: {
            list.stickToEnd = true
            list.positionViewAtEnd()
        }
        contentItem: Text {
            text: "↓"
            color: Theme.textOnAccent
            font.pixelSize: 18
            horizontalAlignment: Text.AlignHCenter
            verticalAlignment: Text.AlignVCenter
        }
        background: Rectangle {
            radius: width / 2
            color: Theme.accent
        }
    }

    // Mark read while the channel is on screen (a little later, so arrivals batch).
    Timer {
        interval: 400
        running: timeline.readActive && timeline.channel !== null && timeline.channel.subscribed
                 && timeline.channel.unreadCount > 0 && timeline.atEnd
        onTriggered: timeline.channel.markAllRead()
    }
}
