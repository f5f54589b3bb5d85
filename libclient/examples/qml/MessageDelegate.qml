import QtQuick
import QtQuick.Controls

// One line of the message list: "name: text", or a notice (joins, leaves, errors) in italics.
// Plain text on purpose: messages come from other people and must not be read as markup.
Label {
    required property string sender
    required property string body
    required property bool notice

    text: notice ? body : qsTr("%1: %2").arg(sender).arg(body)
    textFormat: Text.PlainText
    font.italic: notice
    wrapMode: Text.Wrap
    padding: 2
}
