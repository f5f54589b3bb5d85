#pragma once

#include "engine/presencetracker.h"

#include <QtCore/QByteArrayView>
#include <QtCore/QJsonObject>
#include <QtCore/QLatin1StringView>
#include <QtCore/QString>

namespace Confab::Server {

//! \brief How one wire dialect encodes what the hub fans out.
//!
//! The hub knows no wire format: each door registers its dialect's codec, and Hub::fanOut()
//! asks it for a frame at most once per delivery, then hands the same implicitly shared string
//! to every subscriber of that dialect. Implementations are pure functions of their arguments.
class DialectCodec
{
public:
    virtual ~DialectCodec() = default;

    //! \brief Whether a presence diff also goes to the subscriber whose track caused it.
    [[nodiscard]] virtual bool presenceDiffIncludesActor() const = 0;

    //! \brief A broadcast of \a event with the sender's payload: \a rawPayload is the exact JSON
    //! text the sender sent (relayed byte for byte: key order, number formatting, escapes), or
    //! empty when the sender gave no payload.
    [[nodiscard]] virtual QString broadcast(const QString &topic, const QString &event,
                                            QByteArrayView rawPayload) const = 0;

    //! \brief A presence change: \a joins lists every (visible) entry of each key that gained
    //! one, \a leaves the removed entries.
    [[nodiscard]] virtual QString presenceDiff(const QString &topic, const QList<PresenceKeyChange> &joins,
                                               const QList<PresenceKeyChange> &leaves) const = 0;

    //! \brief A server event with a JSON payload: chat events, typing, mentions.
    [[nodiscard]] virtual QString event(const QString &topic, QLatin1StringView event,
                                        const QJsonObject &payload) const = 0;
};

} // namespace Confab::Server
