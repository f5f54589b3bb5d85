pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.App.Style

// The right-hand panel: your status, then who is in the channel (Channel.presence), online first.
// Clicking someone asks for a direct message with them.
Rectangle {
    id: panel

    property var model: null
    property string selfId: ""
    property string status: "online"
    property string statusText: ""
    readonly property alias view: memberList

    signal statusChangeRequested(string status, string text)
    signal messageRequested(string userId, string name)
    signal closeRequested()

    color: Theme.sidebar
    Accessible.role: Accessible.Pane
    Accessible.name: qsTr("Members")

    Rectangle {
        width: 1
        height: parent.height
        color: Theme.border
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.leftMargin: 1
        spacing: 0

        RowLayout {
            Layout.fillWidth: true
            Layout.preferredHeight: 56
            Layout.leftMargin: Theme.largeSpacing
            Layout.rightMargin: Theme.spacing
            Label {
                text: qsTr("Members")
                color: Theme.text
                font.pixelSize: Theme.titleFontSize
                font.weight: Font.Bold
                Layout.fillWidth: true
            }
            IconButton {
                glyph: "✕"
                tip: qsTr("Close members (Esc)")
                onClicked: panel.closeRequested()
            }
        }

        Label {
            text: qsTr("YOUR STATUS")
            color: Theme.textFaint
            font.pixelSize: Theme.tinyFontSize
            font.weight: Font.DemiBold
            font.letterSpacing: 0.6
            Layout.leftMargin: Theme.largeSpacing
        }
        StatusSelector {
            id: selector
            status: panel.status
            statusText: panel.statusText
            Layout.fillWidth: true
            Layout.margins: Theme.largeSpacing
            Layout.topMargin: 6
            onStatusChangeRequested: (status, text) => panel.statusChangeRequested(status, text)
        }

        Label {
            text: qsTr("IN THIS CHANNEL — %1").arg(memberList.count)
            color: Theme.textFaint
            font.pixelSize: Theme.tinyFontSize
            font.weight: Font.DemiBold
            font.letterSpacing: 0.6
            Layout.leftMargin: Theme.largeSpacing
            Layout.bottomMargin: 4
        }

        ListView {
            id: memberList
            objectName: "memberList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.leftMargin: Theme.spacing
            Layout.rightMargin: Theme.spacing
            clip: true
            model: panel.model
            spacing: 2
            Accessible.role: Accessible.List
            Accessible.name: qsTr("Members of this channel")
            delegate: MemberDelegate {
                id: row
                width: memberList.width
                selfId: panel.selfId
                onClicked: if (!row.isSelf) panel.messageRequested(row.presenceKey, row.displayName)
            }
        }
    }
}
