#include "rawclient.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QJsonDocument>
#include <QtCore/QRandomGenerator>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;

namespace Confab::Testing {

RawClient::RawClient(QObject *parent) : QObject(parent)
{
    connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
        const auto doc = QJsonDocument::fromJson(text.toUtf8());
        if (doc.isArray())
            m_inbox.append(doc.array());
        else
            m_unparsed.append(text);
    });
}

RawClient::~RawClient()
{
    m_socket.abort();
}

bool RawClient::open(const QUrl &url, int timeoutMs)
{
    m_socket.open(url);
    return QTest::qWaitFor([this] { return m_socket.state() == QAbstractSocket::ConnectedState; }, timeoutMs);
}

void RawClient::close()
{
    m_socket.close();
}

bool RawClient::isConnected() const
{
    return m_socket.state() == QAbstractSocket::ConnectedState;
}

bool RawClient::waitForDisconnected(int timeoutMs)
{
    return QTest::qWaitFor([this] { return m_socket.state() == QAbstractSocket::UnconnectedState; }, timeoutMs);
}

QString RawClient::push(const QString &topic, const QString &event, const QJsonObject &payload,
                        const QJsonValue &joinRef)
{
    const auto ref = QString::number(++m_nextRef);
    m_socket.sendTextMessage(QString::fromUtf8(
        QJsonDocument(QJsonArray{joinRef, ref, topic, event, payload}).toJson(QJsonDocument::Compact)));
    return ref;
}

void RawClient::pushNoRef(const QString &topic, const QString &event, const QJsonObject &payload)
{
    m_socket.sendTextMessage(QString::fromUtf8(
        QJsonDocument(QJsonArray{QJsonValue::Null, QJsonValue::Null, topic, event, payload})
            .toJson(QJsonDocument::Compact)));
}

void RawClient::sendText(const QString &text)
{
    m_socket.sendTextMessage(text);
}

void RawClient::sendBinary(const QByteArray &data)
{
    m_socket.sendBinaryMessage(data);
}

RawClient::Predicate RawClient::isEvent(const QString &topic, const QString &event)
{
    return [topic, event](const Frame &f) {
        return f.size() == 5 && f.at(2).toString() == topic && f.at(3).toString() == event;
    };
}

RawClient::Predicate RawClient::isReplyTo(const QString &ref)
{
    return [ref](const Frame &f) {
        return f.size() == 5 && f.at(1).toString() == ref && f.at(3).toString() == "chan:reply"_L1;
    };
}

std::optional<RawClient::Frame> RawClient::waitFor(const Predicate &predicate, int timeoutMs)
{
    std::optional<Frame> found;
    (void)QTest::qWaitFor(
        [&] {
            for (qsizetype i = 0; i < m_inbox.size(); ++i) {
                if (predicate(m_inbox.at(i))) {
                    found = m_inbox.takeAt(i);
                    return true;
                }
            }
            return false;
        },
        timeoutMs);
    return found;
}

std::optional<RawClient::Frame> RawClient::waitForEvent(const QString &topic, const QString &event, int timeoutMs)
{
    return waitFor(isEvent(topic, event), timeoutMs);
}

std::optional<QJsonObject> RawClient::waitForReply(const QString &ref, const QString &topic, int timeoutMs)
{
    const auto frame = waitFor(
        [&](const Frame &f) { return isReplyTo(ref)(f) && f.at(2).toString() == topic; }, timeoutMs);
    if (!frame)
        return std::nullopt;
    return frame->at(4).toObject();
}

std::optional<QJsonObject> RawClient::join(const QString &topic, const QJsonObject &config,
                                           const QString &accessToken, QJsonObject *presenceState)
{
    QJsonObject payload{{u"config"_s, config}};
    if (!accessToken.isEmpty())
        payload.insert(u"access_token"_s, accessToken);
    const auto ref = push(topic, u"chan:join"_s, payload);
    auto reply = waitForReply(ref, topic);
    if (reply && reply->value("status"_L1).toString() == "ok"_L1) {
        const auto state = waitForEvent(topic, u"presence_state"_s);
        if (!state)
            return std::nullopt;
        if (presenceState)
            *presenceState = state->at(4).toObject();
    }
    return reply;
}

bool RawClient::sync(int timeoutMs)
{
    const auto ref = push(u"$system"_s, u"heartbeat"_s);
    return waitForReply(ref, u"$system"_s, timeoutMs).has_value();
}

QList<RawClient::Frame> RawClient::take(const Predicate &predicate)
{
    QList<Frame> taken;
    for (qsizetype i = 0; i < m_inbox.size();) {
        if (predicate(m_inbox.at(i)))
            taken.append(m_inbox.takeAt(i));
        else
            ++i;
    }
    return taken;
}

int RawClient::count(const Predicate &predicate) const
{
    return int(std::count_if(m_inbox.cbegin(), m_inbox.cend(), predicate));
}

// ---- RawWebSocket --------------------------------------------------------------------------

RawWebSocket::RawWebSocket(QObject *parent) : QObject(parent) {}

