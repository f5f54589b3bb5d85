// End to end, as a person uses it: the confab app's own QML (Main.qml, all feature modules) runs
// offscreen against a real server (Confab::TestServer); Alice signs in through the sign-in page,
// sends a message by typing it, sees Bob (a C++ Confab::Client) write, type and come online,
// reacts, switches to the dark theme, and goes offline with a message queued. Every step saves a
// screenshot (PNG) under <build>/screenshots/, and any QML warning fails the test function it
// happened in.
//
// Each test function starts from nothing: init() gives it a fresh server, a fresh app window (its
// own settings and queue directory) and Bob's client, not yet connected; the function then sets up
// what its step needs with the helpers below (signInAlice(), aliceWritesAgenda(), bobJoins(),
// seedConversation()). So any one runs alone (`tst_appe2e reactAndSeenBy`) and in any order.
#include <ConfabClient/channel.h>
#include <ConfabClient/client.h>
#include <ConfabClient/messagemodel.h>
#include <ConfabClient/reply.h>
#include <ConfabTestServer/testserver.h>

#include <QtCore/QDir>
#include <QtCore/QJsonObject>
#include <QtCore/QSettings>
#include <QtCore/QTemporaryDir>
#include <QtGui/QImage>
#include <QtQml/QQmlApplicationEngine>
#include <QtQuick/QQuickItem>
#include <QtQuick/QQuickWindow>
#include <QtTest/QtTest>

#include <memory>
#include <utility>

using namespace Qt::StringLiterals;

// Runs a set-up helper, which reports its own failure, and ends the test function if it failed.
#define E2E_SETUP(helper)                                                                          \
    do {                                                                                           \
        helper;                                                                                    \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

namespace {
// The first item under \a root (visual children, depth first) for which \a matches is true.
// Delegates have no QObject parent, so findChildren() does not see them.
template<typename Pred>
QQuickItem *findItem(QQuickItem *root, Pred matches)
{
    if (!root)
        return nullptr;
    if (matches(root))
        return root;
    for (QQuickItem *child : root->childItems()) {
        if (QQuickItem *found = findItem(child, matches))
            return found;
    }
    return nullptr;
}

QStringList g_qmlWarnings;
QtMessageHandler g_previousHandler = nullptr;

void collectWarnings(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    // QML errors and warnings name a .qml file (qrc:/… or file:/…) or come from the qml category.
    const QString category = QString::fromUtf8(context.category ? context.category : "");
    if (type != QtDebugMsg && type != QtInfoMsg
        && (message.contains(u".qml"_s) || category.startsWith(u"qt.qml"_s) || category == u"qml"_s))
        g_qmlWarnings.append(message);
    if (g_previousHandler)
        g_previousHandler(type, context, message);
}
} // namespace

class tst_AppE2E : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void signIn();
    void sendMessage();
    void otherUserWritesAndTypes();
    void reactAndSeenBy();
    void mentionCompletion();
    void directMessageAndSwitcher();
    void privateChannel();
    void darkTheme();
    void offlineQueue();
    void cleanupTestCase();

private:
    QQuickItem *item(const char *objectName) const;
    QObject *chatPage() const { return m_window->property("chatPage").value<QObject *>(); }
    Confab::Channel *aliceChannel() const
    {
        return chatPage() ? chatPage()->property("current").value<Confab::Channel *>() : nullptr;
    }
    void shot(const QString &name);
    void typeText(const QString &text);
    void clickItem(QQuickItem *target);
    Confab::Client *aliceClient() const { return m_window->property("client").value<Confab::Client *>(); }

    // Set-up steps; each is what one earlier step of the story leaves behind.
    void signInAlice();
    void aliceWritesAgenda();
    void bobJoins();
    void seedConversation();

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Confab::TestServer> m_server;
    std::unique_ptr<QQmlApplicationEngine> m_engine;
    QQuickWindow *m_window = nullptr;
    std::unique_ptr<Confab::Client> m_bob;
    Confab::Channel *m_bobRoom = nullptr;
    QString m_shotDir;
};

QQuickItem *tst_AppE2E::item(const char *objectName) const
{
    return m_window->findChild<QQuickItem *>(QString::fromUtf8(objectName));
}

