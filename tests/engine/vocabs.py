"""Small vocab-only GGUF files for the tokenizer tests, laid out as the families' converters write
them: a byte-level BPE vocabulary (``tokenizer.ggml.model`` = "gpt2": all 256 byte symbols plus
merges) and a SentencePiece-style one ("llama": scores, ``<0xXX>`` byte fallback).

Both are trained with HF ``tokenizers`` on the test corpus *without* pre-tokenization, so their
merges cross every boundary a pre-tokenizer might draw (a space and the digit after it, a newline
and the next word, a letter and an apostrophe): cutting a text anywhere else than llama.cpp does
changes the ids.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import gguf

from livemind.engine._vocab import EOG_TEXTS

from tokref import CORPUS

# GGUF tokenizer.ggml.token_type values
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6

SPECIALS = [("<|begin_of_text|>", CONTROL), ("<|end_of_text|>", CONTROL), ("<|eot_id|>", CONTROL),
            ("<|im_start|>", CONTROL), ("<|im_end|>", CONTROL), ("[INST]", CONTROL), ("[/INST]", CONTROL),
            ("<|user|>", CONTROL), ("<|end|>", CONTROL), ("<tool_call>", USER_DEFINED)]
SPM_SPACE = "\u2581"

_EXTRA = [
    "Llama 3.1 8B Instruct scored 73.0% on MMLU; Qwen2.5-7B scored 74.2% (5-shot).",
    "I'd've thought you'll LOVE it. DON'T you? O'Neil's café, naïve coöperation.",
    "    indented code\n\tTabbed\r\n\r\nCRLF lines  \n   \n",
    "价格是1234元。東京都の人口は約1400万人です。서울은 한국의 수도입니다.",
    "HTTPServer XMLHttpRequest getHTTPResponseCode iPhone McDonald ÉCOLE Ǆemal",
    "emoji: 😀😃😄 👍🏻👍🏿 ❤️‍🔥 🇺🇸🇯🇵 1️⃣ #️⃣",
    "x=1;y=22;z=333;w=4444;v=55555 // 3.14159 1e-10 0xFF 1_000_000",
]


def training_texts() -> list[str]:
    texts = [t for t in CORPUS if t] + _EXTRA
    return texts * 3 + ["\n".join(texts)]


@functools.cache
def bpe_tokens() -> tuple[list[str], list[int], list[str]]:
    """(tokens, token types, merges) of a ~3,000-token byte-level BPE vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=3000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[t for t, _ in SPECIALS], show_progress=False)
    tok.train_from_iterator(training_texts(), trainer)
    model = json.loads(tok.to_str())["model"]
    tokens = sorted(model["vocab"], key=model["vocab"].get)
    # whole words no merge reaches, so that llama.cpp's ignore_merges (a word that is a token is
    # that token) shows: training without pre-tokenization learns whole lines instead
    spell = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    have = set(tokens)
    for word in dict.fromkeys(w for t in training_texts() for w in re.findall(r" ?\w+| ?[^\w\s]+|\s+", t)):
        spelled = "".join(piece for piece, _ in spell.pre_tokenize_str(word))
        if spelled not in have:
            have.add(spelled)
            tokens.append(spelled)
    kinds = dict(SPECIALS)
    types = [kinds.get(t, NORMAL) for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, types, merges


@functools.cache
def spm_tokens() -> tuple[list[str], list[int], list[float]]:
    """(tokens, token types, scores) of a SentencePiece-style vocabulary: <unk>, <s>, </s>, the
    specials, 256 byte tokens, then pieces (spaces as "▁") by falling score. Characters seen fewer
    than three times are left out, so that byte fallback has work."""
    from tokenizers import Tokenizer, models, trainers

    tok = Tokenizer(models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=2500, min_frequency=3, limit_alphabet=400, show_progress=False)
    tok.train_from_iterator([SPM_SPACE + t.replace(" ", SPM_SPACE) for t in training_texts()], trainer)
    model = json.loads(tok.to_str())["model"]
    pieces = sorted(model["vocab"], key=model["vocab"].get)
    head = [("<unk>", UNKNOWN), ("<s>", CONTROL), ("</s>", CONTROL), *SPECIALS]
    head += [(f"<0x{b:02X}>", BYTE) for b in range(256)]
    # llama.cpp reads token texts as C strings: one holding NUL would lose its tail
    tokens = [t for t, _ in head] + [p for p in pieces if p not in dict(head) and "\x00" not in p]
    types = [k for _, k in head] + [NORMAL] * (len(tokens) - len(head))
    scores = [0.0] * len(head) + [-float(i) for i in range(len(tokens) - len(head))]
    return tokens, types, scores


def write_bpe_gguf(path: Path, pre: str | None, keys: dict | None = None) -> Path:
    """A vocab-only file with the BPE vocabulary and ``tokenizer.ggml.pre`` = ``pre`` (None:
    absent). ``keys`` adds or overrides metadata (bools and ints; None leaves a key out)."""
    tokens, types, merges = bpe_tokens()
    ids = {t: i for i, t in enumerate(tokens)}
    return write_vocab(path, "gpt2", tokens, types, pre=pre, merges=merges,
                       keys={"tokenizer.ggml.bos_token_id": ids["<|begin_of_text|>"],
                             "tokenizer.ggml.eos_token_id": ids["<|end_of_text|>"], **(keys or {})})


def write_spm_gguf(path: Path, keys: dict | None = None) -> Path:
    """A vocab-only file with the SentencePiece-style vocabulary (BOS 1, EOS 2, UNK 0)."""
    tokens, types, scores = spm_tokens()
    return write_vocab(path, "llama", tokens, types, scores=scores,
                       keys={"tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2,
                             "tokenizer.ggml.unknown_token_id": 0, **(keys or {})})


def write_family_gguf(path: Path, model: str, specials, *, pre: str | None = None, keys: dict | None = None) -> Path:
    """A vocab-only file shaped like a model family's: the BPE ("gpt2") or SentencePiece-style
    ("llama") vocabulary above with the family's own special tokens in place of SPECIALS.
    ``specials`` ((text, type) pairs; a SentencePiece family lists <unk>, <s>, </s> too) take ids
    0, 1, 2, ... in order, so that a test can name them. ``keys`` as for :func:`write_vocab`,
    where a ``*_token_id`` may be given as the token's text."""
    texts = {t for t, _ in specials}
    # no other family's end-of-turn token learnt as text (llama.cpp would make it a control token)
    stray = EOG_TEXTS | dict(SPECIALS).keys()
    if model == "gpt2":
        tokens, types, merges = bpe_tokens()
        drop = texts | stray
        # a family token the training learnt as text is the family's now: no merge makes or uses it
        merges = [m for m in merges if m.replace(" ", "") not in drop and not drop & set(m.split(" "))]
        scores = None
    else:
        tokens, types, scores = spm_tokens()
        # as in a real vocabulary, no two pieces spell a special token (trained on text that
        # spells them, "</" and "s>" would merge into </s> where llama.cpp tokenizes plain text)
        ends = {t[:n] for t in texts for n in range(2, len(t))} | {t[n:] for t in texts for n in range(1, len(t) - 1)}
        drop = texts | ends | stray | {"<unk>", "<s>", "</s>"}
        merges = None
    body = [i for i, t in enumerate(tokens) if t not in drop]
    tokens = [t for t, _ in specials] + [tokens[i] for i in body]
    types = [k for _, k in specials] + [types[i] for i in body]
    if scores is not None:
        scores = [0.0] * len(specials) + [scores[i] for i in body]
    ids = {t: i for i, t in enumerate(tokens)}
    keys = {k: ids[v] if k.endswith("_token_id") and isinstance(v, str) else v for k, v in (keys or {}).items()}
    return write_vocab(path, model, tokens, types, pre=pre, merges=merges, scores=scores, keys=keys)


def write_vocab(path: Path, model: str, tokens, types, *, pre: str | None = None, merges=None,
                scores=None, keys: dict | None = None) -> Path:
    """A vocab-only GGUF file: ``tokenizer.ggml.model`` = ``model`` and the given arrays; ``keys``
    are bools, ints or strings (None leaves a key out)."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model(model)
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(list(tokens))
    w.add_token_types(list(types))
    if merges is not None:
        w.add_token_merges(list(merges))
    if scores is not None:
        w.add_token_scores(list(scores))
    for key, value in (keys or {}).items():
        if isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, str):
            w.add_string(key, value)
        elif value is not None:
            w.add_uint32(key, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
