"""A mutation fuzzer for the GGUF loader: a bad model file is a ModelLoadError, never a crash.

Two tiny random-weight llama models (2 layers, n_embd 64, F32 and Q8_0 weights; one with a
gpt2-style byte-level BPE vocabulary, one with a llama-style SentencePiece one) are written with
the `gguf` package; both must load and run. Then they are mutated — truncated at many offsets;
string and array lengths, the kv and tensor counts, value types, hyper-parameters, tensor
dimension counts, dimensions, type ids, data offsets and ``general.alignment`` set to awkward
values; tensors renamed; random header bytes flipped — and every mutant must either raise
:class:`~livemind.errors.ModelLoadError` from ``load_model`` or load and then run ``tokenize``,
``detokenize`` and one ``logits`` call (any values). Anything else (another exception type, a
segfault, a hang) fails the test, naming the mutant.

The mutants run in a child process (this file run as a script with ``--child``), so that a crash
is one mutant's failure rather than pytest's death; a mutant that takes longer than
``PER_MUTANT_SECONDS`` counts as a hang. After a crash or a hang a new child goes on with the next
mutant. Mutant ``i`` of seed ``S`` is a pure function of (S, i), so a failure is reproduced with
``--seed S --only i``, and ``--save`` writes that mutant to a file for a debugger.

The test runs a fixed, seeded set (``CI_COUNT`` mutants, a few seconds here). The long form runs
as many as asked and prints a summary (exit status 1 when any mutant failed)::

    scripts/fuzz-gguf --count 50000 --seed 7        # = python3 tests/engine/test_gguf_fuzz.py ...
    scripts/fuzz-gguf --seed 7 --only 1234 --save m.gguf
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

CI_SEED = 20261203
CI_COUNT = 3000
PER_MUTANT_SECONDS = 30.0   # a mutant takes milliseconds; a loaded machine is slow, a hang is forever
STARTUP_SECONDS = 300.0     # for a child to import livemind, however loaded the machine
VOCABS = ("gpt2", "llama")  # mutant i mutates the model with vocabulary VOCABS[i % 2]


# ---------------------------------------------------------------- the models under test

def _vocabulary(kind: str) -> tuple[list[str], list[int], list[float] | None, list[str] | None, int]:
    """(tokens, token types, scores, merges, eos id) of a tiny tokenizer of ``kind``."""
    if kind == "gpt2":   # GPT-2's printable byte stand-ins, three merges, three control tokens
        tokens = [chr(c) for c in range(0x21, 0x7F)] + ["Ġ", "Ġt", "he", "Ġthe"]
        tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        return tokens, [1] * (len(tokens) - 3) + [3, 3, 3], None, ["Ġ t", "h e", "Ġt he"], len(tokens) - 3
    # SentencePiece: unknown, BOS, EOS, the 256 byte-fallback tokens, a few scored pieces
    pieces = ["▁", "t", "h", "e", "c", "a", "s", "▁t", "he", "▁the", "at", "▁cat"]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))]
    return tokens, types, scores, None, 2


def write_tiny_model(path: Path, vocab: str = "gpt2", extra: dict | None = None) -> Path:
    """A small llama GGUF with random weights that LiveMind loads and runs: 2 layers, n_embd 64,
    4 query heads over 2 KV heads of 16, n_ff 256 (so that a 256-element K-quant block fits a
    row when a type id is mutated), F32 embeddings, norms and V, Q8_0 elsewhere. ``extra``:
    more metadata, key -> list (an array)."""
    import gguf
    from gguf.quants import quantize

    rng = np.random.default_rng(0)
    n_embd, n_head, n_head_kv, head_dim, n_ff, n_layer = 64, 4, 2, 16, 256, 2
    tokens, types, scores, merges, eos = _vocabulary(vocab)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("general.alignment", 32)     # written out, so that mutations reach it
    # a name that makes the header's length odd, so that alignment 1 misaligns the tensor data
    w.add_name("tiny-fuzz-")
    w.add_context_length(128)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_tokenizer_model(vocab)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if vocab == "gpt2":
        w.add_tokenizer_pre("smollm")
        w.add_token_merges(merges)
    else:
        w.add_token_scores(scores)
        w.add_unk_token_id(0)
        w.add_bos_token_id(1)
    w.add_eos_token_id(eos)
    for key, values in (extra or {}).items():
        w.add_array(key, values)

    def f32(name, shape):
        w.add_tensor(name, (rng.standard_normal(shape) * 0.1).astype(np.float32))

    def q8_0(name, shape):
        x = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        w.add_tensor(name, quantize(x, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    f32("token_embd.weight", (len(tokens), n_embd))
    w.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    q8_0("output.weight", (len(tokens), n_embd))
    for il in range(n_layer):
        w.add_tensor(f"blk.{il}.attn_norm.weight", np.ones(n_embd, np.float32))
        q8_0(f"blk.{il}.attn_q.weight", (n_head * head_dim, n_embd))
        q8_0(f"blk.{il}.attn_k.weight", (n_head_kv * head_dim, n_embd))
        f32(f"blk.{il}.attn_v.weight", (n_head_kv * head_dim, n_embd))
        q8_0(f"blk.{il}.attn_output.weight", (n_embd, n_head * head_dim))
        w.add_tensor(f"blk.{il}.ffn_norm.weight", np.ones(n_embd, np.float32))
        q8_0(f"blk.{il}.ffn_gate.weight", (n_ff, n_embd))
        q8_0(f"blk.{il}.ffn_up.weight", (n_ff, n_embd))
        q8_0(f"blk.{il}.ffn_down.weight", (n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_bases(folder: Path) -> dict[str, Path]:
    return {v: write_tiny_model(folder / f"base-{v}.gguf", v) for v in VOCABS}


# ---------------------------------------------------------------- where every field is

@dataclass(frozen=True)
class Field:
    """One integer or float field of the header; ``fmt`` is its struct format."""

    kind: str       # count, key_len, vtype, str_len, arr_type, arr_count, value, name_len, n_dims, dim, ttype, toffset
    offset: int
    fmt: str
    what: str       # the key or tensor it belongs to


@dataclass(frozen=True)
class Layout:
    fields: tuple[Field, ...]
    header_end: int                     # end of the tensor infos
    names: tuple[tuple[int, int], ...]  # (offset, length) of each tensor name's bytes

    def of(self, *kinds: str) -> list[Field]:
        return [f for f in self.fields if f.kind in kinds]

    def field(self, kind: str, what: str) -> Field:
        return next(f for f in self.fields if f.kind == kind and f.what == what)


_SCALAR_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}


def layout(data: bytes) -> Layout:
    """Walks a well-formed GGUF v3 and records every field. Written apart from livemind's reader
    on purpose: the fuzzer must not share its bugs."""
    fields: list[Field] = []
    names: list[tuple[int, int]] = []
    pos = 8

    def field(kind: str, fmt: str, what: str):
        nonlocal pos
        fields.append(Field(kind, pos, fmt, what))
        pos += struct.calcsize(fmt)
        return struct.unpack_from(fmt, data, pos - struct.calcsize(fmt))[0]

    def string(kind: str, what: str) -> str:
        nonlocal pos
        n = field(kind, "<Q", what)
        pos += n
        return data[pos - n:pos].decode()

    def value(vtype: int, what: str) -> None:
        if vtype == 8:
            string("str_len", what)
        elif vtype == 9:
            etype = field("arr_type", "<I", what)
            for _ in range(field("arr_count", "<Q", what)):
                value(etype, what)
        else:
            field("value", _SCALAR_FMT[vtype], what)

    n_tensors = field("count", "<Q", "tensor count")
    n_kv = field("count", "<Q", "kv count")
    for _ in range(n_kv):
        key = string("key_len", "key")
        value(field("vtype", "<I", key), key)
    for _ in range(n_tensors):
        names.append((pos + 8, 0))
        name = string("name_len", "tensor name")
        names[-1] = (names[-1][0], len(name))
        for d in range(field("n_dims", "<I", name)):
            field("dim", "<Q", f"{name} dim {d}")
        field("ttype", "<I", name)
        field("toffset", "<Q", name)
    return Layout(tuple(fields), pos, tuple(names))


# ---------------------------------------------------------------- mutations

def _awkward_int(rng: random.Random, fmt: str, original: int, file_size: int) -> int:
    """A value likely to find an unchecked bound, written as the field's type holds it."""
    bits = struct.calcsize(fmt) * 8
    value = rng.choice([0, 1, 2, 3, 7, 31, 32, 33, 64, 4096, original - 1, original + 1, original * 2,
                        original // 2, original + 32, -1, -2, 1 << (bits - 1), (1 << (bits - 1)) - 1,
                        1 << 31, (1 << 31) - 1, 1 << 32, (1 << 32) - 1, 1 << 62, file_size, file_size // 8,
                        rng.randrange(1 << bits), rng.randrange(256)])
    value %= 1 << bits                                   # two's complement, as the bytes hold it
    if fmt[-1].islower() and value >= 1 << (bits - 1):   # signed field: back to its signed reading
        value -= 1 << bits
    return value


