import QtQuick
import Confab.App.Style

// Turns the sign-in form into what the client needs: the WebSocket URL, the user id and name,
// and a token when the server wants one. Asks the server's `GET /` for its auth mode:
//   open      → no token; the name is the identity (setUser)
//   password  → POST /api/session {name, password} → {token}
//   token     → the password field holds a JWT, used as it is
// and reports `succeeded(wsUrl, userId, name, token)` or `failed(message)`.
QtObject {
    id: session

    property bool busy: false
    property int timeout: 8000

    signal succeeded(url wsUrl, string userId, string name, string token)
    signal failed(string message)

    // `chat.lan:4000`, `http://chat.lan:4000`, `ws://chat.lan:4000/` → `ws://chat.lan:4000/`.
    function normalizeServer(text: string): string {
        let s = text.trim()
        if (s.length === 0)
            return ""
        if (s.startsWith("http://"))
            s = "ws://" + s.substring(7)
        else if (s.startsWith("https://"))
            s = "wss://" + s.substring(8)
        else if (!s.startsWith("ws://") && !s.startsWith("wss://"))
            s = "ws://" + s
        const hostPart = s.substring(s.indexOf("//") + 2)
        if (hostPart.indexOf("/") < 0)
            s += "/"
        // No port: the server's default.
        const authority = hostPart.split("/")[0]
        if (authority.indexOf(":") < 0 && !authority.startsWith("["))
            s = s.replace(authority, authority + ":4000")
        return s
    }

    function httpBase(wsUrl: string): string {
        const s = wsUrl.replace(/^ws:/, "http:").replace(/^wss:/, "https:")
        return s.substring(0, s.indexOf("/", s.indexOf("//") + 2))
    }

    function request(method: string, address: string, body: var, done: var) {
        const xhr = new XMLHttpRequest()
        let finished = false
        const timer = Qt.createQmlObject("import QtQuick; Timer { running: true }", session)
        timer.interval = session.timeout
        timer.triggered.connect(() => {
            if (finished)
                return
            finished = true
            xhr.abort()
            timer.destroy()
            done(0, null)
        })
        xhr.onreadystatechange = () => {
            if (xhr.readyState !== XMLHttpRequest.DONE || finished)
                return
            finished = true
            timer.destroy()
            let json = null
            try {
                json = JSON.parse(xhr.responseText)
            } catch (e) {
                json = null
            }
            done(xhr.status, json)
        }
        xhr.open(method, address)
        if (body !== null) {
            xhr.setRequestHeader("Content-Type", "application/json")
            xhr.send(JSON.stringify(body))
        } else {
            xhr.send()
        }
    }

    function start(server: string, name: string, password: string) {
        const wsUrl = session.normalizeServer(server)
        const displayName = name.trim()
        const userId = Format.userIdFromName(displayName)
        if (wsUrl === "") {
            session.failed(qsTr("Enter the server's address, e.g. chat.lan:4000"))
            return
        }
        if (userId === "") {
            session.failed(qsTr("Enter your name (letters or digits)"))
            return
        }
        session.busy = true
        const base = session.httpBase(wsUrl)
        session.request("GET", base + "/", null, (status, info) => {
            if (status === 0) {
                session.busy = false
                session.failed(qsTr("No Confab server answers at %1").arg(base))
                return
            }
            const auth = info && info.auth ? info.auth : "open"
            if (auth === "password") {
                if (password === "") {
                    session.busy = false
                    session.failed(qsTr("This server needs a password"))
                    return
                }
                session.request("POST", base + "/api/session", {name: displayName, password: password},
                                (st, reply) => {
                    session.busy = false
                    if (st === 200 || st === 201) {
                        const user = reply.user || {}
                        session.succeeded(wsUrl, user.id || userId, user.name || displayName, reply.token)
                    } else if (reply && reply.error) {
                        session.failed(reply.error.message || reply.error.code)
                    } else {
                        session.failed(qsTr("Sign-in failed (HTTP %1)").arg(st))
                    }
                })
                return
            }
            session.busy = false
            if (auth === "token" || (info && info.auth_enabled === true)) {
                if (password === "") {
                    session.failed(qsTr("This server needs a token: paste it in the password field"))
                    return
                }
                session.succeeded(wsUrl, userId, displayName, password)
                return
            }
            session.succeeded(wsUrl, userId, displayName, password)
        })
    }
}
