pragma Singleton
import QtQuick

// The app's palette and metrics. `dark` switches every color at once; Main.qml restores it from
// the settings. Colors are named by role, never by hue, so both themes stay consistent.
QtObject {
    id: theme

    property bool dark: false

    // Surfaces, back to front.
    readonly property color window: dark ? "#17191e" : "#ffffff"
    readonly property color sidebar: dark ? "#1f2229" : "#f3f4f8"
    readonly property color sidebarHeader: dark ? "#252932" : "#e9ebf2"
    readonly property color surface: dark ? "#22252d" : "#ffffff"
    readonly property color raised: dark ? "#2b2f39" : "#ffffff"
    readonly property color hover: dark ? "#262a33" : "#f5f6fa"
    readonly property color selected: dark ? "#33405e" : "#e3e9fb"
    readonly property color input: dark ? "#262a33" : "#f5f6fa"
    readonly property color border: dark ? "#343946" : "#e1e4ec"
    readonly property color divider: dark ? "#2c303a" : "#eceef3"

    // Text.
    readonly property color text: dark ? "#e7e9ee" : "#1d2129"
    readonly property color textMuted: dark ? "#9aa1b1" : "#636b7c"
    readonly property color textFaint: dark ? "#6f7687" : "#98a0b0"
    readonly property color textOnAccent: "#ffffff"

    // Accents and states.
    readonly property color accent: dark ? "#7b9cff" : "#4a6cf7"
    readonly property color accentHover: dark ? "#93afff" : "#3b5be0"
    readonly property color accentSoft: dark ? "#2c3659" : "#e8edfe"
    readonly property color mention: dark ? "#3a3322" : "#fff6dc"
    readonly property color mentionBar: "#f2b233"
    readonly property color mentionText: dark ? "#ffcf66" : "#9a6200"
    readonly property color danger: dark ? "#ff6b6b" : "#d93f3f"
    readonly property color dangerSoft: dark ? "#3d2426" : "#fdeaea"
    readonly property color warning: dark ? "#f0b35a" : "#b76e00"
    readonly property color warningSoft: dark ? "#3b3020" : "#fff2da"
    readonly property color success: "#2fb36b"

    // Presence.
    readonly property color online: "#2fb36b"
    readonly property color away: "#f2b233"
    readonly property color busy: "#e5484d"
    readonly property color offline: dark ? "#5b6272" : "#a9b0bf"

    // Metrics.
    readonly property int spacing: 8
    readonly property int smallSpacing: 4
    readonly property int largeSpacing: 16
    readonly property int radius: 8
    readonly property int smallRadius: 5
    readonly property int sidebarWidth: 248
    readonly property int membersWidth: 240
    readonly property int avatarSize: 36

    // Type.
    readonly property int fontSize: 14
    readonly property int smallFontSize: 12
    readonly property int tinyFontSize: 11
    readonly property int titleFontSize: 17
    readonly property int headingFontSize: 24

    function presenceColor(status: string): color {
        switch (status) {
        case "online": return theme.online
        case "away": return theme.away
        case "dnd": return theme.busy
        default: return theme.offline
        }
    }

    // A stable color for a user id: the same person always has the same avatar color.
    readonly property var avatarColors: ["#e5484d", "#f76b15", "#d6a100", "#30a46c", "#12a594",
        "#0090ff", "#3e63dd", "#8e4ec6", "#d6409f", "#7c66dc"]
    function colorFor(id: string): color {
        let h = 0
        for (let i = 0; i < id.length; ++i)
            h = (h * 31 + id.charCodeAt(i)) >>> 0
        return theme.avatarColors[h % theme.avatarColors.length]
    }
}
