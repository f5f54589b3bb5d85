#pragma once

#include <QtCore/QString>

#include <chrono>

namespace Confab::Server {

//! \brief The wire dialects a subscriber can speak. Fan-out encodes each delivery once per
//! dialect present in a channel, and hands the same bytes to every subscriber of that dialect.
enum class Dialect : quint8 {
    Native, //!< realtime-message protocol on `/` and `/ws` (docs/protocol.md)
};
inline constexpr int DialectCount = 1;

//! \brief A receiver of hub deliveries: a WebSocket session (later also a backplane relay).
//! The hub knows subscribers only through this interface, never their sockets.
class Subscriber
{
public:
    virtual ~Subscriber() = default;
    [[nodiscard]] virtual quint64 subscriberId() const = 0;
    [[nodiscard]] virtual QString clientId() const = 0; //!< e.g. "client-42", shown by REST
    [[nodiscard]] virtual Dialect dialect() const = 0;
    //! \brief Sends an encoded text frame of \a topic; every recipient gets the same implicitly
    //! shared string. \a messageSeq is the chat seq when the frame is a `message` (0 otherwise),
    //! so a subscriber that is still catching up on \a topic can hold it and drop repeats.
    virtual void deliver(const QString &topic, const QString &frame, qint64 messageSeq) = 0;
};

//! \brief Monotonic time in nanoseconds, for latency measurements.
inline qint64 monotonicNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace Confab::Server
