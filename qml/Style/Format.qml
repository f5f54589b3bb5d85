pragma Singleton
import QtQuick

// Text helpers shared by the features: topics shown as people read them, user ids from names,
// dates for the timeline, and message bodies as safe rich text with mentions highlighted.
QtObject {
    id: format

    // `Alice Smith` → `alice-smith`: the user id the server accepts (1–64 of A-Z a-z 0-9 _ . -).
    function userIdFromName(name: string): string {
        let id = name.trim().toLowerCase().replace(/\s+/g, "-").replace(/[^a-z0-9_.-]/g, "")
        return id.substring(0, 64)
    }

    // A DM topic: `dm:<a>:<b>` with the ids in byte order, as the server requires.
    function dmTopic(a: string, b: string): string {
        return a < b ? "dm:" + a + ":" + b : "dm:" + b + ":" + a
    }

    function isDm(topic: string): bool {
        return topic.startsWith("dm:")
    }

    function isPrivate(topic: string): bool {
        return topic.startsWith("private:")
    }

    // The other person of a DM (or the topic's name part for other channels).
    function dmPeer(topic: string, self: string): string {
        const parts = topic.split(":")
        if (parts.length !== 3)
            return topic
        return parts[1] === self ? parts[2] : parts[1]
    }

    // `room:general` → `general`, `private:team` → `team`, `dm:alice:bob` → `bob` (for alice).
    function channelName(topic: string, self: string): string {
        if (format.isDm(topic))
            return format.dmPeer(topic, self)
        const colon = topic.indexOf(":")
        return colon >= 0 ? topic.substring(colon + 1) : topic
    }

    // The glyph in front of a channel name.
    function channelGlyph(topic: string): string {
        if (format.isDm(topic))
            return "@"
        if (format.isPrivate(topic))
            return "🔒"
        return "#"
    }

    // A channel name typed by a person → a topic: lower case, no spaces.
    function slug(name: string): string {
        return name.trim().toLowerCase().replace(/^[#@]/, "").replace(/\s+/g, "-")
            .replace(/[^a-z0-9_.-]/g, "").substring(0, 64)
    }

    function initials(name: string): string {
        const words = name.trim().split(/[\s._-]+/).filter(w => w.length > 0)
        if (words.length === 0)
            return "?"
        if (words.length === 1)
            return words[0][0].toUpperCase()
        return (words[0][0] + words[1][0]).toUpperCase()
    }

    function time(date: date): string {
        return Qt.formatTime(date, "hh:mm")
    }

    function sameDay(a: date, b: date): bool {
        return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth()
            && a.getDate() === b.getDate()
    }

    // "Today", "Yesterday", or a date, for the timeline's day separators.
    function dayLabel(date: date): string {
        const now = new Date()
        if (format.sameDay(date, now))
            return qsTr("Today")
        const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1)
        if (format.sameDay(date, yesterday))
            return qsTr("Yesterday")
        return Qt.formatDate(date, "dddd, d MMMM yyyy")
    }

    function escapeHtml(text: string): string {
        return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
            .replace(/"/g, "&quot;")
    }

    // A message body as rich text: escaped (messages come from other people and must never be
    // read as markup), line breaks kept, `@id` mentions colored (bold when it is \a self), and
    // links clickable.
    function richBody(body: string, self: string, mentionColor: string, selfColor: string): string {
        let html = format.escapeHtml(body)
        html = html.replace(/(https?:\/\/[^\s<]+)/g, "<a href=\"$1\">$1</a>")
        html = html.replace(/(^|[^A-Za-z0-9_.-])@([A-Za-z0-9_.-]+)/g, (m, pre, id) => {
            const own = id === self
            return pre + "<font color=\"" + (own ? selfColor : mentionColor) + "\"><b>@" + id + "</b></font>"
        })
        return html.replace(/\n/g, "<br>")
    }
}
