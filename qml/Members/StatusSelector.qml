pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.App.Style

// Your own status: online, away, busy (dnd) or invisible, and a short status text. Reports
// changes with statusChangeRequested(status, text); `status` and `statusText` show the current
// ones (set by whoever owns them).
ColumnLayout {
    id: selector

    property string status: "online"
    property string statusText: ""
    readonly property var options: [
        {value: "online", label: qsTr("Online")},
        {value: "away", label: qsTr("Away")},
        {value: "dnd", label: qsTr("Busy — do not disturb")},
        {value: "invisible", label: qsTr("Invisible")}
    ]

    // The text last reported, so Return and the focus loss that follows report it once.
    property string reportedText: ""

    signal statusChangeRequested(string status, string text)

    onStatusTextChanged: selector.reportedText = selector.statusText

    spacing: 6

    ComboBox {
        id: combo
        objectName: "statusCombo"
        Layout.fillWidth: true
        Layout.preferredHeight: 34
        model: selector.options
        textRole: "label"
        valueRole: "value"
        currentIndex: Math.max(0, selector.options.findIndex(o => o.value === selector.status))
        Accessible.name: qsTr("Your status")
        onActivated: selector.statusChangeRequested(combo.currentValue, statusField.text.trim())

        contentItem: RowLayout {
            spacing: 8
            PresenceDot {
                Layout.leftMargin: 10
                status: selector.status
                ringColor: Theme.input
                size: 10
            }
            Label {
                text: combo.displayText
                color: Theme.text
                font.pixelSize: Theme.fontSize
                Layout.fillWidth: true
                elide: Text.ElideRight
            }
        }
        background: Rectangle {
            radius: Theme.smallRadius
            color: Theme.input
            border.color: combo.visualFocus ? Theme.accent : Theme.border
        }
        delegate: ItemDelegate {
            id: option
            required property var modelData
            required property int index
            width: combo.width
            highlighted: combo.highlightedIndex === option.index
            contentItem: RowLayout {
                spacing: 8
                PresenceDot {
                    status: option.modelData.value
                    ringColor: Theme.raised
                    size: 10
                }
                Label {
                    text: option.modelData.label
                    color: Theme.text
                    font.pixelSize: Theme.fontSize
                    Layout.fillWidth: true
                }
            }
            background: Rectangle {
                color: option.highlighted ? Theme.selected : Theme.raised
            }
        }
        popup.background: Rectangle {
            color: Theme.raised
            border.color: Theme.border
            radius: Theme.smallRadius
        }
    }

    TextField {
        id: statusField
        objectName: "statusTextField"
        Layout.fillWidth: true
        Layout.preferredHeight: 34
        text: selector.statusText
        placeholderText: qsTr("What's your status?")
        placeholderTextColor: Theme.textFaint
        color: Theme.text
        font.pixelSize: Theme.smallFontSize
        maximumLength: 100
        selectByMouse: true
        Accessible.name: qsTr("Status text")
        // Return and losing the focus both end the edit.
        onEditingFinished: {
            const text = statusField.text.trim()
            if (text === selector.reportedText)
                return
            selector.reportedText = text
            selector.statusChangeRequested(selector.status, text)
        }
        background: Rectangle {
            radius: Theme.smallRadius
            color: Theme.input
            border.color: statusField.activeFocus ? Theme.accent : Theme.border
        }
    }
}
