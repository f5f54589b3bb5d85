import QtQuick
import QtTest
import Confab.App.SignIn

// The sign-in form and Session against the real test server: what the form reports, the
// remembered values, URL normalisation, an open server's sign-in and an unreachable server.
TestCase {
    id: testCase
    name: "SignIn"
    width: 800
    height: 700
    visible: true
    when: windowShown

    readonly property url wsUrl: serverUrl // qmllint disable unqualified

    Component {
        id: pageComponent
        SignInPage {
            anchors.fill: parent
        }
    }
    Component {
        id: sessionComponent
        Session {
            timeout: 3000
        }
    }
    SignalSpy { id: signInSpy; signalName: "signInRequested" }
    SignalSpy { id: succeededSpy; signalName: "succeeded" }
    SignalSpy { id: failedSpy; signalName: "failed" }

    function findChild(item: Item, predicate: var): Item {
        if (!item)
            return null
        if (predicate(item))
            return item
        for (let i = 0; i < item.children.length; ++i) {
            const found = findChild(item.children[i], predicate)
            if (found)
                return found
        }
        return null
    }

    function test_formReportsWhatWasTyped() {
        const page = createTemporaryObject(pageComponent, testCase, {server: "chat.lan:4000", name: ""})
        const button = findChild(page, c => c.objectName === "signInButton")
        verify(!button.enabled, "no name yet")
        const fields = []
        const collect = item => {
            if (item.echoMode !== undefined && item.selectByMouse !== undefined)
                fields.push(item)
            for (let i = 0; i < item.children.length; ++i)
                collect(item.children[i])
        }
        collect(page)
        compare(fields.length, 3)
        compare(fields[0].text, "chat.lan:4000")
        tryVerify(() => fields[1].activeFocus, 2000, "the first empty field has the focus")
        keyClick(Qt.Key_B)
        keyClick(Qt.Key_O)
        keyClick(Qt.Key_B)
        verify(button.enabled)
        signInSpy.target = page
        keyClick(Qt.Key_Return)
        compare(signInSpy.count, 1)
        compare(signInSpy.signalArguments[0][0], "chat.lan:4000")
        compare(signInSpy.signalArguments[0][1], "bob")
        compare(signInSpy.signalArguments[0][2], "")
        page.errorText = "No Confab server answers"
        verify(findChild(page, c => c.text === "No Confab server answers" && c.visible) !== null)
    }

    function test_hostAndDiscoverySlots() {
        const page = createTemporaryObject(pageComponent, testCase, {hostAvailable: false})
        compare(findChild(page, c => c.objectName === "hostButton").visible, false)
        page.hostAvailable = true
        verify(findChild(page, c => c.objectName === "hostButton").visible)
        const found = createTemporaryQmlObject("import QtQuick; ListModel { ListElement { name: \"Office\"; url: \"ws://10.0.0.5:4000/\"; auth: \"password\" } }", testCase)
        page.discoveryModel = found
        tryVerify(() => findChild(page, c => c.text === "Office" && c.visible) !== null)
    }

    function test_normalizeServer() {
        const session = createTemporaryObject(sessionComponent, testCase)
        compare(session.normalizeServer("chat.lan"), "ws://chat.lan:4000/")
        compare(session.normalizeServer("chat.lan:5000"), "ws://chat.lan:5000/")
        compare(session.normalizeServer("http://chat.lan:5000"), "ws://chat.lan:5000/")
        compare(session.normalizeServer("https://chat.example.org"), "wss://chat.example.org:4000/")
        compare(session.normalizeServer(" ws://10.0.0.2:4000/ "), "ws://10.0.0.2:4000/")
        compare(session.httpBase("ws://10.0.0.2:4000/"), "http://10.0.0.2:4000")
        compare(session.httpBase("wss://h:1/x"), "https://h:1")
    }

    function test_signInToOpenServer() {
        const session = createTemporaryObject(sessionComponent, testCase)
        succeededSpy.target = session
        succeededSpy.clear()
        const address = String(testCase.wsUrl).replace("ws://", "").replace(/\/$/, "")
        session.start(address, "Alice Smith", "")
        tryCompare(succeededSpy, "count", 1, 5000)
        compare(String(succeededSpy.signalArguments[0][0]), session.normalizeServer(address))
        compare(succeededSpy.signalArguments[0][1], "alice-smith")
        compare(succeededSpy.signalArguments[0][2], "Alice Smith")
        compare(session.busy, false)
    }

    function test_unreachableServerFails() {
        const session = createTemporaryObject(sessionComponent, testCase)
        failedSpy.target = session
        failedSpy.clear()
        session.start("127.0.0.1:1", "Alice", "")
        tryCompare(failedSpy, "count", 1, 5000)
        verify(failedSpy.signalArguments[0][0].indexOf("No Confab server") >= 0, failedSpy.signalArguments[0][0])
        failedSpy.clear()
        session.start("", "Alice", "")
        compare(failedSpy.count, 1)
        session.start("host", "  ", "")
        compare(failedSpy.count, 2)
    }
}
