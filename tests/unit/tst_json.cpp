#include "ConfabProtocol/json.h"
#include "ConfabProtocol/text.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRandomGenerator>
#include "jsonmutation.h"

#include <QtTest/QtTest>

#include <cstring>
#include <memory>

using namespace Confab::Protocol;
using namespace Qt::StringLiterals;
using Json::Grammar;
using Kind = Json::TextDefect::Kind;

//! The JSON and text scanners: raw spans, strictness, UTF-8, surrogates, code points. Also pins
//! down what QJsonDocument (Qt 6.4) itself does, since the scanners must agree with it.
class tst_Json : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    // What QJsonDocument does, which the rest relies on
    void qtDuplicateKeysLastWins();
    void qtKeepsLoneSurrogateUnits();
    void qtRefusesRawInvalidUtf8_data();
    void qtRefusesRawInvalidUtf8();
    void qtLeniencies_data();
    void qtLeniencies();
    void qtDropsByteOrderMarkAtStringStart();

    void wellFormed_data();
    void wellFormed();
    void nestingLimit();
    void everyWhitespacePosition();

    void arrayElement_data();
    void arrayElement();
    void arrayElementsLimit();
    void objectMember_data();
    void objectMember();
    void nestedSpans();

    void decodeString_data();
    void decodeString();
    void quoteMatchesQtForEveryUnit();
    void quote_data();
    void quote();

    void loneSurrogate_data();
    void loneSurrogate();
    void textDefect_data();
    void textDefect();
    void textDefectReasons();

    void invalidUtf8_data();
    void invalidUtf8();
    void invalidUtf8AgreesWithQt();
    void controlCharactersAreCategoryCc();
    void codePointCount_data();
    void codePointCount();

    void truncationsNeverOverread();
    void randomMutations();
};

namespace {

// A copy of \a bytes in a heap block of exactly that size. QByteArray keeps a NUL after its
// data, which would hide a read one past the end from AddressSanitizer; this does not.
class Exact
{
public:
    explicit Exact(QByteArrayView bytes)
        : m_size(bytes.size())
        , m_data(new char[std::size_t(bytes.size())])
    {
        if (m_size > 0)
            std::memcpy(m_data.get(), bytes.data(), std::size_t(m_size));
    }
    [[nodiscard]] QByteArrayView view() const { return QByteArrayView(m_data.get(), m_size); }

private:
    qsizetype m_size;
    std::unique_ptr<char[]> m_data;
};

QString units(std::initializer_list<char16_t> list)
{
    QString s;
    for (const char16_t u : list)
        s += QChar(u);
    return s;
}

// What QJsonDocument makes of \a value when it is an element of an array.
std::optional<QJsonValue> qtValue(QByteArrayView value)
{
    QJsonParseError error;
    const auto doc = QJsonDocument::fromJson('[' + value.toByteArray() + ']', &error);
    if (error.error != QJsonParseError::NoError || !doc.isArray() || doc.array().size() != 1)
        return std::nullopt;
    return doc.array().at(0);
}

bool qtAccepts(QByteArrayView json)
{
    QJsonParseError error;
    QJsonDocument::fromJson(json.toByteArray(), &error);
    return error.error == QJsonParseError::NoError;
}

bool isJsonSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Calls every scanner on \a bytes, to be run under AddressSanitizer / UBSan.
void exerciseAll(QByteArrayView bytes)
{
    (void)Json::isWellFormed(bytes, Grammar::Strict);
    (void)Json::isWellFormed(bytes, Grammar::Qt);
    (void)Json::arrayElements(bytes);
    (void)Json::arrayElement(bytes, 4);
    (void)Json::objectMember(bytes, u"payload");
    (void)Json::objectMember(bytes, units({0xd800, u'b'}));
    (void)Json::decodeString(bytes);
    (void)Json::findLoneSurrogateEscape(bytes);
    (void)Json::findTextDefect(bytes);
    (void)Text::findInvalidUtf8(bytes);
}

const QList<QByteArray> &seedDocuments()
{
    static const QList<QByteArray> seeds{
        R"([null,"7","room:lobby","broadcast",{"type":"broadcast","event":"message","payload":{"user":"A","isTyping":true}}])"_ba,
        R"(["1","5","room:x","chan:join",{"config":{"broadcast":{"self":false,"ack":true},"presence":{"key":"u"}},"access_token":"eyJ.a.b"}])"_ba,
        R"([null,null,"room:ñ","e",{"s":"q\"uo\\te \/ \b\f\n\r\t \u00e9 \uD83D\uDE00 😀","n":[0,-0,1.0,1e3,-2.5E-7,12345678901234567890],"o":{"a":{},"b":[],"c":null,"d":false}}])"_ba,
        "{ \"a\" : [ 1 , 2 ] , \"a\" : { \"b\" : \"\\ud800\" } , \"\\u0061\" : \"last\" }"_ba,
        "\xef\xbb\xbf[\"caf\xc3\xa9\", \"\xe2\x82\xac\", \"\xf0\x9f\x98\x80\"]"_ba,
        R"([[[[[[[[[[{"deep":[[[[["x"]]]]]}]]]]]]]]]])"_ba,
    };
    return seeds;
}

} // namespace

// ---- What QJsonDocument does --------------------------------------------------------------

void tst_Json::qtDuplicateKeysLastWins()
{
    // objectMember() relies on this: the value QJsonDocument keeps for a repeated key is the last.
    QCOMPARE(QJsonDocument::fromJson(R"({"a":1,"a":2})").object().value(u"a"_s).toInt(), 2);
    QCOMPARE(QJsonDocument::fromJson(R"({"a":1,"b":0,"a":2,"a":3})").object().value(u"a"_s).toInt(), 3);
    // Keys are compared unescaped, and the lenient escape `\a` is the key "a" too.
    QCOMPARE(QJsonDocument::fromJson(R"({"a":1,"\u0061":2})").object().value(u"a"_s).toInt(), 2);
    QCOMPARE(QJsonDocument::fromJson(R"({"a":1,"\a":2})").object().value(u"a"_s).toInt(), 2);
    QCOMPARE(QJsonDocument::fromJson(R"({"a":1,"b":0,"a":2})").object().size(), 2);
}

void tst_Json::qtKeepsLoneSurrogateUnits()
{
    // Qt 6.4 keeps an escaped lone surrogate as that single unit: the next character is not
    // swallowed into a pair. The string is still not text: converting it to UTF-8 (logs, the
    // database, a re-encoded frame's consumers) turns the unit into '?', altering the body.
    const auto doc = QJsonDocument::fromJson(R"(["a\ud800b","a\udc00","\ud800\ud800"])");
    QCOMPARE(doc.array().at(0).toString(), units({u'a', 0xd800, u'b'}));
    QCOMPARE(doc.array().at(1).toString(), units({u'a', 0xdc00}));
    QCOMPARE(doc.array().at(2).toString(), units({0xd800, 0xd800}));
    QVERIFY(!QStringView(doc.array().at(0).toString()).isValidUtf16());
    QCOMPARE(doc.array().at(0).toString().toUtf8(), "a?b"_ba);
    // The key "\ud800b" and the key U+10062 (d800 dc62) stay two keys.
    QCOMPARE(QJsonDocument::fromJson("{\"\\ud800b\":1,\"\xf0\x90\x81\xa2\":2}").object().size(), 2);
}

