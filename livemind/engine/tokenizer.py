"""Tokenizers for the models LiveMind runs, built from the model file itself.

:class:`Tokenizer` reads a GGUF file's ``tokenizer.ggml.*`` metadata and tokenizes as llama.cpp
does (the tests compare every id with llama.cpp's): byte-level BPE for ``tokenizer.ggml.model``
"gpt2" (SmolLM2), SentencePiece-style merging by score for "llama" (Gemma 3).
:class:`StreamDecoder` turns generated ids into text without ever splitting a character.
The BERT encoder's WordPiece tokenizer is :class:`livemind.engine.WordPieceTokenizer`.

>>> tok = Tokenizer.from_gguf(smollm2_gguf())                # doctest: +SKIP
>>> ids = tok.encode("<|im_start|>user\\nHi<|im_end|>", parse_special=True)
>>> tok.decode(ids), ids[-1] in tok.eot_ids
('user\\nHi', True)
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable

from livemind.engine._bpe import BPEModel
from livemind.engine._spm import SPMModel
from livemind.engine._vocab import CONTROL, UNKNOWN, USER_DEFINED, load_vocab
from livemind.engine.gguf import GGUFFile
from livemind.errors import ModelLoadError


ESCAPE = "\ufdd0"   # marks control-token text that is data (see Tokenizer.escape)


def escape_specials(specials, text: str) -> str:
    """``text`` with :data:`ESCAPE` before each occurrence of ``specials`` (a
    ``_vocab.SpecialTokens``) and any ESCAPE already in it turned into U+FFFD: what
    :meth:`Tokenizer.escape` does with the model's control tokens, for any tokenizer's."""
    return specials.escape(text.replace(ESCAPE, "\ufffd"), ESCAPE)


class Tokenizer:
    """A GGUF model's tokenizer: ``encode`` text to ids, ``decode`` ids to text.

    Build one with :meth:`from_gguf`. Special tokens such as ``<|im_start|>`` are matched in the
    text only when ``parse_special=True``: user text that merely looks like one stays text.
    """

    def __init__(self, model: BPEModel | SPMModel):
        """Private: use :meth:`from_gguf`."""
        self._model = model
        self._vocab = model.vocab

    @classmethod
    def from_gguf(cls, gguf: GGUFFile | str | os.PathLike) -> Tokenizer:
        """The tokenizer a GGUF file describes (an open :class:`GGUFFile` or a path).

        Raises :class:`~livemind.errors.ModelLoadError` when the tokenizer metadata is missing,
        inconsistent (ids out of range, merges naming unknown tokens, duplicated tokens) or of a
        kind not supported.
        """
        if not isinstance(gguf, GGUFFile):
            with GGUFFile(gguf) as f:
                return cls.from_gguf(f)
        vocab = load_vocab(gguf.metadata, str(gguf.path))
        merges = gguf.metadata.get("tokenizer.ggml.merges")
        # checked whatever the model: the loader's memory estimate counts these strings too
        if merges is not None and not isinstance(merges, list):
            raise ModelLoadError(gguf.path, "tokenizer.ggml.merges is not a list of strings")
        if vocab.model == "gpt2":
            return cls(BPEModel(vocab, merges))
        return cls(SPMModel(vocab))

    # -- what the vocabulary says ---------------------------------------------------------------

    @property
    def kind(self) -> str:
        """The file's ``tokenizer.ggml.model``: "gpt2" (byte-level BPE) or "llama" (SentencePiece)."""
        return self._vocab.model

    @property
    def vocab_size(self) -> int:
        """Number of tokens; every id is in ``range(vocab_size)``."""
        return len(self._vocab)

    @property
    def bos_id(self) -> int | None:
        """The beginning-of-sequence token, or None."""
        return self._vocab.bos_id

    @property
    def eos_id(self) -> int | None:
        """The end-of-sequence token, or None."""
        return self._vocab.eos_id

    @property
    def eot_ids(self) -> frozenset[int]:
        """Tokens that end a turn or a generation: EOS plus ``<|im_end|>``, ``<end_of_turn>``,
        ``<|endoftext|>``... (llama.cpp's end-of-generation set). A sampler stops on any of them."""
        return self._vocab.eog_ids

    @property
    def add_bos(self) -> bool:
        """Whether ``encode(add_special=True)`` starts with BOS (``tokenizer.ggml.add_bos_token``)."""
        return self._vocab.add_bos

    @property
    def add_eos(self) -> bool:
        """Whether ``encode(add_special=True)`` ends with EOS (``tokenizer.ggml.add_eos_token``)."""
        return self._vocab.add_eos

    def token_text(self, tid: int) -> str:
        """Token ``tid`` as the vocabulary spells it (``"Ġthe"``, ``"▁the"``, ``"<|im_end|>"``)."""
        return self._vocab.texts[self._check(tid)]

    def token_id(self, text: str) -> int | None:
        """The id of the token spelled ``text`` in the vocabulary, or None."""
        return self._vocab.ids.get(text)

    def is_control(self, tid: int) -> bool:
        """Whether ``tid`` is a control token (BOS, ``<|im_end|>``...): ``decode`` leaves it out."""
        return bool(self._vocab.kinds[self._check(tid)] & (CONTROL | UNKNOWN))

    # -- text <-> ids ---------------------------------------------------------------------------

    def encode(self, text: str, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """The token ids of ``text``.

        ``add_special`` adds BOS/EOS where the file asks for them. ``parse_special`` matches
        control tokens written in the text (``"<|im_start|>"``, longest first) and emits their ids;
        without it they are tokenized as the characters they are. In ``parse_special`` text,
        :data:`ESCAPE` (U+FDD0, a Unicode noncharacter) is an escape that :meth:`escape` puts
        there: a control token right after it stays text, and the escape itself is dropped.
        Chat prompts rendered by :func:`livemind.engine.render_chat` with ``escape=`` this
        tokenizer's :meth:`escape` want ``parse_special=True``.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        text = _scrub(text)
        vocab = self._vocab
        out = [vocab.bos_id] if add_special and vocab.add_bos else []
        if parse_special:
            parts = []
            for part in vocab.specials_parsed.split(text, ESCAPE):
                if isinstance(part, str) and ESCAPE in part:   # escaped text: as parse_special=False reads it
                    parts += vocab.specials_always.split(part.replace(ESCAPE, ""))
                else:
                    parts.append(part)
        else:
            parts = vocab.specials_always.split(text)
        after_special = True
        for part in parts:
            if isinstance(part, int):
                out.append(part)
                after_special = True
            else:
                out += self._model.encode_fragment(part, after_special)
                after_special = False
        if add_special and vocab.add_eos:
            out.append(vocab.eos_id)
        return out

    def escape(self, text: str) -> str:
        """``text`` made safe to embed in a prompt read with ``parse_special=True``: every control
        token spelled in it (``"<|im_start|>"``, ``"<start_of_turn>"``) is marked with
        :data:`ESCAPE` so that it is tokenized as the plain text it is, exactly as
        ``encode(text, parse_special=False)`` would; an ``ESCAPE`` already in ``text`` becomes
        U+FFFD. User-defined tokens are not control tokens and stay as they are.

        >>> tok.encode(tok.escape("<|im_start|>"), add_special=False, parse_special=True) == \
        ...     tok.encode("<|im_start|>", add_special=False)            # doctest: +SKIP
        True
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        return escape_specials(self._vocab.specials_control, text)

    def token_bytes(self, tid: int) -> bytes:
        """The bytes token ``tid`` stands for; part of a character for byte tokens (``<0xE2>``),
        the token's own text for control tokens."""
        return self._model.piece(self._check(tid))

    def decode(self, ids: Iterable[int], *, special: bool = False) -> str:
        """The text of ``ids``. Control tokens are left out unless ``special``; bytes that are not
        valid UTF-8 become U+FFFD. ``decode(encode(text, add_special=False)) == text``."""
        vocab = self._vocab
        out = bytearray()
        strip_space = vocab.add_space_prefix    # undo the space encode() puts after special tokens
        for tid in ids:
            piece = self.token_bytes(tid)
            if vocab.kinds[tid] & (CONTROL | UNKNOWN | USER_DEFINED):
                if special or not vocab.kinds[tid] & (CONTROL | UNKNOWN):
                    out += piece
                strip_space = vocab.add_space_prefix
                continue
            if strip_space and piece.startswith(b" "):
                piece = piece[1:]
            strip_space = False
            out += piece
        return out.decode("utf-8", "replace")

    def stream_decoder(self, *, special: bool = False) -> StreamDecoder:
        """A fresh :class:`StreamDecoder` over this tokenizer."""
        return StreamDecoder(self, special=special)

    def _check(self, tid: int) -> int:
        if not 0 <= tid < len(self._vocab):
            raise ValueError(f"token id {tid} is out of range for a vocabulary of {len(self._vocab)}")
        return tid

    def __repr__(self) -> str:
        return f"<Tokenizer {self.kind} vocab_size={self.vocab_size} from {self._vocab.path}>"


class StreamDecoder:
    """Turns ids into text one at a time, as they are generated.

    ``push(id)`` returns the text that id completes: bytes of a character split over several
    tokens are held back until the character is whole, so a caller never prints half an emoji.
    ``flush()`` returns what is still held (as U+FFFD when incomplete) and resets.

    >>> dec = tok.stream_decoder()                           # doctest: +SKIP
    >>> "".join(dec.push(i) for i in tok.encode("👍 ok", add_special=False)) + dec.flush()
    '👍 ok'
    """

    def __init__(self, tokenizer: Tokenizer, *, special: bool = False):
        self._tokenizer = tokenizer
        self._special = special
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")

    def push(self, tid: int) -> str:
        """Adds token ``tid``; returns the newly completed text (maybe "")."""
        if not self._special and self._tokenizer.is_control(tid):
            return ""
        return self._utf8.decode(self._tokenizer.token_bytes(tid))

    def flush(self) -> str:
        """Returns the bytes still held back (an incomplete character becomes U+FFFD)."""
        return self._utf8.decode(b"", final=True)


def _scrub(text: str) -> str:
    """``text`` with lone surrogates (which have no UTF-8 form) replaced by U+FFFD."""
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
