"""Every form a key can take in text a provider sends back, found and replaced before anything is shortened.

Providers echo keys (OpenAI quotes the key it received), sometimes URL-encoded (a query key) or base64-encoded
(inside a Basic header or a token). Redaction always runs on the whole text first; only then is the text cut
to length, so a key straddling a cut cannot survive as a prefix. Base64 forms are matched at each of the three
byte alignments a key can have inside a longer encoded string.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_ENCODED_FORM = 8


def _base64_cores(secret: bytes) -> set[str]:
    """The part of base64(anything + secret + anything) that depends only on the secret, for each alignment."""
    cores = set()
    for alignment in range(3):
        encoded = base64.b64encode(b"\0" * alignment + secret).decode().rstrip("=")
        start = -(-8 * alignment // 6)
        end = 8 * (alignment + len(secret)) // 6
        core = encoded[start:end]
        cores.update({core, core.replace("+", "-").replace("/", "_")})
    return cores


def key_forms(key: str) -> list[str]:
    """The key as sent, URL-encoded and base64-encoded, longest first."""
    forms = {key, quote(key, safe=""), quote_plus(key)}
    forms |= {core for core in _base64_cores(key.encode()) if len(core) >= MIN_ENCODED_FORM}
    return sorted(forms, key=len, reverse=True)


class Redactor:
    def __init__(self, keys: Iterable[str | None] = ()):
        forms: set[str] = set()
        for key in keys:
            if key:
                forms.update(key_forms(key))
        self.forms = sorted(forms, key=len, reverse=True)
        self.longest = len(self.forms[0]) if self.forms else 0

    def __call__(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def shortened(self, text: str, limit: int) -> str:
        """Redact, then cut to `limit` characters."""
        return self(text)[:limit]