void tst_Json::qtRefusesRawInvalidUtf8_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::newRow("FF") << "[\"\xff\"]"_ba;
    QTest::newRow("encoded surrogate ED A0 80") << "[\"\xed\xa0\x80\"]"_ba;
    QTest::newRow("encoded low surrogate ED B0 80") << "[\"\xed\xb0\x80\"]"_ba;
    QTest::newRow("overlong C0 AF") << "[\"\xc0\xaf\"]"_ba;
    QTest::newRow("overlong E0 80 80") << "[\"\xe0\x80\x80\"]"_ba;
    QTest::newRow("overlong F0 80 80 80") << "[\"\xf0\x80\x80\x80\"]"_ba;
    QTest::newRow("above U+10FFFF") << "[\"\xf4\x90\x80\x80\"]"_ba;
    QTest::newRow("truncated C3") << "[\"\xc3\"]"_ba;
    QTest::newRow("stray continuation") << "[\"\x80\"]"_ba;
    QTest::newRow("in a key") << "{\"\xff\":1}"_ba;
}

void tst_Json::qtRefusesRawInvalidUtf8()
{
    QFETCH(QByteArray, json);
    QJsonParseError error;
    QJsonDocument::fromJson(json, &error);
    QCOMPARE(error.error, QJsonParseError::IllegalUTF8String);
    QCOMPARE(Json::findTextDefect(json)->kind, Kind::InvalidUtf8);
}

void tst_Json::qtLeniencies_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("kind"); // what findTextDefect() reports
    QTest::addColumn<QString>("qtReads");

    // Each is accepted by QJsonDocument but is not RFC 8259 JSON: relayed as bytes, a strict
    // parser (a browser's JSON.parse) would refuse the whole frame.
    QTest::newRow("unknown escape \\q") << R"(["\q"])"_ba << int(Kind::InvalidEscape) << u"q"_s;
    QTest::newRow("escaped apostrophe") << R"(["\'"])"_ba << int(Kind::InvalidEscape) << u"'"_s;
    QTest::newRow("escaped control byte") << "[\"\\\x01\"]"_ba << int(Kind::InvalidEscape) << u"\u0001"_s;
    // Invalid UTF-8 after a backslash gets past QJsonDocument's UTF-8 check: read as Latin-1.
    QTest::newRow("backslash FF") << "[\"\\\xff\"]"_ba << int(Kind::InvalidUtf8) << u"\u00ff"_s;
    QTest::newRow("backslash C3") << "[\"\\\xc3\"]"_ba << int(Kind::InvalidUtf8) << u"\u00c3"_s;
    QTest::newRow("raw NUL") << QByteArray("[\"a\0b\"]", 7) << int(Kind::ControlCharacter) << u"a\u0000b"_s;
    QTest::newRow("raw tab") << "[\"a\tb\"]"_ba << int(Kind::ControlCharacter) << u"a\tb"_s;
    QTest::newRow("raw newline") << "[\"a\nb\"]"_ba << int(Kind::ControlCharacter) << u"a\nb"_s;
    QTest::newRow("raw ESC") << "[\"\x1b[31m\"]"_ba << int(Kind::ControlCharacter) << u"\u001b[31m"_s;
    QTest::newRow("1.") << "[1.]"_ba << int(Kind::InvalidNumber) << QString();
    QTest::newRow(".5") << "[.5]"_ba << int(Kind::InvalidNumber) << QString();
    QTest::newRow("1.e5") << "[1.e5]"_ba << int(Kind::InvalidNumber) << QString();
    QTest::newRow("-0.") << "[-0.]"_ba << int(Kind::InvalidNumber) << QString();
}

void tst_Json::qtLeniencies()
{
    QFETCH(QByteArray, json);
    QFETCH(int, kind);
    QFETCH(QString, qtReads);

    QJsonParseError error;
    const auto doc = QJsonDocument::fromJson(json, &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    if (!qtReads.isNull())
        QCOMPARE(doc.array().at(0).toString(), qtReads);
    QVERIFY(Json::isWellFormed(json, Grammar::Qt));
    QVERIFY(!Json::isWellFormed(json, Grammar::Strict));
    const auto defect = Json::findTextDefect(json);
    QVERIFY(defect);
    QCOMPARE(int(defect->kind), kind);
    // The spans still work on it: the server can point at the offending element.
    QCOMPARE(Json::arrayElement(json, 0).has_value(), true);
}

void tst_Json::qtDropsByteOrderMarkAtStringStart()
{
    // A raw U+FEFF right after a string's opening quote vanishes; anywhere else it stays, and
    // escaped it stays too.
    const auto doc = QJsonDocument::fromJson("[\"\xef\xbb\xbfroom\",\"a\xef\xbb\xbf\",\"\\ufeffroom\"]");
    QCOMPARE(doc.array().at(0).toString(), u"room"_s);
    QCOMPARE(doc.array().at(1).toString(), u"a\ufeff"_s);
    QCOMPARE(doc.array().at(2).toString(), u"\ufeffroom"_s);
    // Keys: "\xef\xbb\xbfa" reads as "a" but is not merged with "a", and value("a") then depends
    // on the order. QJsonDocument contradicts itself, so such text is refused before use.
    const auto keys = QJsonDocument::fromJson("{\"\xef\xbb\xbf" "a\":1,\"a\":2}").object();
    QCOMPARE(keys.size(), 2);
    QCOMPARE(keys.keys(), (QStringList{u"a"_s, u"a"_s}));
    QCOMPARE(QJsonDocument::fromJson("{\"a\":1,\"\xef\xbb\xbf" "a\":2}").object().value(u"a"_s).toInt(), 1);
    // And QJsonDocument's own output does not read back: toJson() writes U+FEFF raw.
    const QString text = u"\ufeffroom"_s;
    const QByteArray written = QJsonDocument(QJsonArray{text}).toJson(QJsonDocument::Compact);
    QCOMPARE(QJsonDocument::fromJson(written).array().at(0).toString(), u"room"_s);

    // What this library does about it:
    QCOMPARE(Json::findTextDefect("{\"a\":\"\xef\xbb\xbfroom\"}"), (Json::TextDefect{Kind::ByteOrderMark, 6}));
    QCOMPARE(Json::findTextDefect("{\"\xef\xbb\xbf" "a\":1}"), (Json::TextDefect{Kind::ByteOrderMark, 2}));
    QCOMPARE(Json::findTextDefect("{\"a\":\"a\xef\xbb\xbf\"}"), std::nullopt);
    QCOMPARE(Json::findTextDefect(R"({"a":"\ufeffroom"})"), std::nullopt);
    QVERIFY(Json::isWellFormed("[\"\xef\xbb\xbf\"]", Grammar::Qt));
    QCOMPARE(Json::decodeString("\"\xef\xbb\xbfroom\""), u"room"_s);
    QCOMPARE(Json::decodeString("\"\xef\xbb\xbf\xef\xbb\xbf\""), u"\ufeff"_s);
    QCOMPARE(Json::objectMember("{\"\xef\xbb\xbf" "a\":1}", u"a"), std::nullopt);
    QCOMPARE(Json::objectMember("{\"\xef\xbb\xbf" "a\":1}", u"\ufeffa"), std::nullopt);
    QCOMPARE(Json::objectMember("{\"\xef\xbb\xbf" "a\":1,\"a\":2}", u"a")->toByteArray(), "2"_ba);
    QCOMPARE(Json::quote(text), "\"\\ufeffroom\""_ba);
    QCOMPARE(Json::decodeString(Json::quote(text)), text);
}

// ---- Structure ----------------------------------------------------------------------------

void tst_Json::wellFormed_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<bool>("strict");
    QTest::addColumn<bool>("qt");       // Grammar::Qt
    QTest::addColumn<bool>("document"); // what QJsonDocument::fromJson says

    auto row = [](const char *name, const QByteArray &json, bool strict, bool qt, bool document) {
        QTest::newRow(name) << json << strict << qt << document;
    };
    row("empty array", "[]", true, true, true);
    row("empty object", "{}", true, true, true);
    row("array", R"([1,"a",true,false,null,{},[]])", true, true, true);
    row("whitespace everywhere", " \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n2 \t\r\n} \t\r\n] \t\r\n",
        true, true, true);
    // Top-level scalars: JSON (RFC 8259), but QJsonDocument wants a container.
    row("number", "1", true, false, false);
    row("string", R"("x")", true, false, false);
    row("null", "null", true, false, false);
    row("nothing", "", false, false, false);
    row("only whitespace", "  \n", false, false, false);
    // Structure
    row("unclosed array", "[", false, false, false);
    row("closer only", "]", false, false, false);
    row("unclosed after value", "[1", false, false, false);
    row("unclosed after comma", "[1,", false, false, false);
    row("trailing comma", "[1,]", false, false, false);
    row("leading comma", "[,1]", false, false, false);
    row("missing comma", "[1 2]", false, false, false);
    row("two strings touching", R"(["a""b"])", false, false, false);
    row("extra closer", "[1]]", false, false, false);
    row("garbage after", "[1] x", false, false, false);
    row("NUL after", QByteArray("[1]\0", 4), false, false, false);
    row("two documents", "[]{}", false, false, false);
    row("mismatched [}", "[}", false, false, false);
    row("mismatched {]", "{]", false, false, false);
    row("mismatched nested", "[{]}", false, false, false);
    row("key without value", R"({"a"})", false, false, false);
    row("key with colon, no value", R"({"a":})", false, false, false);
    row("object trailing comma", R"({"a":1,})", false, false, false);
    row("number key", "{1:2}", false, false, false);
    row("missing colon", R"({"a" 1})", false, false, false);
    row("array value in key position", R"({["a"]:1})", false, false, false);
    // Numbers
    row("integers", "[0,-0,7,-12,12345678901234567890123]", true, true, true);
    row("fractions and exponents", "[1.5,-0.0e-0,1E+2,2e-7,1.25E10]", true, true, true);
    row("beyond double", "[1e400]", true, true, false); // structure only: QJsonDocument refuses
    row("leading zero", "[01]", false, false, false);
    row("negative leading zero", "[-01]", false, false, false);
    row("trailing dot", "[1.]", false, true, true);
    row("leading dot", "[.5]", false, true, true);
    row("dot then exponent", "[1.e5]", false, true, true);
    row("minus alone", "[-]", false, false, false);
    row("dot alone", "[.]", false, false, false);
    row("plus sign", "[+1]", false, false, false);
    row("exponent without digits", "[1e]", false, false, false);
    row("exponent sign without digits", "[1e+]", false, false, false);
    row("hex", "[0x1]", false, false, false);
    row("two dots", "[1.5.5]", false, false, false);
    row("NaN", "[NaN]", false, false, false);
    row("Infinity", "[Infinity]", false, false, false);
    // Literals
    row("short literal", "[tru]", false, false, false);
    row("long literal", "[truex]", false, false, false);
    row("literal then number", "[1true]", false, false, false);
    row("nul", "[nul]", false, false, false);
    row("uppercase literal", "[TRUE]", false, false, false);
    // Strings
    row("all standard escapes", R"(["\"\\\/\b\f\n\r\t\u00e9\u00E9\uD83D\uDE00"])", true, true, true);
    row("unknown escape", R"(["\q"])", false, true, true);
    row("short \\u", R"(["\u12"])", false, false, false);
    row("non-hex \\u", R"(["\u00g0"])", false, false, false);
    row("escaped closing quote", R"(["\"])", false, false, false);
    row("raw control character", "[\"a\x01" "b\"]", false, true, true);
    row("raw NUL", QByteArray("[\"a\0b\"]", 7), false, true, true);
    row("raw DEL", "[\"a\x7f" "b\"]", true, true, true);
    row("raw UTF-8", "[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]", true, true, true);
    row("lone surrogate escape", R"(["\ud800"])", true, true, true); // syntax allows it
    // Whitespace is only space, tab, LF, CR
    row("vertical tab", "[1,\v2]", false, false, false);
    row("form feed", "[1,\f2]", false, false, false);
    row("no-break space", "[1,\xc2\xa0" "2]", false, false, false);
    // Byte order mark: skipped at the very start only
    row("BOM", "\xef\xbb\xbf[]", true, true, true);
    row("space before BOM", " \xef\xbb\xbf[]", false, false, false);
    row("BOM inside", "[\xef\xbb\xbf]", false, false, false);
    row("two BOMs", "\xef\xbb\xbf\xef\xbb\xbf[]", false, false, false);
}

