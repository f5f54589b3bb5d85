#include "ConfabProtocol/json.h"

#include "ConfabProtocol/text.h"

#include <QtCore/QStringDecoder>

#include <bitset>

using namespace Qt::StringLiterals;

namespace Confab::Protocol::Json {

namespace {

using Kind = TextDefect::Kind;

constexpr bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

constexpr bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

constexpr int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// The UTF-16 unit of the four hex digits at \a at, or -1 when fewer than four hex digits are there.
int hex4(QByteArrayView text, qsizetype at)
{
    if (at < 0 || text.size() - at < 4)
        return -1;
    int unit = 0;
    for (qsizetype k = 0; k < 4; ++k) {
        const int digit = hexValue(text[at + k]);
        if (digit < 0)
            return -1;
        unit = unit * 16 + digit;
    }
    return unit;
}

constexpr bool isHighSurrogate(int unit)
{
    return unit >= 0xd800 && unit <= 0xdbff;
}

constexpr bool isLowSurrogate(int unit)
{
    return unit >= 0xdc00 && unit <= 0xdfff;
}

// U+FEFF in UTF-8. QJsonDocument (Qt 6.4) skips it at the very start of a document, and also
// drops it right after a string's opening quote (tst_json pins both down).
constexpr QByteArrayView Utf8Bom("\xef\xbb\xbf", 3);

qsizetype afterByteOrderMark(QByteArrayView text)
{
    return text.startsWith(Utf8Bom) ? Utf8Bom.size() : 0;
}

// The first byte of the top-level value (after the BOM and whitespace), or '\0' when there is none.
char topLevelOpener(QByteArrayView text)
{
    qsizetype i = afterByteOrderMark(text);
    while (i < text.size() && isSpace(text[i]))
        ++i;
    return i < text.size() ? text[i] : '\0';
}

// One pass over a JSON text with an explicit stack: deep nesting costs a bit per level, never
// a stack frame, and every read is an index checked against the size.
class Scanner
{
public:
    Scanner(QByteArrayView text, Grammar grammar)
        : m_text(text)
        , m_grammar(grammar)
    {
    }

    // Scans the whole text as one value. visit(keyLiteral, value) is called for each direct
    // child of the top-level value when that is a container; keyLiteral is the member's key with
    // its quotes, or an empty view for an array element.
    template<typename Visit>
    bool document(Visit &&visit);

    [[nodiscard]] TextDefect defect() const { return m_defect; }

private:
    [[nodiscard]] bool atEnd() const { return m_pos >= m_text.size(); }
    [[nodiscard]] char current() const { return m_text[m_pos]; }
    void skipSpace()
    {
        while (!atEnd() && isSpace(current()))
            ++m_pos;
    }
    bool fail(Kind kind, qsizetype at)
    {
        m_defect = TextDefect{kind, at};
        return false;
    }
    bool fail(Kind kind) { return fail(kind, m_pos); }

    bool scalar();
    bool string();
    bool number();
    bool literal(QByteArrayView word);
    bool memberKey(QByteArrayView *key);

