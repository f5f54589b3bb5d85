#include "ops/configloader.h"
#include "ops/logging.h"

#include <QtCore/QDir>
#include <QtCore/QLoggingCategory>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QRegularExpression>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>

using namespace Qt::StringLiterals;
using namespace Confab::Server;

//! Configuration from flags, environment and .env, and the log line format.
class tst_ConfigLoader : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();

    void defaults();
    void precedence();
    void flagForms_data();
    void flagForms();
    void bareBoolean_data();
    void bareBoolean();
    void numericValues_data();
    void numericValues();
    void otherValues();
    void invalidValues_data();
    void invalidValues();
    void errorNamesSource();
    void collectsAllErrors();
    void unknownAndIncompleteFlags();
    void helpAndVersion();
    void extraFlagsPassThrough();
    void keyFiles();

    void envFileSyntax();
    void envFileMalformed();
    void envFileMissing();
    void envFileDefault();
    void envFileLosesToEnvironment();

    void authEnabledWithoutKey();
    void authSettingsWhileDisabled();
    void shortSecret();
    void shortAdminToken();

    void helpListsEveryOption();
    void helpDefaultsRoundTrip();

    void logJsonOrdinary();
    void logJsonStructured();
    void logText();

private:
    QString writeFile(const QString &name, const QByteArray &content);

    QTemporaryDir m_home;     // the working directory, so no stray .env is picked up
    QTemporaryDir m_scratch;  // files written by single tests
};

namespace {

ConfigResult load(const QStringList &arguments, const QProcessEnvironment &env = {},
                  const QStringList &extraFlags = {})
{
    return ConfigLoader::load(arguments, env, extraFlags);
}

QProcessEnvironment environment(std::initializer_list<std::pair<QString, QString>> variables)
{
    QProcessEnvironment env;
    for (const auto &[name, value] : variables)
        env.insert(name, value);
    return env;
}

// Every numeric option, as a number (durations in milliseconds).
qint64 numericField(const ServerConfig &config, const QString &flag)
{
    const Limits &l = config.limits;
    const QHash<QString, qint64> fields{
        {u"--port"_s, config.port},
        {u"--listen-backlog"_s, config.listenBacklog},
        {u"--max-connections"_s, l.maxConnections},
        {u"--max-connections-per-ip"_s, l.maxConnectionsPerIp},
        {u"--max-message-bytes"_s, l.maxMessageBytes},
        {u"--max-channels-per-connection"_s, l.maxChannelsPerConnection},
        {u"--messages-per-minute"_s, l.messagesPerMinute},
        {u"--max-presence-meta-bytes"_s, l.maxPresenceMetaBytes},
        {u"--max-send-buffer-bytes"_s, l.maxSendBufferBytes},
        {u"--max-rejects-per-minute"_s, l.maxRejectsPerMinute},
        {u"--idle-timeout"_s, l.idleTimeout.count()},
        {u"--http-max-header-bytes"_s, l.httpMaxHeaderBytes},
        {u"--http-max-body-bytes"_s, l.httpMaxBodyBytes},
        {u"--http-idle-timeout"_s, l.httpIdleTimeout.count()},
        {u"--request-head-timeout"_s, l.requestHeadTimeout.count()},
        {u"--catchup-limit"_s, config.chat.catchupLimit},
        {u"--typing-timeout"_s, config.chat.typingTimeout.count()},
        {u"--max-message-body"_s, config.chat.maxMessageBody},
        {u"--long-poll-timeout"_s, config.chat.longPollTimeout.count()},
    };
    Q_ASSERT(fields.contains(flag));
    return fields.value(flag);
}

bool sameConfig(const ServerConfig &a, const ServerConfig &b)
{
    const Limits &x = a.limits;
    const Limits &y = b.limits;
    return a.bindAddress == b.bindAddress && a.port == b.port && a.listenBacklog == b.listenBacklog
        && a.allowedOrigins == b.allowedOrigins && a.logFormat == b.logFormat
        && a.logLevel == b.logLevel && a.auth.enabled == b.auth.enabled
        && a.auth.secret == b.auth.secret && a.auth.publicKeyFile == b.auth.publicKeyFile
        && a.auth.privateKeyFile == b.auth.privateKeyFile && a.auth.algorithms == b.auth.algorithms
        && a.auth.issuer == b.auth.issuer && a.auth.audience == b.auth.audience
        && x.maxConnections == y.maxConnections && x.maxConnectionsPerIp == y.maxConnectionsPerIp
        && x.maxMessageBytes == y.maxMessageBytes
        && x.maxChannelsPerConnection == y.maxChannelsPerConnection
        && x.messagesPerMinute == y.messagesPerMinute
        && x.maxPresenceMetaBytes == y.maxPresenceMetaBytes
        && x.maxSendBufferBytes == y.maxSendBufferBytes && x.maxRejectsPerMinute == y.maxRejectsPerMinute && x.idleTimeout == y.idleTimeout
        && x.httpMaxHeaderBytes == y.httpMaxHeaderBytes && x.httpMaxBodyBytes == y.httpMaxBodyBytes
        && x.httpIdleTimeout == y.httpIdleTimeout && x.requestHeadTimeout == y.requestHeadTimeout
        && a.storage.dataDir == b.storage.dataDir && a.storage.fullSync == b.storage.fullSync
        && a.chat.catchupLimit == b.chat.catchupLimit && a.chat.typingTimeout == b.chat.typingTimeout
        && a.chat.maxMessageBody == b.chat.maxMessageBody && a.chat.longPollTimeout == b.chat.longPollTimeout
        && a.auth.joinPassword == b.auth.joinPassword && a.auth.sessionTtl == b.auth.sessionTtl
        && x.sessionFailuresPerMinute == y.sessionFailuresPerMinute
        && a.discovery.enabled == b.discovery.enabled && a.discovery.port == b.discovery.port
        && a.discovery.serverName == b.discovery.serverName && a.discovery.targets == b.discovery.targets;
}

const QString LongSecret = u"0123456789abcdef0123456789abcdef"_s; // 32 bytes: no warning

} // namespace

