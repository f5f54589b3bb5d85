pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.Client
import Confab.App.Style
import Confab.App.Sidebar
import Confab.App.Timeline
import Confab.App.Composer
import Confab.App.Members

// Signed in: sidebar | header, banner, timeline, typing, composer | members. Owns which
// channels are open (every one a chat channel on `client`, tracked with this user's status) and
// which one is shown. Direct messages reach the other person through their inbox channel
// `user:<id>`: a `dm` broadcast there makes their app open the DM.
Item {
    id: page

    required property Client client
    required property string userId
    required property string userName
    property string serverLabel: ""
    property string status: "online"
    property string statusText: ""
    property bool windowActive: true
    property bool membersVisible: true
    property var savedTopics: []

    property Channel current: null
    property Channel inbox: null
    property var members: []            // [{id, name}] of the current channel, for @ completion
    property var names: ({})            // id → name, for "seen by"
    readonly property string currentTopic: page.current ? page.current.topic : ""
    readonly property alias timeline: timeline
    readonly property alias composer: composer

    signal topicsChanged(var topics)
    signal statusChangeRequested(string status, string text)
    signal themeToggleRequested()
    signal signOutRequested()

    function chatChannels(): var {
        const list = []
        for (let i = 0; i < page.client.channels.count; ++i) {
            const channel = page.client.channels.at(i)
            if (channel && channel.chat)
                list.push(channel)
        }
        return list
    }

    function findChannel(topic: string): Channel {
        for (const channel of page.chatChannels()) {
            if (channel.topic === topic)
                return channel
        }
        return null
    }

    function presenceMeta(): var {
        const meta = {name: page.userName, status: page.status}
        if (page.statusText !== "")
            meta.status_text = page.statusText
        return meta
    }

    // Opens (joins) \a topic for chat if it is not open yet; shows it when \a select.
    function openChannel(topic: string, select: bool): Channel {
        let channel = page.findChannel(topic)
        if (!channel) {
            channel = page.client.channel(topic, {chat: true, presenceKey: page.userId})
            channel.subscribe()
            channel.track(page.presenceMeta())
            channel.errorOccurred.connect((code, message) => toast.show(qsTr("%1: %2").arg(Format.channelName(topic, page.userId)).arg(message || code)))
            page.topicsChanged(page.chatChannels().map(c => c.topic))
        }
        if (select)
            page.select(channel)
        return channel
    }

    function select(channel: Channel) {
        page.current = channel
        page.refreshMembers()
        composer.focusInput()
    }

    function closeChannel(channel: Channel) {
        const wasCurrent = channel === page.current
        page.client.removeChannel(channel)
        page.topicsChanged(page.chatChannels().map(c => c.topic))
        if (wasCurrent) {
            const rest = page.chatChannels()
            page.current = rest.length > 0 ? rest[0] : null
        }
    }

    function createPrivate(topic: string, members: var) {
        const reply = page.client.createPrivateChannel(topic, members)
        reply.finished.connect(() => {
            if (reply.ok || reply.errorCode === "ALREADY_EXISTS") {
                page.openChannel(topic, true)
                if (reply.ok) {
                    for (const member of members)
                        page.notifyInbox(member, "invite", topic)
                }
            } else
                toast.show(qsTr("Could not create %1: %2").arg(topic).arg(reply.errorMessage || reply.errorCode))
        })
    }

    // The name people read for a channel: a DM shows the other person's display name.
    function titleOf(topic: string): string {
        const name = Format.channelName(topic, page.userId)
        return Format.isDm(topic) && page.names[name] ? page.names[name] : name
    }

    function startDirectMessage(peer: string, name: string) {
        if (peer === "" || peer === page.userId)
            return
        if (name) {
            const names = Object.assign({}, page.names)
            names[peer] = name
            page.names = names
        }
        const topic = Format.dmTopic(page.userId, peer)
        page.openChannel(topic, true)
        page.notifyInbox(peer, "dm", topic)
    }

    // Tells another user's app (through their inbox channel `user:<id>`) about a channel for
    // them: a DM started with them (`dm`) or a private channel they were invited to (`invite`).
    function notifyInbox(peer: string, event: string, topic: string) {
        const theirs = page.client.channel("user:" + peer)
        theirs.subscribe()
        const reply = theirs.send(event, {topic: topic, from: page.userId, name: page.userName})
        reply.finished.connect(() => page.client.removeChannel(theirs))
    }

    function setStatus(status: string, text: string) {
        page.status = status
        page.statusText = text
        for (const channel of page.chatChannels())
            channel.setStatus(status, text)
    }

    function refreshMembers() {
        const state = page.current ? page.current.presenceState() : {}
        const list = []
        const names = Object.assign({}, page.names)
        for (const key in state) {
            const entries = state[key]
            const meta = entries.length > 0 ? entries[entries.length - 1].meta : {}
            const name = meta && meta.name ? meta.name : key
            names[key] = name
            if (key !== page.userId)
                list.push({id: key, name: name})
        }
        list.sort((a, b) => a.name.localeCompare(b.name))
        page.members = list
        page.names = names
    }

    // After sign-in: the inbox, the channels of last time (or #general), and every channel the
    // server says this user has joined for chat (their DMs among them), with unread counts.
    function start() {
        page.inbox = page.client.channel("user:" + page.userId)
        page.inbox.subscribe()
        const topics = page.savedTopics.length > 0 ? page.savedTopics : ["room:general"]
        for (let i = 0; i < topics.length; ++i)
            page.openChannel(topics[i], i === 0)
        const reply = page.client.refreshUnread()
        reply.finished.connect(() => {
            if (!reply.ok)
                return
            const channels = reply.response.channels || {}
            for (const topic in channels) {
                if (!page.findChannel(topic))
                    page.openChannel(topic, false)
            }
        })
    }

    Connections {
        target: page.inbox
        function onBroadcastReceived(event: string, payload: var) {
            if (event === "invite" && payload && typeof payload.topic === "string"
                    && Format.isPrivate(payload.topic)) {
                // Joining tells: a channel we were not invited to answers FORBIDDEN.
                page.openChannel(payload.topic, false)
                return
            }
            if (event === "dm" && payload && typeof payload.topic === "string"
                    && payload.topic === Format.dmTopic(page.userId, payload.from || "")) {
                if (typeof payload.name === "string" && payload.name !== "") {
                    const names = Object.assign({}, page.names)
                    names[payload.from] = payload.name
                    page.names = names
                }
                page.openChannel(payload.topic, false)
            }
        }
    }
    Connections {
        target: page.current
        function onPresenceSynced() { page.refreshMembers() }
    }

    Keys.onEscapePressed: event => {
        if (page.membersVisible) {
            page.membersVisible = false
            event.accepted = true
        }
    }

    Shortcut {
        sequences: ["Ctrl+K"]
        context: Qt.ApplicationShortcut
        onActivated: switcher.open()
    }
    Shortcut {
        sequences: ["Ctrl+Shift+M"]
        context: Qt.ApplicationShortcut
        onActivated: page.membersVisible = !page.membersVisible
    }
    Shortcut {
        sequences: ["Alt+Down", "Ctrl+Tab"]
        context: Qt.ApplicationShortcut
        onActivated: {
            const list = page.chatChannels()
            if (list.length > 0)
                page.select(list[(list.indexOf(page.current) + 1) % list.length])
        }
    }
    Shortcut {
        sequences: ["Alt+Up", "Ctrl+Shift+Tab"]
        context: Qt.ApplicationShortcut
        onActivated: {
            const list = page.chatChannels()
            if (list.length > 0)
                page.select(list[(list.indexOf(page.current) + list.length - 1) % list.length])
        }
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Sidebar {
            id: sidebar
            objectName: "sidebar"
            Layout.preferredWidth: Theme.sidebarWidth
            Layout.fillHeight: true
            model: page.client.channels
            selfId: page.userId
            selfName: page.userName
            status: page.status
            currentTopic: page.currentTopic
            serverLabel: page.serverLabel
            connected: page.client.connected
            names: page.names
            onChannelSelected: topic => page.openChannel(topic, true)
            onCreateChannelRequested: newChannel.openFor(false)
            onNewDmRequested: newChannel.openFor(true)
            onSwitcherRequested: switcher.open()
            onThemeToggleRequested: page.themeToggleRequested()
            onSignOutRequested: page.signOutRequested()
            onStatusRequested: page.membersVisible = true
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 0

            // ---- Channel header ----------------------------------------------------------------
            Rectangle {
                Layout.fillWidth: true
                Layout.preferredHeight: 56
                color: Theme.window
                RowLayout {
                    anchors.fill: parent
                    anchors.leftMargin: Theme.largeSpacing + 4
                    anchors.rightMargin: Theme.spacing
                    spacing: Theme.spacing
                    Label {
                        text: page.current ? Format.channelGlyph(page.currentTopic) : ""
                        color: Theme.textMuted
                        font.pixelSize: Theme.titleFontSize + 2
                    }
                    Label {
                        objectName: "channelTitle"
                        text: page.current ? page.titleOf(page.currentTopic) : qsTr("No channel")
                        color: Theme.text
                        font.pixelSize: Theme.titleFontSize
                        font.weight: Font.Bold
                        textFormat: Text.PlainText
                    }
                    Label {
                        visible: page.current !== null
                        text: page.current && page.current.channelType === "private" ? qsTr("private")
                            : page.current && page.current.channelType === "dm" ? qsTr("direct message") : ""
                        color: Theme.textFaint
                        font.pixelSize: Theme.smallFontSize
                    }
                    Item { Layout.fillWidth: true }
                    AbstractButton {
                        id: membersButton
                        visible: page.current !== null
                        hoverEnabled: true
                        implicitHeight: 30
                        implicitWidth: membersRow.implicitWidth + 16
                        Accessible.name: qsTr("Members (%1)").arg(page.current ? page.current.presence.count : 0)
                        onClicked: page.membersVisible = !page.membersVisible
                        background: Rectangle {
                            radius: Theme.smallRadius
                            color: membersButton.hovered || page.membersVisible ? Theme.hover : "transparent"
                            border.color: Theme.border
                        }
                        contentItem: Row {
                            id: membersRow
                            spacing: -6
                            leftPadding: 0
                            Repeater {
                                model: page.members.slice(0, 3)
                                Avatar {
                                    required property var modelData
                                    size: 20
                                    userId: modelData.id
                                    name: modelData.name
                                    border.color: Theme.window
                                    border.width: 2
                                    y: 5
                                }
                            }
                            Label {
                                leftPadding: 12
                                text: page.current ? page.current.presence.count : ""
                                color: Theme.textMuted
                                font.pixelSize: Theme.smallFontSize
                                font.weight: Font.DemiBold
                                height: 30
                                verticalAlignment: Text.AlignVCenter
                            }
                        }
                    }
                    IconButton {
                        glyph: Theme.dark ? "☀" : "☾"
                        tip: Theme.dark ? qsTr("Light theme") : qsTr("Dark theme")
                        onClicked: page.themeToggleRequested()
                    }
                    IconButton {
                        visible: page.current !== null && !page.currentTopic.startsWith("room:general")
                        glyph: "⎋"
                        tip: qsTr("Leave this channel")
                        onClicked: page.closeChannel(page.current)
                    }
                }
                Rectangle {
                    anchors.bottom: parent.bottom
                    width: parent.width
                    height: 1
                    color: Theme.divider
                }
            }

            ConnectionBanner {
                id: banner
                objectName: "connectionBanner"
                Layout.fillWidth: true
                state: page.client.state
                queued: page.client.queuedMessageCount
                attempt: page.client.reconnectAttempt
                onRetryRequested: {
                    page.client.disconnectFromServer()
                    page.client.connectToServer()
                }
            }

            Timeline {
                id: timeline
                objectName: "timeline"
                Layout.fillWidth: true
                Layout.fillHeight: true
                channel: page.current
                selfId: page.userId
                names: page.names
                readActive: page.windowActive
                onErrorOccurred: message => toast.show(message)
            }

            TypingIndicator {
                objectName: "typingIndicator"
                Layout.fillWidth: true
                users: page.current ? page.current.typingUsers : []
            }

            Composer {
                id: composer
                objectName: "composer"
                Layout.fillWidth: true
                channel: page.current
                members: page.members
                placeholder: page.current ? qsTr("Message %1%2").arg(Format.channelGlyph(page.currentTopic) === "#" ? "#" : "")
                                                               .arg(page.titleOf(page.currentTopic))
                                          : qsTr("Join a channel to write")
            }
        }

        MembersPanel {
            id: membersPanel
            objectName: "membersPanel"
            visible: page.membersVisible && page.current !== null
            Layout.preferredWidth: Theme.membersWidth
            Layout.fillHeight: true
            model: page.current ? page.current.presence : null
            selfId: page.userId
            status: page.status
            statusText: page.statusText
            onStatusChangeRequested: (status, text) => page.statusChangeRequested(status, text)
            onMessageRequested: (id, name) => page.startDirectMessage(id, name)
            onCloseRequested: page.membersVisible = false
        }
    }

    NewChannelDialog {
        id: newChannel
        onJoinRequested: (topic, isPrivate, members) => isPrivate ? page.createPrivate(topic, members)
                                                                  : page.openChannel(topic, true)
        onDmRequested: id => page.startDirectMessage(id, "")
    }

    ChannelSwitcher {
        id: switcher
        model: page.client.channels
        selfId: page.userId
        names: page.names
        onPicked: topic => page.openChannel(topic, true)
    }

    Toast {
        id: toast
        anchors.horizontalCenter: parent.horizontalCenter
        anchors.bottom: parent.bottom
        anchors.bottomMargin: 90
        z: 10
    }
}
