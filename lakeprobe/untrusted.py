"""What a storage says is untrusted input: before it reaches a person (the terminal, the status page, chat)
or a store (JSONL, SQL, InfluxDB) it is made inert and bounded here.

Inert: no control character, escape sequence or bidirectional override survives (each is written as a
visible `\\xNN` / `\\uNNNN`), line breaks and tabs become spaces (a message is one line), and the text is
valid UTF-8 whatever bytes came. Bounded: MESSAGE_CHARS at most, the cut said at the end. Markup is the
business of each output (the page escapes HTML, chat neutralises mentions and links).
"""

import re

MESSAGE_CHARS = 1000
# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text on a screen.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_BREAKS = re.compile("[\t\n\r]+")


def inert(value: str | bytes, limit: int = MESSAGE_CHARS) -> str:
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    text = text.encode("utf-8", errors="replace").decode("utf-8")  # lone surrogates are not UTF-8
    text = _CONTROL.sub(_visible, _BREAKS.sub(" ", text))
    if len(text) <= limit:
        return text
    keep = limit - 40  # room for the note of the cut
    return text[:keep] + f" ... ({len(text) - keep} more characters cut)"


def _visible(match: re.Match) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
