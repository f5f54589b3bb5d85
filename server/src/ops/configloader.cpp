#include "ops/configloader.h"

#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QHash>
#include <QtCore/QRegularExpression>

#include <functional>
#include <optional>
#include <type_traits>
#include <vector>

using namespace Qt::StringLiterals;

namespace Confab::Server {

namespace {

// Integer options are counts; a million leaves room for any real deployment while catching typos
// such as an extra zero that would make a limit meaningless.
constexpr qint64 MaxCount = 1'000'000;
// Nothing the server buffers should ever approach this; bigger values are typos.
constexpr qint64 MaxSizeBytes = qint64(1024) * 1024 * 1024;
// QTimer intervals are int milliseconds (about 24.8 days); a week stays well inside that.
constexpr qint64 MaxDurationMs = qint64(7) * 24 * 60 * 60 * 1000;
// Shorter HMAC keys weaken HS256 below its 256-bit strength (RFC 7518 §3.2).
constexpr qsizetype MinSecretBytes = 32;
// A server name is a label in a list; it must fit a beacon datagram with room to spare.
constexpr qsizetype MaxServerNameLength = 100;

const QString DefaultEnvFile = u".env"_s;

//! \brief Where a value came from, for error messages that tell the admin what to fix.
struct Source
{
    enum Kind { Flag, Environment, EnvFile } kind = Flag;
    QString name; //!< the flag or the variable
    QString file; //!< EnvFile only
    int line = 0; //!< EnvFile only

    static Source fromFlag(const QString &flag) { return {Flag, flag, {}, 0}; }
    static Source fromEnvironment(const QString &variable) { return {Environment, variable, {}, 0}; }
    static Source fromEnvFile(const QString &variable, const QString &file, int line)
    {
        return {EnvFile, variable, file, line};
    }

    [[nodiscard]] QString describe() const
    {
        switch (kind) {
        case Flag:
            return u"command line"_s;
        case Environment:
            return u"environment "_s + name;
        case EnvFile:
            return name + u" in "_s + file + u" line "_s + QString::number(line);
        }
        return {};
    }
};

struct SourcedValue
{
    QString value;
    Source source;
};

//! \brief One row of the option table: parsing, the environment and --help all read it.
struct Option
{
    Option(QString flag, QString env, QString placeholder, QString help)
        : flag(std::move(flag)), env(std::move(env)), placeholder(std::move(placeholder)),
          help(std::move(help))
    {
    }

    QString flag;        // "--port"
    QString env;         // "PORT"
    QString placeholder; // "<n>", shown in --help
    QString help;
    bool isBool = false;
    // Stores \a value into the config; returns what was expected when it is invalid.
    std::function<QString(ServerConfig &, const QString &)> apply;
    // The value as --help shows it; called on a default ServerConfig.
    std::function<QString(const ServerConfig &)> show;
};

std::optional<qint64> parseDigits(QStringView text)
{
    // 18 digits always fit in qint64, so toLongLong cannot overflow silently.
    if (text.isEmpty() || text.size() > 18)
        return std::nullopt;
    for (const QChar c : text) {
        if (c < u'0' || c > u'9')
            return std::nullopt;
    }
    return text.toLongLong();
}

std::optional<bool> parseBool(const QString &text)
{
    const QString v = text.trimmed().toLower();
    if (v == u"true" || v == u"1" || v == u"yes" || v == u"on")
        return true;
    if (v == u"false" || v == u"0" || v == u"no" || v == u"off")
        return false;
    return std::nullopt;
}

std::optional<qint64> parseSize(const QString &text)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(u"(\\d+)\\s*(k|K|KiB|m|M|MiB)?"_s));
    const auto match = re.match(text.trimmed());
    if (!match.hasMatch())
        return std::nullopt;
    const auto number = parseDigits(match.capturedView(1));
    if (!number)
        return std::nullopt;
    const QStringView unit = match.capturedView(2);
    qint64 factor = 1;
    if (unit.startsWith(u'k') || unit.startsWith(u'K'))
        factor = 1024;
    else if (unit.startsWith(u'm') || unit.startsWith(u'M'))
        factor = 1024 * 1024;
    if (*number > MaxSizeBytes) // also keeps the multiplication below from overflowing
        return MaxSizeBytes + 1;
    return *number * factor;
}

} // namespace

std::optional<std::chrono::milliseconds> ConfigLoader::parseDuration(const QString &text)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(u"(\\d+)\\s*(ms|s|m|h|d)?"_s));
    const auto match = re.match(text.trimmed());
    if (!match.hasMatch())
        return std::nullopt;
    const auto number = parseDigits(match.capturedView(1));
    if (!number)
        return std::nullopt;
    const QStringView unit = match.capturedView(2);
    qint64 factor = 1000; // a plain number means seconds
    if (unit == u"ms")
        factor = 1;
    else if (unit == u"m")
        factor = 60 * 1000;
    else if (unit == u"h")
        factor = 60 * 60 * 1000;
    else if (unit == u"d")
        factor = 24 * 60 * 60 * 1000;
    qint64 ms = 0;
    if (qMulOverflow(*number, factor, &ms))
        return std::nullopt;
    return std::chrono::milliseconds(ms);
}

