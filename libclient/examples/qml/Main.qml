pragma ComponentBehavior: Bound
import QtQml.Models
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Confab.Client

// A chat window on one channel: messages on the left, who is here on the right.
ApplicationWindow {
    id: window

    required property url serverUrl
    required property string room
    required property string userName

    // self: our own messages come back to us, so the list shows them in server order.
    readonly property Channel channel: client.channel(window.room, {self: true, ack: true, presenceKey: window.userName})

    function sendMessage() {
        const text = input.text.trim()
        if (text.length === 0)
            return
        const reply = window.channel.send("message", {name: window.userName, text: text})
        // The reply deletes itself after finished(): read it in the handler.
        reply.finished.connect(() => {
            if (!reply.ok)
                window.addNotice(qsTr("Not delivered (%1): %2").arg(reply.errorCode).arg(reply.errorMessage))
        })
        input.clear()
    }

    function addNotice(text: string) {
        messages.append({sender: "", body: text, notice: true})
        messageView.positionViewAtEnd()
    }

    width: 720
    height: 480
    visible: true
    title: qsTr("%1 — Confab chat").arg(window.room)

    Client {
        id: client
        url: window.serverUrl
    }

    Connections {
        target: window.channel

        function onBroadcastReceived(event: string, payload: var) {
            if (event !== "message")
                return
            messages.append({sender: payload.name, body: payload.text, notice: false})
            messageView.positionViewAtEnd()
        }
        function onPresenceJoined(key: string, current: var, joined: var) {
            if (key !== window.userName && current.length === joined.length)
                window.addNotice(qsTr("%1 joined").arg(key))
        }
        function onPresenceLeft(key: string, current: var, left: var) {
            if (key !== window.userName && current.length === 0)
                window.addNotice(qsTr("%1 left").arg(key))
        }
        function onErrorOccurred(code: string, message: string) {
            window.addNotice(qsTr("Channel error (%1): %2").arg(code).arg(message))
        }
    }

    ListModel {
        id: messages
    }

    header: ToolBar {
        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: 8
            anchors.rightMargin: 8

            Label {
                text: window.room
                font.bold: true
                Layout.fillWidth: true
            }
            Label {
                text: window.channel.subscribed ? qsTr("%1 (online)").arg(window.userName)
                                                : client.connected ? qsTr("joining…") : qsTr("connecting…")
            }
        }
    }

    RowLayout {
        anchors.fill: parent
        anchors.margins: 8
        spacing: 8

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true

            ListView {
                id: messageView

                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: messages
                delegate: MessageDelegate {
                    width: messageView.width
                }
            }

            RowLayout {
                Layout.fillWidth: true

                TextField {
                    id: input

                    Layout.fillWidth: true
                    placeholderText: qsTr("Message %1").arg(window.room)
                    onAccepted: window.sendMessage()
                }
                Button {
                    text: qsTr("Send")
                    enabled: input.text.trim().length > 0
                    onClicked: window.sendMessage()
                }
            }
        }

        Frame {
            Layout.preferredWidth: 180
            Layout.fillHeight: true

            ColumnLayout {
                anchors.fill: parent

                Label {
                    text: qsTr("Here (%1)").arg(memberView.count)
                    font.bold: true
                }
                ListView {
                    id: memberView

                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    clip: true
                    model: window.channel.presence
                    delegate: MemberDelegate {
                        width: memberView.width
                    }
                }
            }
        }
    }

    Component.onCompleted: {
        window.channel.subscribe()
        window.channel.track({status: "online"})
        client.connectToServer()
    }
}
