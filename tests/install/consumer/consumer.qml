import QtQml
import Confab.Client

// consumer_cpp's check in QML (QtQml types only, no window): join room:install with self + ack,
// broadcast, then wait for the echo, the ack and an ok track() reply.
QtObject {
    id: root

    required property url serverUrl

    property bool started: false
    property bool echoed: false
    property bool acked: false
    property bool tracked: false
    property Reply sendReply: null
    property Reply trackReply: null

    function fail(why: string) {
        console.error("consumer_qml: " + why)
        Qt.exit(1)
    }
    function finishIfDone() {
        if (echoed && acked && tracked) {
            console.info("OK")
            Qt.exit(0)
        }
    }

    property Client client: Client {
        url: root.serverUrl
    }
    readonly property Channel room: client.channel("room:install", {self: true, ack: true, presenceKey: "consumer-qml"})

    property Connections roomEvents: Connections {
        target: root.room

        function onSubscribed() {
            if (root.started)
                return
            root.started = true
            root.sendReply = root.room.send("hello", {from: "consumer_qml"})
            root.trackReply = root.room.track({status: "online"})
        }
        function onBroadcastReceived(event: string, payload: var) {
            if (event === "hello" && payload.from === "consumer_qml") {
                root.echoed = true
                root.finishIfDone()
            }
        }
        function onErrorOccurred(code: string, message: string) {
            root.fail("channel error " + code + ": " + message)
        }
    }
    // Connections on a reply works like reply.finished.connect() (used by the example).
    property Connections sendEvents: Connections {
        target: root.sendReply

        function onFinished() {
            const reply = root.sendReply
            if (!reply.ok)
                return root.fail("send() failed: " + reply.errorCode)
            // qmllint disable type
            const response = reply.response // Qt 6.4's qmllint does not know QJsonObject
            // qmllint enable type
            if (!(response.recipientCount >= 1))
                return root.fail("the ack counts no recipient")
            root.acked = true
            root.finishIfDone()
        }
    }
    property Connections trackEvents: Connections {
        target: root.trackReply

        function onFinished() {
            const reply = root.trackReply
            if (!reply.ok)
                return root.fail("track() failed: " + reply.errorCode)
            root.tracked = true
            root.finishIfDone()
        }
    }
    property Timer timeout: Timer {
        interval: 10000
        running: true
        onTriggered: root.fail("timed out after 10 s: subscribed %1, echo %2, ack %3, track %4"
                               .arg(root.started).arg(root.echoed).arg(root.acked).arg(root.tracked))
    }

    Component.onCompleted: {
        room.subscribe()
        client.connectToServer()
    }
}