bool RawWebSocket::open(const QString &host, quint16 port, const QByteArray &path, int timeoutMs)
{
    m_socket.connectToHost(host, port);
    if (!m_socket.waitForConnected(timeoutMs))
        return false;
    QByteArray nonce(16, Qt::Uninitialized);
    for (auto &c : nonce)
        c = char(QRandomGenerator::global()->bounded(256));
    const auto key = nonce.toBase64();
    m_socket.write("GET " + path + " HTTP/1.1\r\nHost: " + host.toUtf8() + ':' + QByteArray::number(port)
                   + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
                   + "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    // The 101 response is read here; frames after it go through parseOne().
    QByteArray head;
    const bool gotHead = QTest::qWaitFor(
        [&] {
            head += m_socket.readAll();
            return head.contains("\r\n\r\n");
        },
        timeoutMs);
    connect(&m_socket, &QTcpSocket::readyRead, this, [this] {
        m_buffer += m_socket.readAll();
        while (parseOne()) {
        }
    });
    if (!gotHead || !head.startsWith("HTTP/1.1 101"))
        return false;
    m_buffer = head.mid(head.indexOf("\r\n\r\n") + 4);
    while (parseOne()) {
    }
    return true;
}

void RawWebSocket::sendFrame(int opcode, const QByteArray &payload)
{
    QByteArray frame;
    frame.append(char(0x80 | (opcode & 0x0f)));
    const auto n = payload.size();
    if (n < 126) {
        frame.append(char(0x80 | n));
    } else if (n < 65536) {
        frame.append(char(0x80 | 126));
        frame.append(char((n >> 8) & 0xff));
        frame.append(char(n & 0xff));
    } else {
        frame.append(char(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((quint64(n) >> shift) & 0xff));
    }
    const quint32 mask = QRandomGenerator::global()->generate();
    const char maskBytes[4] = {char(mask >> 24), char(mask >> 16), char(mask >> 8), char(mask)};
    frame.append(maskBytes, 4);
    for (qsizetype i = 0; i < n; ++i)
        frame.append(char(payload.at(i) ^ maskBytes[i % 4]));
    m_socket.write(frame);
}

void RawWebSocket::stopReading()
{
    disconnect(&m_socket, &QTcpSocket::readyRead, this, nullptr);
    m_socket.setReadBufferSize(1); // a full read buffer makes Qt stop reading from the kernel
}

bool RawWebSocket::parseOne()
{
    if (m_buffer.size() < 2)
        return false;
    const auto b0 = quint8(m_buffer.at(0));
    const auto b1 = quint8(m_buffer.at(1));
    qsizetype pos = 2;
    quint64 length = b1 & 0x7f;
    if (length == 126) {
        if (m_buffer.size() < 4)
            return false;
        length = (quint64(quint8(m_buffer.at(2))) << 8) | quint8(m_buffer.at(3));
        pos = 4;
    } else if (length == 127) {
        if (m_buffer.size() < 10)
            return false;
        length = 0;
        for (int i = 0; i < 8; ++i)
            length = (length << 8) | quint8(m_buffer.at(2 + i));
        pos = 10;
    }
    if (quint64(m_buffer.size() - pos) < length)
        return false;
    m_messages.append({b0 & 0x0f, m_buffer.mid(pos, qsizetype(length))});
    m_buffer.remove(0, pos + qsizetype(length));
    return true;
}

std::optional<RawWebSocket::Message> RawWebSocket::waitForMessage(int timeoutMs)
{
    if (!QTest::qWaitFor([this] { return !m_messages.isEmpty(); }, timeoutMs))
        return std::nullopt;
    return m_messages.takeFirst();
}

std::optional<int> RawWebSocket::waitForClose(int timeoutMs)
{
    std::optional<int> code;
    (void)QTest::qWaitFor(
        [&] {
            for (qsizetype i = 0; i < m_messages.size(); ++i) {
                if (m_messages.at(i).opcode == 0x8) {
                    const auto p = m_messages.takeAt(i).payload;
                    code = p.size() >= 2 ? (quint8(p.at(0)) << 8) | quint8(p.at(1)) : 1005;
                    return true;
                }
            }
            return false;
        },
        timeoutMs);
    return code;
}

std::unique_ptr<RawClient> RawClient::chatMember(const QUrl &url, const QJsonObject &user, const QString &topic)
{
    auto c = std::make_unique<RawClient>();
    if (!c->open(url))
        return nullptr;
    const auto ok = [](const std::optional<QJsonObject> &reply) {
        return reply && reply->value(QLatin1StringView("status")).toString() == QLatin1StringView("ok");
    };
    const auto hello = c->push(QStringLiteral("$system"), QStringLiteral("hello"), {{QStringLiteral("user"), user}});
    if (!ok(c->waitForReply(hello, QStringLiteral("$system"))))
        return nullptr;
    if (topic.isEmpty())
        return c;
    const auto join = c->push(topic, QStringLiteral("chan:join"),
                              {{QStringLiteral("config"), QJsonObject{{QStringLiteral("chat"), QJsonObject{}}}}});
    if (!ok(c->waitForReply(join, topic)))
        return nullptr;
    if (!c->waitForEvent(topic, QStringLiteral("presence_state")) || !c->waitForEvent(topic, QStringLiteral("typing_state")))
        return nullptr;
    return c;
}

} // namespace Confab::Testing