void tst_Json::wellFormed()
{
    QFETCH(QByteArray, json);
    QFETCH(bool, strict);
    QFETCH(bool, qt);
    QFETCH(bool, document);

    QCOMPARE(qtAccepts(json), document); // the table describes Qt 6.4 as it is
    const Exact exact(json);
    QCOMPARE(Json::isWellFormed(exact.view(), Grammar::Strict), strict);
    QCOMPARE(Json::isWellFormed(exact.view(), Grammar::Qt), qt);
    QCOMPARE(!Json::findTextDefect(exact.view()), strict && !Json::findLoneSurrogateEscape(json));
}

void tst_Json::nestingLimit()
{
    for (const int depth : {1023, 1024}) {
        const QByteArray arrays = QByteArray(depth, '[') + QByteArray(depth, ']');
        QVERIFY(qtAccepts(arrays));
        QVERIFY(Json::isWellFormed(arrays, Grammar::Qt));
        QVERIFY(Json::isWellFormed(arrays, Grammar::Strict));
        QVERIFY(!Json::findTextDefect(arrays));
        QCOMPARE(Json::arrayElement(arrays, 0)->size(), 2 * (depth - 1));

        const QByteArray objects = QByteArray("{\"a\":").repeated(depth - 1) + "[]" + QByteArray(depth - 1, '}');
        QVERIFY(qtAccepts(objects));
        QVERIFY(Json::isWellFormed(objects, Grammar::Qt));
    }
    // One more level: refused like QJsonDocument refuses it, at the opener that goes too deep.
    const QByteArray tooDeep = QByteArray(1025, '[') + QByteArray(1025, ']');
    QVERIFY(!qtAccepts(tooDeep));
    QVERIFY(!Json::isWellFormed(tooDeep, Grammar::Qt));
    QCOMPARE(Json::findTextDefect(tooDeep), (Json::TextDefect{Kind::TooDeep, 1024}));
    QCOMPARE(Json::arrayElement(tooDeep, 0), std::nullopt);
    const QByteArray mixed = QByteArray("[{\"a\":").repeated(513) + '1' + QByteArray("}]").repeated(513);
    QVERIFY(!qtAccepts(mixed));
    QVERIFY(!Json::isWellFormed(mixed, Grammar::Qt));

    // Far deeper, and unbalanced: no recursion, so no stack overflow; just refused.
    for (const qsizetype n : {100'000, 2'000'000}) {
        const QByteArray openers(n, '[');
        QVERIFY(!Json::isWellFormed(openers, Grammar::Qt));
        QCOMPARE(Json::findTextDefect(openers)->kind, Kind::TooDeep);
        QCOMPARE(Json::findLoneSurrogateEscape(openers), std::nullopt);
        const QByteArray balanced = openers + QByteArray(n, ']');
        QCOMPARE(Json::arrayElements(balanced), std::nullopt);
    }
}

void tst_Json::everyWhitespacePosition()
{
    // Each whitespace byte at each position of a document: where QJsonDocument still accepts the
    // text, the spans must still be the values it reads; where it does not, neither may we.
    const QByteArray base = R"({"a":[1,"x y",{"b":null}],"payload":{"k":-1.5e3},"c":true})"_ba;
    for (const char ws : {' ', '\t', '\n', '\r'}) {
        for (qsizetype at = 0; at <= base.size(); ++at) {
            QByteArray text = base;
            text.insert(at, ws);
            const QString where = u"byte %1 at %2"_s.arg(int(ws)).arg(at);
            QJsonParseError error;
            const auto doc = QJsonDocument::fromJson(text, &error);
            const bool accepted = error.error == QJsonParseError::NoError;
            QVERIFY2(Json::isWellFormed(text, Grammar::Qt) == accepted, qPrintable(where));
            // A space is text inside a string and a separator elsewhere; other whitespace
            // inside a string is a raw control character, which only Grammar::Qt allows.
            if (ws == ' ')
                QVERIFY2(Json::isWellFormed(text, Grammar::Strict) == accepted, qPrintable(where));
            if (!accepted) {
                QVERIFY2(!Json::objectMember(text, u"payload"), qPrintable(where));
                continue;
            }
            for (const auto &key : doc.object().keys()) {
                const auto span = Json::objectMember(text, key);
                QVERIFY2(span, qPrintable(where));
                QVERIFY2(!isJsonSpace(span->front()) && !isJsonSpace(span->back()), qPrintable(where));
                QVERIFY2(qtValue(*span) == doc.object().value(key), qPrintable(where));
            }
        }
    }
}

// ---- Spans --------------------------------------------------------------------------------

void tst_Json::arrayElement_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("index");
    QTest::addColumn<bool>("found");
    QTest::addColumn<QByteArray>("expected");

    const QByteArray frame =
        R"([null,"7","room:lobby","broadcast",{"type":"broadcast","event":"x","payload":{"user":"A","isTyping":true}}])";
    QTest::newRow("frame join_ref") << frame << 0 << true << "null"_ba;
    QTest::newRow("frame ref") << frame << 1 << true << R"("7")"_ba;
    QTest::newRow("frame topic") << frame << 2 << true << R"("room:lobby")"_ba;
    QTest::newRow("frame payload") << frame << 4 << true
                                   << R"({"type":"broadcast","event":"x","payload":{"user":"A","isTyping":true}})"_ba;
    QTest::newRow("past the end") << frame << 5 << false << QByteArray();
    QTest::newRow("negative index") << frame << -1 << false << QByteArray();

    const QByteArray spaced = " [ 1 ,\t\"a\" ,\n{\"k\" : [1, 2]}\r, null ] ";
    QTest::newRow("spaced 0") << spaced << 0 << true << "1"_ba;
    QTest::newRow("spaced 1") << spaced << 1 << true << R"("a")"_ba;
    QTest::newRow("spaced 2, inner spacing kept") << spaced << 2 << true << R"({"k" : [1, 2]})"_ba;
    QTest::newRow("spaced 3") << spaced << 3 << true << "null"_ba;

    // Numbers come out exactly as written: nothing is parsed or reformatted.
    const QByteArray numbers = "[1.0,1e3,12345678901234567890,-0,1E+2,-2.50]";
    const QList<QByteArray> spelled{"1.0", "1e3", "12345678901234567890", "-0", "1E+2", "-2.50"};
    for (int i = 0; i < spelled.size(); ++i)
        QTest::addRow("number %s", spelled[i].constData()) << numbers << i << true << spelled[i];

    // Strings that look like structure
    const QByteArray tricky = R"(["a\"]b","\\","\\\"","]",",","{","\u005d"])";
    const QList<QByteArray> strings{R"("a\"]b")", R"("\\")", R"("\\\"")", R"("]")", R"(",")", R"("{")", R"("\u005d")"};
    for (int i = 0; i < strings.size(); ++i)
        QTest::addRow("tricky string %d", i) << tricky << i << true << strings[i];

    QTest::newRow("nested containers") << "[[],[[]],{},{\"a\":[{}]}]"_ba << 3 << true << R"({"a":[{}]})"_ba;
    QTest::newRow("after BOM") << "\xef\xbb\xbf[\"x\"]"_ba << 0 << true << R"("x")"_ba;
    QTest::newRow("empty array") << "[]"_ba << 0 << false << QByteArray();
    QTest::newRow("object is not an array") << R"({"0":1})"_ba << 0 << false << QByteArray();
    QTest::newRow("unterminated") << "[1,2"_ba << 0 << false << QByteArray();
    // The whole text must be well-formed, even after the element asked for.
    QTest::newRow("garbage after") << "[1,2]x"_ba << 0 << false << QByteArray();
    QTest::newRow("broken later element") << "[1,{\"a\"}]"_ba << 0 << false << QByteArray();
    // Grammar::Qt: anything QJsonDocument read can be spanned.
    QTest::newRow("lenient number") << "[1.,.5]"_ba << 1 << true << ".5"_ba;
    QTest::newRow("lenient escape") << R"(["\q",2])"_ba << 0 << true << R"("\q")"_ba;
}

