"""Reading a request body as JSON, bounded: at most ``limit`` bytes (413), at most ``max_depth``
levels of nesting (400 ``invalid_json``, found by a linear scan before the parser recurses), and
only JSON's own numbers (``NaN``, ``Infinity`` and numbers too large for a float are refused,
since Python's parser accepts them).

>>> json_depth(b'{"a": [1, {"b": "[[["}]}')
3
"""

from __future__ import annotations

import json

import numpy as np

from livemind.server.errors import BodyTooLarge, InvalidRequest

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = (ord("["), ord("{")), (ord("]"), ord("}"))


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body``, brackets inside strings not
    counted; vectorized, so linear in the body's length whatever it holds."""
    a = np.frombuffer(body, np.uint8)
    if a.size == 0:
        return 0
    pos = np.arange(a.size)
    backslash = a == _BACKSLASH
    last_other = np.maximum.accumulate(np.where(backslash, -1, pos))   # last non-backslash at or before i
    run = np.concatenate(([0], pos[:-1] - last_other[:-1]))           # backslashes right before i
    quote = (a == _QUOTE) & (run % 2 == 0)                              # quotes that open or close a string
    outside = np.cumsum(quote) % 2 == 0                                  # not inside a string
    step = ((a == _OPEN[0]) | (a == _OPEN[1])).astype(np.int32) - ((a == _CLOSE[0]) | (a == _CLOSE[1]))
    step *= outside
    return int(np.cumsum(step).max(initial=0))


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise ValueError("number too large")
    return value


def parse_json(body: bytes, *, max_depth: int) -> dict:
    """``body`` as a JSON object; InvalidRequest (``invalid_json``) if it is not one, nests deeper
    than ``max_depth``, or holds NaN, Infinity or a number no float can hold."""
    if json_depth(body) > max_depth:
        raise InvalidRequest(f"The request body nests arrays and objects deeper than {max_depth} levels.",
                             code="invalid_json")
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return data


async def read_body(stream, limit: int, declared: str = "") -> bytes:
    """The bytes of ``stream`` (an async iterator of chunks), refusing more than ``limit`` bytes —
    before reading any when the declared Content-Length already says so."""
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The request body is larger than the limit of {limit} bytes.", code="request_too_large")
    body = bytearray()
    async for chunk in stream:
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"The request body is larger than the limit of {limit} bytes.", code="request_too_large")
    return bytes(body)
