import QtQuick
import QtQuick.Controls.Basic
import Confab.App.Style

// A flat round button showing a glyph, with a tooltip that doubles as its accessible name.
ToolButton {
    id: button

    property string glyph
    property string tip
    property color glyphColor: Theme.textMuted
    property int glyphSize: 16

    implicitWidth: 32
    implicitHeight: 32
    focusPolicy: Qt.TabFocus
    hoverEnabled: true
    Accessible.name: button.tip
    ToolTip.visible: button.hovered && button.tip !== ""
    ToolTip.text: button.tip
    ToolTip.delay: 600

    contentItem: Text {
        text: button.glyph
        color: button.checked ? Theme.accent : button.glyphColor
        font.pixelSize: button.glyphSize
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }
    background: Rectangle {
        radius: Theme.smallRadius
        color: button.pressed ? Theme.selected : button.hovered || button.checked ? Theme.hover : "transparent"
        border.width: button.visualFocus ? 2 : 0
        border.color: Theme.accent
    }
}
