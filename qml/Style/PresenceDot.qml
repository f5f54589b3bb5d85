import QtQuick
import Confab.App.Style

// A presence dot: green online, amber away, red busy (dnd), grey ring invisible or offline.
Rectangle {
    id: dot

    property string status: "online"
    property color ringColor: Theme.window
    property int size: 10

    width: size
    height: size
    radius: size / 2
    color: dot.status === "invisible" || dot.status === "offline" ? dot.ringColor
                                                                  : Theme.presenceColor(dot.status)
    border.color: dot.status === "invisible" || dot.status === "offline" ? Theme.offline : dot.ringColor
    border.width: dot.status === "invisible" || dot.status === "offline" ? 2 : Math.max(2, size / 5)
    Accessible.role: Accessible.Indicator
    Accessible.name: dot.status

    // Busy: a white bar, as most chat apps draw "do not disturb".
    Rectangle {
        visible: dot.status === "dnd"
        anchors.centerIn: parent
        width: dot.size * 0.45
        height: Math.max(1.5, dot.size * 0.14)
        radius: height / 2
        color: "white"
    }
}
