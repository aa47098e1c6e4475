"""A page's body as a stream: hashed and spooled as the bytes arrive, then parsed record by record.

`ResponseBody` takes the bytes as the transport reads them: it updates the SHA-256, keeps the first bytes (for
an error's snippet) and spools the rest to a temporary file (in memory while small). The digest is known when
the last byte has arrived, so an unchanged listing is still recognized before anything is parsed, and a download
retried after a broken connection starts a fresh body, so nothing of the broken one is ever parsed or staged.

`RecordStream` parses the spooled bytes with ijson's C backend (`yajl2_c`, a push parser fed one chunk at a
time): the records under the spec's path come out one by one, the few values a paginator reads (`has_more`,
`links.next`) are kept beside them, and money is `Decimal` as with `json.loads(parse_float=Decimal)`. Memory
depends on one chunk's records, not on the body. ijson keeps the dotted path of every open container, which
costs the square of the nesting depth, so a body nested deeper than `MAX_DEPTH` is refused before the records
parser sees it.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from itertools import accumulate, repeat
from operator import itemgetter
from typing import Any

import ijson

from .paging import PageSeen
from .paths import write_path

log = logging.getLogger(__name__)

BACKEND = "yajl2_c"
CHUNK_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
MAX_DEPTH = 1024
DEPTH_SLICE = 64 * 1024
BOM = b"\xef\xbb\xbf"


def _backend():
    """ijson's C backend; another one only with a warning in every log that imports this module."""
    try:
        return ijson.get_backend(BACKEND)
    except ImportError as missing:
        fallback = ijson.backend_name if hasattr(ijson, "backend_name") else ijson.backend
        message = (f"ijson's C backend {BACKEND} is not available ({missing}); parsing listings with the "
                   f"{fallback} backend instead, several times slower: reinstall ijson from a wheel")
        log.error("%s", message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return ijson.get_backend(fallback)


PARSER = _backend()
PARSER_NAME = f"ijson {ijson.__version__} {PARSER.backend_name}"
_DEPTH_CHANGE = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}
_event_name = itemgetter(0)


class ResponseBody:
    """A response body as it arrives: its digest, its size, its first bytes, and the bytes themselves spooled."""

    def __init__(self, head_length: int = 4096):
        self._hash = hashlib.sha256()
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        self._head_length = head_length
        self.head = b""
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        if len(self.head) < self._head_length:
            self.head += chunk[: self._head_length - len(self.head)]
        self._spool.write(chunk)
        self.size += len(chunk)

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The bytes from the start, `size` at a time."""
        self._spool.seek(0)
        while chunk := self._spool.read(size):
            yield chunk

    def read(self) -> bytes:
        """All the bytes at once: only for what is small by nature (an error body, a reference document)."""
        self._spool.seek(0)
        return self._spool.read()

    def close(self) -> None:
        self._spool.close()

    def __len__(self) -> int:
        return self.size


class TooDeep(ValueError):
    """The body nests containers deeper than MAX_DEPTH."""


def _prefix(path: str | None) -> str:
    return "" if path is None else path


class RecordStream:
    """Parses one page pushed chunk by chunk; `feed` returns the records completed by that chunk.

    After `close`, `page` holds the envelope values and the record count, and `found_records` says whether the
    records path held a list at all; `top_keys` and `root_type` describe the body when it did not.
    """

    def __init__(self, records_path: str | None, envelope_paths: tuple[str, ...] = (),
                 clock: Callable[[], float] = time.monotonic):
        records_prefix = _prefix(records_path)
        self._records = ijson.sendable_list()
        self._events = ijson.sendable_list()
        self._depth_events = PARSER.basic_parse_coro(self._events)
        self._depth = 0
        self._records_parser = PARSER.items_coro(self._records, f"{records_prefix}.item" if records_prefix else "item")
        self._envelope_values = {path: ijson.sendable_list() for path in envelope_paths}
        self._envelope_parsers = [PARSER.items_coro(sink, path) for path, sink in self._envelope_values.items()]
        self._probe_events = ijson.sendable_list()
        self._probe = PARSER.parse_coro(self._probe_events)
        self._records_array = (records_prefix, "start_array")
        self._started = False
        self._pending = b""
        self.found_records = False
        self.top_keys: list[str] = []
        self.root_type: str | None = None
        self.page = PageSeen()
        self.seconds = 0.0
        self._clock = clock

    def feed(self, chunk: bytes) -> list[Any]:
        started = self._clock()
        try:
            if not self._started:
                chunk = self._pending + chunk
                if len(chunk) < len(BOM) and BOM.startswith(chunk):
                    self._pending = chunk
                    return []
                chunk, self._pending, self._started = chunk.removeprefix(BOM), b"", True
            if chunk:
                self._send(chunk)
            return self._taken()
        finally:
            self.seconds += self._clock() - started

    def close(self) -> list[Any]:
        """Ends the body: raises ijson's error for a truncated body, TooDeep for a too deeply nested one."""
        started = self._clock()
        try:
            if self._pending:
                self._send(self._pending)
            self._depth_events_closed()
            self._records_parser.close()
            for parser in self._envelope_parsers:
                parser.close()
            if self._probe is not None:
                self._probe.close()
                self._read_probe()
            for path, values in self._envelope_values.items():
                if values:
                    write_path(self.page.envelope, path, values[-1])
            return self._taken()
        finally:
            self.seconds += self._clock() - started

    def _send(self, chunk: bytes) -> None:
        for start in range(0, len(chunk), DEPTH_SLICE):
            self._depth_events.send(chunk[start : start + DEPTH_SLICE])
            self._check_depth()
        self._records_parser.send(chunk)
        for parser in self._envelope_parsers:
            parser.send(chunk)
        if self._probe is not None:
            self._probe.send(chunk)
            self._read_probe()

    def _depth_events_closed(self) -> None:
        self._depth_events.close()
        self._check_depth()

    def _check_depth(self) -> None:
        """The deepest nesting so far; each step at C speed (a slice that opens fewer containers than the room left
        needs no more than counting them)."""
        names = list(map(_event_name, self._events))
        self._events.clear()
        opened = names.count("start_map") + names.count("start_array")
        if self._depth + opened > MAX_DEPTH:
            running = list(accumulate(map(_DEPTH_CHANGE.get, names, repeat(0, len(names))), initial=self._depth))
            if max(running) > MAX_DEPTH:
                raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
        self._depth += opened - names.count("end_map") - names.count("end_array")

    def _read_probe(self) -> None:
        """Watches the body's first events until the records array opens: its top-level keys and type, in case
        it never does. Stops listening once it has (it would cost a Python step per event)."""
        for prefix, event, value in self._probe_events:
            if self.root_type is None:
                self.root_type = _ROOT_TYPES.get(event, type(value).__name__)
            if (prefix, event) == self._records_array:
                self.found_records = True
                self._probe = None
                break
            if prefix == "" and event == "map_key" and len(self.top_keys) < 64:
                self.top_keys.append(value)
        self._probe_events.clear()

    def _taken(self) -> list[Any]:
        records = self._records
        if not records:
            return []
        taken = list(records)
        records.clear()
        page = self.page
        page.count += len(taken)
        page.last_record = taken[-1]
        return taken


_ROOT_TYPES = {"start_map": "dict", "start_array": "list", "string": "str", "boolean": "bool", "null": "NoneType"}


def parse_error(exc: Exception) -> str:
    """ijson's (yajl's) message, first line only: the rest of it quotes the body, which may hold anything."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
