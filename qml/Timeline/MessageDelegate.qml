pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.App.Style

// One message of the timeline. The model's roles come in as required properties; how it sits in
// the conversation comes from the Timeline: `showHeader` (first of a run by the same author),
// `showDay` (first of a day), `seenBy` (who has read up to here, on the last message).
// It never talks to the channel itself: it asks through signals, so it can be tested alone.
Item {
    id: message

    required property int index
    required property var model
    required property string messageId
    required property string clientId
    required property string authorId
    required property string authorName
    required property string body
    required property date timestamp
    required property bool edited
    required property bool deleted
    required property string errorCode
    required property string errorMessage
    required property var reactions
    required property var readBy
    required property bool mentionsMe
    required property bool own

    property bool showHeader: true
    property bool showDay: false
    property string seenBy: ""
    property string selfId: ""
    property bool editing: false
    property var quickReactions: ["👍", "❤️", "😂", "🎉", "👀"]

    // MessageModel.State: 0 Pending, 1 Sent, 2 Failed. A role named `state` would hide Item.state.
    readonly property int messageState: message.model && message.model.state !== undefined ? message.model.state : 1
    readonly property bool pending: message.messageState === 0
    readonly property bool failed: message.messageState === 2
    readonly property bool hovered: hover.hovered
    readonly property var reactionList: {
        const list = []
        const r = message.reactions || {}
        for (const emoji in r) {
            const users = r[emoji] || []
            if (users.length > 0)
                list.push({emoji: emoji, count: users.length, users: users, mine: users.indexOf(message.selfId) >= 0})
        }
        return list
    }

    signal reactionToggled(string emoji, bool add)
    signal editSubmitted(string body)
    signal deleteRequested()
    signal retryRequested()
    signal discardRequested()

    function startEditing() {
        if (!message.own || message.deleted || message.messageState !== 1)
            return
        message.editing = true
        editor.text = message.body
        editor.forceActiveFocus()
        editor.cursorPosition = editor.length
    }

    function finishEditing(save: bool) {
        const text = editor.text.trim()
        message.editing = false
        if (save && text !== "" && text !== message.body)
            message.editSubmitted(text)
    }

    function toggleReaction(emoji: string) {
        const users = (message.reactions || {})[emoji] || []
        message.reactionToggled(emoji, users.indexOf(message.selfId) < 0)
    }

    implicitWidth: 480
    implicitHeight: column.implicitHeight
    Accessible.role: Accessible.ListItem
    Accessible.name: message.deleted ? qsTr("Deleted message from %1").arg(message.authorName)
                                     : qsTr("%1 at %2: %3").arg(message.authorName).arg(Format.time(message.timestamp)).arg(message.body)

    HoverHandler {
        id: hover
    }

    Column {
        id: column
        width: parent.width

        // ---- Day separator ---------------------------------------------------------------------
        Item {
            visible: message.showDay
            width: parent.width
            height: visible ? 40 : 0
            Rectangle {
                anchors.verticalCenter: parent.verticalCenter
                x: Theme.largeSpacing
                width: parent.width - 2 * Theme.largeSpacing
                height: 1
                color: Theme.divider
            }
            Rectangle {
                anchors.centerIn: parent
                width: dayLabel.implicitWidth + 20
                height: 22
                radius: 11
                color: Theme.window
                border.color: Theme.divider
                Label {
                    id: dayLabel
                    anchors.centerIn: parent
                    text: Format.dayLabel(message.timestamp)
                    color: Theme.textMuted
                    font.pixelSize: Theme.tinyFontSize
                    font.weight: Font.DemiBold
                }
            }
        }

        // ---- The message -----------------------------------------------------------------------
        Rectangle {
            id: row
            width: parent.width
            height: content.implicitHeight + (message.showHeader ? 14 : 4) + 4
            color: message.mentionsMe ? Theme.mention
                 : (message.hovered || message.editing) ? Theme.hover : "transparent"

            Rectangle {
                visible: message.mentionsMe
                width: 3
                height: parent.height
                color: Theme.mentionBar
            }

            Avatar {
                visible: message.showHeader
                x: Theme.largeSpacing
                y: 10
                userId: message.authorId
                name: message.authorName
            }

            Label {
                visible: !message.showHeader && message.hovered
                x: 4
                width: Theme.largeSpacing + Theme.avatarSize + 4
                y: 4
                horizontalAlignment: Text.AlignHCenter
                text: Format.time(message.timestamp)
                color: Theme.textFaint
                font.pixelSize: Theme.tinyFontSize
                topPadding: 3
            }

            ColumnLayout {
                id: content
                x: Theme.largeSpacing + Theme.avatarSize + 12
                y: message.showHeader ? 10 : 2
                width: parent.width - x - Theme.largeSpacing
                spacing: 3

                RowLayout {
                    visible: message.showHeader
                    spacing: Theme.spacing
                    Label {
                        text: message.authorName
                        color: Theme.text
                        font.pixelSize: Theme.fontSize
                        font.weight: Font.Bold
                        textFormat: Text.PlainText
                    }
                    Label {
                        text: Format.time(message.timestamp)
                        color: Theme.textFaint
                        font.pixelSize: Theme.tinyFontSize
                    }
                    Item { Layout.fillWidth: true }
                }

                Text {
                    id: bodyText
                    objectName: "bodyText"
                    visible: !message.editing
                    Layout.fillWidth: true
                    text: message.deleted ? qsTr("This message was deleted")
                        : Format.richBody(message.body, message.selfId, Theme.accent, Theme.mentionText)
                          + (message.edited ? " <font color=\"" + Theme.textFaint + "\" size=\"2\">" + qsTr("(edited)") + "</font>" : "")
                    textFormat: message.deleted ? Text.PlainText : Text.StyledText
                    wrapMode: Text.Wrap
                    color: message.deleted ? Theme.textFaint : Theme.text
                    opacity: message.pending ? 0.55 : 1
                    font.italic: message.deleted
                    font.pixelSize: Theme.fontSize
                    lineHeight: 1.15
                    linkColor: Theme.accent
                    onLinkActivated: link => Qt.openUrlExternally(link)
                    HoverHandler {
                        enabled: bodyText.hoveredLink !== ""
                        cursorShape: Qt.PointingHandCursor
                    }
                }

                // Inline editor: Enter saves, Shift+Enter adds a line, Esc cancels.
                ColumnLayout {
                    visible: message.editing
                    Layout.fillWidth: true
                    spacing: 4
                    TextArea {
                        id: editor
                        objectName: "editor"
                        Layout.fillWidth: true
                        wrapMode: TextEdit.Wrap
                        color: Theme.text
                        font.pixelSize: Theme.fontSize
                        Accessible.name: qsTr("Edit message")
                        background: Rectangle {
                            radius: Theme.smallRadius
                            color: Theme.surface
                            border.color: Theme.accent
                            border.width: 1
                        }
                        Keys.onPressed: event => {
                            if (event.key === Qt.Key_Escape) {
                                message.finishEditing(false)
                                event.accepted = true
                            } else if ((event.key === Qt.Key_Return || event.key === Qt.Key_Enter)
                                       && !(event.modifiers & Qt.ShiftModifier)) {
                                message.finishEditing(true)
                                event.accepted = true
                            }
                        }
                    }
                    Label {
                        text: qsTr("Enter to save · Esc to cancel")
                        color: Theme.textFaint
                        font.pixelSize: Theme.tinyFontSize
                    }
                }

                // Sending / failed.
                RowLayout {
                    visible: message.pending || message.failed
                    spacing: Theme.spacing
                    Label {
                        text: message.failed ? qsTr("Not sent: %1").arg(message.errorMessage || message.errorCode)
                                             : qsTr("Sending…")
                        color: message.failed ? Theme.danger : Theme.textFaint
                        font.pixelSize: Theme.smallFontSize
                        textFormat: Text.PlainText
                        Layout.fillWidth: false
                    }
                    LinkButton {
                        visible: message.failed
                        text: qsTr("Retry")
                        onClicked: message.retryRequested()
                    }
                    LinkButton {
                        visible: message.failed
                        text: qsTr("Discard")
                        onClicked: message.discardRequested()
                    }
                }

                Flow {
                    visible: message.reactionList.length > 0 && !message.deleted
                    Layout.fillWidth: true
                    Layout.topMargin: 3
                    spacing: 6
                    Repeater {
                        model: message.reactionList
                        ReactionChip {
                            required property var modelData
                            emoji: modelData.emoji
                            count: modelData.count
                            mine: modelData.mine
                            who: modelData.users.join(", ")
                            onClicked: message.reactionToggled(modelData.emoji, !modelData.mine)
                        }
                    }
                }

                Label {
                    objectName: "seenBy"
                    visible: message.seenBy !== ""
                    text: "✓ " + qsTr("Seen by %1").arg(message.seenBy)
                    color: Theme.textFaint
                    font.pixelSize: Theme.tinyFontSize
                    textFormat: Text.PlainText
                    Layout.alignment: Qt.AlignRight
                }
            }

            // ---- Hover actions -----------------------------------------------------------------
            Rectangle {
                id: actions
                visible: (message.hovered || actionsHover.hovered) && !message.deleted && !message.editing
                         && message.messageState === 1
                anchors.right: parent.right
                anchors.rightMargin: Theme.largeSpacing
                y: -10
                z: 2
                width: actionRow.implicitWidth + 8
                height: 34
                radius: Theme.radius
                color: Theme.raised
                border.color: Theme.border

                HoverHandler {
                    id: actionsHover
                }

                Row {
                    id: actionRow
                    anchors.centerIn: parent
                    spacing: 0
                    Repeater {
                        model: message.quickReactions
                        IconButton {
                            required property string modelData
                            glyph: modelData
                            tip: qsTr("React with %1").arg(modelData)
                            glyphSize: 15
                            onClicked: message.toggleReaction(modelData)
                        }
                    }
                    IconButton {
                        visible: message.own
                        glyph: "✎"
                        tip: qsTr("Edit")
                        onClicked: message.startEditing()
                    }
                    IconButton {
                        visible: message.own
                        glyph: "🗑"
                        glyphColor: Theme.danger
                        tip: qsTr("Delete")
                        onClicked: message.deleteRequested()
                    }
                }
            }
        }
    }

    component LinkButton: AbstractButton {
        id: link
        hoverEnabled: true
        Accessible.name: link.text
        contentItem: Text {
            text: link.text
            color: Theme.accent
            font.pixelSize: Theme.smallFontSize
            font.weight: Font.DemiBold
            font.underline: link.hovered
        }
    }
}
