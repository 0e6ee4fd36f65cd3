"""Byte-level BPE (GGUF ``tokenizer.ggml.model`` = "gpt2"), as llama.cpp runs it.

Text is cut into words by the pre-tokenizer of the file's ``tokenizer.ggml.pre``; each word's
UTF-8 bytes are spelled with GPT-2's printable stand-ins (byte 0x20 is "Ġ", 0x0A is "Ċ", ...), and
adjacent symbols merge by the rank of their line in ``tokenizer.ggml.merges``. A word's tokens
depend only on the word, so they are cached per word.

The pre-tokenizer is llama.cpp's for the file's ``tokenizer.ggml.pre`` (see ``_pretok.py``);
for some names (Llama-3's ``llama-bpe``, ``tekken``) a word the vocabulary holds whole is that
token without merging, as llama.cpp's ``ignore_merges`` says.
"""

from __future__ import annotations

from livemind.engine._merge import merge_pairs
from livemind.engine._vocab import BYTE, CONTROL, NORMAL, UNKNOWN, USER_DEFINED, Vocab
from livemind.errors import ModelLoadError


def _bytes_to_unicode() -> list[str]:
    """GPT-2's printable stand-in for each byte: itself when printable, else chr(256 + n)."""
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    out, n = [""] * 256, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b], n = chr(256 + n), n + 1
    return out


_BYTE_CHARS = _bytes_to_unicode()
_LATIN1_TO_CHARS = str.maketrans({chr(b): c for b, c in enumerate(_BYTE_CHARS)})
_CHAR_TO_BYTE = {c: b for b, c in enumerate(_BYTE_CHARS)}


class BPEModel:
    """Byte-level BPE over a checked :class:`Vocab`; the private engine of :class:`Tokenizer`."""

    def __init__(self, vocab: Vocab, merges: object):
        self.vocab = vocab
        self._split = vocab.pretokenizer.splitter()
        self._whole_words = vocab.pretokenizer.ignore_merges
        self._ranks = _load_merges(merges, vocab)
        self._cache: dict[str, list[int]] = {}
        self._pieces: dict[int, bytes] = {}

    def encode_fragment(self, text: str, after_special: bool) -> list[int]:
        """The tokens of a text fragment (one that holds no special token)."""
        out: list[int] = []
        cache = self._cache
        for word in self._split(text):
            ids = cache.get(word)
            if ids is None:
                ids = self._encode_word(word)
                if len(cache) >= 65536:   # bound the memory a long-lived tokenizer holds
                    cache.clear()
                cache[word] = ids
            out += ids
        return out

    def _encode_word(self, word: str) -> list[int]:
        spelled = word.encode().decode("latin-1").translate(_LATIN1_TO_CHARS)
        ids = self.vocab.ids
        if self._whole_words and spelled in ids:
            return [ids[spelled]]
        ranks = self._ranks
        out: list[int] = []
        for symbol in merge_pairs(list(spelled), lambda a, b: ranks.get((a, b))):
            tid = ids.get(symbol)
            if tid is not None:
                out.append(tid)
            else:  # as llama.cpp: fall back to one-byte tokens where the vocabulary has them
                out += [ids[chr(b)] for b in symbol.encode() if b < 0x80 and chr(b) in ids]
        return out

    def piece(self, tid: int) -> bytes:
        """The bytes token ``tid`` stands for (a control token: its text)."""
        piece = self._pieces.get(tid)
        if piece is None:
            text, kind = self.vocab.texts[tid], int(self.vocab.kinds[tid])
            if kind & (CONTROL | UNKNOWN | USER_DEFINED):
                piece = text.encode()
            elif kind & NORMAL:
                piece = b"".join(bytes([_CHAR_TO_BYTE[c]]) if c in _CHAR_TO_BYTE else c.encode()
                                 for c in text)
            elif kind & BYTE:
                piece = bytes([int(text[3:5], 16)])
            else:
                piece = b""
            self._pieces[tid] = piece
        return piece


def _load_merges(merges: object, vocab: Vocab) -> dict[tuple[str, str], int]:
    if not isinstance(merges, list):
        raise ModelLoadError(vocab.path, "tokenizer.ggml.merges is missing or not a list of strings")
    ranks: dict[tuple[str, str], int] = {}
    ids = vocab.ids
    for rank, line in enumerate(merges):
        cut = line.find(" ", 1)
        left, right = (line[:cut], line[cut + 1:]) if cut > 0 else ("", "")
        if left not in ids or right not in ids or left + right not in ids:
            raise ModelLoadError(vocab.path, f"tokenizer.ggml.merges[{rank}] = {line!r} names a token "
                                             "the vocabulary does not have")
        ranks.setdefault((left, right), rank)
    return ranks
