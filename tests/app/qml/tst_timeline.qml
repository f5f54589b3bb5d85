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

    readonly property string storage: storageDir // qmllint disable unqualified
    // Made in init() for each test function: a server with Bob's history, Alice, the timeline.
    property Client alice: null
    property Client bob: null
    property Channel bobRoom: null
    property Channel room: null
    property Timeline timeline: null
    property int run: 0

    Component {
        id: clientComponent
        Client {}
    }
    Component {
        id: timelineComponent
        Timeline {
            width: 600
            height: 400
            selfId: "alice"
            readActive: true
        }
    }

    // A fresh server where Bob has written 120 messages in room:timeline, Alice (not yet in the
    // room) and a new timeline.
    function init() {
        verify(fixture.startServer(), fixture.errorString) // qmllint disable unqualified
        ++run
        const url = fixture.serverUrl // qmllint disable unqualified
        alice = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/timeline-" + run + "/alice"})
        bob = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/timeline-" + run + "/bob"})
        verify(alice && bob)
        bob.setUser("bob", "Bob")
        bobRoom = bob.channel("room:timeline", {chat: true})
        bobRoom.subscribe()
        bob.connectToServer()
        tryCompare(bobRoom, "status", Channel.Subscribed, 10000)
        for (let i = 1; i <= 120; ++i)
            bobRoom.sendMessage("message " + i)
        tryCompare(bob, "queuedMessageCount", 0, 30000)
        timeline = createTemporaryObject(timelineComponent, testCase)
        verify(timeline)
    }

    // Alice joins with pages of 30 and the timeline shows her room.
    function openAsAlice() {
        alice.setUser("alice", "Alice")
        room = alice.channel("room:timeline", {chat: true, pageSize: 30})
        room.subscribe()
        alice.connectToServer()
        tryCompare(room, "status", Channel.Subscribed, 10000)
        timeline.channel = room
        tryCompare(room.messages, "count", 30, 5000)
    }

    // Scroll to the top: older pages load until the beginning.
    function scrollBackToFirst() {
        tryVerify(() => {
            timeline.view.positionViewAtBeginning()
            return room.messages.count === 120
        }, 20000, "every page loaded by scrolling up")
    }

    function test_opensAtNewestAndScrollsBack() {
        openAsAlice()
        compare(room.messages.get(29).body, "message 120")
        tryVerify(() => timeline.atEnd, 3000, "it opens at the newest message")

        scrollBackToFirst()
        compare(room.messages.get(0).body, "message 1")
        tryCompare(room.messages, "hasOlder", false)
    }

    // On the whole history: only the very first message starts a day (with older pages left
    // to load, the first row loaded cannot know).
    function test_groupsByAuthor() {
        openAsAlice()
        scrollBackToFirst()
        verify(timeline.startsGroup(0))
        verify(!timeline.startsGroup(1), "Bob's messages in a row form one group")
        verify(timeline.startsDay(0))
        verify(!timeline.startsDay(1))
    }

    // The clients and the timeline are destroyed after this (createTemporaryObject).
    function cleanup() {
        if (timeline)
            timeline.channel = null
        alice.disconnectFromServer()
        bob.disconnectFromServer()
        room = null
        bobRoom = null
        tryVerify(() => fixture.connectionCount() === 0, 5000, "the clients' connections closed") // qmllint disable unqualified
        fixture.stopServer() // qmllint disable unqualified
    }
}
