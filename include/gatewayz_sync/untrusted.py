"""Text that came from a provider, made safe to store, log and print: no terminal control sequences, no bidi tricks.

C0 and C1 control characters (tab and newline excepted), DEL and the bidirectional overrides and isolates can
clear an operator's screen (`\\x1b[2J`) or make an error read backwards. Error messages keep a visible escape
(`\\x1b`) so an operator sees what came; model names and descriptions simply lose them.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """`x\\x1b[2JRED` -> `x\\\\x1b[2JRED`: every unsafe character as a visible escape."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def strip_controls(text: str) -> str:
    # Every unsafe character is unprintable (Cc or Cf): a printable text, most of them, is returned at C speed.
    return text if text.isprintable() else _UNSAFE.sub("", text)


def has_controls(text: str) -> bool:
    return _UNSAFE.search(text) is not None
