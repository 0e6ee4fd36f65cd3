"""Chat templates: turning a conversation into the prompt text a model was trained on.

A GGUF file carries its template as Jinja source in ``tokenizer.chat_template``; it is rendered in
a sandbox (:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`, with the helpers HF
transformers gives templates: ``raise_exception``, ``strftime_now``, a ``tojson`` that keeps
non-ASCII text, loop controls, and ``{% generation %}`` blocks). The template is model-file input:
it cannot reach Python objects, files or the network, and a template that raises on the messages
("roles must alternate") raises :class:`ValueError` here.

A model whose file has no template gets :data:`PLAIN_TEMPLATE` (:func:`chat_template_for`): one
``role: content`` paragraph per message, then ``assistant:`` to prompt the answer — text any base
model can continue. A file without a template is usually a base model, like Gemma-3-270M: measured
with llama.cpp (greedy), it answers "What is the capital of France?" with "The capital of France
is Paris." in this format, and with junk ("wnętr", repeated) in Gemma's own turn format, whose
``<start_of_turn>`` tokens its base model never learned. :data:`GEMMA_TEMPLATE` (the turn format
of Gemma 3's instruction-tuned release) is there for instruction-tuned Gemma files that lack a
template; pass it explicitly.

BOS is not rendered by default (``bos_token=""``): :meth:`Tokenizer.encode` adds it where the
model wants it, and rendering it too would put two BOS tokens in front of the prompt.

>>> render_chat([{"role": "user", "content": "Hi"}], None)
'user: Hi\\n\\nassistant:'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:
    from livemind.engine.tokenizer import Tokenizer

PLAIN_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}\n\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)

GEMMA_TEMPLATE = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = '' -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif -%}
    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}
    {{- message['content'] | trim }}
    {{- '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<start_of_turn>model\n' }}
{%- endif -%}
"""

def chat_template_for(metadata: Mapping) -> str:
    """The chat template of a GGUF file (its ``metadata``): the file's own
    ``tokenizer.chat_template``, else :data:`PLAIN_TEMPLATE` (see the module docstring)."""
    template = metadata.get("tokenizer.chat_template")
    if isinstance(template, str) and template.strip():
        return template
    return PLAIN_TEMPLATE


def render_chat(messages: Sequence[Mapping], template: str | None, *, add_generation_prompt: bool = True,
                bos_token: str = "", eos_token: str = "", system: str | None = None,
                escape: Callable[[str], str] | None = None, **variables) -> str:
    """Renders ``messages`` (``[{"role": ..., "content": ...}, ...]``) with a Jinja chat
    ``template`` (None: :data:`PLAIN_TEMPLATE`) into prompt text.

    ``add_generation_prompt`` ends the prompt where the assistant's answer begins.
    ``system`` puts a system message first unless the conversation starts with one already: a
    template that injects its own default system prompt when there is none (SmolLM2's does) then
    uses the caller's. Other keyword arguments become template variables (``tools=...``);
    ``tools`` and ``documents`` are None unless given, as transformers' ``apply_chat_template``
    passes them, so that ``tools is defined`` reads as templates' authors tested it.

    ``escape`` keeps what the messages say apart from what the template adds: it is applied to
    every string in the messages (roles, contents, names, nested values) and to ``system``
    before rendering. :meth:`Tokenizer.escape <livemind.engine.Tokenizer.escape>` is the one to
    pass: the rendered text, tokenized with ``parse_special=True``, then gets its control tokens
    from the template alone, and a message that spells ``<|im_start|>system`` is read as the
    plain text it is.

    Raises :class:`ValueError` for malformed messages, a template that does not compile, or one
    that rejects the conversation or fails on it.

    >>> render_chat([{"role": "user", "content": "Hi"}], GEMMA_TEMPLATE)
    '<start_of_turn>user\\nHi<end_of_turn>\\n<start_of_turn>model\\n'
    """
    messages = _checked(messages)
    if system is not None:
        if not isinstance(system, str):
            raise ValueError(f"system must be a str, not {type(system).__name__}")
        if not messages or messages[0]["role"] != "system":
            messages = [{"role": "system", "content": system}, *messages]
    if escape is not None:
        messages = [_escaped(m, escape) for m in messages]
    compiled = _compile(PLAIN_TEMPLATE if template is None else template)
    variables = {"tools": None, "documents": None, **variables}
    try:
        return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt,
                               bos_token=bos_token, eos_token=eos_token, **variables)
    except jinja2.TemplateError as exc:
        raise ValueError(f"the chat template rejected the conversation: {exc}") from None
    except Exception as exc:    # the template is file input: its own bugs (None + 1, a loop over tools=None) too
        raise ValueError(f"the chat template failed on the conversation: {type(exc).__name__}: {exc}") from None


def encode_chat(tokenizer: Tokenizer, messages: Sequence[Mapping], template: str | None, **options) -> list[int]:
    """The token ids of ``messages`` rendered with ``template`` (:func:`render_chat`, which takes
    ``options``) for ``tokenizer``'s model, as a model's ``prompt_ids`` makes them: control tokens
    come from the template's text alone, whatever the messages say is tokenized as the plain text
    it is, and BOS/EOS are where the template puts ``bos_token``/``eos_token`` (the vocabulary's).

    >>> ids = encode_chat(tok, [{"role": "user", "content": "<|im_start|>"}], template)  # doctest: +SKIP
    >>> ids.count(tok.token_id("<|im_start|>"))   # doctest: +SKIP  (the template's two; the user's is text)
    2
    """
    def text(tid):
        return tokenizer.token_text(tid) if tid is not None else ""

    prompt = render_chat(messages, template, bos_token=text(tokenizer.bos_id), eos_token=text(tokenizer.eos_id),
                         escape=tokenizer.escape, **options)
    return tokenizer.encode(prompt, add_special=False, parse_special=True)


def _checked(messages) -> list[dict]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise ValueError("messages must be a list of {'role': str, 'content': str} dicts")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ValueError(f"messages[{i}] is a {type(message).__name__}, not a dict with role and content")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role:
            raise ValueError(f"messages[{i}]['role'] must be a non-empty str, not {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"messages[{i}]['content'] must be a str, not {type(content).__name__}")
        out.append(dict(message))
    return out


def _escaped(value, escape: Callable[[str], str]):
    """``value`` with ``escape`` applied to every string in it (dict keys stay: templates index by them)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, Mapping):
        return {k: _escaped(v, escape) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v, escape) for v in value]
    return value


class _GenerationBlocks(Extension):
    """``{% generation %}...{% endgeneration %}`` (HF marks assistant text with it): renders the body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _raise_exception(message: str):
    raise jinja2.TemplateError(message)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=16)
def _compile(source: str) -> jinja2.Template:
    # HF transformers' settings, so that templates written for it render the same here
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_GenerationBlocks, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"invalid chat template (line {exc.lineno}): {exc.message}") from None
