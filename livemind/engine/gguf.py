"""Reading GGUF files: memory-mapped, validated, never trusted.

Every length, count and offset read from the file is checked against the bytes that are really
there before it is used, so a corrupt, truncated or hostile file raises :class:`ModelLoadError`
saying what is wrong and where; it never crashes the process or allocates what the file merely
claims. Tensor data is not copied: :meth:`GGUFFile.tensor_data` returns views of the mapping.

Layout (versions 2 and 3, little-endian): magic "GGUF", u32 version, u64 tensor count, u64
metadata count, the metadata key/values, the tensor infos (name, dims innermost first, ggml type,
offset relative to the data section), padding to ``general.alignment`` (default 32), the data.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livemind.errors import ModelLoadError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4                # ggml's GGML_MAX_DIMS
MAX_NAME = 64 * 1024        # generous; ggml itself caps tensor names at 64 bytes
MAX_ALIGNMENT = 1 << 30     # a gigantic page; anything larger is a corrupt value, not a layout


@dataclass(frozen=True)
class GGMLType:
    id: int
    name: str
    block_elems: int
    block_bytes: int


# ggml's type ids with their block geometry; types not listed cannot be sized, hence not loaded.
GGML_TYPES: dict[int, GGMLType] = {t.id: t for t in (
    GGMLType(0, "F32", 1, 4), GGMLType(1, "F16", 1, 2), GGMLType(2, "Q4_0", 32, 18),
    GGMLType(3, "Q4_1", 32, 20), GGMLType(6, "Q5_0", 32, 22), GGMLType(7, "Q5_1", 32, 24),
    GGMLType(8, "Q8_0", 32, 34), GGMLType(9, "Q8_1", 32, 36), GGMLType(10, "Q2_K", 256, 84),
    GGMLType(11, "Q3_K", 256, 110), GGMLType(12, "Q4_K", 256, 144), GGMLType(13, "Q5_K", 256, 176),
    GGMLType(14, "Q6_K", 256, 210), GGMLType(15, "Q8_K", 256, 292), GGMLType(24, "I8", 1, 1),
    GGMLType(25, "I16", 1, 2), GGMLType(26, "I32", 1, 4), GGMLType(27, "I64", 1, 8),
    GGMLType(28, "F64", 1, 8), GGMLType(30, "BF16", 1, 2), GGMLType(16, "IQ2_XXS", 256, 66),
    GGMLType(17, "IQ2_XS", 256, 74), GGMLType(18, "IQ3_XXS", 256, 98), GGMLType(19, "IQ1_S", 256, 50),
    GGMLType(20, "IQ4_NL", 32, 18), GGMLType(21, "IQ3_S", 256, 110), GGMLType(22, "IQ2_S", 256, 82),
    GGMLType(23, "IQ4_XS", 256, 136), GGMLType(29, "IQ1_M", 256, 56), GGMLType(34, "TQ1_0", 256, 54),
    GGMLType(35, "TQ2_0", 256, 66), GGMLType(39, "MXFP4", 32, 17),
)}

# metadata value types: id -> (struct format, size); 8 = string, 9 = array
_SCALARS = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
            6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}
_NUMPY = {0: np.uint8, 1: np.int8, 2: np.uint16, 3: np.int16, 4: np.uint32, 5: np.int32,
          6: np.float32, 7: np.bool_, 10: np.uint64, 11: np.int64, 12: np.float64}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's place in the file. ``shape`` is in numpy order (outermost first), the
    reverse of GGUF's dims: a weight with GGUF dims (in, out) has shape (out, in)."""

    name: str
    shape: tuple[int, ...]
    type: GGMLType
    offset: int      # absolute byte offset in the file
    nbytes: int

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


