"""Reading and checking the fields of a request (the README's HTTP API), and JSON answers."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask import Response, jsonify, request

from facevoice.errors import BadInput
from facevoice.storage.attempts import FLOWS
from facevoice.web.services import services

USERNAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{2,31}")
DATA_URL_PREFIX = re.compile(r"data:[\w.+/-]*(;[\w.+=-]+)*;base64,", re.ASCII)
QUOTE = ord('"')
OPENERS, CLOSERS = (ord("["), ord("{")), (ord("]"), ord("}"))
# Every byte but quotes and brackets, which are all the depth scan needs to see.
NOT_STRUCTURE = bytes(sorted(set(range(256)) - {QUOTE, *OPENERS, *CLOSERS}))
DEPTH_CHUNK = 1 << 20  # bytes scanned at a time: a 20 MB body costs a few MB of memory
PARSED_JSON = "facevoice.json_body"  # where ``json_body`` keeps its result: the WSGI environ


@dataclass
class DepthScan:
    """What a scan of quotes and brackets carries from one chunk to the next."""

    in_string: int = 0  # 1 inside a string
    level: int = 0
    deepest: int = 0

    def feed(self, chunk: np.ndarray) -> None:
        """Scan the next quotes and brackets, counting the brackets outside strings."""
        inside = (self.in_string + np.cumsum(chunk == QUOTE)) % 2
        opens = (chunk == OPENERS[0]) | (chunk == OPENERS[1])
        closes = (chunk == CLOSERS[0]) | (chunk == CLOSERS[1])
        steps = np.where(inside == 0, opens.astype(np.int64) - closes, 0)
        levels = self.level + np.cumsum(steps)
        self.deepest = max(self.deepest, int(levels.max()))
        self.level, self.in_string = int(levels[-1]), int(inside[-1])


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, counted without parsing it.

    Brackets inside strings do not count. For invalid JSON the count may be off past the
    first error, where a parser stops anyway.
    """
    try:
        encoding = json.detect_encoding(body)
        if encoding not in {"utf-8", "utf-8-sig"}:
            # Brackets, quotes and backslashes are single bytes in UTF-8, never part of others.
            body = body.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    except (UnicodeError, LookupError):
        return 0  # json.loads cannot decode it either: it fails without nesting
    # Escapes go first, pairs of backslashes before escaped quotes, as a parser reads them.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = unescaped.translate(None, NOT_STRUCTURE)
    scan = DepthScan()
    for start in range(0, len(structure), DEPTH_CHUNK):
        size = min(DEPTH_CHUNK, len(structure) - start)
        scan.feed(np.frombuffer(structure, np.uint8, size, start))
    return scan.deepest


def json_body(max_depth: int) -> Any:
    """The request's JSON body parsed once (None when it is not valid JSON).

    Raises ``BadInput`` for a body nested deeper than ``max_depth``, before parsing it:
    a parser would recurse once per level. Every reader of the body goes through this.
    """
    if PARSED_JSON not in request.environ:
        body = request.get_data(cache=True)
        # With at most max_depth opening brackets a text cannot nest deeper: skip the scan.
        openers = body.count(b"[") + body.count(b"{")
        if openers > max_depth and json_depth(body) > max_depth:
            raise BadInput(f"The JSON body nests deeper than {max_depth} levels.")
        request.environ[PARSED_JSON] = request.get_json(silent=True)
    return request.environ[PARSED_JSON]


def check_json_body() -> None:
    """Before any view: refuse a JSON body nested too deeply (400), whatever route it is for."""
    if request.is_json:
        json_body(services().settings.max_json_depth)


def read_fields() -> Mapping[str, Any]:
    """The request's fields: a JSON object, or form fields of the same names."""
    if request.is_json:
        data = json_body(services().settings.max_json_depth)
        if not isinstance(data, dict):
            raise BadInput("The request body must be a JSON object.")
        return data
    return request.form


