#include "ConfabProtocol/text.h"

namespace Confab::Protocol::Text {

namespace {

constexpr bool isContinuation(unsigned char b)
{
    return (b & 0xc0) == 0x80;
}

} // namespace

std::optional<qsizetype> findInvalidUtf8(QByteArrayView bytes)
{
    const auto *const data = reinterpret_cast<const unsigned char *>(bytes.data());
    const qsizetype size = bytes.size();
    qsizetype i = 0;
    while (i < size) {
        const unsigned char b = data[i];
        if (b < 0x80) {
            ++i;
            continue;
        }
        // The allowed range of the second byte depends on the lead byte: that is what rules out
        // overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
        qsizetype length = 0;
        unsigned char low = 0x80;
        unsigned char high = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) {
            length = 2;
        } else if (b >= 0xe0 && b <= 0xef) {
            length = 3;
            if (b == 0xe0)
                low = 0xa0;
            else if (b == 0xed)
                high = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            length = 4;
            if (b == 0xf0)
                low = 0x90;
            else if (b == 0xf4)
                high = 0x8f;
        } else {
            return i; // 80–C1 (continuation or overlong lead), F5–FF: never a lead byte
        }
        if (size - i < length)
            return i;
        if (data[i + 1] < low || data[i + 1] > high)
            return i;
        for (qsizetype k = 2; k < length; ++k) {
            if (!isContinuation(data[i + k]))
                return i;
        }
        i += length;
    }
    return std::nullopt;
}

bool hasControlCharacter(QStringView text)
{
    // Every control character is in the BMP, so UTF-16 units can be tested one by one.
    for (const QChar c : text) {
        if (isControlCharacter(c.unicode()))
            return true;
    }
    return false;
}

qsizetype codePointCount(QStringView text)
{
    qsizetype count = text.size();
    for (qsizetype i = 0; i + 1 < text.size(); ++i) {
        if (text[i].isHighSurrogate() && text[i + 1].isLowSurrogate()) {
            --count;
            ++i;
        }
    }
    return count;
}

} // namespace Confab::Protocol::Text