void tst_AppE2E::shot(const QString &name)
{
    // Let bindings, animations and layouts settle, then render a frame.
    QTest::qWait(350);
    const QImage image = m_window->grabWindow();
    QVERIFY(!image.isNull());
    const QString path = QDir(m_shotDir).filePath(name + u".png"_s);
    QVERIFY2(image.save(path), qPrintable(path));
    qInfo("screenshot: %s", qPrintable(path));
}

// QTest::keyClicks() is for widgets only: type into the window's focus item key by key.
void tst_AppE2E::typeText(const QString &text)
{
    for (const QChar c : text)
        QTest::keyClick(m_window, c.toLatin1());
}

void tst_AppE2E::clickItem(QQuickItem *target)
{
    QVERIFY(target);
    QTRY_VERIFY(target->isVisible() && target->isEnabled());
    const QPointF centre = target->mapToScene(QPointF(target->width() / 2, target->height() / 2));
    QTest::mouseClick(m_window, Qt::LeftButton, {}, centre.toPoint());
}

void tst_AppE2E::initTestCase()
{
    g_previousHandler = qInstallMessageHandler(collectWarnings);
    QCoreApplication::setOrganizationName(u"ConfabTest"_s);
    QCoreApplication::setApplicationName(u"confab-e2e"_s);
    m_shotDir = QStringLiteral(CONFAB_SCREENSHOT_DIR);
    QVERIFY(QDir().mkpath(m_shotDir));
}

void tst_AppE2E::init()
{
    g_qmlWarnings.clear();
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    // Settings and queues in this test function's own directory, never the user's, and never
    // what an earlier function remembered (last server, open channels, theme, status).
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_dir->filePath(u"config"_s));

    m_server = std::make_unique<Confab::TestServer>();
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));

    m_engine = std::make_unique<QQmlApplicationEngine>();
    m_engine->addImportPath(u"qrc:/qt/qml"_s);
    m_engine->addImportPath(QStringLiteral(CONFAB_BUILD_QML_IMPORT_DIR));
    const QString server = u"127.0.0.1:%1"_s.arg(m_server->port());
    m_engine->setInitialProperties({
        {u"initialServer"_s, server},
        {u"initialName"_s, u"Alice"_s},
        {u"storagePath"_s, m_dir->filePath(u"alice-queue"_s)},
        {u"autoSignIn"_s, false},
        {u"width"_s, 1180},
        {u"height"_s, 720},
    });
    m_engine->load(QUrl(u"qrc:/qt/qml/Confab/App/Main.qml"_s));
    QCOMPARE(m_engine->rootObjects().size(), 1);
    m_window = qobject_cast<QQuickWindow *>(m_engine->rootObjects().constFirst());
    QVERIFY(m_window);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window));
    m_window->requestActivate();

    m_bob = std::make_unique<Confab::Client>(m_server->url());
    m_bob->setStoragePath(m_dir->filePath(u"bob-queue"_s));
    m_bob->setUser(u"bob"_s, u"Bob"_s);
    m_bobRoom = nullptr;
}

void tst_AppE2E::cleanup()
{
    if (m_bob)
        m_bob->disconnectFromServer();
    m_bobRoom = nullptr;
    m_window = nullptr;
    m_engine.reset();
    m_bob.reset();
    m_server.reset();
    m_dir.reset();
    // Any QML warning fails the function it happened in (its set-up and tear-down included).
    const QStringList warnings = std::exchange(g_qmlWarnings, {});
    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.join(u'\n')));
}

// Alice signs in through the sign-in page and lands in #general, subscribed and present.
void tst_AppE2E::signInAlice()
{
    clickItem(item("signInButton"));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->property("signedIn").toBool(), 10000);
    QTRY_VERIFY(chatPage());
    auto *client = aliceClient();
    QVERIFY(client);
    QTRY_VERIFY_WITH_TIMEOUT(client->isConnected(), 10000);
    QTRY_VERIFY(aliceChannel());
    QCOMPARE(aliceChannel()->topic(), u"room:general"_s);
    QTRY_VERIFY_WITH_TIMEOUT(aliceChannel()->isSubscribed(), 10000);
    QTRY_COMPARE(m_server->presenceKeys(u"room:general"_s), QStringList{u"alice"_s});
}

