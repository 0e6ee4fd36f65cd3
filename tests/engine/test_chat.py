"""Chat templates: the files' own templates render as their authors meant, the fallbacks are the
documented formats, and bad input or a hostile template fails with a ValueError."""

from __future__ import annotations

import pytest

from livemind.engine import (GEMMA_TEMPLATE, PLAIN_TEMPLATE, GGUFFile, Tokenizer, chat_template_for,
                             render_chat)

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Ünïcödé and 日本語 please"},
]


@pytest.fixture(scope="module")
def gemma3_tok(gemma3_path) -> Tokenizer:
    return Tokenizer.from_gguf(gemma3_path)


@pytest.fixture(scope="module")
def smollm2_template(smollm2_path) -> str:
    with GGUFFile(smollm2_path) as f:
        return chat_template_for(f.metadata)


def test_smollm2_renders_chatml_from_its_file(smollm2_template):
    assert render_chat(CONVERSATION, smollm2_template) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"
        "<|im_start|>user\nÜnïcödé and 日本語 please<|im_end|>\n"
        "<|im_start|>assistant\n")
    assert not render_chat(CONVERSATION, smollm2_template, add_generation_prompt=False).endswith("assistant\n")


def test_a_system_message_replaces_smollm2s_default_one(smollm2_template):
    default = render_chat(QUESTION, smollm2_template)
    assert "named SmolLM" in default                        # the file's template injects it
    ours = render_chat(QUESTION, smollm2_template, system="You are a helpful assistant.")
    assert "SmolLM" not in ours
    assert ours.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    # a conversation that brings its own system message keeps it
    assert render_chat(CONVERSATION, smollm2_template, system="ignored") == render_chat(CONVERSATION, smollm2_template)


def test_rendering_agrees_with_llama_cpp_pythons_formatter(smollm2_path, smollm2_template):
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError as exc:
        pytest.fail(f"{exc}; install llama-cpp-python with `bash scripts/install-llamacpp`")
    formatter = Jinja2ChatFormatter(smollm2_template, eos_token="<|im_end|>", bos_token="<|im_start|>")
    for messages in (QUESTION, CONVERSATION):
        assert formatter(messages=messages).prompt == render_chat(messages, smollm2_template)


def test_smollm2_prompt_tokenizes_to_its_control_tokens(smollm2_path, smollm2_template):
    tok = Tokenizer.from_gguf(smollm2_path)
    ids = tok.encode(render_chat(QUESTION, smollm2_template, system="Be brief."), parse_special=True)
    start, end = tok.token_id("<|im_start|>"), tok.token_id("<|im_end|>")
    assert ids[0] == start and ids.count(start) == 3 and ids.count(end) == 2


def test_gemma3_has_no_template_so_it_gets_the_plain_format(gemma3_path, gemma3_tok):
    with GGUFFile(gemma3_path) as f:
        assert "tokenizer.chat_template" not in f.metadata
        template = chat_template_for(f.metadata)
    assert template == PLAIN_TEMPLATE
    prompt = render_chat(QUESTION, template)
    assert prompt == "user: What is the capital of France?\n\nassistant:"
    tok = gemma3_tok
    ids = tok.encode(prompt, parse_special=True)
    assert ids[0] == tok.bos_id and ids.count(tok.bos_id) == 1   # BOS once, from the tokenizer
    assert not any(tok.is_control(i) for i in ids[1:])


def test_gemma_turn_format_for_instruction_tuned_gemma_files(gemma3_tok):
    prompt = render_chat(CONVERSATION, GEMMA_TEMPLATE)
    assert prompt == ("<start_of_turn>user\nYou are a helpful assistant.\n\nHi<end_of_turn>\n"
                      "<start_of_turn>model\nHello! How can I help?<end_of_turn>\n"
                      "<start_of_turn>user\nÜnïcödé and 日本語 please<end_of_turn>\n"
                      "<start_of_turn>model\n")
    tok = gemma3_tok
    ids = tok.encode(prompt, parse_special=True)
    assert ids[:2] == [tok.bos_id, tok.token_id("<start_of_turn>")]
    assert ids.count(tok.bos_id) == 1                      # the template does not add a second BOS
    assert ids.count(tok.token_id("<end_of_turn>")) == 3


def test_gemma_template_insists_on_alternating_roles():
    with pytest.raises(ValueError, match="alternate"):
        render_chat([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], GEMMA_TEMPLATE)


def test_the_plain_format():
    assert chat_template_for({"general.architecture": "llama", "tokenizer.chat_template": " "}) == PLAIN_TEMPLATE
    assert render_chat(CONVERSATION, None) == (
        "system: You are a helpful assistant.\n\nuser: Hi\n\nassistant: Hello! How can I help?\n\n"
        "user: Ünïcödé and 日本語 please\n\nassistant:")
    assert render_chat(QUESTION, None, add_generation_prompt=False) == "user: What is the capital of France?\n\n"


def test_template_helpers_are_there():
    template = ("{{ bos_token }}{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}"
                "{{ m | tojson }}{% endfor %}{{ strftime_now('%Y') | length }}{{ eos_token }}{{ extra }}")
    assert render_chat(CONVERSATION[1:], template, bos_token="<s>", eos_token="</s>", extra="!") == \
        '<s>{"role": "user", "content": "Hi"}4</s>!'
    with pytest.raises(ValueError, match="nope"):
        render_chat(QUESTION, "{{ raise_exception('nope') }}")


@pytest.mark.parametrize("messages, match", [
    ("hello", "list"),
    ({"role": "user", "content": "x"}, "list"),
    ([("user", "x")], r"messages\[0\]"),
    ([{"content": "x"}], "role"),
    ([{"role": "", "content": "x"}], "role"),
    ([{"role": "user"}], "content"),
    ([{"role": "user", "content": None}], "content"),
    ([{"role": "user", "content": [{"type": "text", "text": "x"}]}], "content"),
    ([QUESTION[0], {"role": "user", "content": 3}], r"messages\[1\]"),
])
def test_malformed_messages_raise_value_error(messages, match):
    with pytest.raises(ValueError, match=match):
        render_chat(messages, None)


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.append({'role': 'x'}) }}",
    "{{ cycler.__init__.__globals__ }}",
])
def test_the_sandbox_keeps_templates_away_from_python(template):
    with pytest.raises(ValueError):
        render_chat(QUESTION, template)


def test_a_template_that_does_not_compile_is_a_value_error():
    with pytest.raises(ValueError, match="invalid chat template"):
        render_chat(QUESTION, "{% for m in messages %}")
