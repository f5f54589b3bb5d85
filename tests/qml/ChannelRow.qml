import QtQuick
import Confab.Client

// A row of a Client.channels view in tst_qmlclient.qml: the model's roles as typed properties.
Item {
    required property string topic
    required property Channel channel
    required property bool subscribed

    width: 200
    height: 20
}
