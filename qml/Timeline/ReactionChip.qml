import QtQuick
import QtQuick.Controls.Basic
import Confab.App.Style

// One reaction under a message: the emoji and how many; highlighted when it includes me.
// Clicking toggles my reaction.
AbstractButton {
    id: chip

    property string emoji
    property int count: 0
    property bool mine: false
    property string who: ""

    implicitHeight: 26
    implicitWidth: row.implicitWidth + leftPadding + rightPadding
    leftPadding: 8
    rightPadding: 9
    hoverEnabled: true
    Accessible.name: chip.mine ? qsTr("%1, %2, remove your reaction").arg(chip.emoji).arg(chip.count)
                               : qsTr("%1, %2, react").arg(chip.emoji).arg(chip.count)
    ToolTip.visible: chip.hovered && chip.who !== ""
    ToolTip.text: chip.who
    ToolTip.delay: 400

    background: Rectangle {
        radius: height / 2
        color: chip.mine ? Theme.accentSoft : (chip.hovered ? Theme.hover : Theme.input)
        border.width: 1
        border.color: chip.mine ? Theme.accent : Theme.border
    }
    contentItem: Row {
        id: row
        spacing: 5
        leftPadding: 0
        Text {
            text: chip.emoji
            font.pixelSize: 14
            anchors.verticalCenter: parent.verticalCenter
        }
        Text {
            text: chip.count
            color: chip.mine ? Theme.accent : Theme.textMuted
            font.pixelSize: Theme.smallFontSize
            font.weight: Font.DemiBold
            anchors.verticalCenter: parent.verticalCenter
        }
    }
}
