#include "rawhttp.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QRandomGenerator>
#include <QtNetwork/QHostAddress>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;

namespace Confab::Testing {

QJsonObject RawHttp::Response::json() const
{
    return QJsonDocument::fromJson(body).object();
}

QString RawHttp::Response::errorCode() const
{
    return json().value("error"_L1).toObject().value("code"_L1).toString();
}

RawHttp::RawHttp()
{
    connect(&m_socket, &QTcpSocket::readyRead, this, [this] { m_buffer += m_socket.readAll(); });
}

bool RawHttp::open(quint16 port, int timeoutMs)
{
    m_socket.connectToHost(QHostAddress::LocalHost, port);
    return m_socket.waitForConnected(timeoutMs);
}

void RawHttp::send(const QByteArray &bytes)
{
    m_socket.write(bytes);
    m_socket.flush();
}

std::optional<RawHttp::Response> RawHttp::read(int timeoutMs)
{
    std::optional<Response> response;
    (void)QTest::qWaitFor(
        [&] {
            m_buffer += m_socket.readAll();
            response = parse();
            return response.has_value();
        },
        timeoutMs);
    return response;
}

bool RawHttp::waitForDisconnected(int timeoutMs)
{
    return QTest::qWaitFor([this] { return m_socket.state() == QAbstractSocket::UnconnectedState; }, timeoutMs);
}

std::optional<RawHttp::Response> RawHttp::parse()
{
    const auto end = m_buffer.indexOf("\r\n\r\n");
    if (end < 0)
        return std::nullopt;
    const auto lines = m_buffer.left(end).split('\n');
    const auto statusLine = lines.first().trimmed().split(' ');
    if (statusLine.size() < 2 || !statusLine.first().startsWith("HTTP/1."))
        return Response{-1, {}, m_buffer};
    Response response;
    response.status = statusLine.at(1).toInt();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const auto colon = lines.at(i).indexOf(':');
        if (colon > 0)
            response.headers.insert(lines.at(i).left(colon).trimmed().toLower(), lines.at(i).mid(colon + 1).trimmed());
    }
    const qsizetype length = response.headers.value("content-length", "0").toLongLong();
    if (m_buffer.size() < end + 4 + length)
        return std::nullopt;
    response.body = m_buffer.mid(end + 4, length);
    m_buffer.remove(0, end + 4 + length);
    return response;
}

QByteArray getRequest(const QByteArray &path, const QByteArray &extraHeaders)
{
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extraHeaders + "\r\n";
}

QByteArray postRequest(const QByteArray &path, const QByteArray &body, const QByteArray &extraHeaders)
{
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
        + QByteArray::number(body.size()) + "\r\n" + extraHeaders + "\r\n" + body;
}

QByteArray upgradeRequest(const QByteArray &path, const QByteArray &origin)
{
    QByteArray nonce(16, Qt::Uninitialized);
    for (auto &c : nonce)
        c = char(QRandomGenerator::global()->bounded(256));
    QByteArray headers = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + nonce.toBase64()
        + "\r\nSec-WebSocket-Version: 13\r\n";
    if (!origin.isEmpty())
        headers += "Origin: " + origin + "\r\n";
    return getRequest(path, headers);
}

} // namespace Confab::Testing
