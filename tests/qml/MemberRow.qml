import QtQuick

// A row of a Channel.presence view in tst_qmlclient.qml: the model's roles as typed properties.
// A file of its own because, on Qt 6.4, `item as InlineComponent` yields null.
Item {
    required property string presenceKey
    required property var meta
    required property var metas
    required property int deviceCount

    width: 200
    height: 20
}
