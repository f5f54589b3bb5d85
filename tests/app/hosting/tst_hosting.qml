import QtQuick
import QtTest
import Confab.Client
import Confab.App.Platform
import Confab.App.SignIn
import Confab.App

// "Host on this computer" as the app does it: the bundled server in-process (LocalServer) with a
// join password, then the sign-in Session against it: the right password gets a token (POST
// /api/session) that a Client joins chat with; a wrong or missing one gets a clear error. Each
// test function makes what it uses (startHost(), init()) and stops it in cleanup(), so each runs
// alone and in any order.
TestCase {
    id: testCase
    name: "Hosting"
    when: windowShown

    readonly property string storage: storageDir // qmllint disable unqualified
    // Made for each test function: the session and client by init(), the host by startHost().
    property var host: null
    property Session session: null
    property Client client: null
    property Channel room: null
    property int run: 0

    Component {
        id: sessionComponent
        Session {
            timeout: 5000
        }
    }
    Component {
        id: clientComponent
        Client {}
    }
    SignalSpy { id: succeededSpy; signalName: "succeeded" }
    SignalSpy { id: failedSpy; signalName: "failed" }

    function initTestCase() {
        verify(HostSupport.available, "this build hosts servers in-process")
    }

    function init() {
        ++run
        session = createTemporaryObject(sessionComponent, testCase)
        client = createTemporaryObject(clientComponent, testCase, {storagePath: storage + "/hosting-" + run + "/client"})
        verify(session && client)
        succeededSpy.target = session
        failedSpy.target = session
        succeededSpy.clear()
        failedSpy.clear()
    }

    // The in-process server with the join password "open sesame", on a free port, with a data
    // directory no other test function used.
    function startHost() {
        // Made from a string, not a Component: the file must load in builds without LocalServer,
        // where initTestCase() says why the suite cannot run.
        host = Qt.createQmlObject("import Confab.App.Platform; LocalServer {}", testCase, "host")
        verify(host !== null)
        host.dataDir = testCase.storage + "/hosting-" + run + "/server"
        host.port = 0
        host.discovery = false
        host.serverName = "Test host"
        host.joinPassword = "open sesame"
        verify(host.start(), host.errorString)
        verify(host.running)
        verify(host.port > 0)
    }

    // The session and client are destroyed after this (createTemporaryObject).
    function cleanup() {
        succeededSpy.target = null
        failedSpy.target = null
        client.disconnectFromServer()
        room = null
        if (host) {
            host.stop()
            host.destroy()
            host = null
        }
    }

    function test_wrongOrMissingPassword() {
        startHost()
        failedSpy.clear()
        session.start(host.url.toString(), "Carol", "")
        tryCompare(failedSpy, "count", 1, 5000)
        compare(failedSpy.signalArguments[0][0], "This server needs a password")
        session.start(host.url.toString(), "Carol", "wrong")
        tryCompare(failedSpy, "count", 2, 5000)
        verify(failedSpy.signalArguments[1][0].length > 0)
        compare(succeededSpy.count, 0)
    }

    function test_passwordSignInAndChat() {
        startHost()
        succeededSpy.clear()
        session.start(host.url.toString(), "Carol", "open sesame")
        tryCompare(succeededSpy, "count", 1, 5000)
        const token = succeededSpy.signalArguments[0][3]
        verify(token.length > 20, "a JWT")
        compare(succeededSpy.signalArguments[0][1], "carol")
        client.url = succeededSpy.signalArguments[0][0]
        client.setAuth(token)
        room = client.channel("room:general", {chat: true})
        room.subscribe()
        client.connectToServer()
        tryCompare(room, "status", Channel.Subscribed, 10000)
        room.sendMessage("hosted hello")
        tryCompare(client, "queuedMessageCount", 0, 10000)
        compare(client.userId, "carol")
    }

    Component {
        id: mainComponent
        Main {
            initialServer: ""
            initialName: "Dana"
            storagePath: testCase.storage + "/hosting-main"
            width: 900
            height: 600
        }
    }

    // The Host button's path in the app: start the bundled server, show its LAN address, sign in
    // to it with the join password, and land in #general.
    function test_hostButtonInTheApp() {
        const window = createTemporaryObject(mainComponent, testCase)
        verify(window !== null)
        verify(window.signInPage.hostAvailable)
        window.startHosting("Dana", "letmein")
        tryVerify(() => window.hosting, 5000)
        tryVerify(() => window.signedIn, 10000)
        tryVerify(() => window.client.connected, 10000)
        tryVerify(() => window.chatPage && window.chatPage.current && window.chatPage.current.subscribed, 10000)
        compare(window.chatPage.current.topic, "room:general")
        compare(window.client.userId, "dana")
        verify(window.host.joinPassword === "letmein")

        // Auto-away: idle for the timeout turns "online" into "away"; any input brings it back.
        window.idleTimeout = 300
        tryCompare(window, "status", "away", 5000)
        verify(window.autoAway)
        tryVerify(() => window.chatPage.current.presenceState()["dana"][0].meta.status === "away", 5000)
        mouseMove(window.contentItem, 20, 20)
        tryCompare(window, "status", "online", 5000)
        verify(!window.autoAway)
        window.stopHosting()
        verify(!window.signedIn)
        tryVerify(() => !window.hosting, 5000)
        window.close()
    }
}
