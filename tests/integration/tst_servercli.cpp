// The confab-server executable itself: options, exit codes, token minting, .env, JSON logs and
// graceful shutdown on SIGTERM/SIGINT. Every run gets a clean environment and an empty working
// directory, so nothing from the developer's shell or a stray .env leaks in.
#include "auth/jwtverifier.h"
#include "rawclient.h"
#include "serverprocess.h"

#include <QtCore/QDateTime>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QTemporaryDir>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <csignal>
#include <memory>

#include <sys/types.h>

using namespace Qt::StringLiterals;
using namespace Confab;
using Testing::RawClient;
using Testing::ServerProcess;

#ifndef CONFAB_SERVER_BIN
#error "CONFAB_SERVER_BIN must be defined by the build (tests/CMakeLists.txt)"
#endif

namespace {

const QString Secret = u"cli-test-secret-0123456789abcdef-0123456789"_s;

QJsonObject decodeJwtPart(const QByteArray &part)
{
    return QJsonDocument::fromJson(QByteArray::fromBase64(
                                       part, QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors))
        .object();
}

} // namespace

class tst_ServerCli : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup() { m_dir.reset(); }

    void help();
    void version();
    void badValues_data();
    void badValues();
    void authEnabledWithoutSecret();
    void tokenCommand();
    void tokenWithoutUser();
    void gracefulShutdown_data();
    void gracefulShutdown();
    void envFileInWorkingDirectory();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_ServerCli::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void tst_ServerCli::help()
{
    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    QVERIFY(process.run({u"--help"_s}));
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 0);
    const QString text = QString::fromUtf8(process.out());
    const QList<QPair<QString, QString>> options{
        {u"--port"_s, u"PORT"_s},
        {u"--bind"_s, u"BIND"_s},
        {u"--listen-backlog"_s, u"LISTEN_BACKLOG"_s},
        {u"--allowed-origins"_s, u"ALLOWED_ORIGINS"_s},
        {u"--log-format"_s, u"LOG_FORMAT"_s},
        {u"--log-level"_s, u"LOG_LEVEL"_s},
        {u"--auth-enabled"_s, u"AUTH_ENABLED"_s},
        {u"--auth-secret"_s, u"AUTH_SECRET"_s},
        {u"--auth-public-key"_s, u"AUTH_PUBLIC_KEY_FILE"_s},
        {u"--auth-private-key"_s, u"AUTH_PRIVATE_KEY_FILE"_s},
        {u"--auth-algorithms"_s, u"AUTH_ALGORITHMS"_s},
        {u"--auth-issuer"_s, u"AUTH_ISSUER"_s},
        {u"--auth-audience"_s, u"AUTH_AUDIENCE"_s},
        {u"--max-connections"_s, u"MAX_CONNECTIONS"_s},
        {u"--max-connections-per-ip"_s, u"MAX_CONNECTIONS_PER_IP"_s},
        {u"--max-message-bytes"_s, u"MAX_MESSAGE_BYTES"_s},
        {u"--max-channels-per-connection"_s, u"MAX_CHANNELS_PER_CONNECTION"_s},
        {u"--messages-per-minute"_s, u"MESSAGES_PER_MINUTE"_s},
        {u"--max-presence-meta-bytes"_s, u"MAX_PRESENCE_META_BYTES"_s},
        {u"--max-rejects-per-minute"_s, u"MAX_REJECTS_PER_MINUTE"_s},
        {u"--idle-timeout"_s, u"IDLE_TIMEOUT"_s},
        {u"--http-max-header-bytes"_s, u"HTTP_MAX_HEADER_BYTES"_s},
        {u"--http-max-body-bytes"_s, u"HTTP_MAX_BODY_BYTES"_s},
        {u"--http-idle-timeout"_s, u"HTTP_IDLE_TIMEOUT"_s},
        {u"--request-head-timeout"_s, u"REQUEST_HEAD_TIMEOUT"_s},
        {u"--env-file"_s, u"ENV_FILE"_s},
    };
    for (const auto &[flag, env] : options) {
        // The flag starts its own line; the variable is named in that entry's brackets.
        const QRegularExpression entry(u"^\\s+"_s + QRegularExpression::escape(flag) + u" .*\\["_s
                                           + QRegularExpression::escape(env) + u", default "_s,
                                       QRegularExpression::MultilineOption);
        QVERIFY2(entry.match(text).hasMatch(), qPrintable(flag + u" / "_s + env));
    }
    QVERIFY(text.contains(u"--help"_s));
    QVERIFY(text.contains(u"--version"_s));
    QVERIFY(text.contains(u"token"_s));
    // Defaults are shown as configured in serverconfig.h.
    QVERIFY(text.contains(u"[PORT, default 4000]"_s));
    QVERIFY(process.err().isEmpty());
}

