import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Window
import Confab.Client
import Confab.App.Style
import Confab.App.Platform
import Confab.App.SignIn

// The Confab window: the sign-in page until a server accepts us, then the chat page. Holds the
// one Client, what is remembered between runs (AppSettings: last server and name, theme, open
// channels, status), desktop notifications for mentions and auto-away after idle time.
ApplicationWindow {
    id: window

    // From the command line (main.cpp); empty means "what was used last time".
    required property string initialServer
    required property string initialName
    // Where the client keeps its send queue; empty: the library's default (app data dir).
    property string storagePath: ""
    // Sign in at once with initialServer/initialName (--server and --name both given).
    property bool autoSignIn: false
    property int idleTimeout: 5 * 60 * 1000

    property bool signedIn: false
    property string serverText: ""
    property string userId: ""
    property string userName: ""
    property string status: settings.value("status", "online")
    property string statusText: settings.value("statusText", "")
    property bool autoAway: false
    // The in-process server ("Host on this computer"), created on first use.
    property var host: null
    readonly property bool hosting: window.host !== null && window.host.running
    readonly property alias client: client
    readonly property alias settings: settings
    readonly property alias notifier: notifier
    readonly property ChatPage chatPage: chatLoader.item as ChatPage
    readonly property alias signInPage: signIn

    function signInWith(server: string, name: string, password: string) {
        signIn.errorText = ""
        window.serverText = server.trim()
        session.start(server, name, password)
    }

    function startChat(wsUrl: url, id: string, name: string, token: string) {
        settings.setValue("server", window.serverText)
        settings.setValue("name", name)
        window.userId = id
        window.userName = name
        if (window.storagePath !== "")
            client.storagePath = window.storagePath
        client.url = wsUrl
        if (token !== "")
            client.setAuth(token)
        client.setUser(id, name)
        window.signedIn = true
        client.connectToServer()
    }

    // Starts the bundled server on this computer (port 4000, or any free one) with its own data
    // directory and LAN announcements, then signs in to it like any other server.
    function startHosting(name: string, password: string) {
        if (!HostSupport.available)
            return
        if (name.trim() === "") {
            signIn.errorText = qsTr("Enter your name first")
            return
        }
        if (!window.host)
            window.host = Qt.createQmlObject("import Confab.App.Platform; LocalServer {}", window, "host")
        window.host.dataDir = HostSupport.dataDir
        window.host.serverName = qsTr("%1's Confab").arg(name.trim())
        window.host.joinPassword = password
        window.host.discovery = true
        window.host.port = 4000
        if (!window.host.start()) {
            window.host.port = 0
            if (!window.host.start()) {
                signIn.errorText = qsTr("Could not host: %1").arg(window.host.errorString)
                return
            }
        }
        window.serverText = "localhost:" + window.host.port
        session.start(window.host.url.toString(), name, password)
    }

    function stopHosting() {
        if (window.signedIn)
            window.signOut()
        if (window.host)
            window.host.stop()
    }

    function signOut() {
        window.signedIn = false
        client.disconnectFromServer()
        client.removeAllChannels()
        client.setAuth("")
    }

    function setStatus(status: string, text: string, automatic: bool) {
        window.autoAway = automatic
        window.status = status
        window.statusText = text
        if (!automatic) {
            settings.setValue("status", status)
            settings.setValue("statusText", text)
        }
        if (window.chatPage)
            window.chatPage.setStatus(status, text)
    }

    function topicsKey(): string {
        return "channels/" + Format.userIdFromName(window.serverText.replace(/[:/]+/g, "-")) + "/" + window.userId
    }

    width: 1180
    height: 760
    minimumWidth: 760
    minimumHeight: 480
    visible: true
    color: Theme.window
    title: window.chatPage && window.chatPage.current
           ? qsTr("%1 — Confab").arg(window.chatPage.titleOf(window.chatPage.currentTopic))
           : "Confab"

    AppSettings {
        id: settings
    }
    Notifier {
        id: notifier
    }
    IdleMonitor {
        id: idle
        timeout: window.idleTimeout
        enabled: window.signedIn
        // Auto-away only from "online": busy and invisible are choices that idle must not undo.
        onIdleChanged: {
            if (idle.idle && window.status === "online")
                window.setStatus("away", window.statusText, true)
            else if (!idle.idle && window.autoAway)
                window.setStatus("online", window.statusText, false)
        }
    }

    Client {
        id: client
    }

    // Confab servers announcing themselves on the LAN, listed on the sign-in page.
    ServerDiscovery {
        id: discovery
        active: !window.signedIn
    }

    Session {
        id: session
        onSucceeded: (wsUrl, id, name, token) => window.startChat(wsUrl, id, name, token)
        onFailed: message => signIn.errorText = message
    }

    // A mention while the window is not active (or in another channel): a desktop notification
    // and the taskbar's attention hint.
    Connections {
        target: client
        function onMentioned(topic: string, message: var) {
            const here = window.active && window.chatPage && window.chatPage.currentTopic === topic
            if (here || window.status === "dnd")
                return
            const author = message.author ? (message.author.name || message.author.id) : ""
            notifier.notify(qsTr("%1 mentioned you in %2").arg(author).arg(window.chatPage ? window.chatPage.titleOf(topic) : topic),
                            message.body || "")
            if (!window.active)
                window.alert(0)
        }
    }

    SignInPage {
        id: signIn
        objectName: "signInPage"
        anchors.fill: parent
        visible: !window.signedIn
        focus: !window.signedIn
        server: window.initialServer !== "" ? window.initialServer : settings.value("server", "localhost:4000")
        name: window.initialName !== "" ? window.initialName : settings.value("name", "")
        busy: session.busy
        hostAvailable: HostSupport.available
        hosting: window.hosting
        hostUrls: window.hosting ? window.host.lanUrls : []
        discoveryModel: discovery
        onSignInRequested: (server, name, password) => window.signInWith(server, name, password)
        onHostRequested: (name, password) => window.startHosting(name, password)
        onStopHostRequested: window.stopHosting()
    }

    // The chat page is made anew for every sign-in, so nothing of a previous session lingers.
    // (Not a Bound component: on Qt 6.4 a Loader cannot instantiate one; qmllint therefore
    // reports the `window.` accesses below as unqualified.)
    Loader {
        id: chatLoader
        anchors.fill: parent
        active: window.signedIn
        focus: window.signedIn
        sourceComponent: ChatPage {
            client: window.client
            userId: window.userId
            userName: window.userName
            serverLabel: window.hosting && window.host.lanUrls.length > 0
                         ? qsTr("Hosting · %1").arg(window.host.lanUrls[0].replace(/^ws:\/\//, "").replace(/\/$/, ""))
                         : window.serverText
            status: window.status
            statusText: window.statusText
            windowActive: window.active
            focus: true
            savedTopics: (settings.value(window.topicsKey(), "") || "").split("\n").filter(t => t !== "")
            onTopicsChanged: topics => settings.setValue(window.topicsKey(), topics.join("\n"))
            onStatusChangeRequested: (status, text) => window.setStatus(status, text, false)
            onThemeToggleRequested: {
                Theme.dark = !Theme.dark
                settings.setValue("dark", Theme.dark)
            }
            onSignOutRequested: window.signOut()
            Component.onCompleted: start()
        }
    }

    Component.onCompleted: {
        Theme.dark = settings.value("dark", "false") === "true" || settings.value("dark", false) === true
        if (window.autoSignIn && window.initialServer !== "" && window.initialName !== "")
            window.signInWith(window.initialServer, window.initialName, "")
    }
}
