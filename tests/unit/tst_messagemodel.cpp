// Confab::MessageModel under QAbstractItemModelTester, driven through its update methods with
// wire-form messages (docs/protocol.md "Messages"): ordering by seq whatever the arrival order,
// de-duplication, own unconfirmed rows and their confirmation, failures, edits, deletions,
// reactions, read receipts, and history pages prepended in one insert.
#include <ConfabClient/messagemodel.h>
#include <ConfabClient/reply.h>

#include <QtCore/QJsonArray>
#include <QtCore/QRandomGenerator>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QtTest>

using namespace Qt::StringLiterals;
using Confab::MessageModel;

namespace {

QString idFor(qint64 seq)
{
    return u"00000000-0000-0000-0000-%1"_s.arg(seq, 12, 10, QLatin1Char('0'));
}

QJsonObject message(qint64 seq, const QString &author = u"bob"_s, const QString &body = {},
                    const QString &clientId = {})
{
    return {{u"id"_s, idFor(seq)},
            {u"seq"_s, seq},
            {u"ts"_s, QDateTime::fromSecsSinceEpoch(1700000000 + seq, Qt::UTC).toString(Qt::ISODateWithMs)},
            {u"client_id"_s, clientId.isEmpty() ? u"c-%1"_s.arg(seq) : clientId},
            {u"author"_s, QJsonObject{{u"id"_s, author}, {u"name"_s, author.toUpper()}}},
            {u"body"_s, body.isEmpty() ? u"message %1"_s.arg(seq) : body},
            {u"mentions"_s, QJsonArray()},
            {u"reactions"_s, QJsonObject()}};
}

QList<qint64> seqs(const MessageModel &model)
{
    QList<qint64> out;
    for (int row = 0; row < model.rowCount(); ++row)
        out.append(model.index(row).data(MessageModel::SeqRole).toLongLong());
    return out;
}

QStringList bodies(const MessageModel &model)
{
    QStringList out;
    for (int row = 0; row < model.rowCount(); ++row)
        out.append(model.index(row).data(MessageModel::BodyRole).toString());
    return out;
}

MessageModel::State stateAt(const MessageModel &model, int row)
{
    return model.index(row).data(MessageModel::StateRole).value<MessageModel::State>();
}

} // namespace

class tst_MessageModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void confirmedRowsAreInSeqOrder();
    void duplicatesAreIgnored();
    void pendingRowsFollowConfirmedOnes();
    void pendingBecomesSentAtItsSeq();
    void ownMessageComingBackConfirmsThePendingRow();
    void ackForASeqAlreadyShownRemovesThePendingRow();
    void failedRetriedAndDiscarded();
    void editsDeletesAndReactions();
    void staleCopyDoesNotUndoNews();
    void readByFollowsReadPositions();
    void ownAndMentionsFollowTheUser();
    void olderPageIsPrependedInOneInsert();
    void clearConfirmedKeepsPendingRows();
    void roleNamesAreQmlSafe();
    void randomSequenceKeepsInvariants();
};

void tst_MessageModel::confirmedRowsAreInSeqOrder()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(model.insertMessage(message(3)));
    QVERIFY(model.insertMessage(message(1)));
    QVERIFY(model.insertMessage(message(5)));
    QVERIFY(model.insertMessage(message(2)));
    QVERIFY(model.insertMessage(message(4)));
    QCOMPARE(seqs(model), (QList<qint64>{1, 2, 3, 4, 5}));
    QCOMPARE(model.confirmedCount(), 5);
    QCOMPARE(model.lowestSeq(), 1);
    QCOMPARE(model.highestSeq(), 5);
    QCOMPARE(model.indexOfSeq(4), 3);
    QCOMPARE(model.indexOfMessage(idFor(2)), 1);
    QCOMPARE(model.indexOfMessage(u"nope"_s), -1);

    const auto row = model.index(0);
    QCOMPARE(row.data(MessageModel::MessageIdRole).toString(), idFor(1));
    QCOMPARE(row.data(MessageModel::AuthorIdRole).toString(), u"bob"_s);
    QCOMPARE(row.data(MessageModel::AuthorNameRole).toString(), u"BOB"_s);
    QCOMPARE(row.data(MessageModel::BodyRole).toString(), u"message 1"_s);
    QCOMPARE(row.data(Qt::DisplayRole).toString(), u"message 1"_s);
    QCOMPARE(row.data(MessageModel::TimestampRole).toDateTime(), QDateTime::fromSecsSinceEpoch(1700000001, Qt::UTC));
    QCOMPARE(stateAt(model, 0), MessageModel::State::Sent);
    QCOMPARE(row.data(MessageModel::EditedRole).toBool(), false);
    QCOMPARE(row.data(MessageModel::DeletedRole).toBool(), false);
    QCOMPARE(model.get(0).value(u"seq"_s).toLongLong(), 1);
    QVERIFY(model.get(99).isEmpty());
}