void tst_ServerCli::version()
{
    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    QVERIFY(process.run({u"--version"_s}));
    QCOMPARE(process.exitCode(), 0);
    QCOMPARE(process.out().trimmed(), "confab-server " CONFAB_EXPECTED_VERSION ""_ba);
}

void tst_ServerCli::badValues_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("envName");
    QTest::addColumn<QString>("envValue");
    QTest::addColumn<QStringList>("mentions");

    QTest::newRow("--max-connections abc") << QStringList{u"--max-connections"_s, u"abc"_s} << QString()
                                           << QString() << QStringList{u"--max-connections"_s, u"abc"_s};
    QTest::newRow("--max-connections=0") << QStringList{u"--max-connections=0"_s} << QString() << QString()
                                         << QStringList{u"--max-connections"_s};
    QTest::newRow("PORT=99999") << QStringList() << u"PORT"_s << u"99999"_s
                                << QStringList{u"--port"_s, u"PORT"_s, u"99999"_s};
    QTest::newRow("IDLE_TIMEOUT=soon") << QStringList() << u"IDLE_TIMEOUT"_s << u"soon"_s
                                       << QStringList{u"--idle-timeout"_s, u"IDLE_TIMEOUT"_s};
    QTest::newRow("--bind 10.1") << QStringList{u"--bind"_s, u"10.1"_s} << QString() << QString()
                                 << QStringList{u"--bind"_s};
    QTest::newRow("unknown flag") << QStringList{u"--frobnicate"_s, u"1"_s} << QString() << QString()
                                  << QStringList{u"--frobnicate"_s};
    QTest::newRow("missing value") << QStringList{u"--port"_s} << QString() << QString()
                                   << QStringList{u"--port"_s};
    QTest::newRow("stray argument") << QStringList{u"serve"_s} << QString() << QString()
                                    << QStringList{u"serve"_s};
    QTest::newRow("explicit missing env file") << QStringList{u"--env-file"_s, u"does-not-exist.env"_s}
                                               << QString() << QString()
                                               << QStringList{u"does-not-exist.env"_s};
}

void tst_ServerCli::badValues()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, envName);
    QFETCH(QString, envValue);
    QFETCH(QStringList, mentions);

    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    if (!envName.isEmpty())
        process.setEnv(envName, envValue);
    // If it wrongly started, it would listen on the default port; keep it off the network.
    process.setEnv(u"BIND"_s, u"127.0.0.1"_s);
    if (envName != u"PORT")
        process.setEnv(u"PORT"_s, u"0"_s);
    QVERIFY(process.run(arguments));
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 2);
    const QString err = QString::fromUtf8(process.err());
    for (const auto &word : mentions)
        QVERIFY2(err.contains(word), qPrintable(u"missing \""_s + word + u"\" in: "_s + err));
    QVERIFY(!err.contains(u"server.started"_s));
}

void tst_ServerCli::authEnabledWithoutSecret()
{
    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    process.setEnv(u"AUTH_ENABLED"_s, u"true"_s);
    process.setEnv(u"PORT"_s, u"0"_s);
    process.setEnv(u"BIND"_s, u"127.0.0.1"_s);
    QVERIFY(process.run({}));
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 2);
    QVERIFY2(process.err().contains("AUTH_SECRET"), process.err().constData());
    QVERIFY(!process.err().contains("server.started"));
}

