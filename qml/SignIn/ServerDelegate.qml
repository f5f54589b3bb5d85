import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.App.Style

// A server found on the LAN (ServerDiscovery's rows): name, address, whether it needs a password.
ItemDelegate {
    id: row

    required property string name
    required property url url
    property string auth: "open"

    hoverEnabled: true
    Accessible.name: qsTr("Server %1 at %2").arg(row.name).arg(row.url.toString())
    background: Rectangle {
        radius: Theme.smallRadius
        color: row.hovered ? Theme.hover : "transparent"
    }
    contentItem: RowLayout {
        spacing: Theme.spacing
        Rectangle {
            Layout.preferredWidth: 28
            Layout.preferredHeight: 28
            radius: Theme.smallRadius
            color: Theme.accentSoft
            Text {
                anchors.centerIn: parent
                text: "⇄"
                color: Theme.accent
                font.pixelSize: 15
            }
        }
        ColumnLayout {
            spacing: 0
            Layout.fillWidth: true
            Label {
                text: row.name
                color: Theme.text
                font.pixelSize: Theme.fontSize
                font.weight: Font.DemiBold
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
            Label {
                text: row.url.toString()
                color: Theme.textMuted
                font.pixelSize: Theme.smallFontSize
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
        Label {
            visible: row.auth !== "open"
            text: "🔑"
            color: Theme.textMuted
        }
    }
}
