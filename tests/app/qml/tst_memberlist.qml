import QtQuick
import QtTest
import Confab.Client
import Confab.App.Members

// The members panel on a real channel's presence: both users listed with their status dots and
// status text, your own status selector, and a click on someone asking for a DM.
TestCase {
    id: testCase
    name: "MemberList"
    width: 300
    height: 600
    visible: true
    when: windowShown

    readonly property string storage: storageDir // qmllint disable unqualified
    // Made in init() for each test function: a server, Alice and Bob, and the panel.
    property Client alice: null
    property Client bob: null
    property Channel room: null
    property Channel bobRoom: null
    property MembersPanel panel: null
    property int run: 0

    Component {
        id: clientComponent
        Client {}
    }
    Component {
        id: panelComponent
        MembersPanel {
            width: 260
            height: 600
            selfId: "alice"
        }
    }

    SignalSpy { id: statusSpy; signalName: "statusChangeRequested" }
    SignalSpy { id: dmSpy; signalName: "messageRequested" }

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

    function row(key: string): Item {
        panel.view.forceLayout()
        for (let i = 0; i < panel.view.count; ++i) {
            const item = panel.view.itemAtIndex(i)
            if (item && item.presenceKey === key)
                return item
        }
        return null
    }

    // A fresh server with Alice and Bob in room:members, both tracked as online, and a new panel
    // on Alice's view of its presence: no status or typed text carries over from another test.
    function init() {
        verify(fixture.startServer(), fixture.errorString) // qmllint disable unqualified
        ++run
        const url = fixture.serverUrl // qmllint disable unqualified
        alice = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/members-" + run + "/alice"})
        bob = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/members-" + run + "/bob"})
        verify(alice && bob)
        alice.setUser("alice", "Alice")
        bob.setUser("bob", "Bob")
        room = alice.channel("room:members", {chat: true, presenceKey: "alice"})
        bobRoom = bob.channel("room:members", {chat: true, presenceKey: "bob"})
        room.subscribe()
        bobRoom.subscribe()
        room.track({name: "Alice", status: "online"})
        bobRoom.track({name: "Bob", status: "online"})
        alice.connectToServer()
        bob.connectToServer()
        tryCompare(room, "status", Channel.Subscribed, 10000)
        panel = createTemporaryObject(panelComponent, testCase, {model: room.presence})
        verify(panel)
        statusSpy.target = panel
        dmSpy.target = panel
        statusSpy.clear()
        dmSpy.clear()
    }

    // The clients and the panel are destroyed after this (createTemporaryObject).
    function cleanup() {
        statusSpy.target = null
        dmSpy.target = null
        alice.disconnectFromServer()
        bob.disconnectFromServer()
        room = null
        bobRoom = null
        tryVerify(() => fixture.connectionCount() === 0, 5000, "the clients' connections closed") // qmllint disable unqualified
        fixture.stopServer() // qmllint disable unqualified
    }

    function test_listsMembersWithStatus() {
        tryCompare(panel.view, "count", 2, 10000)
        tryVerify(() => row("bob") !== null)
        compare(row("bob").displayName, "Bob")
        compare(row("alice").isSelf, true)
        verify(findChild(row("alice"), c => c.text === "Alice (you)") !== null)

        bobRoom.setStatus("dnd", "In a meeting")
        tryCompare(row("bob"), "status", "dnd", 5000)
        compare(row("bob").statusText, "In a meeting")
        verify(findChild(row("bob"), c => c.text === "In a meeting" && c.visible) !== null)
        const dot = findChild(row("bob"), c => c.status === "dnd" && c.ringColor !== undefined && c.size !== undefined && c.width < 20)
        verify(dot !== null, "a busy dot")

        bobRoom.setStatus("away", "")
        tryCompare(row("bob"), "status", "away", 5000)
        verify(findChild(row("bob"), c => c.text === "Away" && c.visible) !== null)
    }

    function test_clickAsksForDm() {
        // Both rows listed first: Alice's own and Bob's.
        tryCompare(panel.view, "count", 2, 10000)
        tryVerify(() => row("alice") !== null && row("bob") !== null)
        dmSpy.clear()
        mouseClick(row("alice"))
        compare(dmSpy.count, 0, "not with yourself")
        mouseClick(row("bob"))
        compare(dmSpy.count, 1)
        compare(dmSpy.signalArguments[0][0], "bob")
        compare(dmSpy.signalArguments[0][1], "Bob")
    }

    function test_ownStatus() {
        statusSpy.clear()
        const field = findChild(panel, c => c.objectName === "statusTextField")
        mouseClick(field)
        for (const c of "Lunch")
            keyClick(c)
        keyClick(Qt.Key_Return)
        compare(statusSpy.count, 1)
        compare(statusSpy.signalArguments[0][0], "online")
        compare(statusSpy.signalArguments[0][1], "Lunch")

        const combo = findChild(panel, c => c.objectName === "statusCombo")
        combo.forceActiveFocus()
        keyClick(Qt.Key_Down)   // Basic ComboBox: arrows change the current item and activate it
        compare(statusSpy.count, 2)
        compare(statusSpy.signalArguments[1][0], "away")
        compare(statusSpy.signalArguments[1][1], "Lunch")
    }
}
