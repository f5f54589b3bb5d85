import QtQuick

// A row of a Channel.messages view in tst_qmlchat.qml: the model's roles as typed properties,
// the way a chat application's delegate reads them.
Item {
    required property string messageId
    required property int seq
    required property string authorId
    required property string authorName
    required property string body
    required property date timestamp
    required property bool edited
    required property bool deleted
    required property int state
    required property var reactions
    required property var readBy
    required property bool mentionsMe
    required property bool own

    width: 200
    height: 20
}