namespace {

QString formatSize(qint64 bytes)
{
    if (bytes > 0 && bytes % (1024 * 1024) == 0)
        return QString::number(bytes / (1024 * 1024)) + u"MiB"_s;
    if (bytes > 0 && bytes % 1024 == 0)
        return QString::number(bytes / 1024) + u"KiB"_s;
    return QString::number(bytes);
}

QString formatDuration(std::chrono::milliseconds duration)
{
    const qint64 ms = duration.count();
    struct Unit
    {
        qint64 ms;
        const char16_t *suffix;
    };
    for (const Unit unit : {Unit{24 * 60 * 60 * 1000, u"d"}, Unit{60 * 60 * 1000, u"h"},
                            Unit{60 * 1000, u"m"}, Unit{1000, u"s"}}) {
        if (ms > 0 && ms % unit.ms == 0)
            return QString::number(ms / unit.ms) + QString::fromUtf16(unit.suffix);
    }
    return QString::number(ms) + u"ms"_s;
}

QStringList splitList(const QString &text)
{
    QStringList items;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts)) {
        const QString item = part.trimmed();
        if (!item.isEmpty())
            items.append(item);
    }
    return items;
}

QString showText(const QString &text)
{
    return text.isEmpty() ? u"(none)"_s : text;
}

QString showList(const QStringList &list)
{
    return list.isEmpty() ? u"(empty)"_s : list.join(u',');
}

// The factories take an accessor written as a generic lambda (`[](auto &c) -> auto & {...}`), so one
// accessor serves both apply() on a mutable config and show() on a const one.

template <typename Access>
Option countOption(QString flag, QString env, QString help, Access access)
{
    Option option{std::move(flag), std::move(env), u"<n>"_s, std::move(help)};
    option.apply = [access](ServerConfig &config, const QString &value) -> QString {
        const auto number = parseDigits(QStringView(value).trimmed());
        if (!number || *number < 1)
            return u"expected a positive integer"_s;
        if (*number > MaxCount)
            return u"expected a positive integer up to "_s + QString::number(MaxCount);
        using T = std::remove_reference_t<decltype(access(config))>;
        access(config) = T(*number);
        return {};
    };
    option.show = [access](const ServerConfig &config) { return QString::number(access(config)); };
    return option;
}

template <typename Access>
Option sizeOption(QString flag, QString env, QString help, Access access)
{
    Option option{std::move(flag), std::move(env), u"<size>"_s, std::move(help)};
    option.apply = [access](ServerConfig &config, const QString &value) -> QString {
        const auto bytes = parseSize(value);
        if (!bytes || *bytes < 1)
            return u"expected a positive size in bytes, optionally with k/K/KiB or m/M/MiB (1024-based)"_s;
        if (*bytes > MaxSizeBytes)
            return u"expected a size up to "_s + formatSize(MaxSizeBytes);
        access(config) = qsizetype(*bytes);
        return {};
    };
    option.show = [access](const ServerConfig &config) { return formatSize(access(config)); };
    return option;
}

template <typename Access>
Option durationOption(QString flag, QString env, QString help, Access access)
{
    Option option{std::move(flag), std::move(env), u"<duration>"_s, std::move(help)};
    option.apply = [access](ServerConfig &config, const QString &value) -> QString {
        const auto duration = ConfigLoader::parseDuration(value);
        if (duration && duration->count() > MaxDurationMs)
            return u"expected a duration up to "_s + formatDuration(std::chrono::milliseconds(MaxDurationMs));
        if (!duration || duration->count() < 1)
            return u"expected a positive duration such as 500ms, 30s, 5m, 24h, 2d, or plain seconds"_s;
        access(config) = *duration;
        return {};
    };
    option.show = [access](const ServerConfig &config) { return formatDuration(access(config)); };
    return option;
}

template <typename Access>
Option textOption(QString flag, QString env, QString placeholder, QString help, Access access)
{
    Option option{std::move(flag), std::move(env), std::move(placeholder), std::move(help)};
    option.apply = [access](ServerConfig &config, const QString &value) -> QString {
        access(config) = value;
        return {};
    };
    option.show = [access](const ServerConfig &config) { return showText(access(config)); };
    return option;
}

template <typename Access>
Option listOption(QString flag, QString env, QString help, Access access)
{
    Option option{std::move(flag), std::move(env), u"<a,b,...>"_s, std::move(help)};
    option.apply = [access](ServerConfig &config, const QString &value) -> QString {
        access(config) = splitList(value);
        return {};
    };
    option.show = [access](const ServerConfig &config) { return showList(access(config)); };
    return option;
}

template <typename Access>
Option keyFileOption(QString flag, QString env, QString help, Access access)
{
    Option option{std::move(flag), std::move(env), u"<file>"_s, std::move(help)};
    option.apply = [access](ServerConfig &config, const QString &value) -> QString {
        // Checked here so a typo in a path is reported with every other mistake, and with its source.
        const QFileInfo info(value);
        if (!value.isEmpty() && !(info.isFile() && info.isReadable()))
            return u"expected a readable PEM file"_s;
        access(config) = value;
        return {};
    };
    option.show = [access](const ServerConfig &config) { return showText(access(config)); };
    return option;
}

