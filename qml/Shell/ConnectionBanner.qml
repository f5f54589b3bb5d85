import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Confab.Client
import Confab.App.Style

// A strip above the timeline while the connection is not up: "Reconnecting…" (amber) or
// "Offline" (red), with how many messages wait in the send queue. Nothing typed is lost: the
// queue is on disk and goes out after the reconnect.
Rectangle {
    id: banner

    property int state: Client.Connected     // Client.State
    property int queued: 0
    property int attempt: 0
    readonly property bool shown: banner.state !== Client.Connected

    signal retryRequested()

    readonly property string message: {
        const waiting = banner.queued > 0 ? " · " + (banner.queued === 1 ? qsTr("1 message waiting to be sent") : qsTr("%1 messages waiting to be sent").arg(banner.queued)) : ""
        if (banner.state === Client.Reconnecting)
            return qsTr("Connection lost. Reconnecting…") + waiting
        if (banner.state === Client.Connecting)
            return qsTr("Connecting…") + waiting
        return qsTr("You are offline.") + waiting
    }

    implicitHeight: banner.shown ? 36 : 0
    visible: implicitHeight > 0
    clip: true
    color: banner.state === Client.Disconnected ? Theme.dangerSoft : Theme.warningSoft
    Accessible.role: Accessible.AlertMessage
    Accessible.name: banner.message

    Behavior on implicitHeight {
        NumberAnimation { duration: 150 }
    }

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: Theme.largeSpacing
        anchors.rightMargin: Theme.largeSpacing
        spacing: Theme.spacing

        Rectangle {
            Layout.preferredWidth: 8
            Layout.preferredHeight: 8
            radius: 4
            color: banner.state === Client.Disconnected ? Theme.danger : Theme.warning
            SequentialAnimation on opacity {
                running: banner.shown && banner.state !== Client.Disconnected
                loops: Animation.Infinite
                NumberAnimation { from: 1; to: 0.25; duration: 600 }
                NumberAnimation { from: 0.25; to: 1; duration: 600 }
            }
        }
        Label {
            objectName: "bannerText"
            text: banner.message
            color: banner.state === Client.Disconnected ? Theme.danger : Theme.warning
            font.pixelSize: Theme.smallFontSize
            font.weight: Font.DemiBold
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Button {
            id: retry
            text: qsTr("Reconnect now")
            flat: true
            Accessible.name: text
            onClicked: banner.retryRequested()
            contentItem: Text {
                text: retry.text
                color: Theme.accent
                font.pixelSize: Theme.smallFontSize
                font.weight: Font.DemiBold
            }
            background: null
        }
    }
}