void tst_Json::arrayElement()
{
    QFETCH(QByteArray, json);
    QFETCH(int, index);
    QFETCH(bool, found);
    QFETCH(QByteArray, expected);

    const Exact exact(json);
    const auto span = Json::arrayElement(exact.view(), index);
    QCOMPARE(span.has_value(), found);
    if (!found)
        return;
    QCOMPARE(span->toByteArray(), expected);
    // A view into the text itself, not a copy.
    QVERIFY(span->data() >= exact.view().data() && span->data() + span->size() <= exact.view().data() + exact.view().size());
    if (qtAccepts(json))
        QCOMPARE(qtValue(*span), QJsonDocument::fromJson(json).array().at(index));
}

void tst_Json::arrayElementsLimit()
{
    const QByteArray json = "[0,1,2,3,4,5,6]";
    QCOMPARE(Json::arrayElements(json)->size(), 7);
    QCOMPARE(Json::arrayElements(json, 5)->size(), 5);
    QCOMPARE(Json::arrayElements(json, 0)->size(), 0);
    QCOMPARE(Json::arrayElements(json, 100)->size(), 7);
    QCOMPARE(Json::arrayElements(json, 3)->at(2).toByteArray(), "2"_ba);
    QCOMPARE(Json::arrayElements("[]")->size(), 0);
    // The limit bounds the result, not the check: a defect past it still fails.
    QCOMPARE(Json::arrayElements("[0,1,2,}", 1), std::nullopt);
}

