#pragma once

#include "engine/presencetracker.h"

#include <QtCore/QJsonValue>
#include <QtCore/QString>

#include <functional>

namespace Confab::Server::NativeCodec {

//! \brief The fan-out frame `[null,null,topic,"broadcast",{type,event,payload}]`.
[[nodiscard]] QString broadcast(const QString &topic, const QString &event, const QJsonValue &payload);

//! \brief `presence_diff`: joins list every entry of a key that gained one (what the
//! realtime-message SDK expects), leaves list only the removed entries.
[[nodiscard]] QString presenceDiff(const QString &topic, const QList<PresenceKeyChange> &joins,
                                   const QList<PresenceKeyChange> &leaves);

//! \brief `presence_state`: `{key: [{presence_ref, meta}, …]}` for every key, with the entries
//! \a shown accepts (keys left with none are omitted).
[[nodiscard]] QString presenceState(const QString &topic, const PresenceTracker *tracker,
                                    const std::function<bool(const PresenceEntry &)> &shown);

//! \brief Any server event `[null,null,topic,event,payload]` (chat events, typing, mentions).
[[nodiscard]] QString event(const QString &topic, QLatin1StringView event, const QJsonObject &payload);

//! \brief Native subscribers do not receive the diff their own track/untrack caused.
inline constexpr bool PresenceDiffIncludesActor = false;

} // namespace Confab::Server::NativeCodec