namespace {
QLoggingCategory::CategoryFilter g_previousFilter = nullptr;

void enableConfabCategories(QLoggingCategory *category)
{
    if (g_previousFilter)
        g_previousFilter(category);
    if (qstrncmp(category->categoryName(), "confab", 6) == 0) {
        for (const auto type : {QtDebugMsg, QtInfoMsg, QtWarningMsg, QtCriticalMsg})
            category->setEnabled(type, true);
    }
}
} // namespace

void tst_ConfigLoader::initTestCase()
{
    QVERIFY(m_home.isValid());
    QVERIFY(m_scratch.isValid());
    QVERIFY(QDir::setCurrent(m_home.path()));
    // The log tests need every confab category on, whatever QT_LOGGING_RULES ctest sets (the
    // environment's rules win over setFilterRules(), a category filter runs after both).
    g_previousFilter = QLoggingCategory::installFilter(enableConfabCategories);
}

void tst_ConfigLoader::init()
{
    QFile::remove(m_home.filePath(u".env"_s));
}

QString tst_ConfigLoader::writeFile(const QString &name, const QByteArray &content)
{
    const QString path = m_scratch.filePath(name);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return {};
    file.write(content);
    return path;
}

void tst_ConfigLoader::defaults()
{
    const ConfigResult result = load({});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.warnings, QStringList());
    QVERIFY(sameConfig(result.config, ServerConfig()));
    QVERIFY(!result.helpRequested);
    QVERIFY(!result.versionRequested);
    QVERIFY(result.positional.isEmpty());
}

void tst_ConfigLoader::precedence()
{
    const QString envFile = writeFile(u"precedence.env"_s,
                                      "MAX_CONNECTIONS=10\nMESSAGES_PER_MINUTE=11\nLISTEN_BACKLOG=12\n");
    const auto env = environment({{u"ENV_FILE"_s, envFile},
                                  {u"MAX_CONNECTIONS"_s, u"20"_s},
                                  {u"MESSAGES_PER_MINUTE"_s, u"21"_s}});

    // All three set: the flag wins; then the environment; the .env file only fills gaps.
    const ConfigResult result = load({u"--max-connections"_s, u"30"_s}, env);
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.limits.maxConnections, 30);
    QCOMPARE(result.config.limits.messagesPerMinute, 21);
    QCOMPARE(result.config.listenBacklog, 12);

    const ConfigResult noFlag = load({}, env);
    QCOMPARE(noFlag.config.limits.maxConnections, 20);
}

void tst_ConfigLoader::flagForms_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::newRow("equals") << QStringList{u"--port=5000"_s};
    QTest::newRow("separate") << QStringList{u"--port"_s, u"5000"_s};
    QTest::newRow("repeated, last wins") << QStringList{u"--port=1"_s, u"--port"_s, u"5000"_s};
}

void tst_ConfigLoader::flagForms()
{
    QFETCH(QStringList, arguments);
    const ConfigResult result = load(arguments);
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.port, quint16(5000));
    QVERIFY(result.positional.isEmpty());
}

void tst_ConfigLoader::bareBoolean_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<bool>("enabled");
    QTest::addColumn<QStringList>("positional");
    const QString secret = u"--auth-secret="_s + LongSecret;
    QTest::newRow("bare") << QStringList{u"--auth-enabled"_s, secret} << true << QStringList();
    QTest::newRow("bare, then positional")
        << QStringList{u"--auth-enabled"_s, u"serve"_s, secret} << true << QStringList{u"serve"_s};
    QTest::newRow("separate false") << QStringList{u"--auth-enabled"_s, u"false"_s} << false
                                    << QStringList();
    QTest::newRow("equals OFF") << QStringList{u"--auth-enabled=OFF"_s} << false << QStringList();
    QTest::newRow("equals Yes") << QStringList{u"--auth-enabled=Yes"_s, secret} << true
                                << QStringList();
}

void tst_ConfigLoader::bareBoolean()
{
    QFETCH(QStringList, arguments);
    QFETCH(bool, enabled);
    QFETCH(QStringList, positional);
    const ConfigResult result = load(arguments);
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.auth.enabled, enabled);
    QCOMPARE(result.positional, positional);
}

