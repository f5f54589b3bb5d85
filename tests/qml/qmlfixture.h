#pragma once

// The QML suites' `fixture` context property (tests/qml and tests/app): one Confab::TestServer
// per QML test function, started and stopped from QML.
#include <ConfabTestServer/testserver.h>

#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QUrl>

#include <memory>

//! The context property `fixture`: a fresh server for each QML test function.
class Fixture : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QUrl serverUrl READ serverUrl NOTIFY serverChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY serverChanged)

public:
    using QObject::QObject;

    //! Replaces the server with a new one: an empty database on a new port. False on failure,
    //! with the reason in errorString.
    Q_INVOKABLE bool startServer()
    {
        m_server = std::make_unique<Confab::TestServer>();
        const bool started = m_server->start();
        m_error = started ? QString() : m_server->errorString();
        Q_EMIT serverChanged();
        return started;
    }
    //! Stops and removes the server. Disconnect the clients first and wait until
    //! connectionCount() is 0: while stop() blocks, this thread's clients cannot answer the
    //! server's close frames, and it would wait out its grace period for them.
    Q_INVOKABLE void stopServer()
    {
        m_server.reset();
        Q_EMIT serverChanged();
    }
    //! Open WebSocket connections to the server (0 without one).
    Q_INVOKABLE int connectionCount() const { return m_server ? m_server->connectionCount() : 0; }

    [[nodiscard]] QUrl serverUrl() const { return m_server ? m_server->url() : QUrl(); }
    [[nodiscard]] QString errorString() const { return m_error; }

Q_SIGNALS:
    void serverChanged();

private:
    std::unique_ptr<Confab::TestServer> m_server;
    QString m_error;
};
