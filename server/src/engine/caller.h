#pragma once

#include "auth/identity.h"

#include <QtCore/QDateTime>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <optional>

namespace Confab::Server {

//! \brief Whoever asks, through any door, as the Policy sees them.
//!
//! Built only by the Policy from credentials: a verified token (JWT mode), the operator's admin
//! credential, or a self-declared user (open mode). A door never fills one in by hand, so the
//! rules about who may do what cannot differ between doors.
struct Caller
{
    std::optional<ChatUser> user;    //!< who: the token's sub and name, or a self-declared user
    QStringList channels;            //!< the token's `channels` claim; empty = every topic
    std::optional<QDateTime> expiry; //!< the token's `exp`
    bool verified = false;           //!< from a verified token
    bool admin = false;              //!< the operator: ADMIN_TOKEN, or a token with `"admin": true`
    QString origin;                  //!< for logs: "client-7", "http 10.0.0.5"
};

//! \brief What a caller may do in one channel.
enum class Right {
    Read,     //!< join, history, long-poll, listings
    Post,     //!< broadcast, messages, reactions, read positions, typing
    Presence, //!< see who is there (presence state) and be seen (track)
};

} // namespace Confab::Server
