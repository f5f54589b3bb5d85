#pragma once

// What a Confab::Reply ended with, kept after the reply deleted itself: the client-library
// suites watch replies with this and wait on done().
#include <ConfabClient/reply.h>

#include <QtCore/QJsonObject>
#include <QtCore/QObject>

#include <memory>

namespace Confab::Testing {

struct Outcome
{
    int finishedCount = 0; //!< more than 1 would be a bug: a reply finishes once
    Reply::Status status = Reply::Status::Pending;
    QString code;
    QString message;
    QJsonObject response;
    [[nodiscard]] bool done() const { return finishedCount > 0; }
};
using OutcomePtr = std::shared_ptr<Outcome>;

//! Records \a reply's outcome when it finishes (read it in finished(), as the Reply docs ask).
inline OutcomePtr watch(Reply *reply)
{
    auto outcome = std::make_shared<Outcome>();
    QObject::connect(reply, &Reply::finished, reply, [outcome, reply] {
        ++outcome->finishedCount;
        outcome->status = reply->status();
        outcome->code = reply->errorCode();
        outcome->message = reply->errorMessage();
        outcome->response = reply->response();
    });
    return outcome;
}

} // namespace Confab::Testing
