import QtQuick
import QtTest
import Confab.App.Timeline

// MessageDelegate alone, with the roles a MessageModel row gives it: author header and grouping,
// mention highlight, edited and deleted, pending and failed (retry/discard), reaction chips
// (click to toggle), "seen by", and editing (Enter saves, Esc cancels).
TestCase {
    id: testCase
    name: "MessageDelegate"
    width: 600
    height: 400
    visible: true
    when: windowShown

    Component {
        id: delegateComponent
        MessageDelegate {
            width: 560
            index: 0
            model: ({state: 1})
            messageId: "m-1"
            clientId: "c-1"
            authorId: "bob"
            authorName: "Bob"
            body: "Hello @alice, see https://example.org"
            timestamp: new Date()
            edited: false
            deleted: false
            errorCode: ""
            errorMessage: ""
            reactions: ({})
            readBy: []
            mentionsMe: false
            own: false
            selfId: "alice"
        }
    }

    SignalSpy { id: reactionSpy; signalName: "reactionToggled" }
    SignalSpy { id: editSpy; signalName: "editSubmitted" }
    SignalSpy { id: retrySpy; signalName: "retryRequested" }
    SignalSpy { id: discardSpy; signalName: "discardRequested" }

    function make(props: var): MessageDelegate {
        const item = createTemporaryObject(delegateComponent, testCase, props || {})
        verify(item !== null)
        return item
    }

    function findChild(item: Item, predicate: var): Item {
        if (!item)
            return null
        if (predicate(item))
            return item
        for (let i = 0; i < item.children.length; ++i) {
            const found = findChild(item.children[i], predicate)
            if (found)
                return found
        }
        return null
    }

    function bodyText(item: Item): Item {
        return findChild(item, c => c.objectName === "bodyText")
    }

    function test_headerAndGrouping() {
        const first = make({showHeader: true})
        const second = make({showHeader: false, y: 100})
        verify(first.height > second.height, "a grouped message drops the avatar and name")
        verify(findChild(first, c => c.text === "Bob" && c.visible) !== null)
        compare(findChild(second, c => c.text === "Bob" && c.visible), null)
    }

    function test_richBodyIsEscapedAndHighlightsMentions() {
        const item = make({body: "<b>not bold</b> hi @alice and @carol", selfId: "alice"})
        const text = bodyText(item).text
        verify(text.indexOf("&lt;b&gt;not bold&lt;/b&gt;") >= 0, text)
        verify(text.indexOf("<b>@alice</b>") >= 0, text)
        verify(text.indexOf("<b>@carol</b>") >= 0, text)
    }

    function test_mentionHighlight() {
        const plain = make({mentionsMe: false})
        const mention = make({mentionsMe: true})
        const row = findChild(mention, c => c.color !== undefined && c.width === mention.width && c.height > 20
                              && String(c.color) !== "#00000000")
        verify(row !== null, "a mention has a tinted row")
        compare(findChild(plain, c => c.width === 3 && c.visible), null)
        verify(findChild(mention, c => c.width === 3 && c.visible) !== null, "and an accent bar")
    }

    function test_editedAndDeleted() {
        const edited = make({edited: true})
        verify(bodyText(edited).text.indexOf("(edited)") >= 0)
        const deleted = make({deleted: true, body: ""})
        compare(bodyText(deleted).text, "This message was deleted")
        verify(bodyText(deleted).font.italic)
    }

    function test_pendingAndFailed() {
        const pending = make({model: {state: 0}, own: true})
        verify(pending.pending)
        verify(findChild(pending, c => c.text === "Sending…" && c.visible) !== null)
        const failed = make({model: {state: 2}, own: true, errorCode: "MESSAGE_TOO_LARGE", errorMessage: "too long"})
        verify(failed.failed)
        verify(findChild(failed, c => c.text === "Not sent: too long" && c.visible) !== null)
        retrySpy.target = failed
        discardSpy.target = failed
        const retry = findChild(failed, c => c.text === "Retry" && c.visible && c.clicked !== undefined)
        verify(retry !== null)
        mouseClick(retry)
        compare(retrySpy.count, 1)
        mouseClick(findChild(failed, c => c.text === "Discard" && c.visible && c.clicked !== undefined))
        compare(discardSpy.count, 1)
    }

    function test_reactionChipsToggle() {
        const item = make({reactions: {"👍": ["alice", "bob"], "🎉": ["bob"]}})
        compare(item.reactionList.length, 2)
        const mine = findChild(item, c => c.emoji === "👍" && c.count !== undefined)
        const theirs = findChild(item, c => c.emoji === "🎉" && c.count !== undefined)
        verify(mine.mine)
        compare(mine.count, 2)
        verify(!theirs.mine)
        reactionSpy.target = item
        reactionSpy.clear()
        mouseClick(mine)
        compare(reactionSpy.count, 1)
        compare(reactionSpy.signalArguments[0][0], "👍")
        compare(reactionSpy.signalArguments[0][1], false, "clicking my reaction removes it")
        mouseClick(theirs)
        compare(reactionSpy.signalArguments[1][0], "🎉")
        compare(reactionSpy.signalArguments[1][1], true, "clicking another's reaction adds mine")
    }

    function test_seenBy() {
        const none = make({})
        compare(findChild(none, c => c.objectName === "seenBy").visible, false)
        const seen = make({seenBy: "Bob, Carol"})
        const label = findChild(seen, c => c.objectName === "seenBy")
        verify(label.visible)
        verify(label.text.indexOf("Seen by Bob, Carol") >= 0)
    }

    function test_editOwnMessage() {
        const item = make({own: true, authorId: "alice", authorName: "Alice", body: "helo"})
        editSpy.target = item
        item.startEditing()
        verify(item.editing)
        const editor = findChild(item, c => c.objectName === "editor")
        tryVerify(() => editor.activeFocus)
        keyClick(Qt.Key_End)
        keyClick(Qt.Key_Backspace)
        keyClick(Qt.Key_Backspace)
        keyClick(Qt.Key_L)
        keyClick(Qt.Key_L)
        keyClick(Qt.Key_O)
        keyClick(Qt.Key_Return)
        verify(!item.editing)
        compare(editSpy.count, 1)
        compare(editSpy.signalArguments[0][0], "hello")

        item.startEditing()
        keyClick(Qt.Key_X)
        keyClick(Qt.Key_Escape)
        verify(!item.editing)
        compare(editSpy.count, 1, "Esc cancels")
    }

    function test_othersMessagesAreNotEditable() {
        const item = make({own: false})
        item.startEditing()
        verify(!item.editing)
    }
}