QString logLevelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return u"debug"_s;
    case QtInfoMsg:
        return u"info"_s;
    case QtWarningMsg:
        return u"warning"_s;
    case QtCriticalMsg:
    case QtFatalMsg:
        return u"error"_s;
    }
    return {};
}

std::vector<Option> buildOptions()
{
    std::vector<Option> options;

    Option port{u"--port"_s, u"PORT"_s, u"<port>"_s,
                u"TCP port for WebSocket and HTTP; 0 lets the OS choose (tests)."_s};
    port.apply = [](ServerConfig &config, const QString &value) -> QString {
        const auto number = parseDigits(QStringView(value).trimmed());
        if (!number || *number > 65535)
            return u"expected a port number from 0 to 65535"_s;
        config.port = quint16(*number);
        return {};
    };
    port.show = [](const ServerConfig &config) { return QString::number(config.port); };
    options.push_back(std::move(port));

    Option bind{u"--bind"_s, u"BIND"_s, u"<address>"_s,
                u"Address to listen on: an IP address, localhost, or any (all interfaces, IPv4 and IPv6)."_s};
    bind.apply = [](ServerConfig &config, const QString &value) -> QString {
        const QString v = value.trimmed();
        if (v.compare(u"any", Qt::CaseInsensitive) == 0) {
            config.bindAddress = QHostAddress::Any;
            return {};
        }
        if (v.compare(u"localhost", Qt::CaseInsensitive) == 0) {
            config.bindAddress = QHostAddress::LocalHost;
            return {};
        }
        QHostAddress address;
        // QHostAddress also takes inet_aton shorthands ("192.168.1" is 192.168.0.1); a typo
        // must not silently bind somewhere else, so IPv4 needs all four parts.
        if (!address.setAddress(v)
            || (address.protocol() == QAbstractSocket::IPv4Protocol && v.count(u'.') != 3)) {
            return u"expected an IP address, localhost or any"_s;
        }
        config.bindAddress = address;
        return {};
    };
    bind.show = [](const ServerConfig &config) {
        if (config.bindAddress == QHostAddress(QHostAddress::Any))
            return u"any"_s;
        if (config.bindAddress == QHostAddress(QHostAddress::LocalHost))
            return u"localhost"_s;
        return config.bindAddress.toString();
    };
    options.push_back(std::move(bind));

    options.push_back(countOption(u"--listen-backlog"_s, u"LISTEN_BACKLOG"_s,
                                  u"Pending-connection queue: QWebSocketServer's own is 50; reconnect storms need more."_s,
                                  [](auto &c) -> auto & { return c.listenBacklog; }));
    options.push_back(listOption(u"--allowed-origins"_s, u"ALLOWED_ORIGINS"_s,
                                 u"Comma-separated Origin allow-list (exact matches, or *); empty allows any Origin."_s,
                                 [](auto &c) -> auto & { return c.allowedOrigins; }));

    Option metricsBind{u"--metrics-bind"_s, u"METRICS_BIND"_s, u"<address:port>"_s,
                       u"Also serve GET /metrics and /health, without credentials, on this address (e.g. 127.0.0.1:9100 for a local Prometheus); empty: none."_s};
    metricsBind.apply = [](ServerConfig &config, const QString &value) -> QString {
        const QString v = value.trimmed();
        if (v.isEmpty()) {
            config.metricsPort = 0;
            return {};
        }
        const auto colon = v.lastIndexOf(u':');
        if (colon <= 0)
            return u"expected <address>:<port>, such as 127.0.0.1:9100"_s;
        const std::optional<qint64> portNumber = parseDigits(QStringView(v).mid(colon + 1));
        QString host = v.left(colon);
        if (host.startsWith(u'[') && host.endsWith(u']'))
            host = host.mid(1, host.size() - 2);
        QHostAddress address;
        if (host.compare(u"localhost", Qt::CaseInsensitive) == 0)
            address = QHostAddress::LocalHost;
        else if (!address.setAddress(host)
                 || (address.protocol() == QAbstractSocket::IPv4Protocol && host.count(u'.') != 3))
            return u"expected <address>:<port>, such as 127.0.0.1:9100"_s;
        if (!portNumber || *portNumber < 1 || *portNumber > 65535)
            return u"expected <address>:<port> with a port from 1 to 65535"_s;
        config.metricsAddress = address;
        config.metricsPort = quint16(*portNumber);
        return {};
    };
    metricsBind.show = [](const ServerConfig &config) {
        return config.metricsPort == 0 ? u"(none)"_s
                                       : u"%1:%2"_s.arg(config.metricsAddress.toString()).arg(config.metricsPort);
    };
    options.push_back(std::move(metricsBind));

    Option logFormat{u"--log-format"_s, u"LOG_FORMAT"_s, u"json|text"_s,
                     u"json: one object per line for log collectors; text: one line for people."_s};
    logFormat.apply = [](ServerConfig &config, const QString &value) -> QString {
        const QString v = value.trimmed().toLower();
        if (v == u"json")
            config.logFormat = LogFormat::Json;
        else if (v == u"text")
            config.logFormat = LogFormat::Text;
        else
            return u"expected json or text"_s;
        return {};
    };
    logFormat.show = [](const ServerConfig &config) {
        return config.logFormat == LogFormat::Json ? u"json"_s : u"text"_s;
    };
    options.push_back(std::move(logFormat));

    Option logLevel{u"--log-level"_s, u"LOG_LEVEL"_s, u"debug|info|warning|error"_s,
                    u"Drop log messages less severe than this."_s};
    logLevel.apply = [](ServerConfig &config, const QString &value) -> QString {
        const QString v = value.trimmed().toLower();
        if (v == u"debug")
            config.logLevel = QtDebugMsg;
        else if (v == u"info")
            config.logLevel = QtInfoMsg;
        else if (v == u"warning")
            config.logLevel = QtWarningMsg;
        else if (v == u"error")
            config.logLevel = QtCriticalMsg;
        else
            return u"expected debug, info, warning or error"_s;
        return {};
    };
    logLevel.show = [](const ServerConfig &config) { return logLevelName(config.logLevel); };
    options.push_back(std::move(logLevel));

    Option authEnabled{u"--auth-enabled"_s, u"AUTH_ENABLED"_s, u"<bool>"_s,
                       u"Require a valid JWT from every client; needs AUTH_SECRET or AUTH_PUBLIC_KEY_FILE."_s};
    authEnabled.isBool = true;
    authEnabled.apply = [](ServerConfig &config, const QString &value) -> QString {
        const auto enabled = parseBool(value);
        if (!enabled)
            return u"expected true/false, 1/0, yes/no or on/off"_s;
        config.auth.enabled = *enabled;
        return {};
    };
    authEnabled.show = [](const ServerConfig &config) {
        return config.auth.enabled ? u"true"_s : u"false"_s;
    };
    options.push_back(std::move(authEnabled));

    Option secret{u"--auth-secret"_s, u"AUTH_SECRET"_s, u"<secret>"_s,
                  u"Shared secret for HS256/384/512 tokens; at least 32 bytes. Prefer the environment: flags show in ps."_s};
    secret.apply = [](ServerConfig &config, const QString &value) -> QString {
        config.auth.secret = value.toUtf8();
        return {};
    };
    secret.show = [](const ServerConfig &config) {
        return showText(QString::fromUtf8(config.auth.secret));
    };
    options.push_back(std::move(secret));

    options.push_back(keyFileOption(u"--auth-public-key"_s, u"AUTH_PUBLIC_KEY_FILE"_s,
                                    u"PEM public key that verifies RS256/ES256 tokens."_s,
                                    [](auto &c) -> auto & { return c.auth.publicKeyFile; }));
    options.push_back(keyFileOption(u"--auth-private-key"_s, u"AUTH_PRIVATE_KEY_FILE"_s,
                                    u"PEM private key; only `confab-server token` uses it, to sign RS256/ES256."_s,
                                    [](auto &c) -> auto & { return c.auth.privateKeyFile; }));
    options.push_back(listOption(u"--auth-algorithms"_s, u"AUTH_ALGORITHMS"_s,
                                 u"Comma-separated algorithm allow-list; empty allows every one the keys can verify."_s,
                                 [](auto &c) -> auto & { return c.auth.algorithms; }));
    options.push_back(textOption(u"--auth-issuer"_s, u"AUTH_ISSUER"_s, u"<iss>"_s,
                                 u"When set, tokens must carry this iss claim."_s,
                                 [](auto &c) -> auto & { return c.auth.issuer; }));
    options.push_back(textOption(u"--auth-audience"_s, u"AUTH_AUDIENCE"_s, u"<aud>"_s,
                                 u"When set, tokens must carry this aud claim."_s,
                                 [](auto &c) -> auto & { return c.auth.audience; }));
    Option joinPassword{u"--join-password"_s, u"JOIN_PASSWORD"_s, u"<password>"_s,
                        u"LAN sign-in: POST /api/session trades a name and this password for a token (turns JWT mode on). Prefer the environment: flags show in ps."_s};
    joinPassword.apply = [](ServerConfig &config, const QString &value) -> QString {
        config.auth.joinPassword = value;
        return {};
    };
    joinPassword.show = [](const ServerConfig &config) { return showText(config.auth.joinPassword); };
    options.push_back(std::move(joinPassword));
    Option adminToken{u"--admin-token"_s, u"ADMIN_TOKEN"_s, u"<secret>"_s,
                      u"Operator credential (Bearer) for /api/stats, /metrics, all channel listings and broadcasts to any channel; empty: open mode lets everyone, JWT mode only tokens with admin: true. Prefer the environment: flags show in ps."_s};
    adminToken.apply = [](ServerConfig &config, const QString &value) -> QString {
        config.auth.adminToken = value.toUtf8();
        return {};
    };
    adminToken.show = [](const ServerConfig &config) { return showText(QString::fromUtf8(config.auth.adminToken)); };
    options.push_back(std::move(adminToken));
    Option sessionTtl{u"--session-ttl"_s, u"SESSION_TTL"_s, u"<duration>"_s,
                      u"Lifetime of a POST /api/session token: a day, so a sleeping laptop signs in again once a day."_s};
    sessionTtl.apply = [](ServerConfig &config, const QString &value) -> QString {
        const auto duration = ConfigLoader::parseDuration(value);
        // Tokens cannot be revoked, so more than a month is refused; under a minute is a typo.
        if (!duration || *duration < std::chrono::minutes(1) || *duration > std::chrono::days(30))
            return u"expected a duration from 1m to 30d, such as 12h or 7d"_s;
        config.auth.sessionTtl = std::chrono::duration_cast<std::chrono::seconds>(*duration);
        return {};
    };
    sessionTtl.show = [](const ServerConfig &config) {
        return formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(config.auth.sessionTtl));
    };
    options.push_back(std::move(sessionTtl));

    // Limits: the help repeats the reason each default was chosen (see serverconfig.h).
    options.push_back(countOption(u"--max-connections"_s, u"MAX_CONNECTIONS"_s,
                                  u"Most clients at once. The open-file limit is 20000 per process; leave room for HTTP and storage."_s,
                                  [](auto &c) -> auto & { return c.limits.maxConnections; }));
    options.push_back(countOption(u"--max-connections-per-ip"_s, u"MAX_CONNECTIONS_PER_IP"_s,
                                  u"Most clients from one address. A LAN host rarely runs more than a few; stops one exhausting sockets."_s,
                                  [](auto &c) -> auto & { return c.limits.maxConnectionsPerIp; }));
    options.push_back(sizeOption(u"--max-message-bytes"_s, u"MAX_MESSAGE_BYTES"_s,
                                 u"Largest frame. Chat messages and presence fit easily; bounds the memory one frame takes."_s,
                                 [](auto &c) -> auto & { return c.limits.maxMessageBytes; }));
    options.push_back(countOption(u"--max-channels-per-connection"_s, u"MAX_CHANNELS_PER_CONNECTION"_s,
                                  u"Channels one client may join. Clients watch tens; bounds per-connection fan-out bookkeeping."_s,
                                  [](auto &c) -> auto & { return c.limits.maxChannelsPerConnection; }));
    options.push_back(countOption(u"--messages-per-minute"_s, u"MESSAGES_PER_MINUTE"_s,
                                  u"Messages per client per minute. 10/s sustains fast typing and bursts; one flood cannot starve the rest."_s,
                                  [](auto &c) -> auto & { return c.limits.messagesPerMinute; }));
    options.push_back(sizeOption(u"--max-presence-meta-bytes"_s, u"MAX_PRESENCE_META_BYTES"_s,
                                 u"Largest presence metadata. It is a name and a status; more is multiplied by every member."_s,
                                 [](auto &c) -> auto & { return c.limits.maxPresenceMetaBytes; }));
    options.push_back(sizeOption(u"--max-send-buffer-bytes"_s, u"MAX_SEND_BUFFER_BYTES"_s,
                                 u"Unsent data held for one client before it is closed as too slow (1008). Bounds memory per reader."_s,
                                 [](auto &c) -> auto & { return c.limits.maxSendBufferBytes; }));
    options.push_back(countOption(u"--max-rejects-per-minute"_s, u"MAX_REJECTS_PER_MINUTE"_s,
                                  u"Rejected frames before a client is closed (1008). Honest clients see only a few errors."_s,
                                  [](auto &c) -> auto & { return c.limits.maxRejectsPerMinute; }));
    options.push_back(durationOption(u"--idle-timeout"_s, u"IDLE_TIMEOUT"_s,
                                     u"Close silent clients. They heartbeat every 25 s; this tolerates one lost heartbeat plus latency."_s,
                                     [](auto &c) -> auto & { return c.limits.idleTimeout; }));
    options.push_back(sizeOption(u"--http-max-header-bytes"_s, u"HTTP_MAX_HEADER_BYTES"_s,
                                 u"Largest request head. Heads are a few hundred bytes; this fits large cookies and tokens."_s,
                                 [](auto &c) -> auto & { return c.limits.httpMaxHeaderBytes; }));
    options.push_back(sizeOption(u"--http-max-body-bytes"_s, u"HTTP_MAX_BODY_BYTES"_s,
                                 u"Largest REST body: events no bigger than a message, or small batches of them."_s,
                                 [](auto &c) -> auto & { return c.limits.httpMaxBodyBytes; }));
    options.push_back(durationOption(u"--http-idle-timeout"_s, u"HTTP_IDLE_TIMEOUT"_s,
                                     u"Frees sockets of HTTP clients that stopped talking (keep-alive or slow senders)."_s,
                                     [](auto &c) -> auto & { return c.limits.httpIdleTimeout; }));
    options.push_back(durationOption(u"--request-head-timeout"_s, u"REQUEST_HEAD_TIMEOUT"_s,
                                     u"A request head (HTTP or WebSocket upgrade) must be complete this soon after connecting."_s,
                                     [](auto &c) -> auto & { return c.limits.requestHeadTimeout; }));
    options.push_back(countOption(u"--session-failures-per-minute"_s, u"SESSION_FAILURES_PER_MINUTE"_s,
                                  u"Wrong join passwords per address per minute before 429: plenty for typos, too few to guess."_s,
                                  [](auto &c) -> auto & { return c.limits.sessionFailuresPerMinute; }));

    // Chat and its storage.
    options.push_back(textOption(u"--data-dir"_s, u"DATA_DIR"_s, u"<dir>"_s,
                                 u"Directory of the SQLite database (confab.db); created if missing."_s,
                                 [](auto &c) -> auto & { return c.storage.dataDir; }));
    Option storageSync{u"--storage-sync"_s, u"STORAGE_SYNC"_s, u"full|normal"_s,
                       u"full: fsync every commit, acked messages survive a power cut; normal: only a crash."_s};
    storageSync.apply = [](ServerConfig &config, const QString &value) -> QString {
        const QString v = value.trimmed().toLower();
        if (v == u"full")
            config.storage.fullSync = true;
        else if (v == u"normal")
            config.storage.fullSync = false;
        else
            return u"expected full or normal"_s;
        return {};
    };
    storageSync.show = [](const ServerConfig &config) { return config.storage.fullSync ? u"full"_s : u"normal"_s; };
    options.push_back(std::move(storageSync));
    options.push_back(countOption(u"--catchup-limit"_s, u"CATCHUP_LIMIT"_s,
                                  u"Missed messages replayed to a reconnecting client; beyond it, it pages history."_s,
                                  [](auto &c) -> auto & { return c.chat.catchupLimit; }));
    options.push_back(durationOption(u"--typing-timeout"_s, u"TYPING_TIMEOUT"_s,
                                     u"A typing indicator with no stop ends after this; clients renew every ~2 s."_s,
                                     [](auto &c) -> auto & { return c.chat.typingTimeout; }));
    options.push_back(countOption(u"--max-message-body"_s, u"MAX_MESSAGE_BODY"_s,
                                  u"Characters in a chat message: a long message, far below the frame limit."_s,
                                  [](auto &c) -> auto & { return c.chat.maxMessageBody; }));
    options.push_back(durationOption(u"--long-poll-timeout"_s, u"LONG_POLL_TIMEOUT"_s,
                                     u"How long GET /poll waits for new messages; below common proxy idle timeouts."_s,
                                     [](auto &c) -> auto & { return c.chat.longPollTimeout; }));

    // LAN discovery.
    Option discovery{u"--discovery"_s, u"DISCOVERY"_s, u"on|off"_s,
                     u"Announce this server on the LAN with a UDP beacon every 2 s, so desktop apps list it."_s};
    discovery.isBool = true;
    discovery.apply = [](ServerConfig &config, const QString &value) -> QString {
        const auto enabled = parseBool(value);
        if (!enabled)
            return u"expected on/off, true/false, 1/0 or yes/no"_s;
        config.discovery.enabled = *enabled;
        return {};
    };
    discovery.show = [](const ServerConfig &config) { return config.discovery.enabled ? u"on"_s : u"off"_s; };
    options.push_back(std::move(discovery));
    Option discoveryPort{u"--discovery-port"_s, u"DISCOVERY_PORT"_s, u"<port>"_s,
                         u"UDP port the beacons are sent to; the apps listen there."_s};
    discoveryPort.apply = [](ServerConfig &config, const QString &value) -> QString {
        const auto number = parseDigits(QStringView(value).trimmed());
        if (!number || *number < 1 || *number > 65535)
            return u"expected a port number from 1 to 65535"_s;
        config.discovery.port = quint16(*number);
        return {};
    };
    discoveryPort.show = [](const ServerConfig &config) { return QString::number(config.discovery.port); };
    options.push_back(std::move(discoveryPort));
    Option serverName{u"--server-name"_s, u"SERVER_NAME"_s, u"<name>"_s,
                      u"Name the apps show for this server; empty = this host's name."_s};
    serverName.apply = [](ServerConfig &config, const QString &value) -> QString {
        // A beacon is one datagram; a name is a label, not a description.
        if (value.trimmed().size() > MaxServerNameLength)
            return u"expected at most %1 characters"_s.arg(MaxServerNameLength);
        config.discovery.serverName = value.trimmed();
        return {};
    };
    serverName.show = [](const ServerConfig &) { return u"(host name)"_s; };
    options.push_back(std::move(serverName));
    Option discoveryTargets{u"--discovery-target"_s, u"DISCOVERY_TARGET"_s, u"<ip,...>"_s,
                            u"Send beacons to these addresses instead of broadcasting (e.g. 127.0.0.1 in tests)."_s};
    discoveryTargets.apply = [](ServerConfig &config, const QString &value) -> QString {
        QList<QHostAddress> targets;
        for (const QString &item : splitList(value)) {
            QHostAddress address;
            if (!address.setAddress(item)
                || (address.protocol() == QAbstractSocket::IPv4Protocol && item.count(u'.') != 3))
                return u"expected comma-separated IP addresses"_s;
            targets.append(address);
        }
        config.discovery.targets = targets;
        return {};
    };
    discoveryTargets.show = [](const ServerConfig &) { return u"(broadcast)"_s; };
    options.push_back(std::move(discoveryTargets));

    // Read before every other option (it says where they come from), so apply() does nothing.
    Option envFile{u"--env-file"_s, u"ENV_FILE"_s, u"<file>"_s,
                   u"KEY=VALUE file for variables not set in the environment; a missing default file is skipped."_s};
    envFile.apply = [](ServerConfig &, const QString &) { return QString(); };
    envFile.show = [](const ServerConfig &) { return DefaultEnvFile; };
    options.push_back(std::move(envFile));

    return options;
}

