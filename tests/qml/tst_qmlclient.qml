import QtQuick
import QtTest
import Confab.Client

// The QML face of ConfabClient, end to end against a real server (started by tst_qmlclient.cpp):
// two clients in one room, a broadcast with ack, replies, and presence in the list models.
// Waits are on state (tryCompare, SignalSpy), never fixed sleeps. Every test function has a server
// and two clients of its own (init()), so each runs alone and in any order.
TestCase {
    id: testCase

    // Made in init() for each test function; Alice receives her own broadcasts (self) and gets
    // acks, Bob only listens.
    property Client alice: null
    property Client bob: null
    property Channel aliceRoom: null
    property Channel bobRoom: null

    // What the finished() handlers saw: a Reply deletes itself after finished(), so it is read
    // in the handler (as the Reply docs ask), not afterwards.
    property Reply pendingReply: null
    property var replyResult: null

    // Alice's own copy of a broadcast, seen through Connections as an application would.
    property string aliceEvent
    property var alicePayload: null

    function rooms() {
        aliceRoom = alice.channel("room:qml", {self: true, ack: true, presenceKey: "alice"})
        bobRoom = bob.channel("room:qml", {broadcast: {self: false}, presence: {key: "bob"}})
        aliceRoom.subscribe()
        bobRoom.subscribe()
        alice.connectToServer()
        bob.connectToServer()
        tryCompare(aliceRoom, "status", Channel.Subscribed)
        tryCompare(bobRoom, "status", Channel.Subscribed)
    }

    function finishedReply(reply: Reply): var {
        replyResult = null
        pendingReply = reply
        replySpy.target = reply
        replySpy.clear()
        tryCompare(replySpy, "count", 1)
        verify(replyResult !== null, "the finished() handler ran")
        return replyResult
    }

    name: "QmlClient"
    width: 400
    height: 400

    Component {
        id: clientComponent
        Client {}
    }

    function init() {
        verify(fixture.startServer(), fixture.errorString) // qmllint disable unqualified
        alice = createTemporaryObject(clientComponent, testCase, {url: fixture.serverUrl}) // qmllint disable unqualified
        bob = createTemporaryObject(clientComponent, testCase, {url: fixture.serverUrl}) // qmllint disable unqualified
        verify(alice && bob)
        aliceEvent = ""
        alicePayload = null
        replyResult = null
        bobBroadcasts.clear()
        bobPresenceJoins.clear()
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

    Connections {
        target: testCase.pendingReply
        function onFinished() {
            const reply = testCase.pendingReply
            testCase.replyResult = {
                ok: reply.ok,
                status: reply.status,
                done: reply.done,
                errorCode: reply.errorCode,
                errorMessage: reply.errorMessage,
                // qmllint disable type
                response: reply.response // Qt 6.4's qmllint does not know QJsonObject
                // qmllint enable type
            }
        }
    }
    Connections {
        target: testCase.aliceRoom
        function onBroadcastReceived(event: string, payload: var) {
            testCase.aliceEvent = event
            testCase.alicePayload = payload
        }
    }

    SignalSpy {
        id: replySpy
        signalName: "finished"
    }
    SignalSpy {
        id: bobBroadcasts
        target: testCase.bobRoom
        signalName: "broadcastReceived"
    }
    SignalSpy {
        id: bobPresenceJoins
        target: testCase.bobRoom
        signalName: "presenceJoined"
    }

    // Bob's member list, as an application shows it (delegates in MemberRow.qml and
    // ChannelRow.qml, so that rows read back with itemAtIndex() are typed).
    ListView {
        id: bobMembers
        width: 200
        height: 200
        model: testCase.bobRoom ? testCase.bobRoom.presence : null
        delegate: MemberRow {}
    }
    // Alice's channel list.
    ListView {
        id: aliceChannels
        x: 200
        width: 200
        height: 200
        model: testCase.alice ? testCase.alice.channels : null
        delegate: ChannelRow {}
    }

    function test_connectAndSubscribe() {
        compare(alice.state, Client.Disconnected)
        rooms()
        compare(alice.state, Client.Connected)
        verify(alice.connected)
        verify(bobRoom.subscribed)
        compare(aliceRoom.topic, "room:qml")
        compare(bob.channel("room:qml", {}), bobRoom, "channel() returns the existing channel")
    }

    function test_channelListModel() {
        rooms()
        compare(alice.channels.count, 1)
        compare(alice.channels.at(0), aliceRoom)
        tryCompare(aliceChannels, "count", 1)
        aliceChannels.forceLayout() // creates the delegates now, not at the next frame
        const row = aliceChannels.itemAtIndex(0) as ChannelRow
        verify(row)
        compare(row.topic, "room:qml")
        compare(row.channel, aliceRoom)
        tryCompare(row, "subscribed", true)
    }

    function test_broadcastWithAck() {
        rooms()
        bobBroadcasts.clear()
        aliceEvent = ""
        const result = finishedReply(aliceRoom.send("event", {text: "hi", n: 1}))
        verify(result.ok, result.errorCode)
        compare(result.status, Reply.Ok)
        verify(result.done)
        compare(result.errorCode, "")
        compare(result.response.recipientCount, 2) // Alice (self) and Bob

        tryCompare(bobBroadcasts, "count", 1)
        compare(bobBroadcasts.signalArguments[0][0], "event")
        compare(bobBroadcasts.signalArguments[0][1].text, "hi")
        compare(bobBroadcasts.signalArguments[0][1].n, 1)
        tryCompare(testCase, "aliceEvent", "event")
        compare(alicePayload.text, "hi")
    }

    function test_errorReply() {
        rooms()
        const result = finishedReply(aliceRoom.send("", {text: "no event name"}))
        verify(!result.ok)
        compare(result.status, Reply.Error)
        compare(result.errorCode, "INVALID_EVENT")
        verify(result.errorMessage.length > 0)
    }

    function test_presenceJoinInModel() {
        rooms()
        bobPresenceJoins.clear()
        const result = finishedReply(aliceRoom.track({status: "online"}))
        // A client gets no presence diff for its own track: the ok reply is its confirmation.
        verify(result.ok, result.errorCode)
        verify(aliceRoom.tracked)

        tryCompare(bobPresenceJoins, "count", 1)
        compare(bobPresenceJoins.signalArguments[0][0], "alice")
        compare(bobPresenceJoins.signalArguments[0][2].length, 1)
        compare(bobPresenceJoins.signalArguments[0][2][0].meta.status, "online")

        tryCompare(bobRoom.presence, "count", 1)
        compare(bobRoom.presence.indexOfKey("alice"), 0)
        compare(bobRoom.presence.metas("alice")[0].status, "online")
        compare(bobRoom.presenceState().alice[0].meta.status, "online")
        tryCompare(bobMembers, "count", 1)
        bobMembers.forceLayout()
        const row = bobMembers.itemAtIndex(0) as MemberRow
        verify(row)
        compare(row.presenceKey, "alice")
        compare(row.meta.status, "online")
        compare(row.metas.length, 1)
        compare(row.metas[0].status, "online")
        compare(row.deviceCount, 1)
    }

    // JavaScript can connect to a reply's finished() signal directly.
    function test_replyFinishedSignalFromJavaScript() {
        rooms()
        const reply = aliceRoom.send("event", {text: "from js"})
        reply.autoDelete = false // read it after finished(); we delete it ourselves
        let calls = 0
        reply.finished.connect(() => { calls += 1 })
        tryVerify(() => calls === 1)
        verify(reply.done)
        verify(reply.ok, reply.errorCode)
        reply.destroy()
    }

    // client.channel(topic) works without options (the default config).
    function test_channelWithoutOptions() {
        const channel = alice.channel("room:no-options")
        verify(channel !== null)
        compare(channel.topic, "room:no-options")
        compare(alice.channel("room:no-options"), channel) // one channel per topic
    }

    function test_uncreatableTypes_data() {
        return [
            {tag: "Channel", message: "Channels are made by Client.channel(topic, options)"},
            {tag: "Reply", message: "Replies are returned by Channel.send(), track(), untrack() and unsubscribe()"},
            {tag: "PresenceModel", message: "Use Channel.presence"},
            {tag: "ChannelListModel", message: "Use Client.channels"},
        ]
    }
    function test_uncreatableTypes(data) {
        let error = ""
        try {
            Qt.createQmlObject("import Confab.Client\n" + data.tag + " {}", testCase)
        } catch (e) {
            error = e.message
        }
        verify(error.indexOf(data.message) >= 0, "got: " + error)
        const client = Qt.createQmlObject("import Confab.Client\nClient {}", testCase)
        verify(client !== null, "Client is creatable")
        client.destroy()
    }
}