void tst_Json::objectMember_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("key");
    QTest::addColumn<bool>("found");
    QTest::addColumn<QByteArray>("expected");

    const QString payload = u"payload"_s;
    QTest::newRow("broadcast payload")
        << R"({"type":"broadcast","event":"x","payload":{"user":"A","isTyping":true}})"_ba << payload << true
        << R"({"user":"A","isTyping":true})"_ba;
    QTest::newRow("spacing kept inside, dropped around")
        << "{ \"payload\" :\n {\"b\":1,  \"a\":2} \t}"_ba << payload << true << R"({"b":1,  "a":2})"_ba;
    QTest::newRow("numbers as written") << R"({"payload":[1.0,1e3,12345678901234567890]})"_ba << payload << true
                                        << "[1.0,1e3,12345678901234567890]"_ba;
    QTest::newRow("escapes as written") << R"({"payload":"\u00e9\/\ud83d\ude00"})"_ba << payload << true
                                        << R"("\u00e9\/\ud83d\ude00")"_ba;
    QTest::newRow("scalar value") << R"({"payload":false})"_ba << payload << true << "false"_ba;
    QTest::newRow("string with structure") << R"({"payload":"}{][,:\""})"_ba << payload << true
                                           << R"("}{][,:\"")"_ba;

    // Duplicates: the last one, as QJsonDocument keeps it
    QTest::newRow("duplicate") << R"({"a":1,"a":2})"_ba << u"a"_s << true << "2"_ba;
    QTest::newRow("three times, apart") << R"({"a":1,"b":0,"a":{"x":1},"c":0,"a":[3]})"_ba << u"a"_s << true
                                        << "[3]"_ba;
    QTest::newRow("duplicate spelled escaped") << R"({"a":1,"\u0061":2})"_ba << u"a"_s << true << "2"_ba;
    QTest::newRow("escaped first") << R"({"\u0061":1,"a":2})"_ba << u"a"_s << true << "2"_ba;
    QTest::newRow("duplicate by lenient escape") << R"({"a":1,"\a":2})"_ba << u"a"_s << true << "2"_ba;
    QTest::newRow("duplicate é, raw and escaped") << "{\"\xc3\xa9\":1,\"\\u00E9\":2}"_ba << u"é"_s << true << "2"_ba;
    QTest::newRow("other key between") << R"({"payload":1,"payloads":2})"_ba << payload << true << "1"_ba;

    // Matching
    QTest::newRow("empty key") << R"({"":5})"_ba << QString() << true << "5"_ba;
    QTest::newRow("escaped quote in key") << R"({"a\"b":1})"_ba << u"a\"b"_s << true << "1"_ba;
    QTest::newRow("pair escape") << R"({"\ud83d\ude00":1})"_ba << u"😀"_s << true << "1"_ba;
    QTest::newRow("raw emoji") << "{\"\xf0\x9f\x98\x80\":1}"_ba << u"😀"_s << true << "1"_ba;
    QTest::newRow("lone surrogate key") << R"({"\ud800b":1})"_ba << units({0xd800, u'b'}) << true << "1"_ba;
    QTest::newRow("lone surrogate key is not U+10062")
        << R"({"\ud800b":1})"_ba << units({0xd800, 0xdc62}) << false << QByteArray();
    QTest::newRow("case matters") << R"({"Payload":1})"_ba << payload << false << QByteArray();
    QTest::newRow("prefix is not a match") << R"({"pay":1})"_ba << payload << false << QByteArray();

    // Only the top level
    QTest::newRow("nested only") << R"({"x":{"payload":1}})"_ba << payload << false << QByteArray();
    QTest::newRow("in a string only") << R"({"x":"\"payload\":1"})"_ba << payload << false << QByteArray();
    QTest::newRow("in an array only") << R"({"x":["payload",1]})"_ba << payload << false << QByteArray();
    QTest::newRow("absent") << R"({"a":1})"_ba << payload << false << QByteArray();
    QTest::newRow("empty object") << "{}"_ba << payload << false << QByteArray();
    QTest::newRow("array") << R"(["payload",1])"_ba << payload << false << QByteArray();
    QTest::newRow("malformed") << R"({"payload":1)"_ba << payload << false << QByteArray();
    QTest::newRow("malformed after the member") << R"({"payload":1,"b"})"_ba << payload << false << QByteArray();
}

void tst_Json::objectMember()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, key);
    QFETCH(bool, found);
    QFETCH(QByteArray, expected);

    const Exact exact(json);
    const auto span = Json::objectMember(exact.view(), key);
    QCOMPARE(span.has_value(), found);
    if (found)
        QCOMPARE(span->toByteArray(), expected);
    // Whatever the span, it is the value QJsonDocument reports for that key.
    if (qtAccepts(json)) {
        const auto value = QJsonDocument::fromJson(json).object().value(key);
        QCOMPARE(found, !value.isUndefined());
        if (found)
            QCOMPARE(qtValue(*span), value);
    }
}

void tst_Json::nestedSpans()
{
    // Spans compose: a frame's element 4, then its "payload" member, without copying.
    const QByteArray frame =
        R"(["1","5","room:x","broadcast",{"type":"broadcast","event":"x","payload":{"n":1.0,"big":12345678901234567890,"z":1,"a":2}}])";
    const auto element = Json::arrayElement(frame, 4);
    QVERIFY(element);
    const auto inner = Json::objectMember(*element, u"payload");
    QVERIFY(inner);
    QCOMPARE(inner->toByteArray(), R"({"n":1.0,"big":12345678901234567890,"z":1,"a":2})"_ba);
    QCOMPARE(Json::objectMember(*inner, u"big")->toByteArray(), "12345678901234567890"_ba);
    QCOMPARE(Json::objectMember(*element, u"event")->toByteArray(), R"("x")"_ba);
    QCOMPARE(Json::decodeString(*Json::objectMember(*element, u"event")), u"x"_s);
}

// ---- Strings ------------------------------------------------------------------------------

void tst_Json::decodeString_data()
{
    QTest::addColumn<QByteArray>("literal");
    QTest::addColumn<bool>("valid");

    const QList<QByteArray> valid{
        R"("")", R"("plain")", R"("\"\\\/\b\f\n\r\t")", R"("\u00e9\u00E9")", R"("\ud83d\ude00")",
        R"("a\ud800b")", R"("\udc00")", R"("\u0000")", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", R"("\q\'")",
        "\"\\\xff\"", "\"\\\x01\"", QByteArray("\"a\0b\"", 5), R"("mixed \u0041 raw é")",
    };
    for (const auto &l : valid)
        QTest::addRow("%s", l.toHex().constData()) << l << true;
    QTest::newRow("empty") << QByteArray() << false;
    QTest::newRow("one quote") << R"(")"_ba << false;
    QTest::newRow("unterminated") << R"("abc)"_ba << false;
    QTest::newRow("no opening quote") << R"(abc")"_ba << false;
    QTest::newRow("text after the string") << R"("a"b")"_ba << false;
    QTest::newRow("escaped closing quote") << R"("a\")"_ba << false;
    QTest::newRow("backslash at the end") << R"("a\)"_ba << false;
    QTest::newRow("short \\u") << R"("\u12")"_ba << false;
    QTest::newRow("short \\u at the end") << R"("\u12)"_ba << false;
    QTest::newRow("raw FF") << "\"\xff\""_ba << false;
    QTest::newRow("backslash, then a cut sequence") << "\"\\\xc3\xa9\""_ba << false;
    QTest::newRow("U+FEFF first (dropped)") << "\"\xef\xbb\xbfroom\""_ba << true;
    QTest::newRow("U+FEFF only (dropped)") << "\"\xef\xbb\xbf\""_ba << true;
    QTest::newRow("U+FEFF later (kept)") << "\"a\xef\xbb\xbf\""_ba << true;
    QTest::newRow("U+FEFF after an escape (kept)") << "\"\\n\xef\xbb\xbf\""_ba << true;
    QTest::newRow("U+FEFF first, unterminated") << "\"\xef\xbb\xbf"_ba << false;
}

void tst_Json::decodeString()
{
    QFETCH(QByteArray, literal);
    QFETCH(bool, valid);

    const Exact exact(literal);
    const auto decoded = Json::decodeString(exact.view());
    QCOMPARE(decoded.has_value(), valid);
    // Exactly what QJsonDocument reads from the same literal.
    const auto qt = qtValue(literal);
    QCOMPARE(qt.has_value(), valid);
    if (valid)
        QCOMPARE(*decoded, qt->toString());
}

void tst_Json::quoteMatchesQtForEveryUnit()
{
    // Every UTF-16 unit alone (lone surrogates included), then every one after a high surrogate.
    for (char32_t u = 0; u <= 0xffff; ++u) {
        if (u == 0xfeff)
            continue; // escaped on purpose (qtDropsByteOrderMarkAtStringStart)
        const QString s{QChar(char16_t(u))};
        const QByteArray qt = QJsonDocument(QJsonArray{s}).toJson(QJsonDocument::Compact);
        const QByteArray ours = '[' + Json::quote(s) + ']';
        if (ours != qt)
            QFAIL(qPrintable(u"U+%1: %2 != %3"_s.arg(uint(u), 4, 16, QChar(u'0')).arg(QString::fromLatin1(ours.toHex()), QString::fromLatin1(qt.toHex()))));
        QCOMPARE(Json::decodeString(Json::quote(s)), s);
    }
    for (char32_t u = 0; u <= 0xffff; u += 7) {
        if (u == 0xfeff)
            continue;
        const QString s = units({0xd83d, char16_t(u), u'x'});
        QCOMPARE('[' + Json::quote(s) + ']', QJsonDocument(QJsonArray{s}).toJson(QJsonDocument::Compact));
    }
}

