#pragma once

#include <QtCore/QLoggingCategory>

namespace Confab {
Q_DECLARE_LOGGING_CATEGORY(lcClient)    // confab.client: connection state, reconnects
Q_DECLARE_LOGGING_CATEGORY(lcClientNet) // confab.client.net: frames (debug only; never at info)
Q_DECLARE_LOGGING_CATEGORY(lcClientChat) // confab.client.chat: queue, sends, catch-up (never bodies)
Q_DECLARE_LOGGING_CATEGORY(lcClientDiscovery) // confab.client.discovery: LAN server list
} // namespace Confab
