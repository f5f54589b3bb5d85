#include "native/nativecodec.h"

#include <ConfabProtocol/codes.h>
#include <ConfabProtocol/frame.h>

#include <QtCore/QJsonArray>

using namespace Qt::StringLiterals;

namespace Confab::Server::NativeCodec {

namespace P = Confab::Protocol;

namespace {

QString encode(const QString &topic, QLatin1StringView event, const QJsonObject &payload)
{
    return QString::fromUtf8(P::encodeFrame(P::Frame{std::nullopt, std::nullopt, topic, QString(event), payload}));
}

QJsonArray entriesJson(const QList<PresenceEntry> &entries)
{
    QJsonArray a;
    for (const auto &e : entries)
        a.append(QJsonObject{{u"presence_ref"_s, e.ref}, {u"meta"_s, e.meta}});
    return a;
}

} // namespace

QString broadcast(const QString &topic, const QString &event, const QJsonValue &payload)
{
    QJsonObject body{{u"type"_s, u"broadcast"_s}, {u"event"_s, event}};
    if (!payload.isUndefined())
        body.insert(u"payload"_s, payload);
    return encode(topic, P::Events::Broadcast, body);
}

QString presenceDiff(const QString &topic, const QList<PresenceKeyChange> &joins,
                     const QList<PresenceKeyChange> &leaves)
{
    QJsonObject j, l;
    for (const auto &c : joins)
        j.insert(c.key, entriesJson(c.current));
    for (const auto &c : leaves)
        l.insert(c.key, entriesJson(c.changed));
    return encode(topic, P::Events::PresenceDiff, QJsonObject{{u"joins"_s, j}, {u"leaves"_s, l}});
}

QString presenceState(const QString &topic, const PresenceTracker *tracker,
                      const std::function<bool(const PresenceEntry &)> &shown)
{
    QJsonObject state;
    if (tracker) {
        for (const auto &key : tracker->keys()) {
            QList<PresenceEntry> entries;
            for (const auto &e : tracker->entries(key)) {
                if (!shown || shown(e))
                    entries.append(e);
            }
            if (!entries.isEmpty())
                state.insert(key, entriesJson(entries));
        }
    }
    return encode(topic, P::Events::PresenceState, state);
}

QString event(const QString &topic, QLatin1StringView eventName, const QJsonObject &payload)
{
    return encode(topic, eventName, payload);
}

} // namespace Confab::Server::NativeCodec
