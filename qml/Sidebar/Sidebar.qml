pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.App.Style

// The left column: the server, a Ctrl+K jump box, channels and direct messages with unread
// badges, and you (name and status) at the bottom. `model` is Client.channels; topics that are
// not for chat (the app's own `user:` inbox) are not listed.
Rectangle {
    id: sidebar

    property var model: null
    property string selfId: ""
    property string selfName: ""
    property string status: "online"
    property string currentTopic: ""
    property string serverLabel: ""
    property bool connected: true
    property var names: ({})           // user id → display name, for DMs

    signal channelSelected(string topic)
    signal createChannelRequested()
    signal newDmRequested()
    signal switcherRequested()
    signal themeToggleRequested()
    signal signOutRequested()
    signal statusRequested()

    function listed(topic: string): bool {
        return !topic.startsWith("user:")
    }

    color: Theme.sidebar
    Accessible.role: Accessible.Pane
    Accessible.name: qsTr("Channels")

    Rectangle {
        anchors.right: parent.right
        width: 1
        height: parent.height
        color: Theme.border
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.rightMargin: 1
        spacing: 0

        // ---- Server --------------------------------------------------------------------------
        RowLayout {
            Layout.fillWidth: true
            Layout.preferredHeight: 56
            Layout.leftMargin: Theme.largeSpacing
            Layout.rightMargin: Theme.spacing
            spacing: 10
            Logo {
                size: 28
                Layout.preferredWidth: 28
                Layout.preferredHeight: 28
            }
            ColumnLayout {
                spacing: 0
                Layout.fillWidth: true
                Label {
                    text: "Confab"
                    color: Theme.text
                    font.pixelSize: Theme.titleFontSize
                    font.weight: Font.Bold
                }
                Label {
                    text: sidebar.serverLabel
                    color: Theme.textMuted
                    font.pixelSize: Theme.tinyFontSize
                    elide: Text.ElideRight
                    Layout.fillWidth: true
                }
            }
            IconButton {
                id: menuButton
                glyph: "⋯"
                tip: qsTr("Menu")
                glyphSize: 18
                onClicked: menu.popup(menuButton, 0, menuButton.height)
                Menu {
                    id: menu
                    MenuItem {
                        text: Theme.dark ? qsTr("Light theme") : qsTr("Dark theme")
                        onTriggered: sidebar.themeToggleRequested()
                    }
                    MenuItem {
                        text: qsTr("Sign out")
                        onTriggered: sidebar.signOutRequested()
                    }
                }
            }
        }

        // ---- Jump to (Ctrl+K) -----------------------------------------------------------------
        AbstractButton {
            id: jump
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacing + 4
            Layout.rightMargin: Theme.spacing + 4
            Layout.preferredHeight: 32
            hoverEnabled: true
            Accessible.name: qsTr("Jump to a channel (Ctrl+K)")
            onClicked: sidebar.switcherRequested()
            background: Rectangle {
                radius: Theme.smallRadius
                color: jump.hovered ? Theme.hover : Theme.window
                border.color: Theme.border
            }
            contentItem: RowLayout {
                spacing: 6
                Label {
                    text: "⌕"
                    color: Theme.textFaint
                    font.pixelSize: 15
                    Layout.leftMargin: 8
                }
                Label {
                    text: qsTr("Jump to…")
                    color: Theme.textFaint
                    font.pixelSize: Theme.smallFontSize
                    Layout.fillWidth: true
                }
                Label {
                    text: "Ctrl K"
                    color: Theme.textFaint
                    font.pixelSize: Theme.tinyFontSize
                    Layout.rightMargin: 8
                }
            }
        }

        // ---- Channels and DMs ----------------------------------------------------------------
        Flickable {
            id: flick
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.topMargin: Theme.spacing
            contentHeight: lists.implicitHeight
            clip: true
            boundsBehavior: Flickable.StopAtBounds
            ScrollBar.vertical: ScrollBar {}

            Column {
                id: lists
                width: flick.width
                spacing: 1

                SectionHeader {
                    title: qsTr("Channels")
                    addTip: qsTr("Create or join a channel")
                    onAddClicked: sidebar.createChannelRequested()
                }
                Repeater {
                    model: sidebar.model
                    ChannelDelegate {
                        id: channelRow
                        x: Theme.spacing
                        width: lists.width - 2 * Theme.spacing
                        visible: sidebar.listed(channelRow.topic) && !Format.isDm(channelRow.topic)
                        selfId: sidebar.selfId
                        names: sidebar.names
                        current: channelRow.topic === sidebar.currentTopic
                        onClicked: sidebar.channelSelected(channelRow.topic)
                    }
                }

                Item { width: 1; height: Theme.spacing }

                SectionHeader {
                    title: qsTr("Direct messages")
                    addTip: qsTr("New direct message")
                    onAddClicked: sidebar.newDmRequested()
                }
                Repeater {
                    model: sidebar.model
                    ChannelDelegate {
                        id: dmRow
                        x: Theme.spacing
                        width: lists.width - 2 * Theme.spacing
                        visible: Format.isDm(dmRow.topic)
                        selfId: sidebar.selfId
                        names: sidebar.names
                        current: dmRow.topic === sidebar.currentTopic
                        onClicked: sidebar.channelSelected(dmRow.topic)
                    }
                }
            }
        }

        // ---- You ------------------------------------------------------------------------------
        Rectangle {
            Layout.fillWidth: true
            Layout.preferredHeight: 1
            color: Theme.border
        }
        AbstractButton {
            id: you
            Layout.fillWidth: true
            Layout.preferredHeight: 60
            hoverEnabled: true
            Accessible.name: qsTr("You: %1. Change your status").arg(sidebar.selfName)
            onClicked: sidebar.statusRequested()
            background: Rectangle {
                color: you.hovered ? Theme.hover : Theme.sidebarHeader
            }
            contentItem: RowLayout {
                spacing: 10
                Avatar {
                    Layout.leftMargin: Theme.largeSpacing
                    size: 32
                    userId: sidebar.selfId
                    name: sidebar.selfName
                    status: sidebar.connected ? sidebar.status : "offline"
                    ringColor: Theme.sidebarHeader
                }
                ColumnLayout {
                    spacing: 0
                    Layout.fillWidth: true
                    Label {
                        text: sidebar.selfName
                        color: Theme.text
                        font.pixelSize: Theme.fontSize
                        font.weight: Font.DemiBold
                        elide: Text.ElideRight
                        textFormat: Text.PlainText
                        Layout.fillWidth: true
                    }
                    Label {
                        text: !sidebar.connected ? qsTr("Offline")
                            : sidebar.status === "away" ? qsTr("Away")
                            : sidebar.status === "dnd" ? qsTr("Busy")
                            : sidebar.status === "invisible" ? qsTr("Invisible") : qsTr("Online")
                        color: Theme.textMuted
                        font.pixelSize: Theme.smallFontSize
                    }
                }
            }
        }
    }

    component SectionHeader: RowLayout {
        id: header
        property string title
        property string addTip
        signal addClicked()
        width: lists.width
        height: 30
        spacing: 0
        Label {
            text: header.title.toUpperCase()
            color: Theme.textFaint
            font.pixelSize: Theme.tinyFontSize
            font.weight: Font.DemiBold
            font.letterSpacing: 0.6
            Layout.leftMargin: Theme.largeSpacing
            Layout.fillWidth: true
        }
        IconButton {
            glyph: "+"
            tip: header.addTip
            glyphSize: 17
            implicitWidth: 26
            implicitHeight: 26
            Layout.rightMargin: Theme.spacing + 2
            onClicked: header.addClicked()
        }
    }
}
