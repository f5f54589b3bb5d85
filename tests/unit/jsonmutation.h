#pragma once

// One pseudo-random edit step for the codec suites' mutation tests (tst_frame, tst_json): the
// same kinds of damage a hostile or broken client does to JSON text, drawn from a seeded
// generator so that a failure reproduces.
#include <QtCore/QByteArray>
#include <QtCore/QByteArrayView>
#include <QtCore/QRandomGenerator>

namespace Confab::Testing {

//! What a mutation may write: printable bytes likely to matter to a JSON scanner, and bytes
//! that are not (or not always) valid UTF-8, written one time in eight.
struct MutationAlphabet
{
    QByteArrayView bytes;
    QByteArrayView highBytes;
    int maxEdits = 3;     //!< edits per mutant: 1 to this
    int maxCopyBytes = 8; //!< longest run copied from elsewhere in the text
};

//! \brief \a text with 1 to maxEdits edits: a byte replaced, inserted or removed (1-3), the text
//! cut, a run of itself copied in, or a `\uD800`-`\uDFFF` escape inserted.
inline QByteArray mutateJson(QRandomGenerator &rng, QByteArray text, const MutationAlphabet &alphabet)
{
    const int edits = 1 + int(rng.bounded(alphabet.maxEdits));
    for (int e = 0; e < edits && !text.isEmpty(); ++e) {
        const qsizetype at = rng.bounded(int(text.size()));
        const char byte = rng.bounded(8) == 0 ? alphabet.highBytes[rng.bounded(int(alphabet.highBytes.size()))]
                                              : alphabet.bytes[rng.bounded(int(alphabet.bytes.size()))];
        switch (rng.bounded(6)) {
        case 0: text[at] = byte; break;
        case 1: text.insert(at, byte); break;
        case 2: text.remove(at, 1 + rng.bounded(3)); break;
        case 3: text.truncate(at); break;
        case 4: text.insert(at, text.mid(rng.bounded(int(text.size())), 1 + rng.bounded(alphabet.maxCopyBytes))); break;
        case 5: text.insert(at, QByteArray("\\u") + QByteArray::number(0xd800 + rng.bounded(0x800), 16)); break;
        }
    }
    return text;
}

} // namespace Confab::Testing
