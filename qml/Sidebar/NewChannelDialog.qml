import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Templates as T
import QtQuick.Layouts
import Confab.App.Style

// "Create or join a channel": a name, public or private, and (private) who to invite; or a
// direct message with someone. Reports joinRequested(topic, private, members) and
// dmRequested(userId).
Popup {
    id: dialog

    property bool directMessage: false

    signal joinRequested(string topic, bool isPrivate, var members)
    signal dmRequested(string userId)

    function openFor(dm: bool) {
        dialog.directMessage = dm
        nameField.text = ""
        inviteField.text = ""
        privateSwitch.checked = false
        dialog.open()
        nameField.forceActiveFocus()
    }

    function accept() {
        const name = Format.slug(nameField.text)
        if (name === "")
            return
        if (dialog.directMessage) {
            dialog.dmRequested(Format.userIdFromName(nameField.text))
        } else {
            const members = inviteField.text.split(/[\s,]+/).map(s => Format.userIdFromName(s.replace(/^@/, "")))
                .filter(s => s !== "")
            dialog.joinRequested((privateSwitch.checked ? "private:" : "room:") + name, privateSwitch.checked, members)
        }
        dialog.close()
    }

    parent: T.Overlay.overlay
    anchors.centerIn: parent
    width: Math.min(420, parent ? parent.width - 40 : 420)
    modal: true
    focus: true
    padding: 24
    closePolicy: Popup.CloseOnEscape | Popup.CloseOnPressOutside
    T.Overlay.modal: Rectangle {
        color: "#66000000"
    }
    background: Rectangle {
        radius: 12
        color: Theme.surface
        border.color: Theme.border
    }

    contentItem: ColumnLayout {
        spacing: 12

        Label {
            text: dialog.directMessage ? qsTr("New direct message") : qsTr("Create or join a channel")
            color: Theme.text
            font.pixelSize: Theme.titleFontSize + 2
            font.weight: Font.Bold
        }
        Label {
            text: dialog.directMessage ? qsTr("Who do you want to talk to? Use their name or user id.")
                                       : qsTr("Public channels are open to everyone on the server; private ones only to the people you invite.")
            color: Theme.textMuted
            wrapMode: Text.Wrap
            font.pixelSize: Theme.smallFontSize
            Layout.fillWidth: true
        }
        TextField {
            id: nameField
            objectName: "channelNameField"
            Layout.fillWidth: true
            Layout.preferredHeight: 38
            placeholderText: dialog.directMessage ? qsTr("e.g. bob") : qsTr("e.g. design-team")
            placeholderTextColor: Theme.textFaint
            color: Theme.text
            font.pixelSize: Theme.fontSize
            leftPadding: 12
            Accessible.name: dialog.directMessage ? qsTr("Person") : qsTr("Channel name")
            onAccepted: dialog.accept()
            background: Rectangle {
                radius: Theme.radius
                color: Theme.input
                border.color: nameField.activeFocus ? Theme.accent : Theme.border
                border.width: nameField.activeFocus ? 2 : 1
            }
        }
        RowLayout {
            visible: !dialog.directMessage
            Layout.fillWidth: true
            Label {
                text: qsTr("Private channel")
                color: Theme.text
                font.pixelSize: Theme.fontSize
                Layout.fillWidth: true
            }
            Switch {
                id: privateSwitch
                Accessible.name: qsTr("Private channel")
            }
        }
        TextField {
            id: inviteField
            visible: !dialog.directMessage && privateSwitch.checked
            Layout.fillWidth: true
            Layout.preferredHeight: 38
            placeholderText: qsTr("Invite (user ids, comma separated)")
            placeholderTextColor: Theme.textFaint
            color: Theme.text
            font.pixelSize: Theme.fontSize
            leftPadding: 12
            Accessible.name: qsTr("People to invite")
            onAccepted: dialog.accept()
            background: Rectangle {
                radius: Theme.radius
                color: Theme.input
                border.color: inviteField.activeFocus ? Theme.accent : Theme.border
            }
        }
        RowLayout {
            Layout.fillWidth: true
            Layout.topMargin: 6
            Item { Layout.fillWidth: true }
            Button {
                text: qsTr("Cancel")
                flat: true
                Accessible.name: text
                onClicked: dialog.close()
            }
            Button {
                id: okButton
                text: dialog.directMessage ? qsTr("Start") : (privateSwitch.checked ? qsTr("Create") : qsTr("Join"))
                enabled: Format.slug(nameField.text) !== ""
                Accessible.name: text
                onClicked: dialog.accept()
                contentItem: Text {
                    text: okButton.text
                    color: Theme.textOnAccent
                    font.pixelSize: Theme.fontSize
                    font.weight: Font.DemiBold
                    horizontalAlignment: Text.AlignHCenter
                    verticalAlignment: Text.AlignVCenter
                }
                background: Rectangle {
                    implicitWidth: 90
                    implicitHeight: 36
                    radius: Theme.radius
                    color: okButton.enabled ? Theme.accent : Theme.border
                }
            }
        }
    }
}
