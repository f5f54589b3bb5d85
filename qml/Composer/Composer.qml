pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.Client
import Confab.App.Style

// The message input under the timeline. It sends through `channel` (sendMessage; the library
// queues it on disk, so nothing sent is lost offline) and keeps an unsent draft per channel, so
// switching channels loses nothing typed. `members` ({id, name} list) feeds `@` completion.
Rectangle {
    id: composer

    property Channel channel: null
    property var members: []
    property string placeholder: qsTr("Write a message…")
    readonly property alias text: input.text
    readonly property alias input: input
    property var drafts: ({})
    property string draftTopic: ""
    property bool restoringDraft: false

    // `@` completion: the partial name typed after `@` and the matching members.
    property string completionPrefix: ""
    property int completionStart: -1
    readonly property var completions: {
        if (composer.completionStart < 0)
            return []
        const p = composer.completionPrefix.toLowerCase()
        return composer.members.filter(m => m.id.toLowerCase().startsWith(p)
                                       || (m.name || "").toLowerCase().startsWith(p)).slice(0, 8)
    }

    signal sent(string body)

    function send() {
        const body = input.text.trim()
        if (body === "" || !composer.channel)
            return
        composer.channel.sendMessage(body)
        input.clear()
        composer.channel.setTyping(false)
        composer.sent(body)
    }

    function complete(id: string) {
        if (composer.completionStart < 0)
            return
        const before = input.text.substring(0, composer.completionStart)
        const after = input.text.substring(input.cursorPosition)
        input.text = before + "@" + id + " " + after
        input.cursorPosition = before.length + id.length + 2
        composer.completionStart = -1
    }

    function updateCompletion() {
        const upto = input.text.substring(0, input.cursorPosition)
        const match = upto.match(/(^|\s)@([A-Za-z0-9_.-]*)$/)
        if (match) {
            composer.completionStart = upto.length - match[2].length - 1
            composer.completionPrefix = match[2]
            completionList.currentIndex = 0
        } else {
            composer.completionStart = -1
        }
    }

    function focusInput() {
        input.forceActiveFocus()
    }

    onChannelChanged: {
        // Keep what was typed for the channel we leave; restore the one we come to.
        if (composer.draftTopic !== "")
            composer.drafts[composer.draftTopic] = input.text
        composer.draftTopic = composer.channel ? composer.channel.topic : ""
        // A restored draft is not typing: the other people must not see an indicator for it.
        composer.restoringDraft = true
        input.text = composer.drafts[composer.draftTopic] || ""
        composer.restoringDraft = false
        input.cursorPosition = input.length
        composer.completionStart = -1
    }

    color: "transparent"
    implicitHeight: frame.implicitHeight + 2 * Theme.spacing

    Rectangle {
        id: frame

        anchors.fill: parent
        anchors.leftMargin: Theme.largeSpacing
        anchors.rightMargin: Theme.largeSpacing
        anchors.topMargin: Theme.smallSpacing
        anchors.bottomMargin: Theme.spacing
        implicitHeight: Math.min(Math.max(input.implicitHeight, 44), 180)
        radius: Theme.radius + 2
        color: Theme.input
        border.color: input.activeFocus ? Theme.accent : Theme.border
        border.width: input.activeFocus ? 2 : 1

        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: 4
            anchors.rightMargin: 6
            spacing: 4

            ScrollView {
                Layout.fillWidth: true
                Layout.fillHeight: true
                ScrollBar.horizontal.policy: ScrollBar.AlwaysOff

                TextArea {
                    id: input
                    objectName: "composerInput"
                    placeholderText: composer.placeholder
                    placeholderTextColor: Theme.textFaint
                    color: Theme.text
                    wrapMode: TextEdit.Wrap
                    font.pixelSize: Theme.fontSize
                    selectByMouse: true
                    verticalAlignment: TextEdit.AlignVCenter
                    topPadding: 12
                    bottomPadding: 12
                    leftPadding: 10
                    background: null
                    enabled: composer.channel !== null
                    Accessible.name: qsTr("Message")
                    Accessible.description: composer.placeholder

                    onTextChanged: {
                        if (composer.channel && input.activeFocus && !composer.restoringDraft)
                            composer.channel.setTyping(input.text.length > 0)
                        composer.updateCompletion()
                    }
                    onCursorPositionChanged: composer.updateCompletion()

                    Keys.onPressed: event => {
                        const completing = completionPopup.visible && composer.completions.length > 0
                        if (completing && (event.key === Qt.Key_Down || event.key === Qt.Key_Up)) {
                            const n = composer.completions.length
                            completionList.currentIndex = (completionList.currentIndex + (event.key === Qt.Key_Down ? 1 : n - 1)) % n
                            event.accepted = true
                        } else if (completing && (event.key === Qt.Key_Tab || event.key === Qt.Key_Return
                                                  || event.key === Qt.Key_Enter)) {
                            composer.complete(composer.completions[completionList.currentIndex].id)
                            event.accepted = true
                        } else if (completing && event.key === Qt.Key_Escape) {
                            composer.completionStart = -1
                            event.accepted = true
                        } else if ((event.key === Qt.Key_Return || event.key === Qt.Key_Enter)
                                   && !(event.modifiers & Qt.ShiftModifier)) {
                            composer.send()
                            event.accepted = true
                        }
                    }
                }
            }

            IconButton {
                id: sendButton
                objectName: "sendButton"
                glyph: "➤"
                tip: qsTr("Send (Enter)")
                enabled: input.text.trim().length > 0
                glyphColor: enabled ? Theme.accent : Theme.textFaint
                Layout.alignment: Qt.AlignBottom
                Layout.bottomMargin: 6
                onClicked: composer.send()
            }
        }
    }

    Popup {
        id: completionPopup
        objectName: "completionPopup"
        visible: composer.completionStart >= 0 && composer.completions.length > 0 && input.activeFocus
        x: frame.x
        y: frame.y - height - 6
        width: 260
        height: Math.min(completionList.contentHeight + 8, 240)
        padding: 4
        closePolicy: Popup.NoAutoClose
        background: Rectangle {
            radius: Theme.radius
            color: Theme.raised
            border.color: Theme.border
        }
        ListView {
            id: completionList
            anchors.fill: parent
            model: composer.completions
            clip: true
            delegate: ItemDelegate {
                id: option
                required property var modelData
                required property int index
                width: completionList.width
                height: 34
                highlighted: completionList.currentIndex === option.index
                Accessible.name: option.modelData.name
                onClicked: composer.complete(option.modelData.id)
                background: Rectangle {
                    radius: Theme.smallRadius
                    color: option.highlighted ? Theme.selected : (option.hovered ? Theme.hover : "transparent")
                }
                contentItem: Row {
                    spacing: Theme.spacing
                    Avatar {
                        size: 22
                        userId: option.modelData.id
                        name: option.modelData.name
                        anchors.verticalCenter: parent.verticalCenter
                    }
                    Label {
                        text: option.modelData.name
                        color: Theme.text
                        font.pixelSize: Theme.fontSize
                        anchors.verticalCenter: parent.verticalCenter
                    }
                    Label {
                        text: "@" + option.modelData.id
                        color: Theme.textMuted
                        font.pixelSize: Theme.smallFontSize
                        anchors.verticalCenter: parent.verticalCenter
                    }
                }
            }
        }
    }
}