_AWKWARD_FLOATS = [0.0, -0.0, -1.0, 1.0, float("nan"), float("inf"), float("-inf"), 1e38, -1e38, 1e-45,
                   3.4e38, 0.5, 1e9, 2.0**31, 2.0**32, 123456.789]


def _field(rng, data, lay, kinds, label):
    f = rng.choice(lay.of(*kinds))
    original = struct.unpack_from(f.fmt, data, f.offset)[0]
    if f.fmt in ("<f", "<d"):
        value = rng.choice(_AWKWARD_FLOATS)
    elif f.kind == "value" and struct.calcsize(f.fmt) == 4 and rng.random() < 0.2:
        value = struct.unpack(f.fmt, struct.pack("<f", rng.choice(_AWKWARD_FLOATS)))[0]   # a float's bits
    else:
        value = _awkward_int(rng, f.fmt, original, len(data))
    struct.pack_into(f.fmt, data, f.offset, value)
    return f"{label}: {f.what} {f.kind} @{f.offset} {original!r} -> {value!r}"


def _truncate(rng, data, lay):
    size = len(data)
    if rng.random() < 0.6:   # at, just inside or just past a field
        f = rng.choice(lay.fields)
        cut = f.offset + rng.choice([0, 1, struct.calcsize(f.fmt) - 1, struct.calcsize(f.fmt)])
    elif rng.random() < 0.5:
        cut = rng.randrange(0, lay.header_end + 64)
    else:
        cut = rng.randrange(lay.header_end, size)
    del data[cut:]
    return f"truncate at {cut} of {size}"