const std::vector<Option> &options()
{
    static const std::vector<Option> table = buildOptions();
    return table;
}

const Option *findOption(QStringView flag)
{
    for (const Option &option : options()) {
        if (option.flag == flag)
            return &option;
    }
    return nullptr;
}

bool isEnvFileOption(const Option &option)
{
    return option.env == u"ENV_FILE";
}

QString invalidValue(const Option &option, const SourcedValue &value, const QString &expected)
{
    return u"invalid value \"%1\" for %2 (from %3): %4"_s.arg(value.value, option.flag,
                                                              value.source.describe(), expected);
}

//! \brief The variables of a .env file, each with its line number.
struct EnvFile
{
    QHash<QString, std::pair<QString, int>> values;
};

// Parses one value: quoted (single: literal; double: \n \" \\ escapes) or bare, where a ` #` starts
// a comment. Returns nullopt for an unterminated quote or text after the closing quote.
std::optional<QString> parseEnvValue(QStringView raw)
{
    raw = raw.trimmed();
    if (raw.isEmpty())
        return QString();
    const QChar quote = raw.front();
    if (quote != u'"' && quote != u'\'') {
        qsizetype end = raw.size();
        for (qsizetype i = 1; i < raw.size(); ++i) {
            if (raw[i] == u'#' && raw[i - 1].isSpace()) {
                end = i;
                break;
            }
        }
        return raw.first(end).trimmed().toString();
    }
    QString value;
    for (qsizetype i = 1; i < raw.size(); ++i) {
        const QChar c = raw[i];
        if (c == quote) {
            const QStringView rest = raw.sliced(i + 1).trimmed();
            if (!rest.isEmpty() && !rest.startsWith(u'#'))
                return std::nullopt;
            return value;
        }
        if (quote == u'"' && c == u'\\' && i + 1 < raw.size()) {
            const QChar next = raw[++i];
            if (next == u'n')
                value += u'\n';
            else if (next == u'"' || next == u'\\')
                value += next;
            else
                value += c + QString(next);
            continue;
        }
        value += c;
    }
    return std::nullopt;
}

