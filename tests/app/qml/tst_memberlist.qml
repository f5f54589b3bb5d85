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

    readonly property url url: serverUrl // qmllint disable unqualified
    readonly property string storage: storageDir // qmllint disable unqualified
    property Channel room: null
    property Channel bobRoom: null

    Client {
        id: alice
        url: testCase.url
        storagePath: testCase.storage + "/members-alice"
    }
    Client {
        id: bob
        url: testCase.url
        storagePath: testCase.storage + "/members-bob"
    }

    MembersPanel {
        id: panel
        width: 260
        height: 600
        model: testCase.room ? testCase.room.presence : null
        selfId: "alice"
    }

    SignalSpy { id: statusSpy; target: panel; signalName: "statusChangeRequested" }
    SignalSpy { id: dmSpy; target: panel; signalName: "messageRequested" }

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

    function initTestCase() {
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
    }

    function test_1_listsMembersWithStatus() {
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

    function test_2_clickAsksForDm() {
        dmSpy.clear()
        mouseClick(row("alice"))
        compare(dmSpy.count, 0, "not with yourself")
        mouseClick(row("bob"))
        compare(dmSpy.count, 1)
        compare(dmSpy.signalArguments[0][0], "bob")
        compare(dmSpy.signalArguments[0][1], "Bob")
    }

    function test_3_ownStatus() {
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

    function cleanupTestCase() {
        alice.disconnectFromServer()
        bob.disconnectFromServer()
    }
}