void tst_ServerCli::tokenCommand()
{
    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    const qint64 before = QDateTime::currentSecsSinceEpoch();
    QVERIFY(process.run({u"token"_s, u"--user"_s, u"alice"_s, u"--name"_s, u"Alice"_s, u"--ttl"_s, u"1h"_s,
                         u"--channels"_s, u"room:*"_s, u"--auth-secret"_s, Secret}));
    const qint64 after = QDateTime::currentSecsSinceEpoch();
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QVERIFY2(process.exitCode() == 0, process.err().constData());
    QVERIFY2(process.err().isEmpty(), process.err().constData());

    const QByteArray out = process.out();
    QVERIFY(out.endsWith('\n'));
    QCOMPARE(out.count('\n'), 1);
    const QByteArray token = out.trimmed();
    static const QRegularExpression jwtShape(u"^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"_s);
    QVERIFY2(jwtShape.match(QString::fromLatin1(token)).hasMatch(), token.constData());

    const auto parts = token.split('.');
    const auto header = decodeJwtPart(parts.at(0));
    QCOMPARE(header.value("alg"_L1).toString(), u"HS256"_s);
    const auto payload = decodeJwtPart(parts.at(1));
    QCOMPARE(payload.value("sub"_L1).toString(), u"alice"_s);
    QCOMPARE(payload.value("name"_L1).toString(), u"Alice"_s);
    QCOMPARE(payload.value("channels"_L1).toArray(), QJsonArray{u"room:*"_s});
    const qint64 exp = payload.value("exp"_L1).toInteger();
    QVERIFY2(exp >= before + 3600 - 1 && exp <= after + 3600 + 1, qPrintable(QString::number(exp - before)));

    Server::AuthConfig auth;
    auth.enabled = true;
    auth.secret = Secret.toUtf8();
    QString error;
    const auto verifier = Server::JwtVerifier::create(auth, &error);
    QVERIFY2(verifier, qPrintable(error));
    const auto result = verifier->verify(token);
    QVERIFY2(result.ok(), qPrintable(result.error.reason));
    QCOMPARE(result.claims->subject, u"alice"_s);
    QCOMPARE(result.claims->name, u"Alice"_s);
    QCOMPARE(result.claims->channels, QStringList{u"room:*"_s});
    QVERIFY(Server::channelAllowed(result.claims->channels, u"room:lobby"));
    QVERIFY(!Server::channelAllowed(result.claims->channels, u"dm:bob"));

    // Another secret does not verify it.
    auth.secret = "a-completely-different-secret-0123456789";
    const auto other = Server::JwtVerifier::create(auth, &error);
    QVERIFY(other);
    QVERIFY(!other->verify(token).ok());
}

void tst_ServerCli::tokenWithoutUser()
{
    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    QVERIFY(process.run({u"token"_s, u"--name"_s, u"Alice"_s, u"--auth-secret"_s, Secret}));
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 2);
    QVERIFY(process.out().isEmpty());
    QVERIFY2(process.err().contains("--user"), process.err().constData());

    ServerProcess noKey(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    QVERIFY(noKey.run({u"token"_s, u"--user"_s, u"alice"_s}));
    QCOMPARE(noKey.exitCode(), 2);
    QVERIFY(noKey.out().isEmpty());
    QVERIFY2(noKey.err().contains("AUTH_SECRET"), noKey.err().constData());
}

void tst_ServerCli::gracefulShutdown_data()
{
    QTest::addColumn<int>("signalNumber");
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGINT") << int(SIGINT);
}

