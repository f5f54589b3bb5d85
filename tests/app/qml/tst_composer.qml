import QtQuick
import QtTest
import Confab.Client
import Confab.App.Composer

// The composer on a real chat channel: Enter sends (a Pending row at once), Shift+Enter adds a
// line, typing reaches the other user, `@` completes names, and drafts survive channel switches.
TestCase {
    id: testCase
    name: "Composer"
    width: 600
    height: 300
    visible: true
    when: windowShown

    readonly property string storage: storageDir // qmllint disable unqualified
    // Made in init() for each test function: a server, Alice and Bob, and the composer.
    property Client alice: null
    property Client bob: null
    property Channel room: null
    property Channel other: null
    property Channel bobRoom: null
    property Composer composer: null
    property int run: 0

    Component {
        id: clientComponent
        Client {}
    }
    Component {
        id: composerComponent
        Composer {
            y: 200
            width: 600
            members: [{id: "bob", name: "Bob"}, {id: "bella", name: "Bella"}, {id: "carol", name: "Carol"}]
        }
    }

    function typeText(text: string) {
        for (const c of text)
            keyClick(c)
    }

    // A fresh server with Alice in room:composer (and room:composer-2) and Bob in room:composer,
    // send queues no earlier test function used, and a new composer on Alice's room with the
    // focus in its input: no draft, message or typing state carries over from another test.
    function init() {
        verify(fixture.startServer(), fixture.errorString) // qmllint disable unqualified
        ++run
        const url = fixture.serverUrl // qmllint disable unqualified
        alice = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/composer-" + run + "/alice"})
        bob = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/composer-" + run + "/bob"})
        verify(alice && bob)
        alice.setUser("alice", "Alice")
        bob.setUser("bob", "Bob")
        room = alice.channel("room:composer", {chat: true})
        other = alice.channel("room:composer-2", {chat: true})
        bobRoom = bob.channel("room:composer", {chat: true})
        room.subscribe()
        other.subscribe()
        bobRoom.subscribe()
        alice.connectToServer()
        bob.connectToServer()
        tryCompare(room, "status", Channel.Subscribed, 10000)
        tryCompare(bobRoom, "status", Channel.Subscribed, 10000)

        composer = createTemporaryObject(composerComponent, testCase, {channel: room})
        verify(composer)
        composer.focusInput()
        tryVerify(() => composer.input.activeFocus)
        compare(composer.text, "")
    }

    // The clients and the composer are destroyed after this (createTemporaryObject).
    function cleanup() {
        alice.disconnectFromServer()
        bob.disconnectFromServer()
        room = null
        other = null
        bobRoom = null
        tryVerify(() => fixture.connectionCount() === 0, 5000, "the clients' connections closed") // qmllint disable unqualified
        fixture.stopServer() // qmllint disable unqualified
    }

    function test_enterSends() {
        typeText("hello")
        tryVerify(() => bobRoom.typingUsers.length === 1, 5000, "Bob sees Alice typing")
        keyClick(Qt.Key_Return)
        compare(composer.text, "")
        compare(room.messages.count, 1)
        tryCompare(bobRoom.messages, "count", 1, 5000)
        compare(bobRoom.messages.get(0).body, "hello")
        tryVerify(() => bobRoom.typingUsers.length === 0, 5000, "sending stops typing")
    }

    function test_shiftEnterAddsLine() {
        typeText("one")
        keyClick(Qt.Key_Return, Qt.ShiftModifier)
        typeText("two")
        compare(composer.text, "one\ntwo")
        compare(room.messages.count, 0, "nothing sent yet")
        keyClick(Qt.Key_Enter)
        compare(room.messages.count, 1)
        compare(room.messages.get(0).body, "one\ntwo")
    }

    function test_blankIsNotSent() {
        typeText("   ")
        keyClick(Qt.Key_Return)
        compare(room.messages.count, 0)
    }

    function test_mentionCompletion() {
        typeText("hi @b")
        compare(composer.completions.length, 2)
        compare(composer.completions[0].id, "bob")
        keyClick(Qt.Key_Down)
        keyClick(Qt.Key_Tab)
        compare(composer.text, "hi @bella ")
        typeText("and @c")
        compare(composer.completions.length, 1)
        keyClick(Qt.Key_Return)
        compare(composer.text, "hi @bella and @carol ")
        compare(room.messages.count, 0, "Enter completed the name instead of sending")
        keyClick(Qt.Key_Escape)
        typeText("x")
        compare(composer.completions.length, 0)
    }

    function test_draftsPerChannel() {
        typeText("draft for one")
        composer.channel = testCase.other
        compare(composer.text, "")
        typeText("draft for two")
        composer.channel = testCase.room
        compare(composer.text, "draft for one")
        composer.channel = testCase.other
        compare(composer.text, "draft for two")
    }
}