void tst_Json::quote_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("empty") << QString() << R"("")"_ba;
    QTest::newRow("plain") << u"room:lobby"_s << R"("room:lobby")"_ba;
    QTest::newRow("quote and backslash") << u"a\"b\\c"_s << R"("a\"b\\c")"_ba;
    QTest::newRow("short escapes") << u"\b\f\n\r\t"_s << R"("\b\f\n\r\t")"_ba;
    QTest::newRow("other controls") << u"\u0000\u001f\u001b"_s << R"("\u0000\u001f\u001b")"_ba;
    QTest::newRow("DEL and C1 raw") << u"\u007f\u0085"_s << "\"\x7f\xc2\x85\""_ba;
    QTest::newRow("slash not escaped") << u"a/b"_s << R"("a/b")"_ba;
    QTest::newRow("non-ASCII as UTF-8") << u"é€😀"_s << "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""_ba;
    QTest::newRow("lone high") << units({u'a', 0xd800, u'b'}) << R"("a\ud800b")"_ba;
    QTest::newRow("lone low") << units({0xdc00}) << R"("\udc00")"_ba;
    QTest::newRow("high at the end") << units({u'x', 0xdbff}) << R"("x\udbff")"_ba;
    QTest::newRow("reversed pair") << units({0xde00, 0xd83d}) << R"("\ude00\ud83d")"_ba;
    QTest::newRow("high, high, low") << units({0xd83d, 0xd83d, 0xde00}) << "\"\\ud83d\xf0\x9f\x98\x80\""_ba;
    QTest::newRow("U+FEFF escaped") << u"\ufeffa\ufeff"_s << R"("\ufeffa\ufeff")"_ba;
}

void tst_Json::quote()
{
    QFETCH(QString, text);
    QFETCH(QByteArray, expected);
    QCOMPARE(Json::quote(text), expected);
    if (!text.contains(QChar(0xfeff)))
        QCOMPARE('[' + Json::quote(text) + ']', QJsonDocument(QJsonArray{text}).toJson(QJsonDocument::Compact));
    // Reads back as the text, with QJsonDocument and with decodeString().
    QCOMPARE(QJsonDocument::fromJson('[' + Json::quote(text) + ']').array().at(0).toString(), text);
    QCOMPARE(Json::decodeString(Json::quote(text)), text);
    // Always relayable: valid UTF-8, strict JSON (lone surrogates aside, which quote() keeps)
    QCOMPARE(Text::findInvalidUtf8(Json::quote(text)), std::nullopt);
    QVERIFY(Json::isWellFormed(Json::quote(text), Grammar::Strict));
}

// ---- Defects ------------------------------------------------------------------------------

void tst_Json::loneSurrogate_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("offset"); // -1: none

    QTest::newRow("none") << R"(["plain",{"k":"v"}])"_ba << -1;
    QTest::newRow("pair") << R"(["\ud83d\ude00"])"_ba << -1;
    QTest::newRow("pair, uppercase") << R"(["\uD83D\uDE00"])"_ba << -1;
    QTest::newRow("pair, mixed case") << R"(["\uD83d\udE00"])"_ba << -1;
    QTest::newRow("highest pair") << R"(["\udbff\udfff"])"_ba << -1;
    QTest::newRow("just below surrogates") << R"(["\ud7ff"])"_ba << -1;
    QTest::newRow("just above surrogates") << R"(["\ue000\uffff"])"_ba << -1;
    QTest::newRow("high then letter") << R"(["a\ud800b"])"_ba << 3;
    QTest::newRow("high uppercase") << R"(["a\uD800b"])"_ba << 3;
    QTest::newRow("high at string end") << R"(["a\ud800"])"_ba << 3;
    QTest::newRow("low alone") << R"(["\udc00"])"_ba << 2;
    QTest::newRow("low uppercase") << R"(["\uDFFF"])"_ba << 2;
    QTest::newRow("high high") << R"(["\ud800\ud800"])"_ba << 2;
    QTest::newRow("high high low") << R"(["\ud800\ud83d\ude00"])"_ba << 2;
    QTest::newRow("pair then low") << R"(["\ud83d\ude00\ude00"])"_ba << 14;
    QTest::newRow("high then \\n") << R"(["\ud800\n"])"_ba << 2;
    QTest::newRow("high then \\u0041") << R"(["\ud800\u0041"])"_ba << 2;
    QTest::newRow("high then raw low bytes") << "[\"\\ud800\xed\xb0\x80\"]"_ba << 2;
    QTest::newRow("high, split by a string end") << R"(["\ud800","\udc00"])"_ba << 2;
    QTest::newRow("in a key") << R"({"\ud800":1})"_ba << 2;
    QTest::newRow("in a nested key") << R"({"a":{"b\udc00":1}})"_ba << 8;
    QTest::newRow("escaped backslash, not an escape") << R"(["\\ud800"])"_ba << -1;
    QTest::newRow("escaped backslash, then an escape") << R"(["\\\ud800"])"_ba << 4;
    QTest::newRow("after an escaped quote") << R"(["\"\ud800"])"_ba << 4;
    QTest::newRow("uppercase \\U is no \\u escape") << R"(["\Ud800"])"_ba << -1;
    QTest::newRow("outside any string") << R"([1] \ud800)"_ba << -1;
    QTest::newRow("bare string") << R"("\ud800")"_ba << 1;
    // Text cut short: never read past the end.
    QTest::newRow("cut after high") << R"(["\ud800)"_ba << 2;
    QTest::newRow("cut inside the low") << R"(["\ud83d\ude0)"_ba << 2;
    QTest::newRow("cut after the second backslash") << R"(["\ud83d\)"_ba << 2;
    QTest::newRow("cut after \\u of the low") << R"(["\ud83d\u)"_ba << 2;
    QTest::newRow("cut inside the high") << R"(["\ud8)"_ba << -1;
    QTest::newRow("cut after a backslash") << R"(["\)"_ba << -1;
    QTest::newRow("empty") << QByteArray() << -1;
}

void tst_Json::loneSurrogate()
{
    QFETCH(QByteArray, json);
    QFETCH(int, offset);

    const Exact exact(json);
    const auto found = Json::findLoneSurrogateEscape(exact.view());
    QCOMPARE(found, offset < 0 ? std::nullopt : std::optional<qsizetype>(offset));
    if (found && Json::isWellFormed(json, Grammar::Strict) && !Text::findInvalidUtf8(json))
        QCOMPARE(Json::findTextDefect(json), (Json::TextDefect{Kind::LoneSurrogate, *found}));
}

