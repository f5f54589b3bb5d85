#include "auth/tokencommand.h"

#include "ops/configloader.h"
#include "auth/jwtverifier.h"

#include <optional>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// Tokens cannot be revoked before they expire, so a year is as long as one may live.
constexpr qint64 MaxTtlSeconds = qint64(365) * 24 * 60 * 60;

// A token's lifetime is whole seconds and may be far longer than a server timeout.
std::optional<std::chrono::seconds> parseTtl(const QString &text)
{
    const auto duration = ConfigLoader::parseDuration(text);
    if (!duration)
        return std::nullopt;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*duration);
    if (seconds.count() < 1 || seconds.count() > MaxTtlSeconds)
        return std::nullopt;
    return seconds;
}

QString usage()
{
    const qint64 ttl = MintRequest().ttl.count();
    const QString defaultTtl = ttl % 3600 == 0 ? QString::number(ttl / 3600) + u"h"_s
                                               : QString::number(ttl) + u"s"_s;
    return u"Usage: confab-server token --user ID [--name NAME] [--ttl DURATION]\n"
           "                           [--channels PATTERNS] [--algorithm ALG] [options]\n\n"
           "Prints a signed JWT for ID on one line. The key is AUTH_SECRET (HS256) or\n"
           "AUTH_PRIVATE_KEY_FILE (RS256/ES256), from flags, the environment or .env, as for the\n"
           "server; auth need not be enabled yet.\n\n"
           "  --user ID             the token's subject (sub); required\n"
           "  --name NAME           display name (name claim)\n"
           "  --ttl DURATION        lifetime: 30s, 15m, 24h, 7d or plain seconds; default %1\n"
           "  --channels PATTERNS   comma-separated topic patterns, * matches any run of characters;\n"
           "                        default: every channel\n"
           "  --admin               the operator's rights (admin claim): stats, metrics, every channel\n"
           "  --algorithm ALG       e.g. HS256, RS256, ES256; default: HS256 with a secret, else by key type\n\n"_s
        .arg(defaultTtl);
}

} // namespace

int runTokenCommand(const QStringList &arguments, const QProcessEnvironment &env,
                    QTextStream &out, QTextStream &err)
{
    const QStringList tokenFlags{u"--user"_s, u"--name"_s, u"--ttl"_s, u"--channels"_s,
                                 u"--algorithm"_s};
    // --admin is a bare switch; ConfigLoader's caller-handled flags all take a value.
    QStringList rest = arguments;
    const bool admin = rest.removeAll(u"--admin"_s) > 0;
    const ConfigResult config = ConfigLoader::load(rest, env, tokenFlags);
    if (config.helpRequested) {
        out << usage() << ConfigLoader::helpText();
        out.flush();
        return 0;
    }

    QStringList errors = config.errors;
    MintRequest request;
    request.admin = admin;
    std::optional<QString> ttlText;
    for (const QString &arg : config.positional) {
        const qsizetype eq = arg.indexOf(u'=');
        const QString flag = eq < 0 ? QString() : arg.first(eq);
        const QString value = eq < 0 ? QString() : arg.sliced(eq + 1);
        if (flag == u"--user")
            request.user = value.trimmed();
        else if (flag == u"--name")
            request.name = value;
        else if (flag == u"--ttl")
            ttlText = value;
        else if (flag == u"--channels")
            request.channels = value.split(u',', Qt::SkipEmptyParts);
        else if (flag == u"--algorithm")
            request.algorithm = value.trimmed();
        else
            errors.append(u"unexpected argument \"%1\"; see token --help"_s.arg(arg));
    }
    for (QString &channel : request.channels)
        channel = channel.trimmed();
    request.channels.removeAll(QString());

    if (request.user.isEmpty())
        errors.append(u"--user is required"_s);
    if (ttlText) {
        if (const auto ttl = parseTtl(*ttlText))
            request.ttl = *ttl;
        else
            errors.append(u"invalid value \"%1\" for --ttl: expected a duration from 1s to 365d, "
                          "such as 30s, 15m, 24h, 7d or plain seconds"_s.arg(*ttlText));
    }
    const AuthConfig &auth = config.config.auth;
    if (auth.secret.isEmpty() && auth.privateKeyFile.isEmpty()) {
        errors.append(u"no signing key: set AUTH_SECRET (--auth-secret) or AUTH_PRIVATE_KEY_FILE "
                      "(--auth-private-key), in the environment, .env or on the command line"_s);
    }

    for (const QString &warning : config.warnings) {
        // Minting is meant to work before auth is switched on; those warnings are about the server.
        if (!warning.startsWith(u"auth is disabled"))
            err << "confab-server token: warning: " << warning << '\n';
    }
    if (!errors.isEmpty()) {
        for (const QString &error : std::as_const(errors))
            err << "confab-server token: " << error << '\n';
        err.flush();
        return 2;
    }

    QString mintError;
    const QByteArray token = mintToken(auth, request, &mintError);
    if (token.isEmpty()) {
        err << "confab-server token: " << (mintError.isEmpty() ? u"signing failed"_s : mintError)
            << '\n';
        err.flush();
        return 2;
    }
    err.flush();
    out << QString::fromLatin1(token) << '\n';
    out.flush();
    return 0;
}

} // namespace Confab::Server