class _Cursor:
    """Bounds-checked little-endian reads over the mapped bytes."""

    def __init__(self, buf, path: str):
        self.buf, self.pos, self.path, self.size = buf, 0, path, len(buf)

    def fail(self, what: str) -> ModelLoadError:
        return ModelLoadError(self.path, what)

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"truncated: {what} needs {n} bytes at offset {self.pos}, file has {self.size}")
        view = memoryview(self.buf)[self.pos:self.pos + n]
        self.pos += n
        return view

    def scalar(self, vtype: int, what: str):
        fmt, size = _SCALARS[vtype]
        return struct.unpack(fmt, self.take(size, what))[0]

    def u32(self, what: str) -> int:
        return self.scalar(4, what)

    def u64(self, what: str) -> int:
        return self.scalar(10, what)

    def string(self, what: str, limit: int | None = None) -> str:
        n = self.u64(f"{what} length")
        if limit is not None and n > limit:
            raise self.fail(f"{what} is {n} bytes long, more than the limit of {limit}")
        raw = self.take(n, what)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.scalar(vtype, what)
        if vtype == _STRING:
            return self.string(what)
        if vtype == _ARRAY:
            if depth > 0:
                raise self.fail(f"{what}: nested arrays are not supported")
            etype = self.u32(f"{what} element type")
            count = self.u64(f"{what} element count")
            if etype in _SCALARS:
                size = _SCALARS[etype][1]
                if count > (self.size - self.pos) // size:
                    raise self.fail(f"truncated: {what} claims {count} elements at offset {self.pos}")
                return np.frombuffer(self.take(count * size, what), dtype=np.dtype(_NUMPY[etype]).newbyteorder("<")).copy()
            if etype == _STRING:
                if count > (self.size - self.pos) // 8:  # each string needs at least its length
                    raise self.fail(f"truncated: {what} claims {count} strings at offset {self.pos}")
                return [self.string(f"{what}[{i}]") for i in range(count)]
            raise self.fail(f"{what}: unknown array element type {etype}")
        raise self.fail(f"{what}: unknown value type {vtype}")