void tst_MessageModel::duplicatesAreIgnored()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.insertMessages(QJsonArray{message(1), message(2), message(3)}), 3);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QVERIFY(!model.insertMessage(message(2))); // live and then again in a replay
    QCOMPARE(model.insertMessages(QJsonArray{message(3), message(1), message(3)}), 0);
    QCOMPARE(seqs(model), (QList<qint64>{1, 2, 3}));
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(changed.count(), 0); // identical copies change nothing
    // The same message twice in one page, next to a new one.
    QCOMPARE(model.insertMessages(QJsonArray{message(4), message(4)}), 1);
    QCOMPARE(seqs(model), (QList<qint64>{1, 2, 3, 4}));
}

void tst_MessageModel::pendingRowsFollowConfirmedOnes()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    model.insertMessages(QJsonArray{message(1), message(2)});
    const auto now = QDateTime::currentDateTimeUtc();
    model.addPending(u"p-a"_s, u"first"_s, {{u"k"_s, 1}}, now, u"Alice"_s);
    model.addPending(u"p-b"_s, u"second"_s, {}, now);
    model.addPending(u"p-a"_s, u"again"_s, {}, now); // one row per client id
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.confirmedCount(), 2);
    // Others' messages keep arriving before our unconfirmed ones.
    model.insertMessage(message(3));
    QCOMPARE(bodies(model), (QStringList{u"message 1"_s, u"message 2"_s, u"message 3"_s, u"first"_s, u"second"_s}));
    QCOMPARE(stateAt(model, 3), MessageModel::State::Pending);
    const auto pending = model.index(3);
    QCOMPARE(pending.data(MessageModel::SeqRole).toLongLong(), 0);
    QCOMPARE(pending.data(MessageModel::MessageIdRole).toString(), QString());
    QCOMPARE(pending.data(MessageModel::ClientIdRole).toString(), u"p-a"_s);
    QCOMPARE(pending.data(MessageModel::AuthorIdRole).toString(), u"alice"_s);
    QCOMPARE(pending.data(MessageModel::AuthorNameRole).toString(), u"Alice"_s);
    QCOMPARE(pending.data(MessageModel::OwnRole).toBool(), true);
    QCOMPARE(pending.data(MessageModel::MetaRole).toMap().value(u"k"_s).toInt(), 1);
    QCOMPARE(pending.data(MessageModel::ReadByRole).toStringList(), QStringList());
    QCOMPARE(model.indexOfClientId(u"p-b"_s), 4);
    QCOMPARE(model.highestSeq(), 3); // unconfirmed rows have no seq
}

void tst_MessageModel::pendingBecomesSentAtItsSeq()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    model.insertMessages(QJsonArray{message(1), message(2)});
    const auto now = QDateTime::currentDateTimeUtc();
    model.addPending(u"p-a"_s, u"first"_s, {}, now);
    model.addPending(u"p-b"_s, u"second"_s, {}, now);

    // Acked at the end of the confirmed rows: no move needed, the row just changes.
    QSignalSpy moved(&model, &QAbstractItemModel::rowsMoved);
    const QString ts = u"2024-05-01T10:00:00.123Z"_s;
    QVERIFY(model.confirmPending(u"p-a"_s, {{u"id"_s, idFor(3)}, {u"seq"_s, 3}, {u"ts"_s, ts}}));
    QCOMPARE(moved.count(), 0);
    QCOMPARE(seqs(model), (QList<qint64>{1, 2, 3, 0}));
    QCOMPARE(stateAt(model, 2), MessageModel::State::Sent);
    QCOMPARE(model.index(2).data(MessageModel::MessageIdRole).toString(), idFor(3));
    QCOMPARE(model.index(2).data(MessageModel::TimestampRole).toDateTime(), QDateTime::fromString(ts, Qt::ISODateWithMs));
    QCOMPARE(model.index(2).data(MessageModel::OwnRole).toBool(), true);
    QCOMPARE(model.indexOfMessage(idFor(3)), 2);

    // Others' 4 and 5 arrive before the ack of "second", which the server stored as 6 ... but
    // first a message 7 arrives: the confirmed row moves between 5 and 7.
    model.insertMessages(QJsonArray{message(4), message(5), message(7)});
    QCOMPARE(seqs(model), (QList<qint64>{1, 2, 3, 4, 5, 7, 0}));
    QVERIFY(model.confirmPending(u"p-b"_s, {{u"id"_s, idFor(6)}, {u"seq"_s, 6}}));
    QCOMPARE(moved.count(), 1);
    QCOMPARE(seqs(model), (QList<qint64>{1, 2, 3, 4, 5, 6, 7}));
    QCOMPARE(bodies(model).at(5), u"second"_s);
    QCOMPARE(model.confirmedCount(), 7);
    QVERIFY(!model.confirmPending(u"p-b"_s, {{u"seq"_s, 6}})); // nothing unconfirmed any more
}