void tst_ServerCli::gracefulShutdown()
{
    QFETCH(int, signalNumber);
    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    process.start({u"--port"_s, u"0"_s, u"--bind"_s, u"127.0.0.1"_s, u"--log-format"_s, u"json"_s});

    const auto started = process.waitForStderrLine("\"server.started\"");
    QVERIFY2(started, process.err().constData());
    const auto startedJson = QJsonDocument::fromJson(*started).object();
    const int port = startedJson.value("port"_L1).toInt();
    QVERIFY2(port > 0, started->constData());
    QCOMPARE(startedJson.value("bind"_L1).toString(), u"127.0.0.1"_s);

    RawClient client;
    QUrl url;
    url.setScheme(u"ws"_s);
    url.setHost(u"127.0.0.1"_s);
    url.setPort(port);
    url.setPath(u"/"_s);
    QVERIFY(client.open(url));
    const auto reply = client.join(u"room:cli"_s);
    QVERIFY(reply);
    QCOMPARE(reply->value("status"_L1).toString(), u"ok"_s);
    // The join was answered, so the event loop runs and the signal handlers are installed.

    QCOMPARE(::kill(pid_t(process.pid()), signalNumber), 0);
    QVERIFY(client.waitForDisconnected());
    QCOMPARE(client.closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    QVERIFY(process.waitForExit());
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 0);

    const auto lines = process.stderrLines();
    QVERIFY(!lines.isEmpty());
    QVERIFY2(process.err().endsWith('\n'), process.err().constData());
    QStringList events;
    for (const QByteArray &line : lines) {
        QJsonParseError error;
        const auto doc = QJsonDocument::fromJson(line, &error);
        QVERIFY2(error.error == QJsonParseError::NoError && doc.isObject(), line.constData());
        const auto object = doc.object();
        for (const auto *key : {"time", "level", "category", "event"})
            QVERIFY2(object.value(QLatin1StringView(key)).isString(), line.constData());
        QVERIFY2(QDateTime::fromString(object.value("time"_L1).toString(), Qt::ISODateWithMs).isValid(),
                 line.constData());
        events.append(object.value("event"_L1).toString());
    }
    QVERIFY(events.contains(u"server.started"_s));
    QVERIFY(events.contains(u"server.stopped"_s));
    QVERIFY2(events.indexOf(u"server.started"_s) < events.indexOf(u"server.stopped"_s), qPrintable(events.join(u' ')));
    QVERIFY(process.out().isEmpty());
}

void tst_ServerCli::envFileInWorkingDirectory()
{
    QFile envFile(m_dir->filePath(u".env"_s));
    QVERIFY(envFile.open(QIODevice::WriteOnly));
    envFile.write("# written by tst_servercli\nPORT=0\nLOG_FORMAT=text\nBIND=127.0.0.1\n");
    envFile.close();

    ServerProcess process(QStringLiteral(CONFAB_SERVER_BIN), m_dir->path());
    process.start({});
    const auto started = process.waitForStderrLine("server.started");
    QVERIFY2(started, process.err().constData());
    QVERIFY2(!started->startsWith('{'), started->constData());
    // "<time> INFO  confab.server server.started bind=127.0.0.1 port=N ..."
    static const QRegularExpression textLine(u"^\\S+ INFO +confab\\.server server\\.started .*\\bport=(\\d+)"_s);
    const auto match = textLine.match(QString::fromUtf8(*started));
    QVERIFY2(match.hasMatch(), started->constData());
    const int port = match.captured(1).toInt();
    QVERIFY(port > 0);

    RawClient client;
    QUrl url;
    url.setScheme(u"ws"_s);
    url.setHost(u"127.0.0.1"_s);
    url.setPort(port);
    url.setPath(u"/"_s);
    QVERIFY(client.open(url));
    QVERIFY(client.sync());

    QCOMPARE(::kill(pid_t(process.pid()), SIGTERM), 0);
    QVERIFY(client.waitForDisconnected());
    QCOMPARE(client.closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    QVERIFY(process.waitForExit());
    QCOMPARE(process.exitCode(), 0);
    for (const QByteArray &line : process.stderrLines())
        QVERIFY2(!line.startsWith('{'), line.constData());
    QVERIFY(process.err().contains("server.stopped"));
}

QTEST_GUILESS_MAIN(tst_ServerCli)
#include "tst_servercli.moc"
