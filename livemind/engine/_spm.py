"""SentencePiece-style tokenization (GGUF ``tokenizer.ggml.model`` = "llama"), as llama.cpp runs it.

Spaces become "▁" (U+2581), with one prepended to text that follows a special token (or starts
the input) when the file sets ``tokenizer.ggml.add_space_prefix``. The text is split into
characters and adjacent symbols merge while their concatenation is a token, highest
``tokenizer.ggml.scores`` first. A character no token spells is emitted as its UTF-8 bytes through
the ``<0xXX>`` byte tokens (byte fallback). There is no pre-tokenizer: merges may cross spaces.
"""

from __future__ import annotations

import numpy as np

from livemind.engine._merge import merge_pairs
from livemind.engine._vocab import BYTE, CONTROL, NORMAL, UNKNOWN, USER_DEFINED, Vocab
from livemind.errors import ModelLoadError

SPACE = "\u2581"


class SPMModel:
    """SentencePiece-style merging over a checked :class:`Vocab`; private to :class:`Tokenizer`."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab
        scores = vocab.scores if vocab.scores is not None else np.zeros(len(vocab), np.float32)
        self._neg_scores: list[float] = (-scores.astype(np.float64)).tolist()
        byte_ids = [vocab.ids.get(f"<0x{b:02X}>", vocab.ids.get(chr(b)) if b < 0x80 else None)
                    for b in range(256)]
        if None in byte_ids:
            missing = byte_ids.index(None)
            raise ModelLoadError(vocab.path, f"SentencePiece vocabulary has no byte token <0x{missing:02X}>")
        self._byte_ids: list[int] = byte_ids
        self._cache: dict[str, list[int]] = {}

    def encode_fragment(self, text: str, after_special: bool) -> list[int]:
        """The tokens of a text fragment (one that holds no special token). Fragments are cached:
        a chat re-encodes the same turns (Gemma's newline tokens cut text into lines)."""
        if self.vocab.add_space_prefix and after_special:
            text = " " + text
        ids = self._cache.get(text)
        if ids is None:
            ids = self._encode(text)
            if len(text) <= 2048:               # bound the memory a long-lived tokenizer holds
                if len(self._cache) >= 4096:
                    self._cache.clear()
                self._cache[text] = ids
        return ids

    def _encode(self, text: str) -> list[int]:
        ids, neg_scores, byte_ids = self.vocab.ids, self._neg_scores, self._byte_ids

        def rank(left: str, right: str) -> float | None:
            tid = ids.get(left + right)
            return None if tid is None else neg_scores[tid]

        out: list[int] = []
        for symbol in merge_pairs(list(text.replace(" ", SPACE)), rank):
            tid = ids.get(symbol)
            if tid is not None:
                out.append(tid)
            else:
                out += [byte_ids[b] for b in symbol.encode()]
        return out

    def piece(self, tid: int) -> bytes:
        """The bytes token ``tid`` stands for (a control token: its text)."""
        text, kind = self.vocab.texts[tid], int(self.vocab.kinds[tid])
        if kind & (CONTROL | UNKNOWN | USER_DEFINED):
            return text.encode()
        if kind & NORMAL:
            return text.replace(SPACE, " ").encode()
        if kind & BYTE:
            return bytes([int(text[3:5], 16)])
        return b""
