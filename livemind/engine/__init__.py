"""LiveMind's native inference engine: :func:`load_model` (a GGUF decoder of any supported
architecture, or a BERT encoder folder), the GGUF reader it loads models through, the tokenizers
(GGUF byte-level BPE and SentencePiece, BERT WordPiece) and chat templates.

>>> from livemind.engine import load_model
>>> with load_model("model.gguf", context=2048) as m:          # doctest: +SKIP
...     print(m.config.arch, m.logits(m.tokenize("Hello")).argmax())
"""

from livemind.engine._wordpiece import WordPieceTokenizer
from livemind.engine.chat import GEMMA_TEMPLATE, PLAIN_TEMPLATE, chat_template_for, encode_chat, render_chat
from livemind.engine.arch import Architecture, architecture
from livemind.engine.gguf import GGML_TYPES, GGUFFile, TensorInfo
from livemind.engine.model import Model, load_model
from livemind.engine.tokenizer import StreamDecoder, Tokenizer

__all__ = [
    "GEMMA_TEMPLATE", "GGML_TYPES", "Architecture", "GGUFFile", "Model", "PLAIN_TEMPLATE", "StreamDecoder",
    "TensorInfo", "Tokenizer", "WordPieceTokenizer", "architecture", "chat_template_for", "encode_chat",
    "load_model", "render_chat",
]
