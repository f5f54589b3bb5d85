#include "ops/logging.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QMutex>

#include <algorithm>
#include <atomic>
#include <cstdio>

using namespace Qt::StringLiterals;

namespace Confab::Server {

Q_LOGGING_CATEGORY(lcServer, "confab.server")
Q_LOGGING_CATEGORY(lcNet, "confab.server.net")
Q_LOGGING_CATEGORY(lcSession, "confab.server.session")
Q_LOGGING_CATEGORY(lcAuth, "confab.server.auth")
Q_LOGGING_CATEGORY(lcHttp, "confab.server.http")
Q_LOGGING_CATEGORY(lcDiscovery, "confab.server.discovery")

namespace {

// logEvent() hands its event to the handler through Qt's logging as text. The record separator
// (a control character) never starts a message anyone writes by hand, so ordinary messages cannot
// be mistaken for structured ones.
constexpr QStringView EventMarker = u"\x1e" "confab-event ";

std::atomic<LogFormat> g_format{LogFormat::Json};
std::atomic<int> g_minSeverity{0};

// QtMsgType's values are not in severity order (QtInfoMsg is 4), so compare these instead.
int severity(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return 0;
    case QtInfoMsg:
        return 1;
    case QtWarningMsg:
        return 2;
    case QtCriticalMsg:
        return 3;
    case QtFatalMsg:
        return 4;
    }
    return 4;
}

QByteArray jsonLevel(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return "debug";
    case QtInfoMsg:
        return "info";
    case QtWarningMsg:
        return "warning";
    case QtCriticalMsg:
        return "error";
    case QtFatalMsg:
        return "fatal";
    }
    return "fatal";
}

// Padded to one width so the text format's columns line up.
QByteArray textLevel(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return "DEBUG";
    case QtInfoMsg:
        return "INFO ";
    case QtWarningMsg:
        return "WARN ";
    case QtCriticalMsg:
        return "ERROR";
    case QtFatalMsg:
        return "FATAL";
    }
    return "FATAL";
}

// QJsonDocument only serialises arrays and objects; wrapping the value is the way to reuse its
// escaping for a single value.
QByteArray toJson(const QJsonValue &value)
{
    const QByteArray array = QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
    return array.mid(1, array.size() - 2);
}

QByteArray toText(const QJsonValue &value)
{
    if (!value.isString())
        return toJson(value);
    const QString text = value.toString();
    const bool needsQuotes = text.isEmpty() || std::any_of(text.begin(), text.end(), [](QChar c) {
        return c.isSpace() || c == u'"' || c == u'=' || c == u'\\' || c.unicode() < 0x20;
    });
    return needsQuotes ? toJson(value) : text.toUtf8();
}

//! \brief A message split into the event name and its fields.
struct Event
{
    QString name;
    QJsonObject fields;
    bool structured = false;
};

Event parseMessage(const QString &message)
{
    if (message.startsWith(EventMarker)) {
        const QJsonObject payload =
            QJsonDocument::fromJson(QStringView(message).sliced(EventMarker.size()).toUtf8()).object();
        if (payload.value(u"event").isString())
            return {payload.value(u"event").toString(), payload.value(u"fields").toObject(), true};
    }
    return {u"message"_s, QJsonObject{{u"message"_s, message}}, false};
}

// Fields may not overwrite the line's own keys; renaming keeps their values visible.
QString fieldKey(const QString &key)
{
    if (key == u"time" || key == u"level" || key == u"category" || key == u"event")
        return u"field_"_s + key;
    return key;
}

QMutex &outputMutex()
{
    static QMutex mutex;
    return mutex;
}

void messageHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (severity(type) < g_minSeverity.load(std::memory_order_relaxed))
        return;
    QByteArray line = formatLogLine(g_format.load(std::memory_order_relaxed), type,
                                    context.category, message, QDateTime::currentDateTimeUtc());
    line += '\n';
    // One write and flush per line under the lock: lines from different threads never interleave,
    // and nothing is lost in a buffer when a fatal message aborts right after.
    const QMutexLocker lock(&outputMutex());
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
}

} // namespace

QByteArray formatLogLine(LogFormat format, QtMsgType type, const char *category,
                         const QString &message, const QDateTime &time)
{
    const QByteArray timestamp = time.toUTC().toString(Qt::ISODateWithMs).toUtf8();
    const QByteArray categoryName = category ? QByteArray(category) : QByteArrayLiteral("default");
    const Event event = parseMessage(message);

    QByteArray line;
    if (format == LogFormat::Json) {
        line = "{\"time\":" + toJson(QString::fromUtf8(timestamp)) + ",\"level\":\"" + jsonLevel(type)
            + "\",\"category\":" + toJson(QString::fromUtf8(categoryName))
            + ",\"event\":" + toJson(event.name);
        for (auto it = event.fields.begin(); it != event.fields.end(); ++it)
            line += ',' + toJson(fieldKey(it.key())) + ':' + toJson(it.value());
        line += '}';
        return line;
    }

    line = timestamp + ' ' + textLevel(type) + ' ' + categoryName + ' ';
    if (!event.structured) {
        // People read the text format: show the message itself, escaped onto one line.
        QString text = message;
        text.replace(u'\n', u"\\n"_s).replace(u'\r', u"\\r"_s);
        return line + text.toUtf8();
    }
    line += event.name.toUtf8();
    for (auto it = event.fields.begin(); it != event.fields.end(); ++it)
        line += ' ' + fieldKey(it.key()).toUtf8() + '=' + toText(it.value());
    return line;
}

void installLogHandler(LogFormat format, QtMsgType level)
{
    g_format.store(format);
    g_minSeverity.store(severity(level));
    qInstallMessageHandler(messageHandler);
}

void logEvent(const QLoggingCategory &category, QtMsgType type, const char *event,
              const QJsonObject &fields)
{
    // Both checks come before serialising, so disabled debug events cost almost nothing.
    if (!category.isEnabled(type) || severity(type) < g_minSeverity.load(std::memory_order_relaxed))
        return;
    QJsonObject payload{{u"event"_s, QString::fromUtf8(event)}};
    if (!fields.isEmpty())
        payload.insert(u"fields"_s, fields);
    const QByteArray text =
        EventMarker.toUtf8() + QJsonDocument(payload).toJson(QJsonDocument::Compact);

    QMessageLogger logger(nullptr, 0, nullptr, category.categoryName());
    switch (type) {
    case QtDebugMsg:
        logger.debug("%s", text.constData());
        break;
    case QtInfoMsg:
        logger.info("%s", text.constData());
        break;
    case QtWarningMsg:
        logger.warning("%s", text.constData());
        break;
    case QtCriticalMsg:
        logger.critical("%s", text.constData());
        break;
    case QtFatalMsg:
        logger.fatal("%s", text.constData());
    }
}

} // namespace Confab::Server