void tst_MessageModel::ownMessageComingBackConfirmsThePendingRow()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    model.insertMessage(message(1));
    model.addPending(u"p-a"_s, u"mine"_s, {}, QDateTime::currentDateTimeUtc());
    // The ack was lost; the catch-up replays it: one row, Sent.
    QVERIFY(model.insertMessage(message(2, u"alice"_s, u"mine"_s, u"p-a"_s)));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(seqs(model), (QList<qint64>{1, 2}));
    QCOMPARE(stateAt(model, 1), MessageModel::State::Sent);
    QCOMPARE(model.index(1).data(MessageModel::MessageIdRole).toString(), idFor(2));
    QCOMPARE(model.index(1).data(MessageModel::AuthorNameRole).toString(), u"ALICE"_s);
    // Another user's message with the same client id is not ours.
    model.addPending(u"p-b"_s, u"mine too"_s, {}, QDateTime::currentDateTimeUtc());
    model.insertMessage(message(3, u"bob"_s, {}, u"p-b"_s));
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(stateAt(model, 3), MessageModel::State::Pending);
}

void tst_MessageModel::ackForASeqAlreadyShownRemovesThePendingRow()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    model.addPending(u"p-a"_s, u"mine"_s, {}, QDateTime::currentDateTimeUtc());
    // Its copy is already a row (say a page brought it under another client id check).
    model.insertMessage(message(1, u"alice"_s, u"mine"_s, u"other"_s));
    QCOMPARE(model.rowCount(), 2);
    QVERIFY(model.confirmPending(u"p-a"_s, {{u"id"_s, idFor(1)}, {u"seq"_s, 1}}));
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.confirmedCount(), 1);
}

void tst_MessageModel::failedRetriedAndDiscarded()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    model.insertMessage(message(1));
    const auto now = QDateTime::currentDateTimeUtc();
    model.addPending(u"p-a"_s, u"too long"_s, {}, now);
    model.addPending(u"p-b"_s, u"fine"_s, {}, now);
    model.addPending(u"p-c"_s, u"also fine"_s, {}, now);

    model.failPending(u"p-a"_s, u"MESSAGE_TOO_LARGE"_s, u"A message body may have at most 8000 characters"_s);
    QCOMPARE(stateAt(model, 1), MessageModel::State::Failed);
    QCOMPARE(model.index(1).data(MessageModel::ErrorCodeRole).toString(), u"MESSAGE_TOO_LARGE"_s);
    QVERIFY(!model.index(1).data(MessageModel::ErrorMessageRole).toString().isEmpty());

    // A retry goes to the back of the queue, Pending again.
    model.retryPending(u"p-a"_s);
    QCOMPARE(bodies(model), (QStringList{u"message 1"_s, u"fine"_s, u"also fine"_s, u"too long"_s}));
    QCOMPARE(stateAt(model, 3), MessageModel::State::Pending);
    QCOMPARE(model.index(3).data(MessageModel::ErrorCodeRole).toString(), QString());
    model.retryPending(u"p-a"_s); // already last: no move
    QCOMPARE(model.indexOfClientId(u"p-a"_s), 3);

    model.failPending(u"p-b"_s, u"FORBIDDEN"_s, u"no"_s);
    model.removePending(u"p-b"_s);
    QCOMPARE(bodies(model), (QStringList{u"message 1"_s, u"also fine"_s, u"too long"_s}));
    model.removePending(u"unknown"_s);
    model.failPending(u"unknown"_s, u"X"_s, u"x"_s);
    QCOMPARE(model.rowCount(), 3);
}

