#pragma once

#include "ops/serverconfig.h"

#include <QtCore/QDateTime>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>

namespace Confab::Server {

Q_DECLARE_LOGGING_CATEGORY(lcServer)   // confab.server: lifecycle, configuration
Q_DECLARE_LOGGING_CATEGORY(lcNet)      // confab.server.net: accept, handshakes, connection limits
Q_DECLARE_LOGGING_CATEGORY(lcSession)  // confab.server.session: per-connection protocol events
Q_DECLARE_LOGGING_CATEGORY(lcAuth)     // confab.server.auth: token verification outcomes
Q_DECLARE_LOGGING_CATEGORY(lcHttp)     // confab.server.http: REST requests and HTTP limits
Q_DECLARE_LOGGING_CATEGORY(lcDiscovery) // confab.server.discovery: LAN beacons

//! \brief Installs the process-wide message handler: one JSON object per line on stderr
//! (time, level, category, event, fields) or, with LogFormat::Text, a line for people.
//! Messages below \a level are dropped.
void installLogHandler(LogFormat format, QtMsgType level);

//! \brief Logs a structured event: \a event is a short dotted name ("session.open"),
//! \a fields are merged into the JSON line. Never pass tokens or message bodies at info or above.
void logEvent(const QLoggingCategory &category, QtMsgType type, const char *event,
              const QJsonObject &fields = {});

//! \brief One log line as the handler writes it, without the newline. A \a message made by
//! logEvent() is merged into the line as event and fields; any other message becomes
//! event "message" with the text under "message". Exposed for tests.
[[nodiscard]] QByteArray formatLogLine(LogFormat format, QtMsgType type, const char *category,
                                       const QString &message, const QDateTime &time);

} // namespace Confab::Server
