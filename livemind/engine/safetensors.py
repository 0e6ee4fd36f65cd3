"""Reading .safetensors files (the encoder's weights): an 8-byte header length, a JSON header
naming each tensor's dtype, shape and byte range, then the data. Memory-mapped; every range is
checked against the file before use (a bad file raises ModelLoadError)."""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import numpy as np

from livemind.errors import ModelLoadError

_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U8": "u1", "BOOL": "?"}
_MAX_HEADER = 100 * 1024 * 1024


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the file as a read-only numpy view of the mapping."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < 8:
                raise ModelLoadError(path, f"too small to be a safetensors file ({size} bytes)")
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise ModelLoadError(path, f"cannot open: {exc.strerror or exc}") from None
    (n,) = struct.unpack("<Q", mapped[:8])
    if n > min(size - 8, _MAX_HEADER):
        raise ModelLoadError(path, f"header of {n} bytes does not fit the file ({size} bytes)")
    try:
        header = json.loads(bytes(mapped[8:8 + n]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(path, f"header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelLoadError(path, "header is not a JSON object")
    base, out = 8 + n, {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(_DTYPES[meta["dtype"]])
            shape = tuple(int(d) for d in meta["shape"])
            start, end = (int(x) for x in meta["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelLoadError(path, f"tensor {name!r} has a malformed entry: {meta!r}") from None
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if min(shape, default=1) < 0 or not 0 <= start <= end or end - start != count * dtype.itemsize \
                or base + end > size:
            raise ModelLoadError(path, f"tensor {name!r} ({meta['dtype']} {list(shape)}) does not fit "
                                       f"bytes {start}..{end} of a {size - base}-byte data section")
        out[name] = np.frombuffer(mapped, dtype=dtype, count=count, offset=base + start).reshape(shape)
    return out