void tst_MessageModel::editsDeletesAndReactions()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.insertMessages(QJsonArray{message(1), message(2), message(3)});

    auto edited = message(2, u"bob"_s, u"fixed typo"_s);
    edited.insert(u"edited_at"_s, u"2024-05-01T10:00:00.000Z"_s);
    model.applyEdited(edited);
    QCOMPARE(model.index(1).data(MessageModel::BodyRole).toString(), u"fixed typo"_s);
    QCOMPARE(model.index(1).data(MessageModel::EditedRole).toBool(), true);
    QCOMPARE(model.index(1).data(MessageModel::EditedAtRole).toDateTime(),
             QDateTime::fromString(u"2024-05-01T10:00:00.000Z"_s, Qt::ISODateWithMs));
    // An edit's reply has no full message: id, edited_at and the body we sent.
    model.applyEdited({{u"id"_s, idFor(2)}, {u"body"_s, u"fixed again"_s}, {u"edited_at"_s, u"2024-05-01T10:00:05.000Z"_s}});
    QCOMPARE(model.index(1).data(MessageModel::BodyRole).toString(), u"fixed again"_s);
    // An older edit arriving late does not win.
    model.applyEdited({{u"id"_s, idFor(2)}, {u"body"_s, u"stale"_s}, {u"edited_at"_s, u"2024-05-01T09:00:00.000Z"_s}});
    QCOMPARE(model.index(1).data(MessageModel::BodyRole).toString(), u"fixed again"_s);

    model.applyDeleted(idFor(3));
    QCOMPARE(model.index(2).data(MessageModel::DeletedRole).toBool(), true);
    QCOMPARE(model.index(2).data(MessageModel::BodyRole).toString(), QString());
    model.applyEdited({{u"id"_s, idFor(3)}, {u"body"_s, u"zombie"_s}});
    QCOMPARE(model.index(2).data(MessageModel::BodyRole).toString(), QString());

    model.applyReactions(idFor(1), {{u"👍"_s, QJsonArray{u"bob"_s, u"carol"_s}}, {u"🎉"_s, QJsonArray{u"dave"_s}}});
    auto reactions = model.index(0).data(MessageModel::ReactionsRole).toMap();
    QCOMPARE(reactions.size(), 2);
    QCOMPARE(reactions.value(u"👍"_s).toStringList(), (QStringList{u"bob"_s, u"carol"_s}));
    model.applyReactions(idFor(1), {{u"👍"_s, QJsonArray{u"carol"_s}}});
    reactions = model.index(0).data(MessageModel::ReactionsRole).toMap();
    QCOMPARE(reactions.keys(), QStringList{u"👍"_s});
    model.applyReactions(u"unknown"_s, {});
    model.applyDeleted(u"unknown"_s);
}

void tst_MessageModel::staleCopyDoesNotUndoNews()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.insertMessages(QJsonArray{message(1), message(2)});
    model.applyDeleted(idFor(1));
    auto edited = message(2, u"bob"_s, u"new"_s);
    edited.insert(u"edited_at"_s, u"2024-05-01T10:00:00.000Z"_s);
    model.insertMessage(edited);
    QCOMPARE(model.index(1).data(MessageModel::BodyRole).toString(), u"new"_s);
    // A page fetched earlier shows both unchanged: neither the deletion nor the edit is undone.
    model.insertMessages(QJsonArray{message(1), message(2)});
    QCOMPARE(model.index(0).data(MessageModel::DeletedRole).toBool(), true);
    QCOMPARE(model.index(1).data(MessageModel::BodyRole).toString(), u"new"_s);
    // A copy that knows of the deletion applies it.
    auto deleted = message(2);
    deleted.insert(u"deleted"_s, true);
    deleted.insert(u"body"_s, QString());
    model.insertMessage(deleted);
    QCOMPARE(model.index(1).data(MessageModel::DeletedRole).toBool(), true);
}

