import QtQuick
import Confab.App.Style

// An unread counter: accent pill, or red when it counts mentions.
Rectangle {
    id: badge

    property int count: 0
    property bool mention: false

    visible: badge.count > 0
    implicitHeight: 18
    implicitWidth: Math.max(implicitHeight, label.implicitWidth + 10)
    radius: height / 2
    color: badge.mention ? Theme.danger : Theme.accent
    Accessible.role: Accessible.StaticText
    Accessible.name: badge.mention ? (badge.count === 1 ? qsTr("1 mention") : qsTr("%1 mentions").arg(badge.count)) : qsTr("%1 unread").arg(badge.count)

    Text {
        id: label
        anchors.centerIn: parent
        text: badge.count > 99 ? "99+" : badge.count
        color: Theme.textOnAccent
        font.pixelSize: Theme.tinyFontSize
        font.weight: Font.DemiBold
    }
}