void tst_Json::textDefect_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("kind"); // -1: none
    QTest::addColumn<int>("offset");

    QTest::newRow("object") << R"({"a":1})"_ba << -1 << 0;
    QTest::newRow("string element") << R"("room:x")"_ba << -1 << 0;
    QTest::newRow("null element") << "null"_ba << -1 << 0;
    QTest::newRow("paired escape") << R"({"a":"\ud83d\ude00"})"_ba << -1 << 0;
    QTest::newRow("DEL raw") << "{\"a\":\"\x7f\"}"_ba << -1 << 0;
    QTest::newRow("raw FF") << "{\"a\":\"\xff\"}"_ba << int(Kind::InvalidUtf8) << 6;
    QTest::newRow("encoded surrogate") << "{\"a\":\"x\xed\xa0\x80\"}"_ba << int(Kind::InvalidUtf8) << 7;
    QTest::newRow("overlong") << "{\"a\":\"\xc0\xaf\"}"_ba << int(Kind::InvalidUtf8) << 6;
    QTest::newRow("backslash FF") << "{\"a\":\"\\\xff\"}"_ba << int(Kind::InvalidUtf8) << 7;
    QTest::newRow("raw control") << "{\"a\":\"x\x01\"}"_ba << int(Kind::ControlCharacter) << 7;
    QTest::newRow("raw control in a key") << "{\"\x1b\":1}"_ba << int(Kind::ControlCharacter) << 2;
    QTest::newRow("unknown escape") << R"({"a":"\q"})"_ba << int(Kind::InvalidEscape) << 6;
    QTest::newRow("short \\u") << R"({"a":"\u12"})"_ba << int(Kind::InvalidEscape) << 6;
    QTest::newRow("trailing dot") << R"({"a":1.})"_ba << int(Kind::InvalidNumber) << 5;
    QTest::newRow("leading dot") << R"({"a":.5})"_ba << int(Kind::InvalidNumber) << 5;
    QTest::newRow("leading zero") << R"({"a":01})"_ba << int(Kind::Syntax) << 6;
    QTest::newRow("unterminated") << R"({"a":1)"_ba << int(Kind::Syntax) << 6;
    QTest::newRow("empty") << QByteArray() << int(Kind::Syntax) << 0;
    QTest::newRow("lone surrogate") << R"({"a":"\ud800"})"_ba << int(Kind::LoneSurrogate) << 6;
    QTest::newRow("raw U+FEFF first in a value") << "{\"a\":\"\xef\xbb\xbfx\"}"_ba << int(Kind::ByteOrderMark) << 6;
    QTest::newRow("raw U+FEFF first in a key") << "{\"\xef\xbb\xbf\":1}"_ba << int(Kind::ByteOrderMark) << 2;
    QTest::newRow("raw U+FEFF later") << "{\"a\":\"x\xef\xbb\xbf\"}"_ba << -1 << 0;
    QTest::newRow("BOM before the document") << "\xef\xbb\xbf{\"a\":1}"_ba << -1 << 0;
    // UTF-8 comes first, then the grammar, then surrogates.
    QTest::newRow("invalid UTF-8 and lone surrogate") << "{\"a\":\"\\ud800\",\"b\":\"\xff\"}"_ba
                                                      << int(Kind::InvalidUtf8) << 19;
    QTest::newRow("bad escape and lone surrogate") << R"({"a":"\ud800","b":"\q"})"_ba << int(Kind::InvalidEscape)
                                                   << 19;
}

void tst_Json::textDefect()
{
    QFETCH(QByteArray, json);
    QFETCH(int, kind);
    QFETCH(int, offset);

    const Exact exact(json);
    const auto defect = Json::findTextDefect(exact.view());
    if (kind < 0) {
        QCOMPARE(defect, std::nullopt);
        return;
    }
    QVERIFY(defect);
    QCOMPARE(int(defect->kind), kind);
    QCOMPARE(defect->offset, offset);
    QVERIFY(defect->reason().contains(QString::number(offset)));
}

void tst_Json::textDefectReasons()
{
    for (const auto kind : {Kind::InvalidUtf8, Kind::Syntax, Kind::ControlCharacter, Kind::InvalidEscape,
                            Kind::InvalidNumber, Kind::TooDeep, Kind::ByteOrderMark, Kind::LoneSurrogate}) {
        const auto reason = Json::TextDefect{kind, 123}.reason();
        QVERIFY(reason.contains(u"123"_s));
        QVERIFY(reason.size() > 10);
    }
}

// ---- Text ---------------------------------------------------------------------------------

void tst_Json::invalidUtf8_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("offset"); // -1: valid

    QTest::newRow("empty") << QByteArray() << -1;
    QTest::newRow("ASCII with NUL") << QByteArray("a\0b", 3) << -1;
    QTest::newRow("2-byte min U+0080") << "\xc2\x80"_ba << -1;
    QTest::newRow("3-byte min U+0800") << "\xe0\xa0\x80"_ba << -1;
    QTest::newRow("last before surrogates") << "\xed\x9f\xbf"_ba << -1;
    QTest::newRow("first after surrogates") << "\xee\x80\x80"_ba << -1;
    QTest::newRow("U+FFFF") << "\xef\xbf\xbf"_ba << -1;
    QTest::newRow("4-byte min U+10000") << "\xf0\x90\x80\x80"_ba << -1;
    QTest::newRow("U+10FFFF") << "\xf4\x8f\xbf\xbf"_ba << -1;
    QTest::newRow("stray continuation") << "ab\x80"_ba << 2;
    QTest::newRow("overlong C0") << "\xc0\x80"_ba << 0;
    QTest::newRow("overlong C1") << "x\xc1\xbf"_ba << 1;
    QTest::newRow("overlong E0") << "\xe0\x9f\xbf"_ba << 0;
    QTest::newRow("overlong F0") << "\xf0\x8f\xbf\xbf"_ba << 0;
    QTest::newRow("encoded high surrogate") << "\xed\xa0\x80"_ba << 0;
    QTest::newRow("encoded low surrogate") << "a\xed\xbf\xbf"_ba << 1;
    QTest::newRow("encoded pair (CESU-8)") << "\xed\xa0\xbd\xed\xb8\x80"_ba << 0;
    QTest::newRow("above U+10FFFF") << "\xf4\x90\x80\x80"_ba << 0;
    QTest::newRow("F5") << "\xf5\x80\x80\x80"_ba << 0;
    QTest::newRow("FE") << "\xfe"_ba << 0;
    QTest::newRow("FF") << "\xff"_ba << 0;
    QTest::newRow("cut 2-byte") << "ok\xc3"_ba << 2;
    QTest::newRow("cut 3-byte") << "\xe2\x82"_ba << 0;
    QTest::newRow("cut 4-byte") << "\xf0\x9f\x98"_ba << 0;
    QTest::newRow("bad third byte") << "\xe2\x82\x41"_ba << 0;
    QTest::newRow("bad fourth byte") << "\xf0\x9f\x98\xc0"_ba << 0;
    QTest::newRow("after valid text") << "caf\xc3\xa9 \xe9t\xe9"_ba << 6;
}

void tst_Json::invalidUtf8()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, offset);
    const Exact exact(bytes);
    QCOMPARE(Text::findInvalidUtf8(exact.view()), offset < 0 ? std::nullopt : std::optional<qsizetype>(offset));
    QCOMPARE(QByteArrayView(bytes).isValidUtf8(), offset < 0);
}

void tst_Json::invalidUtf8AgreesWithQt()
{
    // Every sequence of one and two bytes, every three-byte sequence with a multi-byte lead, and
    // the four-byte leads with boundary continuation bytes.
    for (int a = 0; a < 256; ++a) {
        for (int b = 0; b < 256; ++b) {
            const char two[] = {char(a), char(b)};
            const Exact exact(QByteArrayView(two, 2));
            if (Text::findInvalidUtf8(exact.view()).has_value() == exact.view().isValidUtf8())
                QFAIL(qPrintable(u"%1 %2"_s.arg(a, 2, 16).arg(b, 2, 16)));
        }
    }
    for (int a = 0xe0; a <= 0xef; ++a) {
        for (int b = 0; b < 256; ++b) {
            for (int c = 0; c < 256; ++c) {
                const char three[] = {char(a), char(b), char(c)};
                const QByteArrayView view(three, 3);
                if (Text::findInvalidUtf8(view).has_value() == view.isValidUtf8())
                    QFAIL(qPrintable(u"%1 %2 %3"_s.arg(a, 2, 16).arg(b, 2, 16).arg(c, 2, 16)));
            }
        }
    }
    for (int a = 0xf0; a <= 0xff; ++a) {
        for (int b = 0; b < 256; ++b) {
            for (const int c : {0x00, 0x7f, 0x80, 0xbf, 0xc0}) {
                for (const int d : {0x41, 0x80, 0xbf, 0xc0}) {
                    const char four[] = {char(a), char(b), char(c), char(d)};
                    const QByteArrayView view(four, 4);
                    if (Text::findInvalidUtf8(view).has_value() == view.isValidUtf8())
                        QFAIL(qPrintable(u"%1 %2 %3 %4"_s.arg(a, 2, 16).arg(b, 2, 16).arg(c, 2, 16).arg(d, 2, 16)));
                }
            }
        }
    }
}