    QByteArrayView m_text;
    Grammar m_grammar;
    qsizetype m_pos = 0;
    TextDefect m_defect;
};

template<typename Visit>
bool Scanner::document(Visit &&visit)
{
    m_pos = afterByteOrderMark(m_text);
    skipSpace();
    if (atEnd())
        return fail(Kind::Syntax);
    if (m_grammar == Grammar::Qt && current() != '[' && current() != '{')
        return fail(Kind::Syntax); // QJsonDocument reads only arrays and objects

    std::bitset<MaxDepth> isObject; // the open containers, innermost at depth - 1
    int depth = 0;
    qsizetype childStart = 0;
    QByteArrayView childKey;

    // Each turn starts at the first byte of a value, whitespace skipped.
    for (;;) {
        if (atEnd())
            return fail(Kind::Syntax);
        if (depth == 1)
            childStart = m_pos;
        const char opener = current();
        if (opener == '[' || opener == '{') {
            if (depth == MaxDepth)
                return fail(Kind::TooDeep);
            const bool object = opener == '{';
            isObject[std::size_t(depth)] = object;
            ++depth;
            ++m_pos;
            skipSpace();
            if (!atEnd() && current() == (object ? '}' : ']')) {
                ++m_pos;
                --depth; // empty: the container ends here, and is a value like any other
            } else {
                if (object && !memberKey(depth == 1 ? &childKey : nullptr))
                    return false;
                continue;
            }
        } else if (!scalar()) {
            return false;
        }

        // A value has just ended at m_pos; it may also end the containers around it.
        for (;;) {
            if (depth == 0) {
                skipSpace();
                return atEnd() || fail(Kind::Syntax); // one value per document
            }
            if (depth == 1)
                visit(childKey, m_text.sliced(childStart, m_pos - childStart));
            skipSpace();
            if (atEnd())
                return fail(Kind::Syntax);
            const bool inObject = isObject[std::size_t(depth - 1)];
            if (current() == ',') {
                ++m_pos;
                skipSpace();
                if (inObject && !memberKey(depth == 1 ? &childKey : nullptr))
                    return false;
                break; // on to the next value
            }
            if (current() != (inObject ? '}' : ']'))
                return fail(Kind::Syntax);
            ++m_pos;
            --depth;
        }
    }
}

bool Scanner::memberKey(QByteArrayView *key)
{
    if (atEnd() || current() != '"')
        return fail(Kind::Syntax);
    const qsizetype start = m_pos;
    if (!string())
        return false;
    if (key)
        *key = m_text.sliced(start, m_pos - start);
    skipSpace();
    if (atEnd() || current() != ':')
        return fail(Kind::Syntax);
    ++m_pos;
    skipSpace();
    return true;
}

bool Scanner::scalar()
{
    switch (current()) {
    case '"':
        return string();
    case 't':
        return literal("true");
    case 'f':
        return literal("false");
    case 'n':
        return literal("null");
    default:
        return number();
    }
}

bool Scanner::literal(QByteArrayView word)
{
    if (!m_text.sliced(m_pos).startsWith(word))
        return fail(Kind::Syntax);
    m_pos += word.size();
    return true;
}

bool Scanner::string()
{
    ++m_pos; // the opening quote
    if (m_grammar == Grammar::Strict && m_text.sliced(m_pos).startsWith(Utf8Bom))
        return fail(Kind::ByteOrderMark);
    for (;;) {
        if (atEnd())
            return fail(Kind::Syntax); // unterminated
        const char c = current();
        if (c == '"') {
            ++m_pos;
            return true;
        }
        if (c == '\\') {
            const qsizetype escape = m_pos;
            if (escape + 1 >= m_text.size())
                return fail(Kind::Syntax);
            const char e = m_text[escape + 1];
            if (e == 'u') {
                // Both grammars need four hex digits here; QJsonDocument refuses fewer.
                if (hex4(m_text, escape + 2) < 0)
                    return fail(Kind::InvalidEscape, escape);
                m_pos = escape + 6;
                continue;
            }
            const bool standard = e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n'
                || e == 'r' || e == 't';
            // QJsonDocument takes the byte after any other backslash as the character itself.
            if (!standard && m_grammar == Grammar::Strict)
                return fail(Kind::InvalidEscape, escape);
            m_pos = escape + 2;
            continue;
        }
        if (static_cast<unsigned char>(c) < 0x20 && m_grammar == Grammar::Strict)
            return fail(Kind::ControlCharacter);
        ++m_pos;
    }
}

bool Scanner::number()
{
    const qsizetype start = m_pos;
    const char first = current();
    if (first != '-' && first != '.' && !isDigit(first))
        return fail(Kind::Syntax); // not the start of any value
    const bool strict = m_grammar == Grammar::Strict;
    auto digits = [this] {
        const qsizetype from = m_pos;
        while (!atEnd() && isDigit(current()))
            ++m_pos;
        return m_pos - from;
    };

    if (!atEnd() && current() == '-')
        ++m_pos;
    qsizetype mantissaDigits = 0;
    // A leading 0 stands alone in both grammars; the digit after it ends the number, and the
    // caller then finds a digit where a separator belongs.
    if (!atEnd() && current() == '0') {
        ++m_pos;
        mantissaDigits = 1;
    } else {
        mantissaDigits = digits();
        if (mantissaDigits == 0 && strict)
            return fail(Kind::InvalidNumber, start);
    }
    if (!atEnd() && current() == '.') {
        ++m_pos;
        const qsizetype fraction = digits();
        if (fraction == 0 && strict)
            return fail(Kind::InvalidNumber, start); // `1.`
        mantissaDigits += fraction;
    }
    if (mantissaDigits == 0)
        return fail(Kind::InvalidNumber, start); // `-`, `.`, `-.`
    if (!atEnd() && (current() == 'e' || current() == 'E')) {
        ++m_pos;
        if (!atEnd() && (current() == '+' || current() == '-'))
            ++m_pos;
        if (digits() == 0)
            return fail(Kind::InvalidNumber, start); // QJsonDocument refuses `1e` too
    }
    return true;
}

} // namespace

bool isWellFormed(QByteArrayView json, Grammar grammar)
{
    Scanner scanner(json, grammar);
    return scanner.document([](QByteArrayView, QByteArrayView) {});
}

std::optional<QList<QByteArrayView>> arrayElements(QByteArrayView json, qsizetype limit)
{
    if (topLevelOpener(json) != '[')
        return std::nullopt;
    QList<QByteArrayView> elements;
    Scanner scanner(json, Grammar::Qt);
    const bool ok = scanner.document([&](QByteArrayView, QByteArrayView value) {
        if (limit < 0 || elements.size() < limit)
            elements.append(value);
    });
    if (!ok)
        return std::nullopt;
    return elements;
}

std::optional<QByteArrayView> arrayElement(QByteArrayView json, qsizetype index)
{
    if (index < 0)
        return std::nullopt;
    const auto elements = arrayElements(json, index + 1);
    if (!elements || elements->size() <= index)
        return std::nullopt;
    return elements->at(index);
}

std::optional<QByteArrayView> objectMember(QByteArrayView json, QStringView key)
{
    if (topLevelOpener(json) != '{')
        return std::nullopt;
    // Most keys have no escapes: those are compared as UTF-8 bytes, without decoding. A key
    // that is not valid UTF-16 has no UTF-8 form, so it is always compared decoded.
    const bool byBytes = key.isValidUtf16();
    const QByteArray keyUtf8 = byBytes ? key.toUtf8() : QByteArray();
    std::optional<QByteArrayView> found;
    Scanner scanner(json, Grammar::Qt);
    const bool ok = scanner.document([&](QByteArrayView literal, QByteArrayView value) {
        const auto inner = literal.sliced(1, literal.size() - 2);
        if (inner.startsWith(Utf8Bom))
            return; // QJsonDocument both drops it and compares with it: no answer is right
        const bool match = byBytes && !inner.contains('\\') ? inner == keyUtf8
                                                            : decodeString(literal) == key;
        if (match)
            found = value; // a later duplicate replaces an earlier one, as in QJsonDocument
    });
    if (!ok)
        return std::nullopt;
    return found;
}

std::optional<QString> decodeString(QByteArrayView literal)
{
    if (literal.size() < 2 || literal.front() != '"')
        return std::nullopt;
    QString out;
    out.reserve(literal.size() - 2);
    // QString::fromUtf8() would drop a U+FEFF at the start of a run; QJsonDocument keeps it.
    QStringDecoder fromUtf8(QStringDecoder::Utf8,
                            QStringDecoder::Flag::Stateless | QStringDecoder::Flag::ConvertInitialBom);
    // Raw UTF-8 since the last escape; a U+FEFF right after the quote is dropped, as Qt does.
    qsizetype runStart = literal.sliced(1).startsWith(Utf8Bom) ? 1 + Utf8Bom.size() : 1;
    auto flushRun = [&](qsizetype end) {
        const auto run = literal.sliced(runStart, end - runStart);
        if (Text::findInvalidUtf8(run))
            return false; // QJsonDocument refuses the whole document
        out += fromUtf8.decode(run);
        return true;
    };
    qsizetype i = runStart;
    for (;;) {
        if (i >= literal.size())
            return std::nullopt; // unterminated
        const char c = literal[i];
        if (c == '"') {
            if (!flushRun(i) || i + 1 != literal.size())
                return std::nullopt;
            return out;
        }
        if (c != '\\') {
            ++i;
            continue;
        }
        if (!flushRun(i) || i + 1 >= literal.size())
            return std::nullopt;
        const char e = literal[i + 1];
        switch (e) {
        case 'u': {
            const int unit = hex4(literal, i + 2);
            if (unit < 0)
                return std::nullopt;
            out += QChar(char16_t(unit)); // a lone surrogate stays one unit, as in QJsonDocument
            i += 6;
            break;
        }
        case 'b': out += u'\b'; i += 2; break;
        case 'f': out += u'\f'; i += 2; break;
        case 'n': out += u'\n'; i += 2; break;
        case 'r': out += u'\r'; i += 2; break;
        case 't': out += u'\t'; i += 2; break;
        default:
            // `\"`, `\\`, `\/`, and QJsonDocument's leniency: any other byte stands for itself,
            // read as Latin-1.
            out += QChar(char16_t(static_cast<unsigned char>(e)));
            i += 2;
            break;
        }
        runStart = i;
    }
}

QByteArray quote(QStringView text)
{
    static constexpr char hex[] = "0123456789abcdef";
    QByteArray out;
    out.reserve(text.size() + 2);
    out += '"';
    qsizetype runStart = 0; // units written as UTF-8, converted a run at a time
    auto escape = [&](qsizetype at, QByteArrayView replacement) {
        out += text.sliced(runStart, at - runStart).toUtf8();
        out += replacement;
    };
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char16_t u = text[i].unicode();
        switch (u) {
        case u'"': escape(i, "\\\""); break;
        case u'\\': escape(i, "\\\\"); break;
        case u'\b': escape(i, "\\b"); break;
        case u'\f': escape(i, "\\f"); break;
        case u'\n': escape(i, "\\n"); break;
        case u'\r': escape(i, "\\r"); break;
        case u'\t': escape(i, "\\t"); break;
        case u'\ufeff': escape(i, "\\ufeff"); break;
        default:
            if (QChar::isHighSurrogate(u) && i + 1 < text.size() && text[i + 1].isLowSurrogate()) {
                ++i; // a pair is one character, written as four bytes of UTF-8
                continue;
            }
            if (u >= 0x20 && !QChar::isSurrogate(u))
                continue;
            // Other control characters, and lone surrogates, which have no UTF-8 form: the
            // escape keeps the output valid UTF-8.
            const char escaped[] = {'\\', 'u', hex[(u >> 12) & 0xf], hex[(u >> 8) & 0xf],
                                    hex[(u >> 4) & 0xf], hex[u & 0xf]};
            escape(i, QByteArrayView(escaped, sizeof escaped));
            break;
        }
        runStart = i + 1;
    }
    out += text.sliced(runStart).toUtf8();
    out += '"';
    return out;
}