// Malformed lines are reported and skipped; the valid ones are still used, so their own mistakes
// are reported in the same run.
EnvFile readEnvFile(const QString &path, QStringList *errors)
{
    EnvFile result;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) {
        errors->append(u"cannot read env file %1: %2"_s.arg(path, file.errorString()));
        return result;
    }
    static const QRegularExpression keyPattern(QRegularExpression::anchoredPattern(u"[A-Za-z_][A-Za-z0-9_]*"_s));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(u'\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const int lineNumber = int(i + 1);
        QStringView line = QStringView(lines[i]).trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        if (line.startsWith(u"export") && line.size() > 6 && line[6].isSpace())
            line = line.sliced(7).trimmed();
        const qsizetype eq = line.indexOf(u'=');
        const QString key = eq > 0 ? line.first(eq).trimmed().toString() : QString();
        const auto value = eq > 0 ? parseEnvValue(line.sliced(eq + 1)) : std::nullopt;
        if (!keyPattern.match(key).hasMatch() || !value) {
            // The line itself is not quoted back: it may hold a secret.
            errors->append(u"%1 line %2: malformed, expected KEY=VALUE"_s.arg(path).arg(lineNumber));
            continue;
        }
        result.values.insert(key, {*value, lineNumber});
    }
    return result;
}

} // namespace

