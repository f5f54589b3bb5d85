#pragma once

#include <QtCore/QProcessEnvironment>
#include <QtCore/QStringList>
#include <QtCore/QTextStream>

namespace Confab::Server {

//! \brief `confab-server token`: mints a JWT for an admin to hand to a user or a bot.
//! Accepts `--user ID` (required), `--name NAME`, `--ttl DURATION` (default 24h),
//! `--channels PATTERNS` (comma-separated) and `--algorithm ALG`, plus every server option,
//! so the key comes from `--auth-secret`, `--auth-private-key`, the environment or `.env`.
//! Works while AUTH_ENABLED is false, so tokens can be handed out before auth is switched on.
//! \param arguments the command line after `token`
//! \return 0 with the token alone on one line of \a out (or the usage, for `--help`);
//!         2 with the reason on \a err
int runTokenCommand(const QStringList &arguments, const QProcessEnvironment &env,
                    QTextStream &out, QTextStream &err);

} // namespace Confab::Server
