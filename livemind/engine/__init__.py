"""LiveMind's native inference engine: the GGUF reader the engine loads models through, the
tokenizers (GGUF byte-level BPE and SentencePiece, BERT WordPiece) and chat templates."""

from livemind.engine._wordpiece import WordPieceTokenizer
from livemind.engine.chat import GEMMA_TEMPLATE, PLAIN_TEMPLATE, chat_template_for, render_chat
from livemind.engine.gguf import GGML_TYPES, GGUFFile, TensorInfo
from livemind.engine.tokenizer import StreamDecoder, Tokenizer

__all__ = [
    "GEMMA_TEMPLATE", "GGML_TYPES", "GGUFFile", "PLAIN_TEMPLATE", "StreamDecoder", "TensorInfo",
    "Tokenizer", "WordPieceTokenizer", "chat_template_for", "render_chat",
]