void tst_ConfigLoader::numericValues_data()
{
    QTest::addColumn<QString>("flag");
    QTest::addColumn<QString>("value");
    QTest::addColumn<qint64>("expected");

    QTest::newRow("port") << u"--port"_s << u"8080"_s << qint64(8080);
    QTest::newRow("port 0") << u"--port"_s << u"0"_s << qint64(0);
    QTest::newRow("port max") << u"--port"_s << u"65535"_s << qint64(65535);
    QTest::newRow("backlog") << u"--listen-backlog"_s << u"4096"_s << qint64(4096);
    QTest::newRow("int") << u"--max-connections"_s << u"5"_s << qint64(5);
    QTest::newRow("int trimmed") << u"--max-connections-per-ip"_s << u" 7 "_s << qint64(7);
    QTest::newRow("int 1") << u"--max-channels-per-connection"_s << u"1"_s << qint64(1);
    QTest::newRow("int rate") << u"--messages-per-minute"_s << u"1200"_s << qint64(1200);
    QTest::newRow("int rejects") << u"--max-rejects-per-minute"_s << u"3"_s << qint64(3);
    QTest::newRow("size plain") << u"--max-message-bytes"_s << u"1000"_s << qint64(1000);
    QTest::newRow("size k") << u"--max-message-bytes"_s << u"64k"_s << qint64(64 * 1024);
    QTest::newRow("size K") << u"--max-presence-meta-bytes"_s << u"2K"_s << qint64(2048);
    QTest::newRow("size KiB") << u"--http-max-header-bytes"_s << u"32KiB"_s << qint64(32 * 1024);
    QTest::newRow("size m") << u"--http-max-body-bytes"_s << u"2m"_s << qint64(2 * 1024 * 1024);
    QTest::newRow("size M") << u"--http-max-body-bytes"_s << u"3M"_s << qint64(3 * 1024 * 1024);
    QTest::newRow("size MiB") << u"--http-max-body-bytes"_s << u"4MiB"_s << qint64(4 * 1024 * 1024);
    QTest::newRow("duration ms") << u"--idle-timeout"_s << u"500ms"_s << qint64(500);
    QTest::newRow("duration s") << u"--idle-timeout"_s << u"30s"_s << qint64(30'000);
    QTest::newRow("duration m") << u"--http-idle-timeout"_s << u"5m"_s << qint64(300'000);
    QTest::newRow("duration h") << u"--http-idle-timeout"_s << u"24h"_s << qint64(86'400'000);
    QTest::newRow("duration d") << u"--request-head-timeout"_s << u"2d"_s << qint64(172'800'000);
    QTest::newRow("duration plain") << u"--request-head-timeout"_s << u"15"_s << qint64(15'000);
}

void tst_ConfigLoader::numericValues()
{
    QFETCH(QString, flag);
    QFETCH(QString, value);
    QFETCH(qint64, expected);
    const ConfigResult result = load({flag, value});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(numericField(result.config, flag), expected);

    // The same value through the environment.
    const QString envName = flag.mid(2).toUpper().replace(u'-', u'_');
    const ConfigResult fromEnv = load({}, environment({{envName, value}}));
    QCOMPARE(fromEnv.errors, QStringList());
    QCOMPARE(numericField(fromEnv.config, flag), expected);
}

void tst_ConfigLoader::otherValues()
{
    const ConfigResult result = load({u"--bind=127.0.0.1"_s, u"--log-format=text"_s,
                                      u"--log-level"_s, u"debug"_s,
                                      u"--allowed-origins"_s, u"https://a.example, https://b.example,"_s,
                                      u"--auth-algorithms=HS256,RS256"_s, u"--auth-issuer=me"_s,
                                      u"--auth-audience=confab"_s});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.bindAddress, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(result.config.logFormat, LogFormat::Text);
    QCOMPARE(result.config.logLevel, QtDebugMsg);
    QCOMPARE(result.config.allowedOrigins,
             QStringList({u"https://a.example"_s, u"https://b.example"_s}));
    QCOMPARE(result.config.auth.algorithms, QStringList({u"HS256"_s, u"RS256"_s}));
    QCOMPARE(result.config.auth.issuer, u"me"_s);
    QCOMPARE(result.config.auth.audience, u"confab"_s);

    // The metrics address: IPv4, IPv6 in brackets, localhost; empty turns it off again.
    const ConfigResult metrics = load({u"--metrics-bind=127.0.0.1:9100"_s, u"--admin-token=op-0123456789abcdef0123456789abcdef"_s});
    QCOMPARE(metrics.errors, QStringList());
    QCOMPARE(metrics.config.metricsAddress, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(metrics.config.metricsPort, quint16(9100));
    QCOMPARE(metrics.config.auth.adminToken, "op-0123456789abcdef0123456789abcdef"_ba);
    QCOMPARE(load({u"--metrics-bind=[::1]:9101"_s}).config.metricsAddress, QHostAddress(QHostAddress::LocalHostIPv6));
    QCOMPARE(load({u"--metrics-bind=localhost:9102"_s}).config.metricsPort, quint16(9102));
    QCOMPARE(load({u"--metrics-bind="_s}).config.metricsPort, quint16(0));

    const struct
    {
        QString level;
        QtMsgType type;
    } levels[] = {{u"info"_s, QtInfoMsg}, {u"WARNING"_s, QtWarningMsg}, {u"error"_s, QtCriticalMsg}};
    for (const auto &[level, type] : levels)
        QCOMPARE(load({u"--log-level"_s, level}).config.logLevel, type);
    QCOMPARE(load({u"--log-format=json"_s}).config.logFormat, LogFormat::Json);

    QCOMPARE(load({u"--bind=any"_s}).config.bindAddress, QHostAddress(QHostAddress::Any));
    QCOMPARE(load({u"--bind=LocalHost"_s}).config.bindAddress, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(load({u"--bind=::1"_s}).config.bindAddress, QHostAddress(QHostAddress::LocalHostIPv6));
    QCOMPARE(load({u"--bind=192.168.1.20"_s}).config.bindAddress, QHostAddress(u"192.168.1.20"_s));
}

void tst_ConfigLoader::invalidValues_data()
{
    QTest::addColumn<QString>("flag");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("expected");

    const QString integer = u"expected a positive integer"_s;
    const QString size = u"expected a positive size"_s;
    const QString duration = u"expected a positive duration"_s;
    QTest::newRow("int text") << u"--max-connections"_s << u"abc"_s << integer;
    QTest::newRow("int zero") << u"--max-connections"_s << u"0"_s << integer;
    QTest::newRow("int negative") << u"--messages-per-minute"_s << u"-5"_s << integer;
    QTest::newRow("int fraction") << u"--listen-backlog"_s << u"1.5"_s << integer;
    QTest::newRow("int empty") << u"--max-rejects-per-minute"_s << QString() << integer;
    QTest::newRow("int huge") << u"--max-connections-per-ip"_s << u"99999999999999999999"_s << integer;
    QTest::newRow("int too big") << u"--max-channels-per-connection"_s << u"1000001"_s
                                 << u"expected a positive integer up to"_s;
    QTest::newRow("port text") << u"--port"_s << u"http"_s << u"expected a port number"_s;
    QTest::newRow("port range") << u"--port"_s << u"65536"_s << u"expected a port number"_s;
    QTest::newRow("port negative") << u"--port"_s << u"-1"_s << u"expected a port number"_s;
    QTest::newRow("size unit") << u"--max-message-bytes"_s << u"10GB"_s << size;
    QTest::newRow("size kb") << u"--max-message-bytes"_s << u"10kb"_s << size;
    QTest::newRow("size zero") << u"--http-max-body-bytes"_s << u"0k"_s << size;
    QTest::newRow("size too big") << u"--http-max-body-bytes"_s << u"2048M"_s
                                  << u"expected a size up to"_s;
    QTest::newRow("duration unit") << u"--idle-timeout"_s << u"5w"_s << duration;
    QTest::newRow("duration zero") << u"--idle-timeout"_s << u"0s"_s << duration;
    QTest::newRow("duration text") << u"--http-idle-timeout"_s << u"soon"_s << duration;
    QTest::newRow("duration too long") << u"--request-head-timeout"_s << u"30d"_s
                                       << u"expected a duration up to"_s;
    QTest::newRow("bool") << u"--auth-enabled"_s << u"maybe"_s << u"expected true/false"_s;
    QTest::newRow("log format") << u"--log-format"_s << u"xml"_s << u"expected json or text"_s;
    QTest::newRow("log level") << u"--log-level"_s << u"verbose"_s
                               << u"expected debug, info, warning or error"_s;
    QTest::newRow("bind") << u"--bind"_s << u"example.com"_s
                          << u"expected an IP address, localhost or any"_s;
    QTest::newRow("bind partial") << u"--bind"_s << u"192.168.1"_s
                                  << u"expected an IP address, localhost or any"_s;
    QTest::newRow("metrics no port") << u"--metrics-bind"_s << u"127.0.0.1"_s << u"expected <address>:<port>"_s;
    QTest::newRow("metrics host name") << u"--metrics-bind"_s << u"example.com:9100"_s << u"expected <address>:<port>"_s;
    QTest::newRow("metrics port 0") << u"--metrics-bind"_s << u"127.0.0.1:0"_s
                                    << u"expected <address>:<port> with a port from 1 to 65535"_s;
    QTest::newRow("metrics port range") << u"--metrics-bind"_s << u"127.0.0.1:65536"_s
                                        << u"expected <address>:<port> with a port from 1 to 65535"_s;
    QTest::newRow("metrics port text") << u"--metrics-bind"_s << u"127.0.0.1:http"_s
                                       << u"expected <address>:<port> with a port from 1 to 65535"_s;
}

void tst_ConfigLoader::invalidValues()
{
    QFETCH(QString, flag);
    QFETCH(QString, value);
    QFETCH(QString, expected);
    const ConfigResult result = load({flag + u'=' + value});
    QCOMPARE(result.errors.size(), 1);
    const QString prefix = u"invalid value \"%1\" for %2 (from command line): "_s.arg(value, flag);
    QVERIFY2(result.errors.first().startsWith(prefix + expected), qPrintable(result.errors.first()));
}

void tst_ConfigLoader::errorNamesSource()
{
    const ConfigResult fromEnv = load({}, environment({{u"MAX_CONNECTIONS"_s, u"abc"_s}}));
    QCOMPARE(fromEnv.errors,
             QStringList(u"invalid value \"abc\" for --max-connections (from environment "
                         "MAX_CONNECTIONS): expected a positive integer"_s));

    const QString envFile = writeFile(u"source.env"_s, "# limits\n\nIDLE_TIMEOUT=forever\n");
    const ConfigResult fromFile = load({u"--env-file"_s, envFile});
    QCOMPARE(fromFile.errors.size(), 1);
    const QString error = fromFile.errors.first();
    QVERIFY2(error.startsWith(u"invalid value \"forever\" for --idle-timeout (from IDLE_TIMEOUT in "_s
                              + envFile + u" line 3): "_s),
             qPrintable(error));
}

void tst_ConfigLoader::collectsAllErrors()
{
    const ConfigResult result =
        load({u"--port=x"_s, u"--max-message-bytes=big"_s, u"--nope"_s},
             environment({{u"LOG_LEVEL"_s, u"loud"_s}, {u"IDLE_TIMEOUT"_s, u"-1"_s}}));
    QCOMPARE(result.errors.size(), 5);
    const QString all = result.errors.join(u'\n');
    for (const auto name : {u"--port", u"--max-message-bytes", u"--nope", u"LOG_LEVEL", u"IDLE_TIMEOUT"})
        QVERIFY2(all.contains(name), qPrintable(all));
}

void tst_ConfigLoader::unknownAndIncompleteFlags()
{
    QCOMPARE(load({u"--foo"_s}).errors, QStringList(u"unknown option --foo; see --help"_s));
    // A value given with = must not be echoed: it might be a secret meant for another option.
    QCOMPARE(load({u"--auth-secrt=hunter2"_s}).errors,
             QStringList(u"unknown option --auth-secrt; see --help"_s));
    QCOMPARE(load({u"--port"_s}).errors, QStringList(u"option --port needs a value"_s));
    // The next option is not taken as a value.
    const ConfigResult result = load({u"--bind"_s, u"--port=1"_s});
    QCOMPARE(result.errors, QStringList(u"option --bind needs a value"_s));
    QCOMPARE(result.config.port, quint16(1));
    // Single-dash and bare words are positional; "--" ends the options.
    QCOMPARE(load({u"serve"_s, u"-x"_s, u"--"_s, u"--port=2"_s}).positional,
             QStringList({u"serve"_s, u"-x"_s, u"--port=2"_s}));
}

void tst_ConfigLoader::helpAndVersion()
{
    QVERIFY(load({u"-h"_s}).helpRequested);
    QVERIFY(load({u"--help"_s}).helpRequested);
    QVERIFY(!load({u"--help"_s}).versionRequested);
    QVERIFY(load({u"--version"_s}).versionRequested);
    QVERIFY(load({u"--version"_s}).errors.isEmpty());
}

void tst_ConfigLoader::extraFlagsPassThrough()
{
    const QStringList extra{u"--user"_s, u"--name"_s, u"--ttl"_s};
    const ConfigResult result = load({u"--user"_s, u"alice"_s, u"--name=Alice Liddell"_s,
                                      u"--port"_s, u"1234"_s, u"--ttl"_s, u"2h"_s, u"extra"_s},
                                     {}, extra);
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.port, quint16(1234));
    QCOMPARE(result.positional, QStringList({u"--user=alice"_s, u"--name=Alice Liddell"_s,
                                             u"--ttl=2h"_s, u"extra"_s}));

    QCOMPARE(load({u"--user"_s}, {}, extra).errors, QStringList(u"option --user needs a value"_s));
    QCOMPARE(load({u"--user=alice"_s}).errors, QStringList(u"unknown option --user; see --help"_s));
}

void tst_ConfigLoader::keyFiles()
{
    const QString pem = writeFile(u"key.pem"_s, "-----BEGIN PUBLIC KEY-----\n");
    const ConfigResult result = load({u"--auth-enabled"_s, u"--auth-public-key"_s, pem,
                                      u"--auth-private-key"_s, pem});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.auth.publicKeyFile, pem);
    QCOMPARE(result.config.auth.privateKeyFile, pem);

    const QString missing = m_scratch.filePath(u"missing.pem"_s);
    const ConfigResult bad = load({u"--auth-public-key"_s, missing});
    QCOMPARE(bad.errors.size(), 1);
    QVERIFY(bad.errors.first().contains(u"--auth-public-key"));
    QVERIFY(bad.errors.first().contains(u"expected a readable PEM file"));
}

void tst_ConfigLoader::envFileSyntax()
{
    const QString envFile = writeFile(u"syntax.env"_s,
                                      "# a comment\n"
                                      "\n"
                                      "   # an indented comment\n"
                                      "PORT=4100\r\n"
                                      "export LISTEN_BACKLOG=77\n"
                                      "AUTH_ISSUER=\"issuer with spaces # not a comment\"\n"
                                      "AUTH_AUDIENCE='single \"quoted\"'   # trailing comment\n"
                                      "ALLOWED_ORIGINS = https://a.example,https://b.example # note\n"
                                      "AUTH_SECRET=\"line\\nbreak \\\"quoted\\\" and#hash\"\n"
                                      "LOG_FORMAT=\n"
                                      "LOG_FORMAT=text\n"
                                      "UNRELATED_TOOL_SETTING=ignored\n");
    const ConfigResult result = load({u"--env-file="_s + envFile});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.port, quint16(4100));
    QCOMPARE(result.config.listenBacklog, 77);
    QCOMPARE(result.config.auth.issuer, u"issuer with spaces # not a comment"_s);
    QCOMPARE(result.config.auth.audience, u"single \"quoted\""_s);
    QCOMPARE(result.config.allowedOrigins,
             QStringList({u"https://a.example"_s, u"https://b.example"_s}));
    QCOMPARE(result.config.auth.secret, QByteArray("line\nbreak \"quoted\" and#hash"));
    QCOMPARE(result.config.logFormat, LogFormat::Text); // the last definition wins
}

void tst_ConfigLoader::envFileMalformed()
{
    const QString envFile = writeFile(u"malformed.env"_s,
                                      "PORT=4100\n"
                                      "# fine\n"
                                      "this is not an assignment\n"
                                      "AUTH_ISSUER=\"unterminated\n"
                                      "=value\n"
                                      "BAD KEY=1\n"
                                      "AUTH_AUDIENCE=\"x\" trailing\n"
                                      "MAX_CONNECTIONS=zero\n");
    const ConfigResult result = load({}, environment({{u"ENV_FILE"_s, envFile}}));
    const QStringList expectedLines{u"3"_s, u"4"_s, u"5"_s, u"6"_s, u"7"_s};
    QCOMPARE(result.errors.size(), expectedLines.size() + 1);
    for (qsizetype i = 0; i < expectedLines.size(); ++i) {
        QCOMPARE(result.errors.at(i),
                 u"%1 line %2: malformed, expected KEY=VALUE"_s.arg(envFile, expectedLines[i]));
    }
    // Valid lines still count, so their mistakes are reported in the same run.
    QVERIFY(result.errors.last().contains(u"MAX_CONNECTIONS in "_s + envFile + u" line 8"_s));
    QCOMPARE(result.config.port, quint16(4100));
}

void tst_ConfigLoader::envFileMissing()
{
    const QString missing = m_scratch.filePath(u"nowhere.env"_s);
    const ConfigResult viaFlag = load({u"--env-file"_s, missing});
    QCOMPARE(viaFlag.errors.size(), 1);
    QVERIFY2(viaFlag.errors.first().startsWith(u"cannot read env file "_s + missing),
             qPrintable(viaFlag.errors.first()));

    const ConfigResult viaEnv = load({}, environment({{u"ENV_FILE"_s, missing}}));
    QCOMPARE(viaEnv.errors.size(), 1);
    QVERIFY(viaEnv.errors.first().contains(missing));
}

void tst_ConfigLoader::envFileDefault()
{
    // No .env in the working directory: silently skipped.
    QCOMPARE(load({}).errors, QStringList());

    QFile file(m_home.filePath(u".env"_s));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("MAX_CONNECTIONS=42\n");
    file.close();
    const ConfigResult result = load({});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.limits.maxConnections, 42);
}

void tst_ConfigLoader::envFileLosesToEnvironment()
{
    const QString envFile = writeFile(u"secret.env"_s, "AUTH_SECRET=from-dotenv-000000000000000000000\n");
    const ConfigResult result = load({u"--env-file"_s, envFile, u"--auth-enabled"_s},
                                     environment({{u"AUTH_SECRET"_s, LongSecret}}));
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.config.auth.secret, LongSecret.toUtf8());

    // Set but empty in the real environment still counts as set.
    const ConfigResult empty =
        load({u"--env-file"_s, envFile}, environment({{u"AUTH_SECRET"_s, QString()}}));
    QVERIFY(empty.config.auth.secret.isEmpty());
}

