"""What a loaded model takes in memory, computed before it loads: the one account that
:meth:`Model.memory <livemind.engine.model.Model.memory>` reports and the governor budgets
(through :meth:`NativeBackend.memory_estimate <livemind.backends.NativeBackend.memory_estimate>`).

- weights: every tensor of the file (each page is read during a step; a repacked tensor's copy
  replaces its pages, and a tied embedding is looked up in its output projection's copy);
- kv: every KV slot (the concurrent generations plus the one ``logits()`` uses) at the full
  context — the most the engine can touch; pages are mapped as positions are written and handed
  back when a generation ends, so resident KV follows the work in flight;
- scratch: the step's workspace for the largest step, which one step at a time uses: its buffers
  (:func:`workspace_bytes`) and room for every temporary its kernels take
  (:func:`temporaries_bytes`), so a step allocates nothing in C; the logits of one decode step of
  every slot, one float64 copy of the vocabulary for sampling;
- host: the Python side: the file's metadata and the tokenizer built from it, measured at
  :data:`HOST_BYTES_PER_STRING` per vocabulary string (token texts and merges) — SmolLM2
  (98k strings) 28.6 MiB, Gemma 3 (262k) 63.9 MiB on CPython 3.11.

``tests/engine/test_memory.py`` holds the total to the measured peak growth of the process
within 10 % for both packaged models and every KV type, and for mid-size synthetic models of every
architecture family (F16, Q8_0 and Q4_K_M weights).
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np

from livemind import _native
from livemind import kernels as K
from livemind.engine.config import ModelConfig
from livemind.engine.gguf import GGUFFile

KV_DTYPES = {"f32": (0, np.float32), "f16": (1, np.float16), "fp8": (2, np.uint8)}
HOST_BYTES_PER_STRING = 270      # measured: 292 (SmolLM2, BPE with merges) and 244 (Gemma 3, SentencePiece)
PAGE = mmap.PAGESIZE
# GGUF types the step reads a projection or embedding in: floats, halves (widened in registers)
# and the quantized formats of livemind.kernels
WEIGHT_TYPES = ("F32", "F16", "BF16", *(q.upper() for q in K.QUANT_FORMATS))


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes by kind; ``total`` is what the governor budgets."""

    weights: int
    kv: int
    scratch: int
    host: int

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.scratch + self.host

    def as_dict(self) -> dict[str, int]:
        return {"weights": self.weights, "kv": self.kv, "scratch": self.scratch, "host": self.host}


def repacks(tensor, *, repack: bool, projection: bool = True, rows: int | None = None) -> bool:
    """Whether the engine lays ``tensor`` (a GGUF tensor info; ``rows`` of it when the weight is
    part of a fused tensor) out in the x16 layout at load: a projection whose rows come in
    sixteens, in a format with a fast x16 kernel on this CPU."""
    if rows is None:
        rows = int(np.prod(tensor.shape[:-1])) if len(tensor.shape) > 1 else 1
    return repack and projection and rows % 16 == 0 and bool(_native.qx16(tensor.type.id)[1])


def kv_slot_bytes(cfg: ModelConfig, n_ctx: int, kv_dtype: str) -> int:
    """Bytes of one slot (one sequence at full context) of one layer's K (or V) cache."""
    return n_ctx * cfg.n_head_kv * cfg.head_dim * np.dtype(KV_DTYPES[kv_dtype][1]).itemsize


