pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import Confab.App.Style

// "Alice is typing…" under the timeline, with three bouncing dots. `users` is a channel's
// typingUsers: a list of {id, name}.
Item {
    id: indicator

    property var users: []

    readonly property string text: {
        const names = indicator.users.map(u => u.name || u.id)
        if (names.length === 0)
            return ""
        if (names.length === 1)
            return qsTr("%1 is typing…").arg(names[0])
        if (names.length === 2)
            return qsTr("%1 and %2 are typing…").arg(names[0]).arg(names[1])
        return qsTr("Several people are typing…")
    }

    implicitHeight: 22
    Accessible.role: Accessible.StaticText
    Accessible.name: indicator.text

    Row {
        visible: indicator.users.length > 0
        spacing: 6
        anchors.verticalCenter: parent.verticalCenter
        anchors.left: parent.left
        anchors.leftMargin: Theme.largeSpacing + 4

        Row {
            spacing: 3
            anchors.verticalCenter: parent.verticalCenter
            Repeater {
                model: 3
                Rectangle {
                    id: dot
                    required property int index
                    width: 5
                    height: 5
                    radius: 2.5
                    color: Theme.textMuted
                    SequentialAnimation on opacity {
                        running: indicator.users.length > 0
                        loops: Animation.Infinite
                        PauseAnimation { duration: dot.index * 150 }
                        NumberAnimation { from: 0.3; to: 1; duration: 300 }
                        NumberAnimation { from: 1; to: 0.3; duration: 300 }
                        PauseAnimation { duration: (2 - dot.index) * 150 }
                    }
                }
            }
        }
        Label {
            text: indicator.text
            color: Theme.textMuted
            font.pixelSize: Theme.smallFontSize
            font.italic: true
        }
    }
}