void tst_ConfigLoader::authEnabledWithoutKey()
{
    const ConfigResult result = load({}, environment({{u"AUTH_ENABLED"_s, u"true"_s}}));
    QCOMPARE(result.errors.size(), 1);
    QVERIFY(result.errors.first().contains(u"AUTH_SECRET"));
    QVERIFY(result.errors.first().contains(u"AUTH_PUBLIC_KEY_FILE"));

    QCOMPARE(load({u"--auth-enabled"_s, u"--auth-secret"_s, LongSecret}).errors, QStringList());
}

void tst_ConfigLoader::authSettingsWhileDisabled()
{
    const ConfigResult result = load({}, environment({{u"AUTH_SECRET"_s, LongSecret}}));
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.warnings, QStringList(u"auth is disabled; AUTH_SECRET is ignored"_s));
    QCOMPARE(result.config.auth.secret, LongSecret.toUtf8()); // kept for `confab-server token`

    const QString pem = writeFile(u"public.pem"_s, "-----BEGIN PUBLIC KEY-----\n");
    const ConfigResult key = load({u"--auth-enabled=false"_s, u"--auth-public-key"_s, pem});
    QCOMPARE(key.warnings, QStringList(u"auth is disabled; AUTH_PUBLIC_KEY_FILE is ignored"_s));
}