ConfigResult ConfigLoader::load(const QStringList &arguments, const QProcessEnvironment &env,
                                const QStringList &extraFlags)
{
    ConfigResult result;
    QHash<const Option *, SourcedValue> flagValues;

    for (qsizetype i = 0; i < arguments.size(); ++i) {
        const QString &arg = arguments[i];
        if (arg == u"--") {
            result.positional += arguments.mid(i + 1);
            break;
        }
        if (arg == u"-h" || arg == u"--help") {
            result.helpRequested = true;
            continue;
        }
        if (arg == u"--version") {
            result.versionRequested = true;
            continue;
        }
        if (!arg.startsWith(u"--")) {
            result.positional.append(arg);
            continue;
        }
        const qsizetype eq = arg.indexOf(u'=');
        const QString name = eq < 0 ? arg : arg.first(eq);
        std::optional<QString> value;
        if (eq >= 0)
            value = arg.sliced(eq + 1);
        // A following "--x" is the next option, not this one's value.
        const bool nextIsValue = i + 1 < arguments.size() && !arguments[i + 1].startsWith(u"--");

        const Option *option = findOption(name);
        if (!option && !extraFlags.contains(name)) {
            result.errors.append(u"unknown option %1; see --help"_s.arg(name));
            continue;
        }
        if (!value && option && option->isBool) {
            // A bare boolean means true; the next argument is its value only if it reads as one.
            if (nextIsValue && parseBool(arguments[i + 1]))
                value = arguments[++i];
            else
                value = u"true"_s;
        }
        if (!value) {
            if (!nextIsValue) {
                result.errors.append(u"option %1 needs a value"_s.arg(name));
                continue;
            }
            value = arguments[++i];
        }
        if (option)
            flagValues.insert(option, {*value, Source::fromFlag(name)});
        else
            result.positional.append(name + u'=' + *value);
    }

    const Option *envFileOption = findOption(u"--env-file");
    QString envFilePath = DefaultEnvFile;
    bool envFileExplicit = true;
    if (flagValues.contains(envFileOption))
        envFilePath = flagValues.value(envFileOption).value;
    else if (env.contains(envFileOption->env))
        envFilePath = env.value(envFileOption->env);
    else
        envFileExplicit = false;

    EnvFile envFile;
    if (envFileExplicit || QFileInfo::exists(envFilePath))
        envFile = readEnvFile(envFilePath, &result.errors);

    for (const Option &option : options()) {
        if (isEnvFileOption(option))
            continue;
        SourcedValue value;
        if (flagValues.contains(&option)) {
            value = flagValues.value(&option);
        } else if (env.contains(option.env)) {
            value = {env.value(option.env), Source::fromEnvironment(option.env)};
        } else if (envFile.values.contains(option.env)) {
            const auto &[text, line] = envFile.values.value(option.env);
            value = {text, Source::fromEnvFile(option.env, envFilePath, line)};
        } else {
            continue;
        }
        const QString expected = option.apply(result.config, value.value);
        if (!expected.isEmpty())
            result.errors.append(invalidValue(option, value, expected));
    }

    const AuthConfig &auth = result.config.auth;
    const bool joinPassword = !auth.joinPassword.isEmpty();
    if (joinPassword && auth.secret.isEmpty() && !auth.publicKeyFile.isEmpty() && auth.privateKeyFile.isEmpty()) {
        // Tokens from POST /api/session must verify with the configured public key.
        result.errors.append(u"JOIN_PASSWORD is set with AUTH_PUBLIC_KEY_FILE but without AUTH_PRIVATE_KEY_FILE: "
                             "the server cannot sign the tokens it would hand out"_s);
    }
    // A join password turns JWT mode on by itself (with a random secret when no key is set).
    if (auth.enabled && !joinPassword && auth.secret.isEmpty() && auth.publicKeyFile.isEmpty()) {
        // Running open when authentication was asked for would be the worst failure mode.
        result.errors.append(
            u"AUTH_ENABLED is true but neither AUTH_SECRET nor AUTH_PUBLIC_KEY_FILE is set; "
            "refusing to start without a way to verify tokens"_s);
    }
    // No warning for AUTH_PRIVATE_KEY_FILE: only `confab-server token` reads it, auth on or off.
    if (!auth.enabled && !joinPassword) {
        if (!auth.secret.isEmpty())
            result.warnings.append(u"auth is disabled; AUTH_SECRET is ignored"_s);
        if (!auth.publicKeyFile.isEmpty())
            result.warnings.append(u"auth is disabled; AUTH_PUBLIC_KEY_FILE is ignored"_s);
    }
    if (!auth.adminToken.isEmpty() && auth.adminToken.size() < MinSecretBytes) {
        result.warnings.append(u"ADMIN_TOKEN is %1 bytes; use at least %2 random bytes, or it can be "
                               "guessed"_s.arg(auth.adminToken.size())
                                   .arg(MinSecretBytes));
    }
    if (!auth.secret.isEmpty() && auth.secret.size() < MinSecretBytes) {
        result.warnings.append(u"AUTH_SECRET is %1 bytes; use at least %2 random bytes, or tokens "
                               "can be forged by brute force"_s.arg(auth.secret.size())
                                   .arg(MinSecretBytes));
    }
    return result;
}

QString ConfigLoader::helpText()
{
    const ServerConfig defaults;
    QString text = u"Options. Each is also read from its environment variable, then from a .env file;\n"
                   "a flag wins over the environment, which wins over the .env file.\n\n"_s;
    for (const Option &option : options()) {
        text += u"  %1 %2  [%3, default %4]\n      %5\n"_s.arg(option.flag, option.placeholder,
                                                             option.env, option.show(defaults),
                                                             option.help);
    }
    text += u"  -h, --help\n      Show this help.\n"
            "  --version\n      Show the version.\n\n"
            "Sizes are bytes, or a number with k/K/KiB or m/M/MiB (1024-based). Durations are 500ms,\n"
            "30s, 5m, 24h, 2d, or a plain number of seconds. Booleans are true/false, 1/0, yes/no or\n"
            "on/off; a bare boolean flag means true. Flags take `--flag value` or `--flag=value`.\n"_s;
    return text;
}

} // namespace Confab::Server