def _alignment(value: Any, cur: _Cursor) -> int:
    """``general.alignment``: a power of two, as an integer value (the spec says u32)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise cur.fail(f"general.alignment is {value!r}, not an integer")
    if not 1 <= value <= MAX_ALIGNMENT or value & (value - 1):
        raise cur.fail(f"general.alignment {value} is not a power of two from 1 to {MAX_ALIGNMENT}")
    return value


def _check_disjoint(tensors, cur: _Cursor) -> None:
    """Tensors may leave gaps but not share bytes: overlapping data means the offsets are corrupt
    (llama.cpp goes further and wants them packed in order)."""
    spans = sorted((t.offset, t.offset + t.nbytes, t.name) for t in tensors)
    for (_, end, name), (start, _, other) in zip(spans, spans[1:]):
        if start < end:
            raise cur.fail(f"tensors {name!r} and {other!r} overlap in the file (bytes {start} to {end})")


class GGUFFile:
    """A GGUF file, mapped read-only and validated on open.

    >>> f = GGUFFile(path)                                  # doctest: +SKIP
    >>> f.metadata["general.architecture"], f.tensors["token_embd.weight"].shape
    ('llama', (49152, 576))
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._file = open(self.path, "rb")
        except OSError as exc:
            raise ModelLoadError(self.path, f"cannot open: {exc.strerror or exc}") from None
        try:
            size = self._file.seek(0, 2)
            if size < 24:
                raise ModelLoadError(self.path, f"too small to be a GGUF file ({size} bytes)")
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            self._parse()
        except BaseException:
            self.close()
            raise

    def _parse(self) -> None:
        cur = _Cursor(self._map, str(self.path))
        magic = bytes(cur.take(4, "magic"))
        if magic != MAGIC:
            raise cur.fail(f"bad magic {magic!r} (not a GGUF file)")
        self.version = cur.u32("version")
        if self.version not in SUPPORTED_VERSIONS:
            raise cur.fail(f"GGUF version {self.version} is not supported (supported: 2, 3)")
        n_tensors = cur.u64("tensor count")
        n_kv = cur.u64("metadata count")
        if n_kv > cur.size // 12 or n_tensors > cur.size // 24:   # smallest possible entries
            raise cur.fail(f"implausible counts: {n_tensors} tensors, {n_kv} metadata entries")

        self.metadata: dict[str, Any] = {}
        for i in range(n_kv):
            key = cur.string(f"metadata key #{i}", limit=MAX_NAME)
            if key in self.metadata:   # which one would count is a guess; llama.cpp refuses too
                raise cur.fail(f"metadata key {key!r} appears twice")
            vtype = cur.u32(f"type of {key!r}")
            self.metadata[key] = cur.value(vtype, f"metadata {key!r}")
        self.alignment = _alignment(self.metadata.get("general.alignment", 32), cur)

        infos = []
        for i in range(n_tensors):
            name = cur.string(f"tensor #{i} name", limit=MAX_NAME)
            n_dims = cur.u32(f"tensor {name!r} dimension count")
            if not 1 <= n_dims <= MAX_DIMS:
                raise cur.fail(f"tensor {name!r} has {n_dims} dimensions (1 to {MAX_DIMS} supported)")
            dims = [cur.u64(f"tensor {name!r} dim {d}") for d in range(n_dims)]
            type_id = cur.u32(f"tensor {name!r} type")
            offset = cur.u64(f"tensor {name!r} offset")
            infos.append((name, dims, type_id, offset))

        self.data_offset = -(-cur.pos // self.alignment) * self.alignment
        self.tensors: dict[str, TensorInfo] = {}
        for name, dims, type_id, offset in infos:
            self.tensors[name] = self._check_tensor(name, dims, type_id, offset, cur)
        _check_disjoint(self.tensors.values(), cur)

    def _check_tensor(self, name, dims, type_id, offset, cur: _Cursor) -> TensorInfo:
        if name in self.tensors:
            raise cur.fail(f"tensor {name!r} appears twice")
        ttype = GGML_TYPES.get(type_id)
        if ttype is None:
            raise cur.fail(f"tensor {name!r} has unknown ggml type {type_id}")
        n = 1
        for d in dims:
            if d == 0 or d > cur.size * 8:     # no real tensor has more elements than file bits
                raise cur.fail(f"tensor {name!r} has an impossible dimension {d} (dims {dims})")
            n *= d
        if dims[0] % ttype.block_elems:
            raise cur.fail(f"tensor {name!r}: row of {dims[0]} elements is not a whole number of "
                           f"{ttype.name} blocks ({ttype.block_elems})")
        nbytes = n // ttype.block_elems * ttype.block_bytes
        if offset % self.alignment:
            raise cur.fail(f"tensor {name!r} offset {offset} is not aligned to {self.alignment}")
        start = self.data_offset + offset
        if start + nbytes > cur.size:
            raise cur.fail(f"truncated: tensor {name!r} ({ttype.name}, {nbytes} bytes at {start}) "
                           f"runs past the end of the file ({cur.size} bytes)")
        return TensorInfo(name, tuple(int(d) for d in reversed(dims)), ttype, start, nbytes)

    # ------------------------------------------------------------------ access

    @property
    def architecture(self) -> str:
        arch = self.metadata.get("general.architecture")
        if not isinstance(arch, str):
            raise ModelLoadError(self.path, "metadata has no general.architecture")
        return arch

    def require(self, name: str) -> TensorInfo:
        """The info of a tensor the model cannot do without: a file that lacks it is a
        :class:`ModelLoadError` naming it (a plain lookup in :attr:`tensors` is a KeyError)."""
        info = self.tensors.get(name)
        if info is None:
            raise ModelLoadError(self.path, f"tensor {name!r} is missing ({self.architecture} models need it)")
        return info

    def tensor_data(self, name: str) -> np.ndarray:
        """The tensor's bytes without copying: F32/F16/BF16-free typed arrays in numpy order for
        float types, and ``uint8`` rows ``(…, row_bytes)`` of blocks for quantized ones."""
        info = self.tensors.get(name)
        if info is None:
            raise KeyError(f"{self.path.name} has no tensor {name!r}")
        raw = np.frombuffer(self._map, dtype=np.uint8, count=info.nbytes, offset=info.offset)
        if info.type.block_elems == 1 and info.type.name in ("F32", "F16", "F64", "I8", "I16", "I32", "I64"):
            dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}
            return raw.view(dtype[info.type.name]).reshape(info.shape)
        row_bytes = info.shape[-1] // info.type.block_elems * info.type.block_bytes
        return raw.reshape(*info.shape[:-1], row_bytes)

    def release(self, name: str, begin: int = 0, end: int | None = None) -> None:
        """Drops the pages of the tensor's bytes [begin, end) (default: all of them) from this
        process's memory (they come back from the file if read again): for weights the engine
        has copied into a layout of its own. The range also stops being mapped in huge pages:
        where the page cache holds the file in 2 MiB folios, reading a weight kept in place next
        to it would map its whole folio back (Gemma 3's Q5_0 projections, 40 MiB, came back
        beside its K-quant ones)."""
        info = self.tensors[name]
        end = info.nbytes if end is None else min(end, info.nbytes)
        page = mmap.PAGESIZE
        start = (info.offset + max(begin, 0) + page - 1) // page * page    # whole pages inside the range only
        end = (info.offset + end) // page * page
        if end > start and hasattr(self._map, "madvise"):
            if hasattr(mmap, "MADV_NOHUGEPAGE"):
                self._map.madvise(mmap.MADV_NOHUGEPAGE, start, end - start)
            self._map.madvise(mmap.MADV_DONTNEED, start, end - start)

    def close(self) -> None:
        m, f = getattr(self, "_map", None), getattr(self, "_file", None)
        self._map = self._file = None
        if m is not None:
            try:
                m.close()
            except BufferError:   # numpy views still alive: the mapping goes when they do
                pass
        if f is not None:
            f.close()

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GGUFFile({str(self.path)!r}, v{self.version}, {len(self.tensors)} tensors)"
