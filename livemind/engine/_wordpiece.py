"""WordPiece for BERT encoders (all-MiniLM-L6-v2), read from a HF ``tokenizer.json``.

The pipeline is HF tokenizers' (the tests compare every id with it): added tokens such as
``[MASK]`` are cut out of the raw text first; the rest is normalized (BertNormalizer: drop control
characters, whitespace to spaces, spaces around CJK ideographs, strip accents, lowercase), split on
whitespace and punctuation (BertPreTokenizer), and each word becomes its longest vocabulary prefix
followed by "##" continuations, or ``[UNK]`` when no such spelling exists.
"""

from __future__ import annotations

import json
import os
import unicodedata

import regex

from livemind.engine._unicode import WHITESPACE_CLASS
from livemind.errors import ModelLoadError

# CJK ideograph blocks, as HF tokenizers lists them (its 0x2B920 start is not a typo here)
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_PUNCT_CLASS = regex.escape("".join(sorted(_ASCII_PUNCT))) + "\\p{P}"
_WORDS = regex.compile(f"[{_PUNCT_CLASS}]|[^{_PUNCT_CLASS}{WHITESPACE_CLASS}]+")
# Unicode categories come from `regex` (a recent Unicode, like HF's Rust tables); Python's
# unicodedata may be older, and would call a newer emoji "unassigned" and drop it.
_CONTROL = regex.compile(r"(?![\t\n\r])[\p{C}\ufffd]")    # \p{C} includes NUL and unassigned
_WHITESPACE = regex.compile(f"[{WHITESPACE_CLASS}]")
_NONSPACING_MARK = regex.compile(r"\p{Mn}")
# HF's WordPiece decoder "cleanup" (applied to each piece, so " ' " and " do not" never match)
_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


