import QtQuick
import QtQuick.Controls.Basic
import Confab.App.Style

// A short message at the bottom of the window (a refused request, a failed join); it fades
// out after a few seconds.
Rectangle {
    id: toast

    property string text: ""

    function show(message: string) {
        toast.text = message
        toast.opacity = 1
        hideTimer.restart()
    }

    width: Math.min(label.implicitWidth + 32, parent ? parent.width - 40 : 400)
    height: label.implicitHeight + 18
    radius: Theme.radius
    color: Theme.dark ? "#e7e9ee" : "#1d2129"
    opacity: 0
    visible: opacity > 0
    Accessible.role: Accessible.AlertMessage
    Accessible.name: toast.text

    Behavior on opacity {
        NumberAnimation { duration: 200 }
    }

    Label {
        id: label
        anchors.centerIn: parent
        width: Math.min(implicitWidth, toast.width - 32)
        text: toast.text
        color: Theme.dark ? "#1d2129" : "#ffffff"
        wrapMode: Text.Wrap
        textFormat: Text.PlainText
        font.pixelSize: Theme.smallFontSize
    }
    Timer {
        id: hideTimer
        interval: 4000
        onTriggered: toast.opacity = 0
    }
}