void tst_MessageModel::readByFollowsReadPositions()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    model.insertMessages(QJsonArray{message(1, u"alice"_s), message(2, u"bob"_s), message(3, u"alice"_s),
                                    message(4, u"carol"_s)});
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.applyRead(u"bob"_s, 3);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.at(0).at(0).value<QModelIndex>().row(), 0);
    QCOMPARE(changed.at(0).at(1).value<QModelIndex>().row(), 2);
    QCOMPARE(model.index(0).data(MessageModel::ReadByRole).toStringList(), QStringList{u"bob"_s});
    QCOMPARE(model.index(1).data(MessageModel::ReadByRole).toStringList(), QStringList()); // bob wrote it
    QCOMPARE(model.index(2).data(MessageModel::ReadByRole).toStringList(), QStringList{u"bob"_s});
    QCOMPARE(model.index(3).data(MessageModel::ReadByRole).toStringList(), QStringList());

    model.applyRead(u"carol"_s, 4);
    model.applyRead(u"alice"_s, 4); // our own position is not a receipt
    QCOMPARE(model.index(0).data(MessageModel::ReadByRole).toStringList(), (QStringList{u"bob"_s, u"carol"_s}));
    QCOMPARE(model.index(3).data(MessageModel::ReadByRole).toStringList(), QStringList());

    changed.clear();
    model.applyRead(u"bob"_s, 2); // positions never move back
    QCOMPARE(changed.count(), 0);
    model.applyRead(u"bob"_s, 4);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.index(3).data(MessageModel::ReadByRole).toStringList(), QStringList{u"bob"_s});
    // Later rows pick up positions known before they arrived.
    model.insertMessage(message(5, u"alice"_s));
    model.applyRead(u"dave"_s, 10);
    QCOMPARE(model.index(4).data(MessageModel::ReadByRole).toStringList(), QStringList{u"dave"_s});
}

void tst_MessageModel::ownAndMentionsFollowTheUser()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    auto mention = message(1, u"bob"_s, u"hi @alice"_s);
    mention.insert(u"mentions"_s, QJsonArray{u"alice"_s});
    model.insertMessages(QJsonArray{mention, message(2, u"alice"_s)});
    QCOMPARE(model.index(0).data(MessageModel::MentionsMeRole).toBool(), false); // user unknown
    QCOMPARE(model.index(1).data(MessageModel::OwnRole).toBool(), false);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setOwnUserId(u"alice"_s);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.ownUserId(), u"alice"_s);
    QCOMPARE(model.index(0).data(MessageModel::MentionsMeRole).toBool(), true);
    QCOMPARE(model.index(0).data(MessageModel::MentionsRole).toStringList(), QStringList{u"alice"_s});
    QCOMPARE(model.index(0).data(MessageModel::OwnRole).toBool(), false);
    QCOMPARE(model.index(1).data(MessageModel::OwnRole).toBool(), true);
    QCOMPARE(model.indexOfClientId(u"c-2"_s), 1); // our own confirmed message
    QCOMPARE(model.indexOfClientId(u"c-1"_s), -1); // bob's client ids are not ours
}

void tst_MessageModel::olderPageIsPrependedInOneInsert()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy hasOlder(&model, &MessageModel::hasOlderChanged);
    QJsonArray latest;
    for (int seq = 48; seq <= 50; ++seq)
        latest.append(message(seq));
    QCOMPARE(model.insertMessages(latest), 3);
    model.setHasOlder(true);
    QCOMPARE(hasOlder.count(), 1);
    QVERIFY(model.hasOlder());

    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QJsonArray older;
    for (int seq = 45; seq <= 48; ++seq) // overlaps the first row we have
        older.append(message(seq));
    QCOMPARE(model.insertMessages(older), 3);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 2);
    QCOMPARE(seqs(model), (QList<qint64>{45, 46, 47, 48, 49, 50}));
    model.setHasOlder(false);
    QVERIFY(!model.hasOlder());

    // A page with a hole in the middle: two inserts, each contiguous.
    inserted.clear();
    model.clearConfirmed();
    model.insertMessages(QJsonArray{message(1), message(5)});
    model.insertMessages(QJsonArray{message(2), message(3), message(6), message(7)});
    QCOMPARE(inserted.count(), 3);
    QCOMPARE(seqs(model), (QList<qint64>{1, 2, 3, 5, 6, 7}));
    QCOMPARE(model.loadOlder()->parent(), static_cast<QObject *>(&model)); // no channel: an error reply
}

void tst_MessageModel::clearConfirmedKeepsPendingRows()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    model.insertMessages(QJsonArray{message(1), message(2)});
    model.addPending(u"p-a"_s, u"mine"_s, {}, QDateTime::currentDateTimeUtc());
    QSignalSpy count(&model, &MessageModel::countChanged);
    model.clearConfirmed();
    QCOMPARE(count.count(), 1);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.confirmedCount(), 0);
    QCOMPARE(model.highestSeq(), 0);
    QCOMPARE(model.indexOfMessage(idFor(1)), -1);
    QCOMPARE(model.index(0).data(MessageModel::ClientIdRole).toString(), u"p-a"_s);
    model.clearConfirmed(); // nothing to clear
    QCOMPARE(count.count(), 1);
}

