import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.Client
import Confab.App.Style

// A channel or DM in the sidebar: glyph (#, lock, avatar), name, unread badge (red for
// mentions). Unread channels are bold. Roles of Client.channels.
ItemDelegate {
    id: row

    required property string topic
    required property int unreadCount
    required property int mentionCount
    required property string errorCode
    required property int status
    property string selfId: ""
    property bool current: false
    property string peerStatus: ""
    property var names: ({})           // user id → display name, for DMs

    readonly property bool dm: Format.isDm(row.topic)
    readonly property string displayName: {
        const name = Format.channelName(row.topic, row.selfId)
        return row.dm && row.names[name] ? row.names[name] : name
    }

    height: 34
    hoverEnabled: true
    highlighted: row.current
    Accessible.name: row.displayName + (row.unreadCount > 0 ? ", " + qsTr("%1 unread").arg(row.unreadCount) : "")
                     + (row.mentionCount > 0 ? ", " + (row.mentionCount === 1 ? qsTr("1 mention") : qsTr("%1 mentions").arg(row.mentionCount)) : "")

    background: Rectangle {
        radius: Theme.smallRadius
        color: row.current ? Theme.selected : row.hovered ? Theme.hover : "transparent"
        border.width: row.visualFocus ? 2 : 0
        border.color: Theme.accent
    }
    contentItem: RowLayout {
        spacing: 8
        Item {
            Layout.preferredWidth: 20
            Layout.preferredHeight: 20
            Text {
                visible: !row.dm
                anchors.centerIn: parent
                text: Format.channelGlyph(row.topic)
                color: row.current ? Theme.accent : Theme.textMuted
                font.pixelSize: Format.isPrivate(row.topic) ? 12 : 16
                font.weight: Font.DemiBold
            }
            Avatar {
                visible: row.dm
                anchors.centerIn: parent
                size: 20
                userId: Format.dmPeer(row.topic, row.selfId)
                name: row.displayName
                status: row.peerStatus
                ringColor: Theme.sidebar
            }
        }
        Label {
            text: row.displayName
            color: row.status === Channel.Errored ? Theme.danger
                 : row.current || row.unreadCount > 0 ? Theme.text : Theme.textMuted
            font.pixelSize: Theme.fontSize
            font.weight: row.unreadCount > 0 || row.current ? Font.DemiBold : Font.Normal
            elide: Text.ElideRight
            textFormat: Text.PlainText
            Layout.fillWidth: true
        }
        Badge {
            // The channel on screen is being read: no badge for it.
            count: row.current ? 0 : row.mentionCount > 0 ? row.mentionCount : row.unreadCount
            mention: row.mentionCount > 0
        }
    }
}