def is_valid_username(value: Any) -> bool:
    """Whether a value follows the username rule: 3-32 of [A-Za-z0-9_.-], not starting with '.'."""
    return isinstance(value, str) and USERNAME.fullmatch(value) is not None


def username_field(data: Mapping[str, Any]) -> str:
    """The checked ``username`` field."""
    value = data.get("username")
    if not is_valid_username(value):
        raise BadInput(
            "A username is 3 to 32 letters, digits, '_', '.' or '-', and does not start with '.'."
        )
    return value


def flow_field(data: Mapping[str, Any]) -> str:
    """The checked ``flow`` field: ``sign_up`` or ``log_in``."""
    value = data.get("flow")
    if value not in FLOWS:
        raise BadInput('\'flow\' must be "sign_up" or "log_in".')
    return value


def base64_field(data: Mapping[str, Any], name: str) -> bytes:
    """Strictly decoded Base64 of a field, with or without a ``data:...;base64,`` prefix."""
    return decode_base64(data.get(name), name)


def base64_list_field(data: Mapping[str, Any], name: str, max_items: int = 40) -> list[bytes]:
    """A JSON list of Base64 texts (form clients repeat the field), each strictly decoded."""
    values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
    if not isinstance(values, list) or not values:
        raise BadInput(
            f"'{name}' is missing: this site asks for a burst of photos showing a head turn "
            "(GET /log_in/challenge says to which side)."
        )
    if len(values) > max_items:
        raise BadInput(f"'{name}' holds {len(values)} items; at most {max_items} are accepted.")
    return [decode_base64(value, f"{name}[{i}]") for i, value in enumerate(values)]


def int_list_field(data: Mapping[str, Any], name: str, count: int, high: int) -> list[int]:
    """A JSON list of ``count`` whole numbers from 0 to ``high``, in non-decreasing order."""
    values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
    if not isinstance(values, list):
        raise BadInput(f"'{name}' is missing: send a list of whole numbers.")
    if len(values) != count:
        raise BadInput(f"'{name}' holds {len(values)} numbers; {count} are needed, one per frame.")
    numbers = []
    for value in values:
        try:
            number = int(value) if not isinstance(value, bool | float) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not 0 <= number <= high:
            raise BadInput(f"'{name}' must hold whole numbers from 0 to {high}.")
        numbers.append(number)
    if any(later < earlier for earlier, later in itertools.pairwise(numbers)):
        raise BadInput(f"'{name}' must not go back in time: the frames come in capture order.")
    return numbers


def decode_base64(value: Any, name: str) -> bytes:
    """Strictly decoded Base64 text, with or without a ``data:...;base64,`` prefix."""
    if not isinstance(value, str) or not value:
        raise BadInput(f"'{name}' is missing: send it as Base64 text.")
    prefix = DATA_URL_PREFIX.match(value)
    if prefix:
        value = value[prefix.end() :]
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(f"'{name}' is not valid Base64.") from None
    if not decoded:
        raise BadInput(f"'{name}' is empty.")
    return decoded


def optional_int_field(data: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    """An optional whole number between ``low`` and ``high``."""
    value = data.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool | float) or not low <= number <= high:
        raise BadInput(f"'{name}' must be a whole number from {low} to {high}.")
    return number


def answer(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    """The JSON answer of the README's HTTP API: ``ok``, ``message`` and any extra fields."""
    return jsonify(ok=status < 400, message=message, **extra), status


def client_ip() -> str:
    """The client's address (as set by ProxyFix when behind trusted proxies)."""
    return request.remote_addr or "unknown"


def wants_page() -> bool:
    """Whether the client is a browser asking for a page: a GET naming ``text/html`` first.

    Everyone else (the pages' own requests, API clients, ``*/*``) gets JSON.
    """
    accepted = request.accept_mimetypes
    names_html = any(value == "text/html" and quality > 0 for value, quality in accepted)
    best = accepted.best_match(["text/html", "application/json"])
    return request.method in ("GET", "HEAD") and names_html and best == "text/html"


def wants_json() -> bool:
    """Whether the client prefers a JSON answer to an HTML page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.method != "GET"
