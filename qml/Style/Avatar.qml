import QtQuick
import Confab.App.Style

// A round avatar with the person's initials on their own color, and optionally a presence dot.
Rectangle {
    id: avatar

    property string userId
    property string name: userId
    property string status: ""          // online, away, dnd, invisible, or "" (no dot)
    property color ringColor: Theme.window
    property int size: Theme.avatarSize

    implicitWidth: size
    implicitHeight: size
    radius: width / 2
    color: Theme.colorFor(avatar.userId)
    Accessible.role: Accessible.Graphic
    Accessible.name: avatar.name

    Text {
        anchors.centerIn: parent
        text: Format.initials(avatar.name)
        color: "white"
        font.pixelSize: Math.round(avatar.size * 0.38)
        font.weight: Font.DemiBold
    }

    PresenceDot {
        visible: avatar.status !== ""
        status: avatar.status
        ringColor: avatar.ringColor
        size: Math.max(9, Math.round(avatar.size * 0.32))
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        anchors.rightMargin: -2
        anchors.bottomMargin: -2
    }
}