void tst_ConfigLoader::shortSecret()
{
    const ConfigResult result = load({u"--auth-enabled"_s, u"--auth-secret=short"_s});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.warnings.size(), 1);
    QVERIFY2(result.warnings.first().contains(u"AUTH_SECRET is 5 bytes"), qPrintable(result.warnings.first()));
    QVERIFY(result.warnings.first().contains(u"32"));
}

void tst_ConfigLoader::shortAdminToken()
{
    // The operator's credential is a password anyone can try over HTTP: short ones are guessable.
    const ConfigResult result = load({u"--admin-token=letmein"_s});
    QCOMPARE(result.errors, QStringList());
    QCOMPARE(result.warnings.size(), 1);
    QVERIFY2(result.warnings.first().contains(u"ADMIN_TOKEN is 7 bytes"), qPrintable(result.warnings.first()));
}

void tst_ConfigLoader::helpListsEveryOption()
{
    const QString help = ConfigLoader::helpText();
    const std::pair<const char16_t *, const char16_t *> options[] = {
        {u"--port", u"PORT"},
        {u"--bind", u"BIND"},
        {u"--listen-backlog", u"LISTEN_BACKLOG"},
        {u"--allowed-origins", u"ALLOWED_ORIGINS"},
        {u"--log-format", u"LOG_FORMAT"},
        {u"--log-level", u"LOG_LEVEL"},
        {u"--auth-enabled", u"AUTH_ENABLED"},
        {u"--auth-secret", u"AUTH_SECRET"},
        {u"--auth-public-key", u"AUTH_PUBLIC_KEY_FILE"},
        {u"--auth-private-key", u"AUTH_PRIVATE_KEY_FILE"},
        {u"--auth-algorithms", u"AUTH_ALGORITHMS"},
        {u"--auth-issuer", u"AUTH_ISSUER"},
        {u"--auth-audience", u"AUTH_AUDIENCE"},
        {u"--max-connections", u"MAX_CONNECTIONS"},
        {u"--max-connections-per-ip", u"MAX_CONNECTIONS_PER_IP"},
        {u"--max-message-bytes", u"MAX_MESSAGE_BYTES"},
        {u"--max-channels-per-connection", u"MAX_CHANNELS_PER_CONNECTION"},
        {u"--messages-per-minute", u"MESSAGES_PER_MINUTE"},
        {u"--max-presence-meta-bytes", u"MAX_PRESENCE_META_BYTES"},
        {u"--max-send-buffer-bytes", u"MAX_SEND_BUFFER_BYTES"},
        {u"--max-rejects-per-minute", u"MAX_REJECTS_PER_MINUTE"},
        {u"--idle-timeout", u"IDLE_TIMEOUT"},
        {u"--http-max-header-bytes", u"HTTP_MAX_HEADER_BYTES"},
        {u"--http-max-body-bytes", u"HTTP_MAX_BODY_BYTES"},
        {u"--http-idle-timeout", u"HTTP_IDLE_TIMEOUT"},
        {u"--request-head-timeout", u"REQUEST_HEAD_TIMEOUT"},
        {u"--data-dir", u"DATA_DIR"},
        {u"--storage-sync", u"STORAGE_SYNC"},
        {u"--catchup-limit", u"CATCHUP_LIMIT"},
        {u"--typing-timeout", u"TYPING_TIMEOUT"},
        {u"--max-message-body", u"MAX_MESSAGE_BODY"},
        {u"--long-poll-timeout", u"LONG_POLL_TIMEOUT"},
        {u"--join-password", u"JOIN_PASSWORD"},
        {u"--session-ttl", u"SESSION_TTL"},
        {u"--admin-token", u"ADMIN_TOKEN"},
        {u"--metrics-bind", u"METRICS_BIND"},
        {u"--session-failures-per-minute", u"SESSION_FAILURES_PER_MINUTE"},
        {u"--discovery", u"DISCOVERY"},
        {u"--discovery-port", u"DISCOVERY_PORT"},
        {u"--server-name", u"SERVER_NAME"},
        {u"--discovery-target", u"DISCOVERY_TARGET"},
        {u"--env-file", u"ENV_FILE"},
    };
    for (const auto &[flag, env] : options) {
        const QString flagText = QString::fromUtf16(flag);
        const QString envText = QString::fromUtf16(env);
        QVERIFY2(help.contains(u"  "_s + flagText + u' '), qPrintable(flagText));
        QVERIFY2(help.contains(u'[' + envText + u", default "_s), qPrintable(envText));
    }
    QVERIFY(help.contains(u"--help"));
    QVERIFY(help.contains(u"--version"));

    const ServerConfig defaults;
    for (const qint64 number : {qint64(defaults.port), qint64(defaults.listenBacklog),
                                qint64(defaults.limits.maxConnections),
                                qint64(defaults.limits.maxConnectionsPerIp),
                                qint64(defaults.limits.messagesPerMinute)}) {
        QVERIFY2(help.contains(u"default "_s + QString::number(number) + u']'),
                 qPrintable(QString::number(number)));
    }
    // The reason behind each limit is part of its help.
    QVERIFY(help.contains(u"open-file limit"));
    QVERIFY(help.contains(u"heartbeat"));
}

