#pragma once

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtNetwork/QTcpSocket>
#include <QtWebSockets/QWebSocket>

#include <functional>
#include <memory>
#include <optional>

namespace Confab::Testing {

//! \brief A protocol-level test client: a real QWebSocket that speaks native frames as JSON
//! arrays and keeps every frame it receives, so tests can wait for a frame, or prove that one
//! did not come (see sync()).
class RawClient : public QObject
{
    Q_OBJECT
public:
    using Frame = QJsonArray;
    using Predicate = std::function<bool(const Frame &)>;

    explicit RawClient(QObject *parent = nullptr);
    ~RawClient() override;

    //! \brief Connects and waits for the handshake; false on failure or timeout.
    bool open(const QUrl &url, int timeoutMs = 5000);
    void close();

    //! \brief Sends `[joinRef, ref, topic, event, payload]` with the next ref ("1", "2", …);
    //! returns the ref used.
    QString push(const QString &topic, const QString &event, const QJsonObject &payload = {},
                 const QJsonValue &joinRef = QJsonValue::Null);
    //! \brief Like push(), with a null ref (no reply wanted).
    void pushNoRef(const QString &topic, const QString &event, const QJsonObject &payload = {});
    void sendText(const QString &text);
    void sendBinary(const QByteArray &data);

    //! \brief Waits for the reply to \a ref and returns its payload {status, response}.
    std::optional<QJsonObject> waitForReply(const QString &ref, const QString &topic, int timeoutMs = 5000);
    //! \brief Waits for the first frame (already received or arriving) matching \a predicate,
    //! removes it from the inbox and returns it.
    std::optional<Frame> waitFor(const Predicate &predicate, int timeoutMs = 5000);
    std::optional<Frame> waitForEvent(const QString &topic, const QString &event, int timeoutMs = 5000);

    //! \brief Joins and returns the reply payload; consumes the presence_state that follows an
    //! ok reply (into \a presenceState if given).
    std::optional<QJsonObject> join(const QString &topic, const QJsonObject &config = {},
                                    const QString &accessToken = {}, QJsonObject *presenceState = nullptr);

    //! \brief A barrier: sends a heartbeat and waits for its reply. The server writes to a
    //! socket in processing order, so afterwards the inbox holds every frame the server sent
    //! this client before handling the heartbeat.
    bool sync(int timeoutMs = 5000);

    //! \brief Frames received and not yet taken, oldest first.
    [[nodiscard]] const QList<Frame> &inbox() const { return m_inbox; }
    [[nodiscard]] QList<Frame> take(const Predicate &predicate);
    [[nodiscard]] int count(const Predicate &predicate) const;
    void clearInbox() { m_inbox.clear(); }
    //! \brief Text frames that were not JSON arrays (should never happen).
    [[nodiscard]] const QStringList &unparsed() const { return m_unparsed; }

    bool waitForDisconnected(int timeoutMs = 5000);
    [[nodiscard]] bool isConnected() const;
    [[nodiscard]] QWebSocketProtocol::CloseCode closeCode() const { return m_socket.closeCode(); }
    [[nodiscard]] QString closeReason() const { return m_socket.closeReason(); }
    [[nodiscard]] QWebSocket &socket() { return m_socket; }

    //! \brief A client that said hello as \a user (`{id, name?}`, open mode) and, given a
    //! \a topic, joined it for chat and took its presence_state and typing_state; null on failure.
    static std::unique_ptr<RawClient> chatMember(const QUrl &url, const QJsonObject &user, const QString &topic = {});

    //! \brief Predicate helpers.
    static Predicate isEvent(const QString &topic, const QString &event);
    static Predicate isReplyTo(const QString &ref);

private:
    QWebSocket m_socket;
    QList<Frame> m_inbox;
    QStringList m_unparsed;
    int m_nextRef = 0;
};

//! \brief A WebSocket client on a bare TCP socket, for frames QWebSocket will not produce
//! (invalid UTF-8 in a text frame, odd opcodes) and for reading close codes exactly.
class RawWebSocket : public QObject
{
    Q_OBJECT
public:
    struct Message
    {
        int opcode = 0;
        QByteArray payload;
    };

    explicit RawWebSocket(QObject *parent = nullptr);
    //! \brief TCP connect plus the opening handshake on \a path; false unless 101 arrives.
    bool open(const QString &host, quint16 port, const QByteArray &path = "/", int timeoutMs = 5000);
    //! \brief Sends one masked frame (fin set).
    void sendFrame(int opcode, const QByteArray &payload);
    //! \brief Waits for the next complete frame from the server.
    std::optional<Message> waitForMessage(int timeoutMs = 5000);
    //! \brief Waits for a close frame; returns its code (or nullopt).
    std::optional<int> waitForClose(int timeoutMs = 5000);
    //! \brief Stops reading from the socket, like a client that hangs: the kernel buffers fill
    //! and the server has to hold (or drop) what it sends.
    void stopReading();
    QTcpSocket &socket() { return m_socket; }

private:
    bool parseOne();

    QTcpSocket m_socket;
    QByteArray m_buffer;
    QList<Message> m_messages;
};

} // namespace Confab::Testing
