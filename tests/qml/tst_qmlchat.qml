import QtQuick
import QtTest
import Confab.Client

// Chat from QML against the real server (started by tst_qmlclient.cpp): two users, a message
// sent from JavaScript shown in both message views with its roles, an edit, a reaction, a read
// receipt, typing and unread counts, the way a QML chat application binds them. Every test
// function has a server, two clients and send queues of its own (init()), so each runs alone and
// in any order.
TestCase {
    id: testCase

    readonly property string storage: storageDir // qmllint disable unqualified

    // Made in init() for each test function.
    property Client alice: null
    property Client bob: null
    property int run: 0
    property Channel aliceRoom: null
    property Channel bobRoom: null
    property Reply pendingReply: null
    property var replyResult: null

    function finishedReply(reply: Reply): var {
        replyResult = null
        pendingReply = reply
        replySpy.target = reply
        replySpy.clear()
        tryCompare(replySpy, "count", 1)
        verify(replyResult !== null, "the finished() handler ran")
        return replyResult
    }

    name: "QmlChat"
    width: 400
    height: 400

    Component {
        id: clientComponent
        Client {}
    }

    Connections {
        target: testCase.pendingReply
        function onFinished() {
            const reply = testCase.pendingReply
            // qmllint disable type
            testCase.replyResult = {ok: reply.ok, errorCode: reply.errorCode, response: reply.response}
            // qmllint enable type
        }
    }
    SignalSpy {
        id: replySpy
        signalName: "finished"
    }

    ListView {
        id: aliceView
        width: 200
        height: 400
        model: testCase.aliceRoom ? testCase.aliceRoom.messages : null
        delegate: MessageRow {}
    }
    ListView {
        id: bobView
        x: 200
        width: 200
        height: 400
        model: testCase.bobRoom ? testCase.bobRoom.messages : null
        delegate: MessageRow {}
    }

    // The delegate of \a row, created now rather than at the next frame.
    function rowOf(view: ListView, row: int): MessageRow {
        view.forceLayout()
        return view.itemAtIndex(row) as MessageRow
    }

    // A fresh server, and Alice and Bob in room:qmlchat on it, with send queues no earlier test
    // function used (a queue left with a message in it would send it again).
    function init() {
        verify(fixture.startServer(), fixture.errorString) // qmllint disable unqualified
        ++run
        const url = fixture.serverUrl // qmllint disable unqualified
        alice = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/" + run + "/alice"})
        bob = createTemporaryObject(clientComponent, testCase, {url: url, storagePath: storage + "/" + run + "/bob"})
        verify(alice && bob)
        replyResult = null
        alice.setUser("alice", "Alice")
        bob.setUser("bob", "Bob")
        aliceRoom = alice.channel("room:qmlchat", {chat: true})
        bobRoom = bob.channel("room:qmlchat", {chat: true, pageSize: 20})
        aliceRoom.subscribe()
        bobRoom.subscribe()
        alice.connectToServer()
        bob.connectToServer()
        tryCompare(aliceRoom, "status", Channel.Subscribed)
        tryCompare(bobRoom, "status", Channel.Subscribed)
        compare(aliceRoom.chat, true)
        compare(aliceRoom.channelType, "public")
    }

    // Alice's "hello @bob", sent and seen by Bob: what the tests of an existing message start from.
    function sendHello() {
        verify(finishedReply(aliceRoom.sendMessage("hello @bob")).ok)
        compare(rowOf(aliceView, 0).state, MessageModel.Sent)
        tryCompare(bobView, "count", 1)
    }

    function test_sendShowsPendingThenSent() {
        const reply = aliceRoom.sendMessage("hello @bob")
        // The row is there at once, pending, before the server answered.
        compare(aliceRoom.messages.count, 1)
        compare(rowOf(aliceView, 0).state, MessageModel.Pending)
        const result = finishedReply(reply)
        verify(result.ok, result.errorCode)
        compare(result.response.seq, 1)
        tryCompare(aliceRoom.messages, "count", 1)
        compare(rowOf(aliceView, 0).state, MessageModel.Sent)

        tryCompare(bobView, "count", 1)
        const row = rowOf(bobView, 0)
        verify(row !== null)
        compare(row.body, "hello @bob")
        compare(row.authorName, "Alice")
        compare(row.seq, 1)
        verify(row.mentionsMe)
        verify(!row.own)
        verify(row.timestamp.getTime() > 0)
        tryCompare(bobRoom, "unreadCount", 1)
        compare(bobRoom.mentionCount, 1)
    }

    function test_editReactRead() {
        sendHello()
        const id = rowOf(aliceView, 0).messageId
        verify(finishedReply(aliceRoom.editMessage(id, "hello again @bob")).ok)
        const row = rowOf(bobView, 0)
        tryCompare(row, "body", "hello again @bob")
        verify(row.edited)

        verify(finishedReply(bobRoom.addReaction(id, "👍")).ok)
        tryVerify(() => {
            const r = rowOf(aliceView, 0).reactions
            return r["👍"] !== undefined && r["👍"].length === 1 && r["👍"][0] === "bob"
        })

        verify(finishedReply(bobRoom.markAllRead()).ok)
        compare(bobRoom.unreadCount, 0)
        tryVerify(() => rowOf(aliceView, 0).readBy.indexOf("bob") >= 0)
    }

    function test_typing() {
        aliceRoom.setTyping(true)
        tryVerify(() => bobRoom.typingUsers.length === 1)
        compare(bobRoom.typingUsers[0].name, "Alice")
        aliceRoom.setTyping(false)
        tryVerify(() => bobRoom.typingUsers.length === 0)
    }

    function test_deleteAndRefusals() {
        sendHello()
        const id = rowOf(aliceView, 0).messageId
        const foreign = finishedReply(bobRoom.deleteMessage(id))
        verify(!foreign.ok)
        compare(foreign.errorCode, "FORBIDDEN")
        verify(finishedReply(aliceRoom.deleteMessage(id)).ok)
        tryCompare(rowOf(bobView, 0), "deleted", true)
        compare(rowOf(bobView, 0).body, "")
        const empty = finishedReply(aliceRoom.sendMessage(""))
        compare(empty.errorCode, "INVALID_PAYLOAD")
    }

    // The clients themselves are destroyed after this (createTemporaryObject).
    function cleanup() {
        alice.disconnectFromServer()
        bob.disconnectFromServer()
        replySpy.target = null
        pendingReply = null
        aliceRoom = null
        bobRoom = null
        tryVerify(() => fixture.connectionCount() === 0, 5000, "the clients' connections closed") // qmllint disable unqualified
        fixture.stopServer() // qmllint disable unqualified
    }
}