// Alice's two messages of sendMessage(), sent through her channel (sendMessage() tests typing
// them).
void tst_AppE2E::aliceWritesAgenda()
{
    QVERIFY(aliceChannel());
    Confab::MessageModel *messages = aliceChannel()->messages();
    const int before = messages->rowCount();
    aliceChannel()->sendMessage(u"Hello everyone! Who's around for the release review?"_s);
    aliceChannel()->sendMessage(u"Agenda:\n1. changelog"_s);
    QTRY_COMPARE(messages->rowCount(), before + 2);
    QTRY_COMPARE(messages->get(before + 1).value(u"state"_s).toInt(), int(Confab::MessageModel::State::Sent));
    QCOMPARE(messages->get(before).value(u"state"_s).toInt(), int(Confab::MessageModel::State::Sent));
}

// Bob joins #general (chat, tracked as online) and shows up in Alice's members panel.
void tst_AppE2E::bobJoins()
{
    m_bobRoom = m_bob->channel(u"room:general"_s, {.presenceKey = u"bob"_s, .chat = true});
    m_bobRoom->subscribe();
    m_bobRoom->track({{u"name"_s, u"Bob"_s}, {u"status"_s, u"online"_s}});
    m_bob->connectToServer();
    QTRY_VERIFY_WITH_TIMEOUT(m_bobRoom->isSubscribed(), 10000);
    QQuickItem *members = item("memberList");
    QVERIFY(members);
    QTRY_COMPARE(members->property("count").toInt(), 2);
}

// What signIn() to otherUserWritesAndTypes() leave: Alice signed in, her two messages, Bob in
// #general with a status text and his two messages (a mention of Alice and a link).
void tst_AppE2E::seedConversation()
{
    E2E_SETUP(signInAlice());
    E2E_SETUP(aliceWritesAgenda());
    E2E_SETUP(bobJoins());
    QTRY_COMPARE(m_bobRoom->messages()->rowCount(), 2);
    m_bobRoom->setStatus(u"online"_s, u"Reviewing the changelog"_s);
    m_bobRoom->sendMessage(u"Hi @alice! I'm here, and Carol joins in 5 minutes."_s);
    m_bobRoom->sendMessage(u"Changelog draft: https://example.org/confab/changes"_s);
    QTRY_COMPARE(aliceChannel()->messages()->rowCount(), 4);
    QTRY_COMPARE(m_bob->queuedMessageCount(), 0);
}

void tst_AppE2E::signIn()
{
    QQuickItem *page = item("signInPage");
    QVERIFY(page);
    QTRY_VERIFY(page->isVisible());
    shot(u"01-sign-in"_s);

    E2E_SETUP(signInAlice());
    shot(u"02-signed-in"_s);
}

void tst_AppE2E::sendMessage()
{
    E2E_SETUP(signInAlice());
    QVERIFY(aliceChannel());
    QQuickItem *input = item("composerInput");
    QVERIFY(input);
    input->forceActiveFocus();
    QTRY_VERIFY(input->hasActiveFocus());
    typeText(u"Hello everyone! Who's around for the release review?"_s);
    QTest::keyClick(m_window, Qt::Key_Return);
    Confab::MessageModel *messages = aliceChannel()->messages();
    QTRY_COMPARE(messages->rowCount(), 1);
    QCOMPARE(messages->get(0).value(u"body"_s).toString(), u"Hello everyone! Who's around for the release review?"_s);
    QTRY_COMPARE(messages->get(0).value(u"state"_s).toInt(), int(Confab::MessageModel::State::Sent));
    QCOMPARE(input->property("text").toString(), QString());
    // Shift+Enter adds a line instead of sending.
    typeText(u"Agenda:"_s);
    QTest::keyClick(m_window, Qt::Key_Return, Qt::ShiftModifier);
    typeText(u"1. changelog"_s);
    QCOMPARE(input->property("text").toString(), u"Agenda:\n1. changelog"_s);
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_COMPARE(messages->rowCount(), 2);
    QTRY_COMPARE(messages->get(1).value(u"state"_s).toInt(), int(Confab::MessageModel::State::Sent));
    shot(u"03-message-sent"_s);
}

