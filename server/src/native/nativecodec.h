#pragma once

#include "engine/codec.h"

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QPair>
#include <QtCore/QString>

namespace Confab::Server {

//! \brief The native (realtime-message) dialect's frames (docs/protocol.md): what the hub fans
//! out to native sessions, and the frames a session sends to itself after a join.
class NativeCodec final : public DialectCodec
{
public:
    //! Native subscribers do not receive the diff their own track/untrack caused.
    [[nodiscard]] bool presenceDiffIncludesActor() const override { return false; }

    //! `[null,null,topic,"broadcast",{type,event,payload}]`, the payload's bytes as sent.
    [[nodiscard]] QString broadcast(const QString &topic, const QString &event, QByteArrayView rawPayload) const override;
    //! `presence_diff`: joins list every entry of a key that gained one (what the
    //! realtime-message SDK expects), leaves list only the removed entries.
    [[nodiscard]] QString presenceDiff(const QString &topic, const QList<PresenceKeyChange> &joins,
                                       const QList<PresenceKeyChange> &leaves) const override;
    //! Any server event `[null,null,topic,event,payload]` (chat events, typing, mentions).
    [[nodiscard]] QString event(const QString &topic, QLatin1StringView event, const QJsonObject &payload) const override;

    //! `presence_state`: `{key: [{presence_ref, meta}, …]}` for every key given.
    [[nodiscard]] static QString presenceState(const QString &topic,
                                               const QList<QPair<QString, QList<PresenceEntry>>> &state);
    [[nodiscard]] static QString serverEvent(const QString &topic, QLatin1StringView event, const QJsonObject &payload);
};

} // namespace Confab::Server
