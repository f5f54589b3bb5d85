#pragma once

#include <QtCore/QByteArrayView>
#include <QtCore/QStringView>

#include <optional>

//! \brief Text rules shared by the codec, the server and the client: what counts as a
//! character, which bytes are UTF-8, which characters may not appear in names.
namespace Confab::Protocol::Text {

//! \brief Byte offset of the first sequence in \a bytes that is not well-formed UTF-8, or
//! std::nullopt when all of \a bytes is.
//!
//! Well-formed as in Unicode §3.9 (table 3-7): overlong forms (`C0 AF`, `E0 80 80`), encoded
//! surrogates (`ED A0 80`), code points above U+10FFFF, stray continuation bytes and sequences
//! cut short by the end of \a bytes are all refused. NUL and other control characters are
//! well-formed UTF-8 and are accepted.
[[nodiscard]] std::optional<qsizetype> findInvalidUtf8(QByteArrayView bytes);

//! \brief True for the control characters, Unicode general category Cc: C0 (U+0000–U+001F),
//! DEL (U+007F) and C1 (U+0080–U+009F). C1 includes the single-byte terminal escape CSI (U+009B).
[[nodiscard]] constexpr bool isControlCharacter(char32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

//! \brief True when \a text holds at least one control character (see isControlCharacter()).
[[nodiscard]] bool hasControlCharacter(QStringView text);

//! \brief The number of Unicode code points in \a text: what a person counts as characters
//! when a limit is documented "in characters".
//!
//! A surrogate pair counts as one; a lone surrogate (only possible in text that is not valid
//! UTF-16) counts as one too, so the result never exceeds `text.size()`. Combining sequences
//! and emoji made of several code points (flags, skin tones, ZWJ families) count as several:
//! the count is of code points, not of grapheme clusters.
[[nodiscard]] qsizetype codePointCount(QStringView text);

} // namespace Confab::Protocol::Text