void tst_ConfigLoader::helpDefaultsRoundTrip()
{
    // Every default the help shows must be accepted and mean the default again: the help and
    // the parser read one table, and this keeps their formats in step.
    static const QRegularExpression line(u"^  (--[a-z-]+) \\S+  \\[(\\w+), default (.*)\\]$"_s,
                                         QRegularExpression::MultilineOption);
    int checked = 0;
    auto it = line.globalMatch(ConfigLoader::helpText());
    while (it.hasNext()) {
        const auto match = it.next();
        const QString flag = match.captured(1);
        const QString shown = match.captured(3);
        if (flag == u"--env-file") {
            QCOMPARE(shown, u".env"_s);
            ++checked;
            continue;
        }
        const ConfigResult parsed = shown.startsWith(u'(') ? load({}) : load({flag, shown});
        QVERIFY2(parsed.errors.isEmpty(), qPrintable(flag + u": "_s + parsed.errors.join(u"; ")));
        QVERIFY2(sameConfig(parsed.config, ServerConfig()), qPrintable(flag + u" " + shown));
        ++checked;
    }
    QCOMPARE(checked, 42);
}

void tst_ConfigLoader::logJsonOrdinary()
{
    const QDateTime time(QDate(2026, 11, 22), QTime(10, 0, 0, 123), Qt::UTC);
    const QByteArray line = formatLogLine(LogFormat::Json, QtWarningMsg, "confab.server.net",
                                          u"peer \"x\" said\nbye"_s, time);
    QVERIFY(!line.contains('\n'));
    QJsonParseError error;
    const QJsonObject object = QJsonDocument::fromJson(line, &error).object();
    QCOMPARE(error.error, QJsonParseError::NoError);
    QVERIFY2(line.startsWith("{\"time\":\"2026-11-22T10:00:00.123Z\",\"level\":\"warning\","
                             "\"category\":\"confab.server.net\",\"event\":\"message\""),
             line.constData());
    QCOMPARE(object.value(u"message").toString(), u"peer \"x\" said\nbye"_s);
    QCOMPARE(object.size(), 5);

    const QByteArray critical = formatLogLine(LogFormat::Json, QtCriticalMsg, nullptr, u"x"_s, time);
    const QJsonObject criticalObject = QJsonDocument::fromJson(critical).object();
    QCOMPARE(criticalObject.value(u"level").toString(), u"error"_s);
    QCOMPARE(criticalObject.value(u"category").toString(), u"default"_s);
}

