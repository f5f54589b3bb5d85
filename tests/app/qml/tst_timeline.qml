import QtQuick
import QtTest
import Confab.Client
import Confab.App.Timeline

// The timeline on a real channel with a long history: it opens at the newest messages, loads
// older pages as it is scrolled to the top (infinite scroll back), groups by author, and marks
// the channel read while it is shown.
TestCase {
    id: testCase
    name: "Timeline"
    width: 600
    height: 400
    visible: true
    when: windowShown

    readonly property url url: serverUrl // qmllint disable unqualified
    readonly property string storage: storageDir // qmllint disable unqualified
    property Channel bobRoom: null
    property Channel room: null

    Client {
        id: alice
        url: testCase.url
        storagePath: testCase.storage + "/timeline-alice"
    }
    Client {
        id: bob
        url: testCase.url
        storagePath: testCase.storage + "/timeline-bob"
    }

    Timeline {
        id: timeline
        width: 600
        height: 400
        selfId: "alice"
        readActive: true
    }

    function initTestCase() {
        bob.setUser("bob", "Bob")
        bobRoom = bob.channel("room:timeline", {chat: true})
        bobRoom.subscribe()
        bob.connectToServer()
        tryCompare(bobRoom, "status", Channel.Subscribed, 10000)
        for (let i = 1; i <= 120; ++i)
            bobRoom.sendMessage("message " + i)
        tryCompare(bob, "queuedMessageCount", 0, 30000)
    }

    function test_1_opensAtNewestAndScrollsBack() {
        alice.setUser("alice", "Alice")
        room = alice.channel("room:timeline", {chat: true, pageSize: 30})
        room.subscribe()
        alice.connectToServer()
        tryCompare(room, "status", Channel.Subscribed, 10000)
        timeline.channel = room
        tryCompare(room.messages, "count", 30, 5000)
        compare(room.messages.get(29).body, "message 120")
        tryVerify(() => timeline.atEnd, 3000, "it opens at the newest message")

        // Scroll to the top: older pages load until the beginning.
        tryVerify(() => {
            timeline.view.positionViewAtBeginning()
            return room.messages.count === 120
        }, 20000, "every page loaded by scrolling up")
        compare(room.messages.get(0).body, "message 1")
        tryCompare(room.messages, "hasOlder", false)
    }

    function test_2_groupsByAuthor() {
        verify(timeline.startsGroup(0))
        verify(!timeline.startsGroup(1), "Bob's messages in a row form one group")
        verify(timeline.startsDay(0))
        verify(!timeline.startsDay(1))
    }

    function cleanupTestCase() {
        alice.disconnectFromServer()
        bob.disconnectFromServer()
    }
}