def _set_u32(rng, data, lay, kinds, label, choices):
    f = rng.choice(lay.of(*kinds))
    original = struct.unpack_from("<I", data, f.offset)[0]
    value = rng.choice([*choices, 0xFFFFFFFF, 1 << 31, rng.randrange(1 << 32)])
    struct.pack_into("<I", data, f.offset, value)
    return f"{label}: {f.what} {f.kind} @{f.offset} {original} -> {value}"


def _tensor_offset(rng, data, lay):
    offsets = lay.of("toffset")
    f = rng.choice(offsets)
    original = struct.unpack_from("<Q", data, f.offset)[0]
    other = struct.unpack_from("<Q", data, rng.choice(offsets).offset)[0]   # overlaps another tensor
    value = rng.choice([other, other + 32, original + 32, original - 32, original + 1, 0, len(data),
                        len(data) - lay.header_end, -32, 1 << 63, rng.randrange(1 << 64)]) % (1 << 64)
    struct.pack_into("<Q", data, f.offset, value)
    return f"tensor offset: {f.what} {original} -> {value}"


def _alignment(rng, data, lay):
    value = rng.choice([0, 1, 2, 3, 16, 24, 33, 64, 4096, 1 << 20, 1 << 31, (1 << 32) - 1, rng.randrange(1 << 32)])
    struct.pack_into("<I", data, lay.field("value", "general.alignment").offset, value)
    if rng.random() < 0.3:   # and the same four bytes read as another type
        vtype = rng.choice([5, 6, 7, 8, 0, 10])
        struct.pack_into("<I", data, lay.field("vtype", "general.alignment").offset, vtype)
        return f"general.alignment -> {value}, type -> {vtype}"
    return f"general.alignment -> {value}"


def _rename(rng, data, lay):
    start, n = rng.choice(lay.names)
    i = start + rng.randrange(n)
    old = data[i]
    data[i] = rng.choice([ord("x"), ord("."), 0, 0xFF, old ^ 0x20])
    return f"tensor name byte @{i} {old:#x} -> {data[i]:#x}"