namespace {

struct Captured
{
    QtMsgType type = QtFatalMsg;
    QByteArray category;
    QString message;
};
Captured g_captured;

void captureHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    g_captured = {type, QByteArray(context.category), message};
}

Captured captureLogEvent(QtMsgType type, const char *event, const QJsonObject &fields)
{
    g_captured = {};
    const QtMessageHandler previous = qInstallMessageHandler(captureHandler);
    logEvent(lcSession(), type, event, fields);
    qInstallMessageHandler(previous);
    return g_captured;
}

} // namespace

void tst_ConfigLoader::logJsonStructured()
{
    const Captured captured = captureLogEvent(
        QtInfoMsg, "session.open",
        {{u"user"_s, u"alice"_s}, {u"count"_s, 3}, {u"event"_s, u"clash"_s}, {u"ok"_s, true}});
    QCOMPARE(captured.type, QtInfoMsg);
    QCOMPARE(captured.category, QByteArray("confab.server.session"));

    const QDateTime time(QDate(2026, 11, 22), QTime(10, 0, 0, 123), Qt::UTC);
    const QByteArray line = formatLogLine(LogFormat::Json, captured.type, captured.category.constData(),
                                          captured.message, time);
    QJsonParseError error;
    const QJsonObject object = QJsonDocument::fromJson(line, &error).object();
    QCOMPARE(error.error, QJsonParseError::NoError);
    QVERIFY2(line.startsWith("{\"time\":\"2026-11-22T10:00:00.123Z\",\"level\":\"info\","
                             "\"category\":\"confab.server.session\",\"event\":\"session.open\","),
             line.constData());
    QCOMPARE(object.value(u"user").toString(), u"alice"_s);
    QCOMPARE(object.value(u"count").toInt(), 3);
    QCOMPARE(object.value(u"ok").toBool(), true);
    QCOMPARE(object.value(u"field_event").toString(), u"clash"_s); // never overwrites the event
    QVERIFY(!object.contains(u"message"));

    // An event without fields.
    const Captured bare = captureLogEvent(QtWarningMsg, "server.stopping", {});
    const QJsonObject bareObject = QJsonDocument::fromJson(
        formatLogLine(LogFormat::Json, bare.type, bare.category.constData(), bare.message, time)).object();
    QCOMPARE(bareObject.value(u"event").toString(), u"server.stopping"_s);
    QCOMPARE(bareObject.size(), 4);
}

void tst_ConfigLoader::logText()
{
    const QDateTime time(QDate(2026, 11, 22), QTime(11, 0, 0, 123), Qt::OffsetFromUTC, 3600);
    const Captured captured = captureLogEvent(
        QtInfoMsg, "session.open",
        {{u"user"_s, u"alice"_s}, {u"name"_s, u"Alice Liddell"_s}, {u"count"_s, 3}});
    const QByteArray line = formatLogLine(LogFormat::Text, captured.type,
                                          captured.category.constData(), captured.message, time);
    QCOMPARE(line, QByteArray("2026-11-22T10:00:00.123Z INFO  confab.server.session session.open "
                              "count=3 name=\"Alice Liddell\" user=alice"));

    const QByteArray plain = formatLogLine(LogFormat::Text, QtWarningMsg, "confab.server",
                                           u"two\nlines"_s, time);
    QCOMPARE(plain, QByteArray("2026-11-22T10:00:00.123Z WARN  confab.server two\\nlines"));
}

QTEST_GUILESS_MAIN(tst_ConfigLoader)
#include "tst_configloader.moc"