class WordPieceTokenizer:
    """BERT's tokenizer: ``encode`` text to ids with ``[CLS]``/``[SEP]``, truncated to
    ``max_length`` ids (the file's truncation length unless given).

    >>> tok = WordPieceTokenizer.from_tokenizer_json(minilm_dir / "tokenizer.json")  # doctest: +SKIP
    >>> tok.encode("Hello, world!")
    [101, 7592, 1010, 2088, 999, 102]
    """

    def __init__(self, vocab: dict[str, int], *, unk: str = "[UNK]", cls: str = "[CLS]",
                 sep: str = "[SEP]", pad: str = "[PAD]", added: list[str] = (), prefix: str = "##",
                 max_input_chars_per_word: int = 100, lowercase: bool = True,
                 strip_accents: bool | None = None, clean_text: bool = True,
                 handle_chinese_chars: bool = True, max_length: int = 512):
        """Prefer :meth:`from_tokenizer_json`; arguments mirror its fields."""
        self._vocab = vocab
        self._texts = {i: t for t, i in vocab.items()}
        for name, token in (("unk", unk), ("cls", cls), ("sep", sep), ("pad", pad), *(("added", a) for a in added)):
            if token not in vocab:
                raise ValueError(f"{name} token {token!r} is not in the vocabulary")
        self.unk_id, self.cls_id, self.sep_id, self.pad_id = (vocab[t] for t in (unk, cls, sep, pad))
        self._specials = frozenset(vocab[a] for a in added) | {self.unk_id, self.cls_id, self.sep_id, self.pad_id}
        # added tokens are matched in the raw text, longest first at each position
        by_length = sorted(added, key=len, reverse=True)
        self._added = regex.compile("|".join(map(regex.escape, by_length))) if added else None
        self._prefix = prefix
        self._max_chars = max_input_chars_per_word
        self._lowercase = lowercase
        self._strip_accents = lowercase if strip_accents is None else strip_accents
        self._clean_text = clean_text
        self._cjk = handle_chinese_chars
        self.max_length = max_length
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_tokenizer_json(cls, path: str | os.PathLike, *, max_length: int | None = None) -> WordPieceTokenizer:
        """The tokenizer a HF ``tokenizer.json`` describes (WordPiece model, BertNormalizer,
        BertPreTokenizer). ``max_length`` defaults to the file's truncation length, else 512.

        Raises :class:`~livemind.errors.ModelLoadError` for a file that is missing, not JSON, or
        describes another kind of tokenizer.
        """
        try:
            with open(path, encoding="utf-8") as f:
                spec = json.load(f)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(path, f"cannot read tokenizer.json: {exc}") from None
        model, norm = spec.get("model") or {}, spec.get("normalizer") or {}
        if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
            raise ModelLoadError(path, f"tokenizer model is {model.get('type')!r}, not WordPiece")
        if norm.get("type") != "BertNormalizer" or (spec.get("pre_tokenizer") or {}).get("type") != "BertPreTokenizer":
            raise ModelLoadError(path, "only BertNormalizer + BertPreTokenizer pipelines are supported")
        vocab = model["vocab"]
        if any(not isinstance(i, int) or not 0 <= i < len(vocab) for i in vocab.values()) \
                or len(set(vocab.values())) != len(vocab):
            raise ModelLoadError(path, "vocabulary ids are not 0..n-1, each once")
        truncation = spec.get("truncation") or {}
        try:
            return cls(
                vocab, unk=model.get("unk_token", "[UNK]"), prefix=model.get("continuing_subword_prefix", "##"),
                max_input_chars_per_word=model.get("max_input_chars_per_word", 100),
                added=[t["content"] for t in spec.get("added_tokens", [])],
                lowercase=norm.get("lowercase", True), strip_accents=norm.get("strip_accents"),
                clean_text=norm.get("clean_text", True), handle_chinese_chars=norm.get("handle_chinese_chars", True),
                max_length=max_length or truncation.get("max_length") or 512,
            )
        except ValueError as exc:
            raise ModelLoadError(path, str(exc)) from None

    @property
    def vocab_size(self) -> int:
        """Number of tokens."""
        return len(self._vocab)

    def encode(self, text: str, add_special: bool = True, max_length: int | None = None) -> list[int]:
        """The ids of ``text``: ``[CLS] pieces [SEP]`` (just the pieces without ``add_special``),
        the pieces cut so that the whole fits ``max_length`` (default: :attr:`max_length`)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        ids: list[int] = []
        pos = 0
        for m in self._added.finditer(text) if self._added else ():
            ids += self._encode_plain(text[pos:m.start()])
            ids.append(self._vocab[m.group()])
            pos = m.end()
        ids += self._encode_plain(text[pos:])
        limit = self.max_length if max_length is None else max_length
        if add_special:
            return [self.cls_id, *ids[:max(limit - 2, 0)], self.sep_id]
        return ids[:limit]

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` as strings (no ``[CLS]``/``[SEP]``, no truncation)."""
        return [self._texts[i] for i in self.encode(text, add_special=False, max_length=1 << 62)]

    def decode(self, ids, *, special: bool = False) -> str:
        """Text from ids: pieces joined by spaces, "##" continuations glued to their word, special
        tokens left out unless ``special``. Lowercasing and accents are not undone."""
        out: list[str] = []
        for i in ids:
            if not special and i in self._specials:
                continue
            piece = self._texts[i]
            if out:
                piece = piece[len(self._prefix):] if piece.startswith(self._prefix) else " " + piece
            for before, after in _CLEANUP:     # per piece, as HF's decoder does
                piece = piece.replace(before, after)
            out.append(piece)
        return "".join(out)

    def _encode_plain(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in _WORDS.findall(self._normalize(text)):
            pieces = self._cache.get(word)
            if pieces is None:
                pieces = self._pieces(word)
                if len(self._cache) < 65536:    # bound what a long-lived tokenizer holds
                    self._cache[word] = pieces
            ids += pieces
        return ids

    def _normalize(self, text: str) -> str:
        if self._clean_text:
            text = _WHITESPACE.sub(" ", _CONTROL.sub("", text))
        if self._cjk:
            text = "".join(f" {c} " if _is_cjk(c) else c for c in text)
        if self._strip_accents:
            text = _NONSPACING_MARK.sub("", unicodedata.normalize("NFD", text))
        if self._lowercase:
            # per character, as HF does: no final-sigma rule (str.lower() would write "ς")
            text = text.lower() if "\u03a3" not in text else "".join(c.lower() for c in text)
        return text

    def _pieces(self, word: str) -> list[int]:
        """Greedy longest-match-first WordPiece of one word."""
        if len(word) > self._max_chars:
            return [self.unk_id]
        vocab, out, start = self._vocab, [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self._prefix + word[start:end]
                if piece in vocab:
                    out.append(vocab[piece])
                    start = end
                    break
            else:
                return [self.unk_id]
        return out


def _is_cjk(c: str) -> bool:
    cp = ord(c)
    return cp >= 0x3400 and any(lo <= cp <= hi for lo, hi in _CJK)
