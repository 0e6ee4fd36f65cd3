"""The GGUF reader: agrees with the `gguf` package on the real files, and turns every kind of
broken file into a ModelLoadError that says what is wrong."""

from __future__ import annotations

import struct

import gguf
import numpy as np
import pytest

from livemind import ModelLoadError
from livemind.engine import GGUFFile


@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def model_path(request):
    return request.getfixturevalue(f"{request.param}_path")


def test_matches_the_gguf_package_on_real_files(model_path):
    ref = gguf.GGUFReader(model_path)
    with GGUFFile(model_path) as f:
        assert set(f.tensors) == {t.name for t in ref.tensors}
        for t in ref.tensors:
            info = f.tensors[t.name]
            assert info.shape == tuple(int(d) for d in reversed(t.shape.tolist()))
            assert info.type.id == int(t.tensor_type)
            assert info.offset == t.data_offset
            assert info.nbytes == t.n_bytes
        for key, field in ref.fields.items():
            if key.startswith("GGUF."):
                continue
            want = field.contents()
            got = f.metadata[key]
            if isinstance(got, np.ndarray):
                np.testing.assert_array_equal(got, np.asarray(want))
            elif isinstance(want, float):
                assert got == pytest.approx(want)
            else:
                assert got == want, key


def test_tensor_data_is_a_view_with_the_right_bytes(smollm2_path):
    ref = {t.name: t for t in gguf.GGUFReader(smollm2_path).tensors}
    with GGUFFile(smollm2_path) as f:
        for name in ("token_embd.weight", "blk.0.attn_q.weight", "output_norm.weight"):
            got = f.tensor_data(name)
            want = np.asarray(ref[name].data)
            assert got.tobytes() == want.tobytes()
            assert not got.flags.writeable
        norm = f.tensor_data("output_norm.weight")
        assert norm.dtype == np.float32 and norm.shape == (576,)
        with pytest.raises(KeyError, match="no tensor"):
            f.tensor_data("nope")


# ---------------------------------------------------------------- broken files

def _small_gguf(tmp_path, **extra) -> bytes:
    """A tiny valid GGUF written by the gguf package: two tensors and some metadata."""
    path = tmp_path / "small.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("llama.block_count", 1)
    w.add_string("general.name", "tiny")
    w.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    w.add_tensor("a.weight", np.arange(64, dtype=np.float32).reshape(2, 32))
    w.add_tensor("b.weight", np.ones(32, dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def _load(tmp_path, data: bytes):
    p = tmp_path / "broken.gguf"
    p.write_bytes(data)
    return GGUFFile(p)


def test_small_file_round_trips(tmp_path):
    with _load(tmp_path, _small_gguf(tmp_path)) as f:
        np.testing.assert_array_equal(f.tensor_data("a.weight"), np.arange(64, dtype=np.float32).reshape(2, 32))
        assert f.tensor_data("b.weight").dtype == np.float16
        assert f.metadata["tokenizer.ggml.tokens"] == ["a", "b", "c"]


def test_every_truncation_is_a_typed_error(tmp_path):
    data = _small_gguf(tmp_path)
    for cut in sorted({0, 3, 4, 8, 16, 23, 24, 40, 100, len(data) // 2, len(data) - 1}):
        with pytest.raises(ModelLoadError) as err:
            _load(tmp_path, data[:cut])
        assert "broken.gguf" in str(err.value)


@pytest.mark.parametrize("patch, message", [
    (lambda d: b"GGUX" + d[4:], "bad magic"),
    (lambda d: d[:4] + struct.pack("<I", 1) + d[8:], "version 1 is not supported"),
    (lambda d: d[:4] + struct.pack("<I", 99) + d[8:], "version 99"),
    (lambda d: d[:8] + struct.pack("<Q", 2**40) + d[16:], "implausible counts"),
    (lambda d: d[:16] + struct.pack("<Q", 2**40) + d[24:], "implausible counts"),
    (lambda d: d[:24] + struct.pack("<Q", 2**62) + d[32:], "more than the limit"),   # first key's length
])
def test_corrupt_headers(tmp_path, patch, message):
    with pytest.raises(ModelLoadError, match=message):
        _load(tmp_path, patch(_small_gguf(tmp_path)))


def _patch_tensor_field(data: bytes, name: bytes, field: str, value: int) -> bytes:
    """Rewrites one field of a tensor info: 'ndims', 'dim0', 'type' or 'offset'."""
    at = data.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
    n_dims = struct.unpack_from("<I", data, at)[0]
    where = {"ndims": (at, "<I"), "dim0": (at + 4, "<Q"), "type": (at + 4 + 8 * n_dims, "<I"),
             "offset": (at + 8 + 8 * n_dims, "<Q")}[field]
    out = bytearray(data)
    struct.pack_into(where[1], out, where[0], value)
    return bytes(out)


@pytest.mark.parametrize("field, value, message", [
    ("ndims", 0, "0 dimensions"),
    ("ndims", 9, "9 dimensions"),
    ("dim0", 0, "impossible dimension"),
    ("dim0", 2**60, "impossible dimension"),
    ("type", 77, "unknown ggml type 77"),
    ("offset", 2**40, "runs past the end"),
    ("offset", 3, "not aligned"),
])
def test_corrupt_tensor_infos(tmp_path, field, value, message):
    data = _patch_tensor_field(_small_gguf(tmp_path), b"a.weight", field, value)
    with pytest.raises(ModelLoadError, match=message):
        _load(tmp_path, data)


def test_quantized_row_must_hold_whole_blocks(tmp_path):
    data = _patch_tensor_field(_small_gguf(tmp_path), b"a.weight", "type", 8)   # Q8_0, 32-blocks
    data = _patch_tensor_field(data, b"a.weight", "dim0", 33)
    with pytest.raises(ModelLoadError, match="whole number of Q8_0 blocks"):
        _load(tmp_path, data)


def test_missing_file_and_non_utf8_strings(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot open"):
        GGUFFile(tmp_path / "absent.gguf")
    data = _small_gguf(tmp_path)
    bad = data.replace(b"tiny", b"t\xffny")
    with pytest.raises(ModelLoadError, match="not valid UTF-8"):
        _load(tmp_path, bad)