std::optional<qsizetype> findLoneSurrogateEscape(QByteArrayView json)
{
    bool inString = false;
    qsizetype i = 0;
    while (i < json.size()) {
        const char c = json[i];
        if (!inString || c != '\\') {
            if (c == '"')
                inString = !inString;
            ++i;
            continue;
        }
        if (i + 1 >= json.size())
            break; // cut short after the backslash
        if (json[i + 1] != 'u') {
            i += 2; // `\"` and `\\` included: an escaped quote does not end the string
            continue;
        }
        const int unit = hex4(json, i + 2);
        if (unit < 0) {
            i += 2; // not a complete escape (invalid JSON); the digits are scanned as text
            continue;
        }
        if (isLowSurrogate(unit))
            return i; // a low surrogate that a high one did not consume
        if (!isHighSurrogate(unit)) {
            i += 6;
            continue;
        }
        const bool pairedEscape = i + 7 < json.size() && json[i + 6] == '\\' && json[i + 7] == 'u'
            && isLowSurrogate(hex4(json, i + 8));
        if (!pairedEscape)
            return i;
        i += 12;
    }
    return std::nullopt;
}

QString TextDefect::reason() const
{
    switch (kind) {
    case Kind::InvalidUtf8:
        return u"not valid UTF-8 at byte %1"_s.arg(offset);
    case Kind::Syntax:
        return u"not valid JSON at byte %1"_s.arg(offset);
    case Kind::ControlCharacter:
        return u"unescaped control character in a string at byte %1 (write it as \\u00XX)"_s.arg(offset);
    case Kind::InvalidEscape:
        return u"invalid escape at byte %1 (JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"_s.arg(offset);
    case Kind::InvalidNumber:
        return u"malformed number at byte %1"_s.arg(offset);
    case Kind::TooDeep:
        return u"nested deeper than %1 levels at byte %2"_s.arg(MaxDepth).arg(offset);
    case Kind::ByteOrderMark:
        return u"raw U+FEFF at the start of a string at byte %1 (write it as \\uFEFF)"_s.arg(offset);
    case Kind::LoneSurrogate:
        return u"unpaired UTF-16 surrogate escape at byte %1 (not a character)"_s.arg(offset);
    }
    return u"invalid JSON text at byte %1"_s.arg(offset);
}

std::optional<TextDefect> findTextDefect(QByteArrayView json)
{
    if (const auto at = Text::findInvalidUtf8(json))
        return TextDefect{Kind::InvalidUtf8, *at};
    Scanner scanner(json, Grammar::Strict);
    if (!scanner.document([](QByteArrayView, QByteArrayView) {}))
        return scanner.defect();
    if (const auto at = findLoneSurrogateEscape(json))
        return TextDefect{Kind::LoneSurrogate, *at};
    return std::nullopt;
}

} // namespace Confab::Protocol::Json
