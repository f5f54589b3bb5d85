pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.App.Style

// The first page: where to connect and as whom. Remembered values come in through `server` and
// `name`; the page only reports what the person asked for (signInRequested, hostRequested).
// Hosting and LAN discovery slot in when the app has them: `hostAvailable` shows the Host
// button, `discoveryModel` (rows name, url, auth) lists servers found on the network.
Rectangle {
    id: page

    property string server: ""
    property string name: ""
    property bool busy: false
    property string errorText: ""

    property bool hostAvailable: false
    property bool hosting: false
    property var hostUrls: []
    property var discoveryModel: null

    signal signInRequested(string server, string name, string password)
    signal hostRequested(string name, string password)
    signal stopHostRequested()

    function submit() {
        page.errorText = ""
        page.signInRequested(serverField.text, nameField.text, passwordField.text)
    }

    color: Theme.sidebar

    Rectangle {
        id: card

        anchors.centerIn: parent
        width: Math.min(parent.width - 2 * Theme.largeSpacing, 420)
        height: form.implicitHeight + 2 * 32
        radius: 14
        color: Theme.surface
        border.color: Theme.border

        ColumnLayout {
            id: form

            anchors.fill: parent
            anchors.margins: 32
            spacing: 14

            RowLayout {
                spacing: 12
                Logo {
                    size: 44
                    Layout.preferredWidth: 44
                    Layout.preferredHeight: 44
                }
                ColumnLayout {
                    spacing: 0
                    Label {
                        text: qsTr("Welcome to Confab")
                        color: Theme.text
                        font.pixelSize: Theme.headingFontSize
                        font.weight: Font.Bold
                    }
                    Label {
                        text: qsTr("Chat with the people on your network")
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontSize
                    }
                }
            }

            Item { Layout.preferredHeight: 2 }

            FormField {
                id: serverField
                label: qsTr("Server")
                text: page.server
                placeholderText: qsTr("chat.lan:4000")
                inputMethodHints: Qt.ImhUrlCharactersOnly | Qt.ImhNoAutoUppercase
            }
            FormField {
                id: nameField
                label: qsTr("Your name")
                text: page.name
                placeholderText: qsTr("Alice")
            }
            FormField {
                id: passwordField
                label: qsTr("Password or token (if the server needs one)")
                echoMode: TextInput.Password
                placeholderText: qsTr("optional")
            }

            Label {
                id: errorLabel
                visible: page.errorText !== ""
                text: page.errorText
                color: Theme.danger
                wrapMode: Text.Wrap
                font.pixelSize: Theme.smallFontSize
                Layout.fillWidth: true
                Accessible.role: Accessible.AlertMessage
                Accessible.name: page.errorText
            }

            Button {
                id: signInButton
                objectName: "signInButton"
                text: page.busy ? qsTr("Connecting…") : qsTr("Sign in")
                enabled: !page.busy && serverField.text.trim() !== "" && nameField.text.trim() !== ""
                Layout.fillWidth: true
                Layout.preferredHeight: 40
                Accessible.name: qsTr("Sign in")
                onClicked: page.submit()
                contentItem: Text {
                    text: signInButton.text
                    color: Theme.textOnAccent
                    font.pixelSize: Theme.fontSize
                    font.weight: Font.DemiBold
                    horizontalAlignment: Text.AlignHCenter
                    verticalAlignment: Text.AlignVCenter
                }
                background: Rectangle {
                    radius: Theme.radius
                    color: signInButton.enabled ? (signInButton.down ? Theme.accentHover : Theme.accent)
                                                : Theme.border
                    border.width: signInButton.visualFocus ? 2 : 0
                    border.color: Theme.text
                }
            }

            // ---- Host on this computer -------------------------------------------------------
            ColumnLayout {
                visible: page.hostAvailable
                spacing: Theme.spacing
                Layout.fillWidth: true

                RowLayout {
                    Layout.fillWidth: true
                    Rectangle { Layout.fillWidth: true; Layout.preferredHeight: 1; color: Theme.divider }
                    Label { text: qsTr("or"); color: Theme.textFaint; font.pixelSize: Theme.smallFontSize }
                    Rectangle { Layout.fillWidth: true; Layout.preferredHeight: 1; color: Theme.divider }
                }
                Button {
                    id: hostButton
                    objectName: "hostButton"
                    text: page.hosting ? qsTr("Stop hosting") : qsTr("Host on this computer")
                    Layout.fillWidth: true
                    Layout.preferredHeight: 38
                    Accessible.name: text
                    onClicked: page.hosting ? page.stopHostRequested() : page.hostRequested(nameField.text, passwordField.text)
                    contentItem: Text {
                        text: hostButton.text
                        color: Theme.accent
                        font.pixelSize: Theme.fontSize
                        font.weight: Font.DemiBold
                        horizontalAlignment: Text.AlignHCenter
                        verticalAlignment: Text.AlignVCenter
                    }
                    background: Rectangle {
                        radius: Theme.radius
                        color: hostButton.down ? Theme.selected : Theme.accentSoft
                        border.width: hostButton.visualFocus ? 2 : 0
                        border.color: Theme.accent
                    }
                }
                Label {
                    visible: page.hosting && page.hostUrls.length > 0
                    text: qsTr("Others on your network can join at %1").arg(page.hostUrls.join(", "))
                    color: Theme.textMuted
                    wrapMode: Text.Wrap
                    textFormat: Text.PlainText
                    font.pixelSize: Theme.smallFontSize
                    Layout.fillWidth: true
                }
            }

            // ---- Servers found on the LAN ----------------------------------------------------
            ColumnLayout {
                visible: page.discoveryModel !== null && foundView.count > 0
                spacing: Theme.smallSpacing
                Layout.fillWidth: true

                Label {
                    text: qsTr("On your network")
                    color: Theme.textMuted
                    font.pixelSize: Theme.smallFontSize
                    font.weight: Font.DemiBold
                }
                ListView {
                    id: foundView
                    model: page.discoveryModel
                    interactive: false
                    implicitHeight: contentHeight
                    Layout.fillWidth: true
                    Layout.preferredHeight: Math.min(contentHeight, 180)
                    delegate: ServerDelegate {
                        width: foundView.width
                        onClicked: serverField.text = String(url)
                    }
                }
            }
        }
    }

    component FormField: ColumnLayout {
        id: field

        property alias label: caption.text
        property alias text: input.text
        property alias placeholderText: input.placeholderText
        property alias echoMode: input.echoMode
        property alias inputMethodHints: input.inputMethodHints

        function focusInput() {
            input.forceActiveFocus()
        }

        spacing: Theme.smallSpacing
        Layout.fillWidth: true

        Label {
            id: caption
            color: Theme.textMuted
            font.pixelSize: Theme.smallFontSize
            font.weight: Font.DemiBold
        }
        TextField {
            id: input
            Layout.fillWidth: true
            Layout.preferredHeight: 38
            color: Theme.text
            placeholderTextColor: Theme.textFaint
            selectByMouse: true
            font.pixelSize: Theme.fontSize
            leftPadding: 12
            Accessible.name: caption.text
            onAccepted: if (signInButton.enabled) page.submit()
            background: Rectangle {
                radius: Theme.radius
                color: Theme.input
                border.color: input.activeFocus ? Theme.accent : Theme.border
                border.width: input.activeFocus ? 2 : 1
            }
        }
    }

    Component.onCompleted: (page.server === "" ? serverField : (page.name === "" ? nameField : passwordField)).focusInput()
}
