#pragma once

#include "ops/serverconfig.h"

#include <QtCore/QProcessEnvironment>
#include <QtCore/QStringList>

#include <chrono>
#include <optional>

namespace Confab::Server {

//! \brief The outcome of ConfigLoader::load().
struct ConfigResult
{
    ServerConfig config;
    QStringList errors;   //!< non-empty: the server must not start; print them and exit 2
    QStringList warnings; //!< start, but log these (e.g. a short HMAC secret)
    bool helpRequested = false;
    bool versionRequested = false;
    QStringList positional; //!< arguments that are not options (e.g. a subcommand's own)
};

//! \brief Reads the configuration from command-line flags, then environment variables, then a
//! `.env` file, in that order of precedence. Every option has a flag, an environment variable,
//! a default and a one-line help text; `--help` prints them all (helpText()).
class ConfigLoader
{
public:
    //! \param arguments the command line without the program name (and without a subcommand)
    //! \param env the process environment
    //! \param extraFlags flags the caller handles itself (e.g. `token`'s `--user`), which are
    //!        returned in `positional` as "--flag=value" instead of being errors
    static ConfigResult load(const QStringList &arguments, const QProcessEnvironment &env,
                             const QStringList &extraFlags = {});

    //! \brief Every option: flag, environment variable, default and what it is for.
    static QString helpText();

    //! \brief Parses `500ms`, `30s`, `5m`, `24h`, `2d`, or a plain number of seconds; nullopt
    //! when malformed or too large to represent. Callers apply their own range.
    static std::optional<std::chrono::milliseconds> parseDuration(const QString &text);
};

} // namespace Confab::Server
