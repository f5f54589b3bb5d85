import QtQuick
import QtQuick.Controls

// One person in the member list, from Channel.presence (one row per presence key): the key,
// the status of their latest device's meta and how many devices they are on.
Label {
    required property string presenceKey
    required property var meta
    required property int deviceCount

    readonly property string status: meta.status ?? ""

    text: presenceKey + (status.length > 0 ? qsTr(" — %1").arg(status) : "")
          + (deviceCount > 1 ? qsTr(" (%1 devices)").arg(deviceCount) : "")
    textFormat: Text.PlainText
    elide: Text.ElideRight
    padding: 2
}
