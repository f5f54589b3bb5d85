pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Templates as T
import QtQuick.Layouts
import Confab.App.Style

// Ctrl+K: type to filter the channels and DMs, arrows to pick, Enter to go, Esc to close.
Popup {
    id: switcher

    property var model: null             // Client.channels
    property string selfId: ""
    property var names: ({})           // user id → display name, for DMs
    property var entries: []

    signal picked(string topic)

    function refresh() {
        const list = []
        const q = Format.slug(search.text)
        if (switcher.model) {
            for (let i = 0; i < switcher.model.count; ++i) {
                const channel = switcher.model.at(i)
                if (!channel || !channel.chat)
                    continue
                const id = Format.channelName(channel.topic, switcher.selfId)
                const name = Format.isDm(channel.topic) && switcher.names[id] ? switcher.names[id] : id
                if (q === "" || name.toLowerCase().indexOf(q) >= 0 || id.indexOf(q) >= 0)
                    list.push({topic: channel.topic, name: name, unread: channel.unreadCount})
            }
        }
        switcher.entries = list
        results.currentIndex = 0
    }

    function choose(row: int) {
        if (row < 0 || row >= switcher.entries.length)
            return
        switcher.picked(switcher.entries[row].topic)
        switcher.close()
    }

    parent: T.Overlay.overlay
    x: Math.round((parent.width - width) / 2)
    y: Math.round(parent.height * 0.18)
    width: Math.min(480, parent.width - 40)
    height: Math.min(column.implicitHeight + 2 * padding, parent.height * 0.7)
    modal: true
    focus: true
    padding: 10
    closePolicy: Popup.CloseOnEscape | Popup.CloseOnPressOutside
    onAboutToShow: {
        search.text = ""
        switcher.refresh()
        search.forceActiveFocus()
    }
    T.Overlay.modal: Rectangle {
        color: "#55000000"
    }
    background: Rectangle {
        radius: 12
        color: Theme.surface
        border.color: Theme.border
    }

    contentItem: ColumnLayout {
        id: column
        spacing: 6

        TextField {
            id: search
            objectName: "switcherSearch"
            Layout.fillWidth: true
            Layout.preferredHeight: 42
            placeholderText: qsTr("Jump to a channel or person…")
            placeholderTextColor: Theme.textFaint
            color: Theme.text
            font.pixelSize: Theme.fontSize + 1
            leftPadding: 12
            Accessible.name: qsTr("Jump to")
            onTextChanged: switcher.refresh()
            onAccepted: switcher.choose(results.currentIndex)
            Keys.onDownPressed: results.currentIndex = Math.min(results.currentIndex + 1, results.count - 1)
            Keys.onUpPressed: results.currentIndex = Math.max(results.currentIndex - 1, 0)
            background: Rectangle {
                radius: Theme.radius
                color: Theme.input
                border.color: Theme.accent
                border.width: 2
            }
        }
        ListView {
            id: results
            Layout.fillWidth: true
            Layout.preferredHeight: Math.min(contentHeight, 320)
            clip: true
            model: switcher.entries
            delegate: ItemDelegate {
                id: entry
                required property var modelData
                required property int index
                width: results.width
                height: 36
                highlighted: results.currentIndex === entry.index
                Accessible.name: entry.modelData.name
                onClicked: switcher.choose(entry.index)
                background: Rectangle {
                    radius: Theme.smallRadius
                    color: entry.highlighted ? Theme.selected : entry.hovered ? Theme.hover : "transparent"
                }
                contentItem: RowLayout {
                    spacing: 8
                    Label {
                        text: Format.channelGlyph(entry.modelData.topic)
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontSize
                        Layout.preferredWidth: 18
                        horizontalAlignment: Text.AlignHCenter
                    }
                    Label {
                        text: entry.modelData.name
                        color: Theme.text
                        font.pixelSize: Theme.fontSize
                        textFormat: Text.PlainText
                        Layout.fillWidth: true
                    }
                    Badge {
                        count: entry.modelData.unread
                    }
                }
            }
        }
        Label {
            visible: results.count === 0
            text: qsTr("No match")
            color: Theme.textMuted
            font.pixelSize: Theme.smallFontSize
            Layout.leftMargin: 8
        }
    }
}