def workspace_bytes(cfg: ModelConfig, tokens: int) -> int:
    """The C step's buffers for a step of ``tokens`` (``lmk_model_buffers_bytes``)."""
    q, kv = cfg.n_head * cfg.head_dim, cfg.n_head_kv * cfg.head_dim
    sizes = [cfg.n_embd, cfg.n_embd, q, kv, kv, q, cfg.n_embd, cfg.n_ff, cfg.n_ff]
    return sum(-(-tokens * n // 16) * 16 * 4 for n in sizes)


def temporaries_bytes(file: GGUFFile, cfg: ModelConfig, tokens: int, *, repack: bool = True) -> int:
    """The room the C step's kernels take for their temporaries, in the workspace after its
    buffers (``lmk_model_workspace_bytes``): the most any one piece of a step of ``tokens`` takes,
    at the current thread count — a projection (every matrix of the file, in the layout it loads
    in: packed floats, or quantized activations with their prepared sums) or attention."""
    most = _native.attention_tmp_bytes(tokens, cfg.n_head, cfg.n_head_kv, cfg.head_dim, KV_DTYPES["f16"][0])
    for t in file.tensors.values():
        if len(t.shape) == 2 and t.type.name in WEIGHT_TYPES:
            rows, cols = t.shape
            most = max(most, _native.linear_tmp_bytes(t.type.id, int(repacks(t, repack=repack)), tokens, rows, cols))
    return most


def plan(file: GGUFFile, cfg: ModelConfig, *, n_ctx: int, kv_dtype: str, n_seq: int, prefill_chunk: int,
         repack: bool = True) -> MemoryPlan:
    """The memory of ``file`` loaded with these settings (see the module docstring)."""
    tensors = file.tensors
    weights = sum(t.nbytes for t in tensors.values())
    kv = 2 * cfg.n_layer * (n_seq + 1) * kv_slot_bytes(cfg, n_ctx, kv_dtype)
    scratch = (workspace_bytes(cfg, prefill_chunk) + temporaries_bytes(file, cfg, prefill_chunk, repack=repack)
               + 4 * cfg.n_vocab * n_seq + 8 * cfg.n_vocab)
    strings = len(file.metadata.get("tokenizer.ggml.tokens") or ()) + len(file.metadata.get("tokenizer.ggml.merges") or ())
    return MemoryPlan(weights=weights, kv=kv, scratch=scratch, host=HOST_BYTES_PER_STRING * strings)


class Mapped:
    """``nbytes`` of memory in an anonymous private mapping of the model's own, handed back to the
    system at :meth:`close`. What a model holds for its lifetime (repacked weights, the step's
    workspace, the KV cache) lives in these rather than in malloc's heap: malloc keeps freed
    blocks for the process, and a server that swapped models for minutes held ~350 MiB that no
    model used (measured: its RSS with nothing loaded went from 145 to ~600 MiB). ``huge`` asks
    for transparent huge pages (weights streamed every step: fewer TLB misses), or keeps them out
    (the KV cache, whose pages are touched and handed back position by position)."""

    def __init__(self, nbytes: int, *, huge: bool):
        self.nbytes = nbytes
        self._map = mmap.mmap(-1, max(nbytes, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        advice = "MADV_HUGEPAGE" if huge else "MADV_NOHUGEPAGE"
        if hasattr(mmap, advice):
            try:
                self._map.madvise(getattr(mmap, advice))
            except OSError:      # a kernel without transparent huge pages: the advice is only a hint
                pass

    def array(self, dtype=np.uint8, shape=None) -> np.ndarray:
        """The mapping as an array (page-aligned), of ``shape`` (default: all of it, flat)."""
        dtype = np.dtype(dtype)
        count = self.nbytes // dtype.itemsize if shape is None else int(np.prod(shape))
        out = np.frombuffer(self._map, dtype, count)
        return out if shape is None else out.reshape(shape)

    def advise(self, advice: int, start: int, length: int) -> None:
        self._map.madvise(advice, start, length)

    def close(self) -> None:
        try:
            self._map.close()
        except BufferError:      # a view of it is still held somewhere: the collector frees it
            pass


class KVCache:
    """One layer's K or V cache, (n_slots, n_ctx, n_head_kv, head_dim), in a :class:`Mapped` of its
    own: untouched pages take no memory, pages of a finished generation go back to the system
    (:meth:`release`), and small pages are asked for — numpy's own allocations ask for 2 MiB
    transparent huge pages, whose first touch zeroes 2 MiB per layer and made a fresh slot's
    first token cost ~0.3 s at a 4096 context."""

    def __init__(self, shape: tuple[int, ...], dtype):
        self.shape, self.dtype = shape, np.dtype(dtype)
        nbytes = int(np.prod(shape)) * self.dtype.itemsize
        self._map = Mapped(nbytes, huge=False)
        self.array = self._map.array(self.dtype, shape)
        self.slot_bytes = nbytes // shape[0]

    def release(self, slot: int, positions: int, start: int = 0) -> None:
        """Hands the pages of ``slot``'s positions ``start``..``positions`` back (they read as zeros
        afterwards). Only pages wholly inside that range: data around it is never touched."""
        per = self.slot_bytes // self.shape[1]
        begin = slot * self.slot_bytes
        start, end = begin + min(start, self.shape[1]) * per, begin + min(positions, self.shape[1]) * per
        first, last = -(-start // PAGE) * PAGE, end // PAGE * PAGE
        if last > first and hasattr(mmap, "MADV_DONTNEED"):
            self._map.advise(mmap.MADV_DONTNEED, first, last - first)

    def close(self) -> None:
        self.array = None
        self._map.close()