def _flip_header(rng, data, lay):
    at = sorted(rng.randrange(4, lay.header_end) for _ in range(rng.choice([1, 1, 2, 4, 8])))
    for i in at:
        data[i] ^= (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(1, 256)
    return f"header bytes flipped @{at}"


MUTATIONS = {
    "truncate": _truncate,
    "count": lambda r, d, l: _field(r, d, l, ("count",), "count"),
    "string length": lambda r, d, l: _field(r, d, l, ("key_len", "str_len", "name_len"), "string length"),
    "array length": lambda r, d, l: _field(r, d, l, ("arr_count",), "array length"),
    "value type": lambda r, d, l: _set_u32(r, d, l, ("vtype", "arr_type"), "value type", range(14)),
    "metadata value": lambda r, d, l: _field(r, d, l, ("value",), "metadata value"),
    "tensor n_dims": lambda r, d, l: _field(r, d, l, ("n_dims",), "tensor n_dims"),
    "tensor dim": lambda r, d, l: _field(r, d, l, ("dim",), "tensor dim"),
    "tensor type": lambda r, d, l: _set_u32(r, d, l, ("ttype",), "tensor type", range(42)),
    "tensor offset": _tensor_offset,
    "alignment": _alignment,
    "tensor name": _rename,
    "header flips": _flip_header,
}
_KINDS = list(MUTATIONS)


def mutant(bases: dict[str, bytes], seed: int, index: int) -> tuple[str, bytes]:
    """Mutant ``index`` of ``seed``: (what was done, the bytes). Vocabularies alternate and kinds
    take turns, so that any few hundred consecutive mutants cover every pair; a quarter get a
    second mutation on top."""
    rng = random.Random(f"{seed}/{index}")
    vocab = VOCABS[index % len(VOCABS)]
    base = bases[vocab]
    lay = _layouts(vocab, base)
    data = bytearray(base)
    done = [MUTATIONS[_KINDS[index // len(VOCABS) % len(_KINDS)]](rng, data, lay)]
    if rng.random() < 0.25 and len(data) == len(base):
        done.append(MUTATIONS[rng.choice(_KINDS)](rng, data, lay))
    return f"[{vocab}] " + "; ".join(done), bytes(data)


_LAYOUTS: dict[str, Layout] = {}


def _layouts(vocab: str, base: bytes) -> Layout:
    if vocab not in _LAYOUTS:
        _LAYOUTS[vocab] = layout(base)
    return _LAYOUTS[vocab]


# ---------------------------------------------------------------- the child: runs mutants

def exercise(path: Path) -> str:
    """Loads a model file and uses it as a caller would; returns how it went. A ModelLoadError is
    the answer for a bad file; whatever loads must then tokenize and run a step."""
    from livemind.engine.model import load_model
    from livemind.errors import ModelLoadError

    try:
        # the KV cache is sized by the caller's context; the file's context_length is still checked
        m = load_model(path, context=64)
    except ModelLoadError as exc:
        return f"rejected: {exc.reason}"
    with m:
        m.detokenize(m.tokenize("the cat sat"))
        n_vocab = m.config.n_vocab
        m.logits([i % n_vocab for i in (1, 2, 3)][:m.n_ctx])   # ids valid for whatever loaded
    return "ran"


def child_main(workdir: Path, seed: int, indices: list[int]) -> None:
    """Runs the mutants, one JSON line before and one after each, flushed, so that the parent
    knows which mutant a crash or a hang belongs to."""
    import livemind.engine.model  # noqa: F401 - an import error is the harness's, not a mutant's

    bases = {v: (workdir / f"base-{v}.gguf").read_bytes() for v in VOCABS}
    print(json.dumps({"ready": True}), flush=True)   # the time bound starts with the mutants
    for i in indices:
        what, data = mutant(bases, seed, i)
        path = workdir / f"mutant-{i}.gguf"   # a fresh name: a mapping left behind never sees new bytes
        path.write_bytes(data)
        print(json.dumps({"begin": i, "what": what}), flush=True)
        try:
            outcome, bug = exercise(path), None
        except Exception as exc:   # noqa: BLE001 - any other exception is what the fuzzer looks for
            outcome, bug = f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=8)
        path.unlink()
        print(json.dumps({"end": i, "outcome": outcome, "bug": bug}), flush=True)


# ---------------------------------------------------------------- the parent

@dataclass
class Failure:
    index: int
    what: str
    problem: str

    def __str__(self) -> str:
        return f"mutant {self.index} ({self.what}): {self.problem}"


@dataclass
class Report:
    failures: list[Failure]
    outcomes: Counter        # "rejected", "ran", "bug"
    seconds: float


def run_mutants(seed: int, indices: list[int], *, timeout: float = PER_MUTANT_SECONDS, progress=None) -> Report:
    """Runs mutants ``indices`` of ``seed`` in child processes; a crash or a hang fails that one
    mutant and a new child goes on after it."""
    t0 = time.monotonic()
    failures: list[Failure] = []
    outcomes: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="gguf-fuzz-") as tmp:
        workdir = Path(tmp)
        write_bases(workdir)
        todo = list(indices)
        while todo:
            todo = todo[_run_child(workdir, seed, todo, timeout, failures, outcomes, progress):]
    return Report(failures, outcomes, time.monotonic() - t0)


def _run_child(workdir, seed, todo, timeout, failures, outcomes, progress) -> int:
    """Runs one child over ``todo``; returns how many of them it got through, counting the one it
    crashed or hung on."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--workdir", str(workdir), "--seed", str(seed)]
    (workdir / "indices.json").write_text(json.dumps(todo))   # too many for a command line
    with open(workdir / "stderr.txt", "w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        lines: queue.Queue = queue.Queue()

        def pump():   # a thread, so that the wait for a line can time out
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        try:
            n_done, current, last = _read_child(lines, timeout, failures, outcomes, progress)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            pumper.join()           # the pipe is at its end once the child is gone
            proc.stdout.close()
        err.seek(0)
        if current is None and n_done < len(todo):
            raise RuntimeError(f"the fuzz child stopped between mutants (status {proc.returncode}):\n"
                               f"{err.read()[-3000:]}")
        if current is None:
            return n_done
        problem = (f"hang: no answer in {timeout:.0f} s" if last == "timeout" else
                   f"the child died with status {proc.returncode} (negative: a signal)\n{err.read()[-3000:]}")
        failures.append(Failure(current["begin"], current["what"], problem))
        outcomes["bug"] += 1
        return n_done + 1


def _read_child(lines: queue.Queue, timeout, failures, outcomes, progress):
    """Reads the child's lines until it ends or stalls: (mutants finished, the one begun and not
    finished or None, the last line: None at the end, "timeout" on a stall)."""
    n_done, current = 0, None
    if (line := _next_line(lines, STARTUP_SECONDS)) in (None, "timeout"):   # its "ready"
        return n_done, current, line
    while (line := _next_line(lines, timeout)) not in (None, "timeout"):
        msg = json.loads(line)
        if "begin" in msg:
            current = msg
            continue
        outcome, bug = msg["outcome"], msg["bug"]
        n_done += 1
        outcomes["bug" if bug else "ran" if outcome == "ran" else "rejected"] += 1
        if bug:
            failures.append(Failure(msg["end"], current["what"], bug.strip()))
        if progress:
            progress(msg["end"], current["what"], outcome)
        current = None
    return n_done, current, line


def _next_line(lines: queue.Queue, timeout: float):
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return "timeout"


def _repro(seed: int, failures: list[Failure]) -> str:
    cmds = "\n".join(f"  scripts/fuzz-gguf --seed {seed} --only {f.index} --save mutant-{f.index}.gguf"
                     for f in failures[:5])
    return "\n\n".join(map(str, failures[:10])) + f"\n\nreproduce with:\n{cmds}"


# ---------------------------------------------------------------- the tests

def test_the_unmutated_models_load_and_run(tmp_path):
    from livemind.engine.model import load_model

    for vocab, path in write_bases(tmp_path).items():
        assert exercise(path) == "ran"
        with load_model(path) as m:
            logits = m.logits([1, 2, 3])
            assert logits.shape == (m.config.n_vocab,) and np.isfinite(logits).all()
            the = m.tokenize("the", add_special=False)
            assert the == [m.tokenizer.token_id("t"), m.tokenizer.token_id("he")] if vocab == "gpt2" else \
                [m.tokenizer.token_id("▁the")], vocab
        lay = layout(path.read_bytes())
        assert len(lay.names) == 3 + 2 * 9 and lay.header_end % 2 == 1   # every tensor; data misalignable


def test_mutants_are_rejected_or_run_never_crash():
    report = run_mutants(CI_SEED, list(range(CI_COUNT)))
    assert not report.failures, _repro(CI_SEED, report.failures)
    # the fuzzer must reach both sides: files refused, and files that still load and run
    assert report.outcomes["rejected"] > CI_COUNT // 2 and report.outcomes["ran"] > CI_COUNT // 20, report.outcomes


def test_a_crash_or_a_hang_fails_that_mutant_and_the_run_goes_on(monkeypatch):
    """The harness itself: a child that dies or stalls in a mutant is a failure naming it."""
    monkeypatch.setenv("LIVEMIND_FUZZ_SELFTEST", "crash:2,hang:4")
    report = run_mutants(CI_SEED, [0, 1, 2, 3, 4, 5], timeout=5)
    assert [f.index for f in report.failures] == [2, 4], report.failures
    assert "died with status -11" in report.failures[0].problem and "hang" in report.failures[1].problem
    assert report.outcomes["bug"] == 2 and sum(report.outcomes.values()) == 6   # 0, 1, 3, 5 ran in 3 children


# ---------------------------------------------------------------- the bugs it found, pinned

def _patched(data: bytes, lay: Layout, kind: str, what: str, value, fmt: str | None = None) -> bytes:
    f = lay.field(kind, what)
    out = bytearray(data)
    struct.pack_into(fmt or f.fmt, out, f.offset, value)
    return bytes(out)


def _retyped(data: bytes, lay: Layout, key: str, vtype: int) -> bytes:
    """``key``'s value type changed, its four value bytes kept (a u32 read as f32 or i32)."""
    return _patched(data, lay, "vtype", key, vtype)


def _renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and data.count(old) == 1
    return data.replace(old, new)


BROKEN = {   # what a mutant did -> (how to make it from the gpt2 base, what the error must say)
    "output_norm.weight renamed (was KeyError)":
        (lambda d, l: _renamed(d, b"output_norm.weight", b"output_nurm.weight"), "'output_norm.weight' is missing"),
    "a layer's tensor renamed":
        (lambda d, l: _renamed(d, b"blk.1.ffn_up.weight", b"blk.1.ffn_uq.weight"), "'blk.1.ffn_up.weight' is missing"),
    "tensor count cut to 1 (was KeyError)":
        (lambda d, l: _patched(d, l, "count", "tensor count", 1), "is missing"),
    "block_count 2**31 (was a hang)":
        (lambda d, l: _patched(d, l, "value", "llama.block_count", 1 << 31), "block_count = 2147483648 is out of range"),
    "head_count 2**32-1 (was ZeroDivisionError)":
        (lambda d, l: _patched(d, l, "value", "llama.attention.head_count", (1 << 32) - 1), "head_count"),
    "embedding_length read as f32 (was ZeroDivisionError)":
        (lambda d, l: _retyped(d, l, "llama.embedding_length", 6), "embedding_length = .* is not an integer"),
    "rms epsilon -inf (was ValueError at the first step)":
        (lambda d, l: _patched(d, l, "value", "llama.attention.layer_norm_rms_epsilon", float("-inf")), "epsilon"),
    "rope base NaN":
        (lambda d, l: _patched(d, l, "value", "llama.rope.freq_base", float("nan")), "freq_base = nan"),
    "context_length 2**32-1":
        (lambda d, l: _patched(d, l, "value", "llama.context_length", (1 << 32) - 1), "context_length"),
    "alignment read as f32 (was ValueError: NaN to integer)":
        (lambda d, l: _retyped(_patched(d, l, "value", "general.alignment", 0xFFFFFFFF), l, "general.alignment", 6),
         "general.alignment is nan, not an integer"),
    "alignment 0": (lambda d, l: _patched(d, l, "value", "general.alignment", 0), "not a power of two"),
    "alignment 48": (lambda d, l: _patched(d, l, "value", "general.alignment", 48), "not a power of two"),
    "alignment 2**31": (lambda d, l: _patched(d, l, "value", "general.alignment", 1 << 31), "not a power of two from 1"),
    "two tensors share bytes":
        (lambda d, l: _patched(d, l, "toffset", "blk.0.attn_k.weight", struct.unpack_from(
            "<Q", d, l.field("toffset", "blk.0.attn_q.weight").offset)[0]), "overlap"),
    "a metadata key twice":
        (lambda d, l: _renamed(d, b"general.alignment", b"llama.block_count"), "'llama.block_count' appears twice"),
    "tokenizer longer than the embedding":
        (lambda d, l: _patched(d, l, "dim", "token_embd.weight dim 1", 100), "101 tokens but token_embd.weight has 100"),
    "attn_q rows not n_head * head_dim":
        (lambda d, l: _patched(d, l, "dim", "blk.0.attn_q.weight dim 1", 32),
         r"'blk.0.attn_q.weight' has shape \(32, 64\); .* want \(64, 64\)"),
    "a norm in F16":
        (lambda d, l: _patched(d, l, "ttype", "blk.0.attn_norm.weight", 1), "is F16; the engine reads attn_norm weights as F32"),
}


def test_the_bugs_the_fuzzer_found_stay_fixed(tmp_path):
    from livemind.engine.model import load_model
    from livemind.errors import ModelLoadError

    base = write_tiny_model(tmp_path / "base.gguf").read_bytes()
    lay = layout(base)
    for name, (make, message) in BROKEN.items():
        path = tmp_path / "broken.gguf"
        path.write_bytes(make(base, lay))
        with pytest.raises(ModelLoadError, match=message):
            load_model(path, context=64).close()
            raise AssertionError(f"{name}: loaded")


def test_merges_that_are_not_strings_are_refused_for_any_tokenizer(tmp_path):
    """A SentencePiece tokenizer ignores merges, but the loader's memory estimate counted them
    with ``len(merges or ())``, which raised ValueError for a numeric array."""
    import pytest

    from livemind.engine.model import load_model
    from livemind.errors import ModelLoadError

    path = write_tiny_model(tmp_path / "m.gguf", "llama", extra={"tokenizer.ggml.merges": [1, 2, 3]})
    with pytest.raises(ModelLoadError, match="tokenizer.ggml.merges is not a list of strings"):
        load_model(path, context=64).close()


# ---------------------------------------------------------------- the long form

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Mutation-fuzzes LiveMind's GGUF loader (tests/engine/test_gguf_fuzz.py).")
    p.add_argument("--count", type=int, default=5000, help="mutants to run (default 5000)")
    p.add_argument("--seed", type=int, default=CI_SEED, help=f"seed (default {CI_SEED}, the test's)")
    p.add_argument("--start", type=int, default=0, help="index of the first mutant (default 0)")
    p.add_argument("--only", type=int, help="run just this mutant")
    p.add_argument("--save", type=Path, help="with --only: also write the mutant to this file")
    p.add_argument("--timeout", type=float, default=PER_MUTANT_SECONDS, help="seconds a mutant may take")
    p.add_argument("--verbose", action="store_true", help="print every mutant's outcome")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _self_test_faults(os.environ.get("LIVEMIND_FUZZ_SELFTEST", ""))
        child_main(args.workdir, args.seed, json.loads((args.workdir / "indices.json").read_text()))
        return 0
    indices = [args.only] if args.only is not None else list(range(args.start, args.start + args.count))
    if args.save is not None:
        if args.only is None:
            p.error("--save needs --only")
        with tempfile.TemporaryDirectory() as tmp:
            bases = {v: path.read_bytes() for v, path in write_bases(Path(tmp)).items()}
        what, data = mutant(bases, args.seed, args.only)
        args.save.write_bytes(data)
        print(f"mutant {args.only}: {what}\n  written to {args.save}")

    def progress(i, what, outcome):
        if args.verbose or args.only is not None:
            print(f"{i:7d}  {outcome[:110]:<110} | {what}", flush=True)

    report = run_mutants(args.seed, indices, timeout=args.timeout, progress=progress)
    if report.failures:
        print(f"\nFAILED:\n{_repro(args.seed, report.failures)}\n", file=sys.stderr)
    print(f"{len(indices)} mutants of seed {args.seed} in {report.seconds:.1f} s: {report.outcomes['rejected']} "
          f"rejected, {report.outcomes['ran']} loaded and ran, {len(report.failures)} failed")
    return 1 if report.failures else 0


def _self_test_faults(spec: str) -> None:
    """For the harness's own test: ``crash:N`` makes the child segfault on mutant N, ``hang:N``
    makes it stall there."""
    faults = dict(item.split(":") for item in spec.split(",") if item)
    if not faults:
        return
    import ctypes

    real = exercise

    def faulty(path: Path) -> str:
        if path.name == f"mutant-{faults.get('crash')}.gguf":
            ctypes.string_at(0)             # reads address 0: SIGSEGV
        if path.name == f"mutant-{faults.get('hang')}.gguf":
            time.sleep(3600)
        return real(path)

    globals()["exercise"] = faulty


if __name__ == "__main__":
    sys.exit(main())