void tst_AppE2E::otherUserWritesAndTypes()
{
    E2E_SETUP(signInAlice());
    E2E_SETUP(aliceWritesAgenda());
    QVERIFY(aliceChannel());
    // Bob joins and shows up in the members panel (bobJoins()), then with his status.
    E2E_SETUP(bobJoins());
    QTRY_COMPARE(m_bobRoom->messages()->rowCount(), 2);
    m_bobRoom->setStatus(u"online"_s, u"Reviewing the changelog"_s);

    auto *reply = m_bobRoom->sendMessage(u"Hi @alice! I'm here, and Carol joins in 5 minutes."_s);
    QSignalSpy finished(reply, &Confab::Reply::finished);
    QTRY_COMPARE(finished.count(), 1);
    Confab::MessageModel *messages = aliceChannel()->messages();
    QTRY_COMPARE(messages->rowCount(), 3);
    QCOMPARE(messages->get(2).value(u"authorName"_s).toString(), u"Bob"_s);
    QVERIFY(messages->get(2).value(u"mentionsMe"_s).toBool());
    m_bobRoom->sendMessage(u"Changelog draft: https://example.org/confab/changes"_s);
    QTRY_COMPARE(messages->rowCount(), 4);

    m_bobRoom->setTyping(true);
    QQuickItem *typing = item("typingIndicator");
    QVERIFY(typing);
    QTRY_COMPARE(typing->property("text").toString(), u"Bob is typing…"_s);
    shot(u"04-bob-writes-and-types"_s);
    m_bobRoom->setTyping(false);
    QTRY_COMPARE(typing->property("text").toString(), QString());
}

void tst_AppE2E::reactAndSeenBy()
{
    E2E_SETUP(seedConversation());
    QVERIFY(aliceChannel());
    QVERIFY(m_bobRoom);
    Confab::MessageModel *messages = aliceChannel()->messages();
    const QString bobMessage = messages->get(2).value(u"messageId"_s).toString();
    QVERIFY(!bobMessage.isEmpty());
    // Alice hovers Bob's message and clicks 👍 in its action bar.
    auto *view = item("timelineView");
    QVERIFY(view);
    QQuickItem *delegate = nullptr;
    QTRY_VERIFY((delegate = findItem(view, [&](QQuickItem *i) {
        return i->property("messageId").toString() == bobMessage && i->property("showHeader").isValid();
    })));
    QQuickItem *thumbsUp = nullptr;
    QTRY_VERIFY((thumbsUp = [&] {
        // Hover where the delegate is now, on every try: while rows arrive and size themselves the
        // view moves them (top margin, scroll to the end), and a single move could end up beside it.
        QTest::mouseMove(m_window, delegate->mapToScene(QPointF(delegate->width() / 2, 20)).toPoint());
        return findItem(delegate, [](QQuickItem *i) {
            return i->property("glyph").toString() == u"👍"_s && i->isVisible();
        });
    }()));
    clickItem(thumbsUp);
    QTRY_VERIFY(messages->get(2).value(u"reactions"_s).toMap().value(u"👍"_s).toStringList().contains(u"alice"_s));
    // Bob adds his own, and reads everything: "Seen by Bob" on the last message.
    m_bobRoom->addReaction(bobMessage, u"🎉"_s);
    m_bobRoom->addReaction(bobMessage, u"👍"_s);
    QTRY_COMPARE(messages->get(2).value(u"reactions"_s).toMap().value(u"👍"_s).toStringList().size(), 2);
    m_bobRoom->markAllRead();
    QTRY_VERIFY(messages->get(1).value(u"readBy"_s).toStringList().contains(u"bob"_s));
    QTRY_VERIFY(findItem(view, [](QQuickItem *i) {
        return i->objectName() == u"seenBy"_s && i->isVisible()
            && i->property("text").toString().contains(u"Seen by Bob"_s);
    }));
    QTest::mouseMove(m_window, QPoint(5, m_window->height() - 5));
    shot(u"05-reactions-and-seen-by"_s);

    // A click on the highlighted chip removes Alice's reaction again.
    QQuickItem *chip = nullptr;
    QTRY_VERIFY((chip = findItem(delegate, [](QQuickItem *i) {
        return i->property("emoji").toString() == u"👍"_s && i->property("mine").toBool();
    })));
    clickItem(chip);
    QTRY_COMPARE(messages->get(2).value(u"reactions"_s).toMap().value(u"👍"_s).toStringList(), QStringList{u"bob"_s});
}

