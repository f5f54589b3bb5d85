#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QByteArrayView>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringView>

#include <optional>

//! \brief Scanning JSON text as bytes: where a value starts and ends, and whether a text is
//! safe to relay as it is.
//!
//! QJsonDocument answers what a text means; these functions answer where its parts are, so
//! that a payload can be passed on byte for byte instead of being parsed and re-serialized
//! (which sorts keys, rewrites numbers such as `1.0`, `1e3` or integers beyond 2^53, and
//! changes escapes). They are pure, never allocate more than their result, never recurse, and
//! never read outside the given bytes, whatever those bytes are.
namespace Confab::Protocol::Json {

//! \brief Containers nested deeper than this are refused, as QJsonDocument (Qt 6.4) refuses them.
inline constexpr int MaxDepth = 1024;

//! \brief Which JSON a scan accepts.
enum class Grammar {
    //! RFC 8259 JSON: the text every JSON parser reads the same way. Whatever is relayed to
    //! other peers as raw bytes must be this. One addition: no raw U+FEFF (bytes EF BB BF) right
    //! after a string's opening quote, because QJsonDocument silently drops it there (and then
    //! even mixes up object keys that differ only by it); written as `\uFEFF` it is kept.
    Strict,
    //! What QJsonDocument::fromJson (Qt 6.4) also accepts, beyond RFC 8259: unescaped control
    //! characters (even NUL) inside strings; a backslash before any byte (`\q` reads as `q`,
    //! a backslash before byte FF as U+00FF); numbers such as `1.`, `.5` or `1.e5`. At the top
    //! level only an array or an object. The span functions below use this grammar, so they
    //! work on every text that QJsonDocument parsed.
    Qt,
};

//! \brief True when \a json is exactly one JSON value in \a grammar, with optional whitespace
//! (space, tab, LF, CR) around it and an optional UTF-8 byte order mark at the very start.
//!
//! Only the structure is checked: not the UTF-8 (see Text::findInvalidUtf8()), not lone
//! surrogate escapes (findLoneSurrogateEscape()), and not the range of numbers (QJsonDocument
//! refuses `1e400`; this accepts it). findTextDefect() checks all of that.
[[nodiscard]] bool isWellFormed(QByteArrayView json, Grammar grammar);

//! \brief The exact bytes of the elements of the top-level array of \a json, in order: the
//! first \a limit of them, or all when \a limit is negative.
//!
//! Each view points into \a json and spans one value, without the whitespace around it.
//! std::nullopt when \a json is not an array, or not well-formed in Grammar::Qt (the whole
//! text is checked, also past the last element returned).
[[nodiscard]] std::optional<QList<QByteArrayView>> arrayElements(QByteArrayView json,
                                                                 qsizetype limit = -1);

//! \brief The exact bytes of element \a index (from 0) of the top-level array of \a json.
//! std::nullopt when there is no such element, or as for arrayElements().
[[nodiscard]] std::optional<QByteArrayView> arrayElement(QByteArrayView json, qsizetype index);

//! \brief The exact bytes of the value of member \a key of the top-level object of \a json.
//!
//! Keys are compared after unescaping, as QJsonDocument compares them (`"\u0061"` is the key
//! `a`). When a key occurs more than once the **last** occurrence wins, which is what
//! QJsonDocument keeps in Qt 6.4, so the bytes returned are always those of the value that
//! QJsonDocument::object().value(key) reports. The one exception is a key written with a raw
//! U+FEFF at its start, where QJsonDocument contradicts itself: such a key never matches here
//! (and findTextDefect() refuses it). std::nullopt when the key is absent, when \a json is not
//! an object, or when it is not well-formed in Grammar::Qt.
[[nodiscard]] std::optional<QByteArrayView> objectMember(QByteArrayView json, QStringView key);

//! \brief The text of the JSON string literal \a literal (quotes included), unescaped exactly
//! as QJsonDocument unescapes it: `\uXXXX` gives that UTF-16 unit even when it is a lone
//! surrogate, a backslash before any other byte gives that byte as a Latin-1 character, and a
//! raw U+FEFF right after the opening quote is dropped.
//! std::nullopt when \a literal is not one complete string literal or holds invalid UTF-8.
[[nodiscard]] std::optional<QString> decodeString(QByteArrayView literal);

//! \brief \a text as a JSON string literal, quotes included, byte for byte as
//! QJsonDocument::toJson() writes it: `"` and `\` escaped, `\b` `\f` `\n` `\r` `\t`, other
//! control characters below U+0020 as `\u00xx`, lone surrogates as `\uxxxx` (lowercase hex), and
//! everything else, DEL included, as UTF-8. One deliberate difference: U+FEFF is written as
//! `\ufeff`, since QJsonDocument drops it when it comes raw at the start of a string, so that
//! what quote() writes always reads back as \a text (Qt's own toJson() output does not).
[[nodiscard]] QByteArray quote(QStringView text);

//! \brief Byte offset of the first `\u` escape inside a string of \a json (key or value) that
//! is an unpaired UTF-16 surrogate, or std::nullopt when there is none.
//!
//! Unpaired: a high surrogate (`\uD800`–`\uDBFF`) not immediately followed by a low-surrogate
//! escape (`\uDC00`–`\uDFFF`), or a low surrogate not immediately preceded by a high one. Hex
//! digits are matched in either case. Such an escape is valid JSON syntax but not text: Qt keeps
//! the lone unit, and any conversion to UTF-8 turns it into `?`, which silently alters the
//! string. Works on any bytes; text cut short inside an escape simply ends the scan.
[[nodiscard]] std::optional<qsizetype> findLoneSurrogateEscape(QByteArrayView json);

//! \brief Why a JSON text may not be relayed or stored as it is (see findTextDefect()).
struct TextDefect
{
    enum class Kind {
        InvalidUtf8,      //!< not well-formed UTF-8 (Text::findInvalidUtf8())
        Syntax,           //!< not JSON at all
        ControlCharacter, //!< an unescaped control character (below U+0020) inside a string
        InvalidEscape,    //!< a backslash escape RFC 8259 does not define, or a short `\u`
        InvalidNumber,    //!< a number RFC 8259 does not allow (`01`, `1.`, `.5`, `+1`)
        TooDeep,          //!< containers nested deeper than MaxDepth
        ByteOrderMark,    //!< a raw U+FEFF right after a string's opening quote (see Grammar::Strict)
        LoneSurrogate,    //!< an unpaired surrogate escape (findLoneSurrogateEscape())
    };
    Kind kind = Kind::Syntax;
    qsizetype offset = 0; //!< byte offset of the defect in the text that was checked

    //! \brief A human-readable explanation with the byte offset, safe to send back to a client.
    [[nodiscard]] QString reason() const;

    friend bool operator==(const TextDefect &, const TextDefect &) = default;
};

//! \brief The first reason why \a json must be refused rather than relayed byte for byte, or
//! std::nullopt when it is one well-formed UTF-8, RFC 8259 JSON value without lone surrogate
//! escapes.
//!
//! \a json may be any JSON value (an element of a frame, an HTTP body). The checks run in this
//! order: UTF-8, then the Grammar::Strict structure, then surrogates; the first failing one is
//! reported. Use it on WebSocket frames and on HTTP bodies alike: QJsonDocument alone lets
//! through texts that other parsers refuse or read differently (see Grammar::Qt), and a
//! backslash followed by a non-UTF-8 byte even gets past its UTF-8 check.
[[nodiscard]] std::optional<TextDefect> findTextDefect(QByteArrayView json);

} // namespace Confab::Protocol::Json
