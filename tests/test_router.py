"""The semantic Router on the real encoder (all-MiniLM-L6-v2) and the default team, the language
test it uses, and FunctionRouter."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

import livemind as lm
from livemind._language import non_english
from livemind.engine.encoder import load_encoder
from livemind.router import FunctionRouter, Router, query_text
from livemind.team import default_team

def labelled(name):
    return [json.loads(line) for line in (Path(__file__).parent / "data" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


QUERIES = labelled("router_queries")            # the set the default team was tuned on
HOLDOUT = labelled("router_queries_holdout")    # written after tuning, never tuned on


class CountingEncoder:
    """The real encoder, counting its calls and the threads they ran on."""

    def __init__(self, encoder):
        self.encoder, self.calls, self.texts, self.threads = encoder, 0, 0, set()

    def embed(self, texts):
        self.calls += 1
        self.texts += len(texts)
        self.threads.add(threading.get_ident())
        return self.encoder.embed(texts)


class TinyPool:
    """The two things a Router needs from an ExpertPool."""

    def __init__(self, experts):
        self._experts = {e.name: e for e in experts}

    @property
    def experts(self):
        return list(self._experts)

    def expert(self, name):
        return self._experts[name]


@pytest.fixture(scope="module")
def encoder():
    return load_encoder()


@pytest.fixture(scope="module")
def router(encoder):
    return Router(default_team(), encoder=encoder)


def test_labelled_set_is_large_and_covers_every_role():
    assert len(QUERIES) >= 60
    roles = {q["expert"] for q in QUERIES}
    assert roles == {e.name for e in default_team()}
    assert not {q["query"] for q in QUERIES + HOLDOUT} & {x for e in default_team() for x in e.examples}


@pytest.mark.parametrize("queries", [QUERIES, HOLDOUT], ids=["tuning", "holdout"])
def test_default_team_routes_the_labelled_set(router, queries):
    wrong = [(q["query"], q["expert"], d.expert) for q in queries
             if (d := router.route_sync(q["query"])).expert != q["expert"]]
    accuracy = 1 - len(wrong) / len(queries)
    assert accuracy >= 0.85, f"accuracy {accuracy:.1%}; misrouted: {wrong}"


def test_decision_scores_every_expert_and_explains_itself(router):
    d = router.route_sync("Write a poem about the sea at dawn")
    assert d.expert == "writer"
    assert set(d.scores) == {e.name for e in default_team()}
    assert d.score == d.scores["writer"] == max(d.scores.values())
    assert d.nearest_example in {e.description for e in default_team()} | {x for e in default_team() for x in e.examples}
    assert "writer" in d.reason and d.nearest_example in d.reason


def test_routes_the_last_user_message_of_a_chat(router):
    chat = [{"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Write a poem about the sea at dawn"},
            {"role": "assistant", "content": "The tide ..."},
            {"role": "user", "content": [{"type": "text", "text": "Now fix this Python: def f(x) return x"}]}]
    assert query_text(chat) == "Now fix this Python: def f(x) return x"
    assert router.route_sync(chat).expert == "coder"


def test_below_the_threshold_goes_to_the_default_and_says_so(encoder):
    team = default_team()
    d = Router(team, encoder=encoder, threshold=0.99, default="writer").route_sync("How do I parse JSON in Python?")
    assert d.expert == "writer" and "threshold" in d.reason and "default" in d.reason
    assert d.scores["coder"] == max(d.scores.values())          # the scores still say who was closest
    d = Router(team, encoder=encoder, threshold=0.99).route_sync("How do I parse JSON in Python?")
    assert d.expert == "general"                                 # no default: the first expert


def test_empty_request_goes_to_the_default(router):
    d = router.route_sync([{"role": "user", "content": "  "}])
    assert d.expert == "general" and "empty" in d.reason


@pytest.mark.parametrize("text", [
    "¿Me recomiendas una película para esta noche?", "Est-ce que tu peux m'aider avec mes devoirs ?",
    "Wie spät ist es in Tokio?", "我想学习做饭，从哪里开始？", "明日の天気を教えてください。",
    "هل يمكنك مساعدتي في كتابة رسالة؟", "Что почитать на выходных?", "Onde fica a farmácia mais próxima?",
])
def test_non_english_goes_to_the_multilingual_expert(router, text):
    d = router.route_sync(text)
    assert d.expert == "multilingual" and "non-English" in d.reason
    assert set(d.scores) == {e.name for e in default_team()}


def test_without_a_multilingual_expert_non_english_routes_on_meaning(encoder):
    team = [e for e in default_team() if not e.multilingual]
    d = Router(team, encoder=encoder).route_sync("¿Cómo se escribe un bucle for en Python?")
    assert d.expert in {e.name for e in team} and "non-English" not in d.reason


@pytest.mark.parametrize("text, language", [
    ("¿Dónde está la estación de tren?", "Spanish"), ("Je voudrais un café, s'il vous plaît.", "French"),
    ("Ich habe eine Frage zu meiner Rechnung.", "German"), ("Questa è la mia casa.", "Italian"),
    ("Eu não sei onde está o meu livro.", "Portuguese"), ("Ik weet niet waar de sleutels zijn.", "Dutch"),
    ("今天很冷。", "Chinese"), ("ありがとうございます", "Japanese"), ("감사합니다", "Korean"),
    ("Спасибо большое", "Cyrillic script"), ("شكرا جزيلا", "Arabic script"),
])
def test_language_test_names_the_language(text, language):
    assert non_english(text) == language


@pytest.mark.parametrize("text", [
    "Where is the train station?", "Explain how sin(θ) and cos(φ) relate on the unit circle.",
    "What does the French phrase 'je ne sais quoi' mean?", "My son met me at a café in Zürich.",
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)", "Bonjour", "de facto", "ok",
])
def test_language_test_leaves_english_alone(text):
    assert non_english(text) is None


def test_texts_are_embedded_once(encoder):
    counting = CountingEncoder(encoder)
    team = default_team()
    router = Router(team, encoder=counting)
    assert counting.calls == 0                                   # lazy: nothing until first use
    asyncio.run(router.prepare())
    n_texts = sum(1 + len(e.examples) for e in team)
    assert (counting.calls, counting.texts) == (1, n_texts)      # every expert's texts, one call
    for text in ("Write a limerick", "How does RAM work?", "Sort a list in Go"):
        router.route_sync(text)
    asyncio.run(router.prepare())
    assert (counting.calls, counting.texts) == (4, n_texts + 3)  # one per request, nothing re-embedded


def test_lazy_first_route_embeds_once_under_concurrency(encoder):
    counting = CountingEncoder(encoder)
    router = Router(default_team(), encoder=counting)

    async def go():
        return await asyncio.gather(*(router.route("Write a haiku about spring") for _ in range(4)))

    decisions = asyncio.run(go())
    assert {d.expert for d in decisions} == {"writer"}
    assert counting.calls == 1 + 4


def test_async_route_embeds_off_the_event_loop(encoder):
    counting = CountingEncoder(encoder)
    router = Router(default_team(), encoder=counting)

    async def go():
        return threading.get_ident(), await router.route("Write a haiku about spring")

    loop_thread, decision = asyncio.run(go())
    assert decision.expert == "writer"
    assert counting.threads and loop_thread not in counting.threads


def test_pool_experts_added_later_are_embedded_when_seen(encoder):
    counting = CountingEncoder(encoder)
    team = default_team()
    pool = TinyPool(team[:3])
    router = Router(pool, encoder=counting)
    router.route_sync("What's the capital of Peru?")
    before = counting.texts
    pool._experts["writer"] = team[3]
    d = router.route_sync("Write a sonnet about the moon")
    assert d.expert == "writer"
    assert counting.texts - before == 1 + len(team[3].examples) + 1   # the new expert's texts, and the request


def test_an_encoder_that_does_not_normalise_gives_the_same_scores(encoder, router):
    class Scaled:
        def embed(self, texts):
            return [list(3.0 * v) for v in encoder.embed(texts)]   # not unit length, and a list

    text = "How do I profile a slow SQL query?"
    mine, ref = Router(default_team(), encoder=Scaled()).route_sync(text), router.route_sync(text)
    assert mine.expert == ref.expert
    assert mine.scores == pytest.approx(ref.scores, abs=1e-5)


def test_an_expert_with_no_texts_is_matched_on_its_name(encoder):
    bare = [lm.Expert("cooking", model="smollm2-135m-instruct"), lm.Expert("astronomy", model="smollm2-135m-instruct")]
    assert Router(bare, encoder=encoder).route_sync("How far away is the Andromeda galaxy?").expert == "astronomy"


def test_unknown_default_and_bad_teams_are_refused(encoder):
    with pytest.raises(lm.UnknownExpert) as info:
        Router(default_team(), encoder=encoder, default="poet")
    assert info.value.name == "poet" and "writer" in info.value.known
    with pytest.raises(ValueError):
        Router([], encoder=encoder)
    with pytest.raises(ValueError):
        Router(default_team() + default_team()[:1], encoder=encoder)
    with pytest.raises(TypeError):
        Router(["general"], encoder=encoder)


def test_function_router_wraps_a_plain_function():
    seen = []

    def pick(messages):
        seen.append(messages)
        return "coder" if "def " in messages[-1]["content"] else "general"

    router = FunctionRouter(pick, default_team())
    d = asyncio.run(router.route("def fib(n):"))
    assert (d.expert, d.reason, d.scores) == ("coder", "custom router", {})
    assert seen[-1] == [{"role": "user", "content": "def fib(n):"}]   # a string arrives as a chat
    chat = [{"role": "user", "content": "hi"}]
    assert router.route_sync(chat).expert == "general" and seen[-1] == chat


def test_function_router_takes_an_async_function_and_a_pool():
    async def pick(messages):
        await asyncio.sleep(0)
        return "writer"

    router = FunctionRouter(pick, TinyPool(default_team()))
    assert asyncio.run(router.route("anything")).expert == "writer"
    with pytest.raises(TypeError, match="async"):
        router.route_sync("anything")


@pytest.mark.parametrize("answer", ["poet", None, 3])
def test_function_router_refuses_an_unknown_expert(answer):
    router = FunctionRouter(lambda messages: answer, default_team())
    with pytest.raises(lm.UnknownExpert) as info:
        router.route_sync("hello")
    assert info.value.name == str(answer) and "general" in info.value.known


def test_default_team_shape():
    team = {e.name: e for e in default_team()}
    assert list(team) == ["general", "technical", "coder", "writer", "multilingual"]
    assert {team[n].model for n in ("general", "technical", "coder")} == {"smollm2-135m-instruct"}
    assert {team[n].model for n in ("writer", "multilingual")} == {"gemma3-270m"}
    assert [n for n, e in team.items() if e.multilingual] == ["multilingual"]
    for name in ("general", "technical", "coder"):              # SmolLM2's own default prompt is nonsense
        assert team[name].system_prompt
    assert all(e.description and 6 <= len(e.examples) <= 12 for e in team.values())
    assert default_team() is not default_team() and default_team()[0] == default_team()[0]