void tst_AppE2E::mentionCompletion()
{
    E2E_SETUP(seedConversation());
    QVERIFY(aliceChannel());
    QVERIFY(m_bobRoom);
    QQuickItem *input = item("composerInput");
    input->forceActiveFocus();
    typeText(u"Thanks @b"_s);
    QQuickItem *popup = nullptr;
    QTRY_VERIFY((popup = [&]() -> QQuickItem * {
        QObject *p = m_window->findChild<QObject *>(u"completionPopup"_s);
        return p && p->property("visible").toBool() ? qobject_cast<QQuickItem *>(p->property("contentItem").value<QObject *>()) : nullptr;
    }()));
    shot(u"06-mention-completion"_s);
    QTest::keyClick(m_window, Qt::Key_Tab);
    QCOMPARE(input->property("text").toString(), u"Thanks @bob "_s);
    typeText(u"see you there"_s);
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_COMPARE(m_bobRoom->messages()->rowCount(), 5);
    QVERIFY(m_bobRoom->messages()->get(4).value(u"mentionsMe"_s).toBool());
}

void tst_AppE2E::directMessageAndSwitcher()
{
    E2E_SETUP(seedConversation());
    QVERIFY(aliceChannel());
    QVERIFY(m_bobRoom);
    // Bob opens a DM the way the app does: the DM channel, and a `dm` note in Alice's inbox.
    const QString dm = u"dm:alice:bob"_s;
    auto *bobDm = m_bob->channel(dm, {.presenceKey = u"bob"_s, .chat = true});
    bobDm->subscribe();
    bobDm->track({{u"name"_s, u"Bob"_s}, {u"status"_s, u"online"_s}});
    auto *inbox = m_bob->channel(u"user:alice"_s);
    inbox->subscribe();
    inbox->send(u"dm"_s, QJsonObject{{u"topic"_s, dm}, {u"from"_s, u"bob"_s}, {u"name"_s, u"Bob"_s}});
    QTRY_VERIFY_WITH_TIMEOUT(bobDm->isSubscribed(), 10000);
    // Bob writes once Alice's app has opened the DM on his note: a user's first chat join marks a
    // channel read up to its end (docs/protocol.md), so a message committed before that join
    // would arrive already read, without the unread mention this step checks.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->memberCount(dm), 2, 10000);
    bobDm->sendMessage(u"Quick question @alice: can you cut the release tonight?"_s);

    // It shows up in Alice's sidebar with an unread mention, and she gets a notification.
    auto *client = m_window->property("client").value<Confab::Client *>();
    Confab::Channel *aliceDm = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT((aliceDm = [&]() -> Confab::Channel * {
        for (Confab::Channel *c : client->channelList()) {
            if (c->topic() == dm)
                return c;
        }
        return nullptr;
    }()), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(aliceDm->mentionCount(), 1, 10000);
    QObject *notifier = m_window->property("notifier").value<QObject *>();
    QVERIFY(notifier);
    QTRY_VERIFY(notifier->property("count").toInt() >= 1);
    QCOMPARE(notifier->property("lastTitle").toString(), u"Bob mentioned you in Bob"_s);
    shot(u"07-direct-message-arrives"_s);

    // Ctrl+K, "bob", Enter: the DM is shown and read.
    QTest::keyClick(m_window, Qt::Key_K, Qt::ControlModifier);
    QQuickItem *search = item("switcherSearch");
    QVERIFY(search);
    QTRY_VERIFY(search->hasActiveFocus());
    typeText(u"bo"_s);
    shot(u"08-ctrl-k-switcher"_s);
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_COMPARE(aliceChannel()->topic(), dm);
    QQuickItem *input = item("composerInput");
    QTRY_VERIFY(input->hasActiveFocus());
    typeText(u"Sure, after the review."_s);
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_COMPARE(bobDm->messages()->rowCount(), 2);
    bobDm->setStatus(u"dnd"_s, u"Focusing"_s);
    shot(u"09-direct-message"_s);
    // Esc closes the members panel.
    QQuickItem *members = item("membersPanel");
    QVERIFY(members && members->isVisible());
    QTest::keyClick(m_window, Qt::Key_Escape);
    QTRY_VERIFY(!members->isVisible());
    QTest::keyClick(m_window, Qt::Key_M, Qt::ControlModifier | Qt::ShiftModifier);
    QTRY_VERIFY(members->isVisible());
}

void tst_AppE2E::privateChannel()
{
    E2E_SETUP(seedConversation());
    QVERIFY(aliceChannel());
    // Bob's inbox: the app tells invitees about the new channel there.
    auto *bobInbox = m_bob->channel(u"user:bob"_s);
    bobInbox->subscribe();
    QTRY_VERIFY_WITH_TIMEOUT(bobInbox->isSubscribed(), 10000);
    QSignalSpy invites(bobInbox, &Confab::Channel::broadcastReceived);
    QVERIFY(QMetaObject::invokeMethod(chatPage(), "createPrivate",
                                      Q_ARG(QString, u"private:release"_s), Q_ARG(QVariant, QVariant(QStringList{u"bob"_s}))));
    QTRY_COMPARE_WITH_TIMEOUT(aliceChannel()->topic(), u"private:release"_s, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(aliceChannel()->isSubscribed(), 10000);
    QCOMPARE(aliceChannel()->channelType(), u"private"_s);
    QTRY_VERIFY_WITH_TIMEOUT(!invites.isEmpty(), 10000);
    QCOMPARE(invites.constFirst().at(0).toString(), u"invite"_s);
    QCOMPARE(invites.constFirst().at(1).toJsonValue()[u"topic"_s].toString(), u"private:release"_s);
    // Back to #general through the sidebar's channel list.
    QVERIFY(QMetaObject::invokeMethod(chatPage(), "openChannel", Q_ARG(QString, u"room:general"_s), Q_ARG(bool, true)));
    QTRY_COMPARE(aliceChannel()->topic(), u"room:general"_s);
}

void tst_AppE2E::darkTheme()
{
    E2E_SETUP(seedConversation());
    QVERIFY(aliceChannel());
    QVERIFY(m_bobRoom);
    QObject *page = chatPage();
    QVERIFY(QMetaObject::invokeMethod(page, "themeToggleRequested"));
    m_bobRoom->setStatus(u"away"_s, u"Lunch"_s);
    shot(u"10-dark-theme"_s);
    QVERIFY(QMetaObject::invokeMethod(page, "themeToggleRequested"));
}

void tst_AppE2E::offlineQueue()
{
    E2E_SETUP(seedConversation());
    QVERIFY(aliceChannel());
    auto *client = m_window->property("client").value<Confab::Client *>();
    const int bobHad = m_bobRoom->messages()->rowCount();
    m_server->stop();
    QTRY_VERIFY_WITH_TIMEOUT(!client->isConnected(), 10000);
    QQuickItem *input = item("composerInput");
    input->forceActiveFocus();
    typeText(u"Sent while offline: it waits in the queue."_s);
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_COMPARE(client->queuedMessageCount(), 1);
    QQuickItem *banner = item("connectionBanner");
    QVERIFY(banner);
    QTRY_VERIFY(banner->isVisible());
    QTRY_VERIFY(banner->property("message").toString().contains(u"1 message waiting"_s));
    shot(u"11-offline-queued"_s);

    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(client->isConnected(), 40000);
    QTRY_COMPARE_WITH_TIMEOUT(client->queuedMessageCount(), 0, 20000);
    // Bob gets the message that waited in the queue.
    QTRY_COMPARE_WITH_TIMEOUT(m_bobRoom->messages()->rowCount(), bobHad + 1, 40000);
    QTRY_VERIFY(!banner->isVisible());
}

void tst_AppE2E::cleanupTestCase()
{
    qInstallMessageHandler(g_previousHandler);
    // Warnings after the last cleanup(), if any (cleanup() checks each function's own).
    QVERIFY2(g_qmlWarnings.isEmpty(), qPrintable(g_qmlWarnings.join(u'\n')));
}

QTEST_MAIN(tst_AppE2E)
#include "tst_appe2e.moc"
