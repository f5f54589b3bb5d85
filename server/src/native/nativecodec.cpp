#include "native/nativecodec.h"

#include <ConfabProtocol/codes.h>
#include <ConfabProtocol/frame.h>

#include <QtCore/QJsonArray>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace P = Confab::Protocol;

namespace {

QJsonArray entriesJson(const QList<PresenceEntry> &entries)
{
    QJsonArray a;
    for (const auto &e : entries)
        a.append(QJsonObject{{u"presence_ref"_s, e.ref}, {u"meta"_s, e.meta}});
    return a;
}

} // namespace

QString NativeCodec::serverEvent(const QString &topic, QLatin1StringView eventName, const QJsonObject &payload)
{
    return QString::fromUtf8(P::encodeFrame(P::Frame{std::nullopt, std::nullopt, topic, QString(eventName), payload}));
}

QString NativeCodec::broadcast(const QString &topic, const QString &event, QByteArrayView rawPayload) const
{
    const std::optional<QByteArrayView> payload = rawPayload.isEmpty() ? std::nullopt : std::optional(rawPayload);
    return QString::fromUtf8(P::encodeBroadcast(topic, event, payload));
}

QString NativeCodec::presenceDiff(const QString &topic, const QList<PresenceKeyChange> &joins,
                                  const QList<PresenceKeyChange> &leaves) const
{
    QJsonObject j, l;
    for (const auto &c : joins)
        j.insert(c.key, entriesJson(c.current));
    for (const auto &c : leaves)
        l.insert(c.key, entriesJson(c.changed));
    return serverEvent(topic, P::Events::PresenceDiff, QJsonObject{{u"joins"_s, j}, {u"leaves"_s, l}});
}

QString NativeCodec::event(const QString &topic, QLatin1StringView eventName, const QJsonObject &payload) const
{
    return serverEvent(topic, eventName, payload);
}

QString NativeCodec::presenceState(const QString &topic, const QList<QPair<QString, QList<PresenceEntry>>> &state)
{
    QJsonObject object;
    for (const auto &[key, entries] : state)
        object.insert(key, entriesJson(entries));
    return serverEvent(topic, P::Events::PresenceState, object);
}

} // namespace Confab::Server
