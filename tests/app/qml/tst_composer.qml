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

    readonly property url url: serverUrl // qmllint disable unqualified
    readonly property string storage: storageDir // qmllint disable unqualified
    property Channel room: null
    property Channel other: null
    property Channel bobRoom: null

    Client {
        id: alice
        url: testCase.url
        storagePath: testCase.storage + "/composer-alice"
    }
    Client {
        id: bob
        url: testCase.url
        storagePath: testCase.storage + "/composer-bob"
    }

    Composer {
        id: composer
        y: 200
        width: 600
        channel: testCase.room
        members: [{id: "bob", name: "Bob"}, {id: "bella", name: "Bella"}, {id: "carol", name: "Carol"}]
    }

    function typeText(text: string) {
        for (const c of text)
            keyClick(c)
    }

    function initTestCase() {
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
    }

    function init() {
        composer.channel = testCase.room
        composer.focusInput()
        tryVerify(() => composer.input.activeFocus)
        composer.input.clear()
    }

    function test_1_enterSends() {
        typeText("hello")
        tryVerify(() => bobRoom.typingUsers.length === 1, 5000, "Bob sees Alice typing")
        keyClick(Qt.Key_Return)
        compare(composer.text, "")
        compare(room.messages.count, 1)
        tryCompare(bobRoom.messages, "count", 1, 5000)
        compare(bobRoom.messages.get(0).body, "hello")
        tryVerify(() => bobRoom.typingUsers.length === 0, 5000, "sending stops typing")
    }

    function test_2_shiftEnterAddsLine() {
        typeText("one")
        keyClick(Qt.Key_Return, Qt.ShiftModifier)
        typeText("two")
        compare(composer.text, "one\ntwo")
        compare(room.messages.count, 1, "nothing sent yet")
        keyClick(Qt.Key_Enter)
        compare(room.messages.count, 2)
        compare(room.messages.get(1).body, "one\ntwo")
    }

    function test_3_blankIsNotSent() {
        typeText("   ")
        keyClick(Qt.Key_Return)
        compare(room.messages.count, 2)
    }

    function test_4_mentionCompletion() {
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
        compare(room.messages.count, 2, "Enter completed the name instead of sending")
        keyClick(Qt.Key_Escape)
        typeText("x")
        compare(composer.completions.length, 0)
    }

    function test_5_draftsPerChannel() {
        typeText("draft for one")
        composer.channel = testCase.other
        compare(composer.text, "")
        typeText("draft for two")
        composer.channel = testCase.room
        compare(composer.text, "draft for one")
        composer.channel = testCase.other
        compare(composer.text, "draft for two")
    }

    function cleanupTestCase() {
        alice.disconnectFromServer()
        bob.disconnectFromServer()
    }
}