void tst_MessageModel::roleNamesAreQmlSafe()
{
    MessageModel model;
    const auto names = model.roleNames();
    const QList<QByteArray> expected{"messageId", "seq", "clientId", "authorId", "authorName", "body",
                                     "timestamp", "edited", "editedAt", "deleted", "state", "errorCode",
                                     "errorMessage", "reactions", "readBy", "mentionsMe", "own"};
    for (const auto &name : expected)
        QVERIFY2(names.values().contains(name), name.constData());
    QVERIFY(!names.values().contains("id"));
    QVERIFY(!names.values().contains("text"));
    for (auto it = names.cbegin(); it != names.cend(); ++it)
        QVERIFY(it.key() > Qt::UserRole);
}

void tst_MessageModel::randomSequenceKeepsInvariants()
{
    // Live messages, replays, pages and our own sends interleaved at random: the tester checks
    // every signal; afterwards the rows must be the confirmed seqs in order, each once, then
    // the unconfirmed ones.
    MessageModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setOwnUserId(u"alice"_s);
    QRandomGenerator random(20240501);
    QSet<qint64> confirmed;
    QSet<qint64> unseen; // others' messages the model has not been shown yet
    QStringList pending;
    qint64 nextSeq = 1;
    int nextClient = 0;
    for (int step = 0; step < 2000; ++step) {
        switch (random.bounded(6)) {
        case 0: { // a new message from someone else, delivered now or only later
            const auto seq = nextSeq++;
            if (random.bounded(3) == 0) {
                unseen.insert(seq);
            } else {
                model.insertMessage(message(seq));
                confirmed.insert(seq);
            }
            break;
        }
        case 1: { // a replay or page: a run of seqs, some known, some not, in shuffled order
            QList<qint64> run;
            const qint64 from = 1 + random.bounded(qint64(nextSeq));
            for (qint64 seq = from; seq < std::min(nextSeq, from + 8); ++seq) {
                if (unseen.contains(seq) || (confirmed.contains(seq) && random.bounded(2) == 0))
                    run.append(seq);
            }
            std::shuffle(run.begin(), run.end(), random);
            QJsonArray page;
            for (const auto seq : std::as_const(run)) {
                page.append(message(seq));
                unseen.remove(seq);
                confirmed.insert(seq);
            }
            model.insertMessages(page);
            break;
        }
        case 2: {
            const auto id = u"p-%1"_s.arg(nextClient++);
            model.addPending(id, id, {}, QDateTime::currentDateTimeUtc());
            pending.append(id);
            break;
        }
        case 3: // an ack
            if (!pending.isEmpty()) {
                const auto id = pending.takeAt(random.bounded(int(pending.size())));
                const auto seq = nextSeq++;
                model.confirmPending(id, {{u"id"_s, idFor(seq)}, {u"seq"_s, seq}});
                confirmed.insert(seq);
            }
            break;
        case 4: // a failure and a retry
            if (!pending.isEmpty()) {
                const auto &id = pending.at(random.bounded(int(pending.size())));
                model.failPending(id, u"X"_s, u"x"_s);
                if (random.bounded(2) == 0)
                    model.retryPending(id);
            }
            break;
        case 5: // our message comes back before its ack
            if (!pending.isEmpty()) {
                const auto id = pending.takeFirst();
                const auto seq = nextSeq++;
                model.insertMessage(message(seq, u"alice"_s, id, id));
                confirmed.insert(seq);
            }
            break;
        }
    }
    QCOMPARE(model.confirmedCount(), confirmed.size());
    QCOMPARE(model.rowCount(), confirmed.size() + pending.size());
    auto expected = confirmed.values();
    std::sort(expected.begin(), expected.end());
    QCOMPARE(seqs(model).mid(0, model.confirmedCount()), expected);
    for (int row = model.confirmedCount(); row < model.rowCount(); ++row)
        QVERIFY(pending.contains(model.index(row).data(MessageModel::ClientIdRole).toString()));
}

QTEST_GUILESS_MAIN(tst_MessageModel)
#include "tst_messagemodel.moc"
