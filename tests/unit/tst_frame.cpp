#include <QtTest/QtTest>
class tst_Frame : public QObject { Q_OBJECT };
QTEST_GUILESS_MAIN(tst_Frame)
#include "tst_frame.moc"