void tst_Json::controlCharactersAreCategoryCc()
{
    for (char32_t c = 0; c <= 0x10ffff; ++c) {
        const bool cc = QChar::category(c) == QChar::Other_Control;
        if (Text::isControlCharacter(c) != cc)
            QFAIL(qPrintable(u"U+%1"_s.arg(uint(c), 4, 16, QChar(u'0'))));
    }
    QVERIFY(Text::hasControlCharacter(u"a\u009bb"_s)); // C1 CSI, a terminal escape by itself
    QVERIFY(Text::hasControlCharacter(u"\u001b[2J"_s));
    QVERIFY(!Text::hasControlCharacter(u"room:ü😀\u00a0\u202e"_s)); // format characters are not Cc
    QVERIFY(!Text::hasControlCharacter(QString()));
}

void tst_Json::codePointCount_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<qsizetype>("count");

    QTest::newRow("empty") << QString() << qsizetype(0);
    QTest::newRow("ASCII") << u"hello"_s << qsizetype(5);
    QTest::newRow("BMP") << u"héllo €"_s << qsizetype(7);
    QTest::newRow("one emoji") << u"😀"_s << qsizetype(1);
    QTest::newRow("emoji and text") << u"a😀b😀"_s << qsizetype(4);
    QTest::newRow("flag: two code points") << u"🇩🇪"_s << qsizetype(2);
    QTest::newRow("combining mark") << u"e\u0301"_s << qsizetype(2);
    QTest::newRow("lone high") << units({u'a', 0xd800, u'b'}) << qsizetype(3);
    QTest::newRow("lone high at the end") << units({u'a', 0xd800}) << qsizetype(2);
    QTest::newRow("lone low") << units({0xdc00, u'x'}) << qsizetype(2);
    QTest::newRow("reversed pair") << units({0xde00, 0xd83d}) << qsizetype(2);
    QTest::newRow("high high low") << units({0xd83d, 0xd83d, 0xde00}) << qsizetype(2);
    QTest::newRow("5000 emoji") << u"😀"_s.repeated(5000) << qsizetype(5000);
    QTest::newRow("8000 ASCII") << QString(8000, u'x') << qsizetype(8000);
}

void tst_Json::codePointCount()
{
    QFETCH(QString, text);
    QFETCH(qsizetype, count);
    QCOMPARE(Text::codePointCount(text), count);
    if (text.isValidUtf16())
        QCOMPARE(Text::codePointCount(text), qsizetype(text.toUcs4().size()));
    // The documented limit: 5,000 emoji are 10,000 UTF-16 units but pass an 8,000 character limit.
    if (qstrcmp(QTest::currentDataTag(), "5000 emoji") == 0) {
        QCOMPARE(text.size(), 10'000);
        QVERIFY(Text::codePointCount(text) <= 8000);
    }
}

// ---- Robustness ---------------------------------------------------------------------------

void tst_Json::truncationsNeverOverread()
{
    // Every prefix of every seed, in a block of exactly its size: under AddressSanitizer any
    // read past the end fails the test. Escapes cut at every position are in there.
    QList<QByteArray> inputs = seedDocuments();
    inputs << R"(["\ud83d\ude00\u00e9\"\\\/"])"_ba << R"({"\u0061\"":"\uD800","b":[1e+10,-0.5E-3,true,false,null]})"_ba;
    for (const auto &input : std::as_const(inputs)) {
        for (qsizetype n = 0; n <= input.size(); ++n) {
            const Exact exact(input.first(n));
            exerciseAll(exact.view());
            if (n < input.size() && !isJsonSpace(input[n]) && n > 0)
                QVERIFY2(!Json::isWellFormed(exact.view(), Grammar::Qt) || !qtAccepts(input),
                         qPrintable(QString::number(n)));
        }
        // And every suffix.
        for (qsizetype n = 0; n <= input.size(); ++n) {
            const Exact exact(input.sliced(n));
            exerciseAll(exact.view());
        }
    }
}

void tst_Json::randomMutations()
{
    // Pseudo-random edits of valid documents with a fixed seed, so a failure reproduces. Each
    // mutant goes through every scanner (no crash, no overread under the sanitizers), and
    // wherever QJsonDocument accepts a mutant the scanners must agree with what it read.
    QRandomGenerator rng(20240601);
    static constexpr char alphabet[] = "\"\\{}[],: \t\n\r0123456789eE.+-tfnlrsuaxdDcC\x01\x7f";
    static constexpr unsigned char highBytes[] = {0x80, 0xbf, 0xc0, 0xc3, 0xed, 0xa0, 0xf0, 0xf4, 0xff};
    int accepted = 0;
    const auto &seeds = seedDocuments();
    for (int round = 0; round < 100'000; ++round) {
        const QByteArray text = Confab::Testing::mutateJson(
            rng, seeds[rng.bounded(int(seeds.size()))],
            {QByteArrayView(alphabet, sizeof alphabet - 1),
             QByteArrayView(reinterpret_cast<const char *>(highBytes), sizeof highBytes), 4, 12});
        const Exact exact(text);
        exerciseAll(exact.view());

        const QByteArray hex = text.toHex();
        const char *const where = hex.constData();
        QCOMPARE(Text::findInvalidUtf8(exact.view()).has_value(), !QByteArrayView(text).isValidUtf8());
        QJsonParseError error;
        const auto doc = QJsonDocument::fromJson(text, &error);
        const bool qt = error.error == QJsonParseError::NoError;
        const bool strictAndClean = !Json::findTextDefect(exact.view());
        // Strict and clean, and a container: QJsonDocument reads it too (unless a number is out
        // of its range).
        QByteArrayView body = exact.view();
        if (body.startsWith("\xef\xbb\xbf"))
            body = body.sliced(3);
        body = body.trimmed();
        if (strictAndClean && (body.startsWith('[') || body.startsWith('{')))
            QVERIFY2(qt || error.error == QJsonParseError::IllegalNumber, where);
        if (!qt)
            continue;
        ++accepted;
        QVERIFY2(Json::isWellFormed(exact.view(), Grammar::Qt), where);
        if (doc.isArray()) {
            const auto spans = Json::arrayElements(exact.view());
            QVERIFY2(spans && spans->size() == doc.array().size(), where);
            for (qsizetype i = 0; i < spans->size(); ++i)
                QVERIFY2(qtValue(spans->at(i)) == doc.array().at(i), where);
        } else if (!text.contains("\"\xef\xbb\xbf")) { // where QJsonDocument contradicts itself
            const auto object = doc.object();
            for (auto it = object.begin(); it != object.end(); ++it) {
                const auto span = Json::objectMember(exact.view(), it.key());
                QVERIFY2(span && qtValue(*span) == it.value(), where);
            }
        }
    }
    // The mutations must not be so destructive that nothing is ever accepted.
    QVERIFY2(accepted > 5000, qPrintable(QString::number(accepted)));
}

QTEST_GUILESS_MAIN(tst_Json)
#include "tst_json.moc"
