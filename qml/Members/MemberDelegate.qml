import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.App.Style

// A person in the members panel: avatar with presence dot, name, status text. Roles of
// Channel.presence: presenceKey (the user id), meta ({name, status, status_text}), status,
// statusText.
ItemDelegate {
    id: member

    required property string presenceKey
    required property var meta
    required property string status
    required property string statusText
    property string selfId: ""

    readonly property string displayName: (member.meta && member.meta.name) ? member.meta.name : member.presenceKey
    readonly property bool isSelf: member.presenceKey === member.selfId
    readonly property string statusLabel: {
        switch (member.status) {
        case "away": return qsTr("Away")
        case "dnd": return qsTr("Busy")
        case "invisible": return qsTr("Invisible")
        default: return qsTr("Online")
        }
    }

    height: 48
    hoverEnabled: true
    Accessible.name: qsTr("%1, %2").arg(member.displayName).arg(member.statusLabel)
        + (member.statusText !== "" ? ", " + member.statusText : "")
    ToolTip.visible: member.hovered && !member.isSelf
    ToolTip.text: qsTr("Message %1").arg(member.displayName)
    ToolTip.delay: 700

    background: Rectangle {
        radius: Theme.smallRadius
        color: member.down ? Theme.selected : member.hovered ? Theme.hover : "transparent"
    }
    contentItem: RowLayout {
        spacing: 10
        Avatar {
            size: 30
            userId: member.presenceKey
            name: member.displayName
            status: member.status === "" ? "online" : member.status
            ringColor: Theme.sidebar
            opacity: member.status === "away" || member.status === "invisible" ? 0.7 : 1
        }
        ColumnLayout {
            spacing: 0
            Layout.fillWidth: true
            Label {
                text: member.displayName + (member.isSelf ? qsTr(" (you)") : "")
                color: Theme.text
                font.pixelSize: Theme.fontSize
                font.weight: Font.Medium
                elide: Text.ElideRight
                textFormat: Text.PlainText
                Layout.fillWidth: true
            }
            Label {
                visible: text !== ""
                text: member.statusText !== "" ? member.statusText
                                               : (member.status === "online" || member.status === "" ? "" : member.statusLabel)
                color: Theme.textMuted
                font.pixelSize: Theme.smallFontSize
                elide: Text.ElideRight
                textFormat: Text.PlainText
                Layout.fillWidth: true
            }
        }
    }
}
