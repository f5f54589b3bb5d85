#pragma once

#include <ConfabClient/confabclient_export.h>

#include <QtCore/QJsonObject>
#include <QtCore/QObject>
#include <QtCore/QString>

#include <memory>

namespace Confab {

//! \brief The outcome of one request to the server: ok (with the server's response), an error
//! with the server's code, or timed out.
//!
//! A reply finishes exactly once and then emits finished(). By default it deletes itself after
//! that (like a fire-and-forget QNetworkReply with auto-delete): read it in a slot connected to
//! finished(), or call setAutoDelete(false) and delete it yourself.
//! \code
//! auto *reply = channel->send(u"message"_s, QJsonObject{{u"text"_s, u"hi"_s}});
//! connect(reply, &Confab::Reply::finished, this, [reply] {
//!     if (reply->isOk())
//!         qDebug() << "delivered to" << reply->response().value(u"recipientCount"_s).toInt();
//! });
//! \endcode
class CONFABCLIENT_EXPORT Reply : public QObject
{
    Q_OBJECT
    Q_PROPERTY(Status status READ status NOTIFY finished)
    // No "finished" property: in QML it would hide the finished() signal (reply.finished.connect).
    Q_PROPERTY(bool done READ isFinished NOTIFY finished)
    Q_PROPERTY(bool ok READ isOk NOTIFY finished)
    Q_PROPERTY(QString errorCode READ errorCode NOTIFY finished)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY finished)
    Q_PROPERTY(QJsonObject response READ response NOTIFY finished)
    Q_PROPERTY(bool autoDelete READ autoDelete WRITE setAutoDelete NOTIFY autoDeleteChanged)
public:
    //! \brief Where the request is.
    enum class Status {
        Pending,  //!< sent (or buffered while disconnected), no answer yet
        Ok,       //!< the server accepted it; response() holds its answer
        Error,    //!< refused: errorCode() is the server's code (or a client-side one)
        TimedOut, //!< no answer within the client's request timeout
    };
    Q_ENUM(Status)

    ~Reply() override;

    //! \brief Where the request is; it leaves Pending once, with finished().
    [[nodiscard]] Status status() const;
    //! \brief Whether status() is no longer Status::Pending.
    [[nodiscard]] bool isFinished() const { return status() != Status::Pending; }
    //! \brief Whether status() is Status::Ok.
    [[nodiscard]] bool isOk() const { return status() == Status::Ok; }
    //! \brief The server's error code (e.g. `NOT_JOINED`, `MESSAGE_RATE_LIMITED`), or one of the
    //! client's: `TIMEOUT`, `BUFFER_FULL`, `CONNECTION_LOST`, `CLIENT_DISCONNECTED`,
    //! `CHANNEL_REMOVED`, `NOT_SUBSCRIBED`.
    [[nodiscard]] QString errorCode() const;
    //! \brief The error's text for people, or empty.
    [[nodiscard]] QString errorMessage() const;
    //! \brief The `response` object of the server's reply (e.g. `{"recipientCount": 2}`).
    [[nodiscard]] QJsonObject response() const;

    //! \brief Whether the reply deletes itself after finished() (default true).
    [[nodiscard]] bool autoDelete() const;
    //! \brief Whether the reply deletes itself after finished() (default true).
    void setAutoDelete(bool autoDelete);

Q_SIGNALS:
    //! \brief Emitted once, when the status leaves Pending.
    void finished();
    //! \brief autoDelete() changed.
    void autoDeleteChanged();

private:
    explicit Reply(QObject *parent = nullptr);
    friend struct ReplyControl; // the library's own access (reply_p.h)
    void finish(Status status, const QJsonObject &response, const QString &code, const QString &message);

    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Confab
