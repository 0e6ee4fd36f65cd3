"""What the tokenizer tests share: the awkward strings every tokenizer must agree on, and
llama.cpp (through llama-cpp-python) as the reference."""

from __future__ import annotations

import ctypes
import unicodedata
from pathlib import Path

import pytest

from livemind.engine import Tokenizer

LLAMA_HINT = ("llama-cpp-python is the reference these tests compare with; install it with "
              "`bash scripts/install-llamacpp` (built for this CPU's usable features)")

CORPUS = [
    "",
    " ",
    "a",
    "\n",
    "Hello world",
    "Hello, world! How are you today?",
    "The quick brown fox jumps over the lazy dog.",
    " leading space", "trailing space ", "  two leading and two trailing  ",
    "multiple     spaces   inside",
    "line one\nline two\n\nline four\n\n\n\nafter four newlines",
    "\n\n\nstarts with newlines", "ends with newlines\n\n\n",
    "windows\r\nline\r\nendings",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "\tif (x) {\n\t\treturn y;\n\t}\n",
    "mixed \t tabs\t\t and  \t spaces",
    "for i in range(10):\n\tprint(f'{i:>4}')  # comment",
    "<div class=\"x\">&amp; &lt;tag&gt;</div>",
    "<table><tr><td>cell</td></tr></table>\n<h1>Title</h1><b>bold</b>",
    "a </s> b <s> c <start_of_image>",
    "x = {'a': [1, 2, 3], \"b\": None}",
    "0", "7", "42", "123", "2024", "31415", "1234567890", "3.14159265358979",
    "In 1999, 12 of 345 people paid $6,789.01 (about 23%).",
    "phone: +1-555-0100, ISBN 978-3-16-148410-0",
    "it's I'm you're we've they'll she'd don't can't",
    "IT'S I'M YOU'RE 'quoted' 's 't 're",
    "😀", "👍🏽", "\U00013000 \U0001fae8 ꙮ rare characters", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 and 🇫🇷 flags", "emoji in text 🎉🎉 yes 🤖!",
    "你好，世界！这是一个测试。", "日本語のテキストとカタカナ", "한국어 텍스트입니다",
    "مرحبا بالعالم، كيف حالك؟", "Привет, мир! Как дела?", "Ελληνικά γράμματα",
    "हिन्दी पाठ", "ภาษาไทย",
    "café naïve résumé Zürich Ångström",  # NFC
    unicodedata.normalize("NFD", "café naïve résumé Zürich Ångström"),
    "ﬁ ﬂ ß ẞ Ǆ ǅ ǆ",
    "math: ∀x ∈ ℝ, x² ≥ 0 → √x ∞ ≠ ≤",
    "nbsp\u00a0here and\u2003em space and\u3000ideographic",
    "zero\u200bwidth\u200cjoin\u200dner",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "text<|im_end|>more<|endoftext|>",
    "almost special: <|im_start| and <start_of_turn and <end_of_turn>>",
    "<bos><eos><pad><unk><mask>",
    "~!@#$%^&*()_+-=[]{}|;':\",./<>?`",
    "a" * 100,
    "word " * 50,
    "MiXeD CaSe WoRdS and ALLCAPS",
    "ABCdefGHI jklMNO",
    "\u00e9\u0301\u0301 stacked combining marks",
    "snake_case_name and camelCaseName and kebab-case-name",
    "https://example.com/path?query=1&other=two#frag",
    "\x00\x01\x07 control bytes \x7f",
    "\u0085 next line and \u2028 line separator",
]

# fragments stitched into random strings
PIECES = ["a", "Z", "the", " ", "  ", "\n", "\n\n", "\t", "\r\n", "0", "42", "'s", "'re", "'", ".", ",!?",
          "é", "e\u0301", "ß", "日本", "中", "한", "ж", "ا", "😀", "👍🏽", "‍", "\u00a0", "\u3000", "²",
          "<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>", "<b>", "</s>", "<", ">", "|",
          "\U00013000", "\x00", "_", "▁", "Ġ", "<0x0A>"]


def llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        pytest.fail(f"{exc}. {LLAMA_HINT}")
    return llama_cpp


class Reference:
    """One model's vocabulary loaded in llama.cpp, beside ours."""

    def __init__(self, path: Path, ours: Tokenizer):
        self.lib = lib = llama_cpp()
        self.llm = lib.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.vocab = self.llm._model.vocab
        self.ours = ours

    def tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=add_special, special=parse_special)

    def piece(self, tid: int) -> bytes:
        buf = ctypes.create_string_buffer(512)
        n = self.lib.llama_token_to_piece(self.vocab, tid, buf, len(buf), 0, True)
        if n < 0:                                   # -n: the size the piece needs
            buf = ctypes.create_string_buffer(-n)
            n = self.lib.llama_token_to_piece(self.vocab, tid, buf, len(buf), 0, True)
        assert n >= 0
        return buf.raw[:n]
