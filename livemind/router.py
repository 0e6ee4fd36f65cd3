"""Routers: which expert should answer a request, and why.

:class:`Router` routes on meaning. It embeds each expert's description and examples once with a
small sentence encoder (all-MiniLM-L6-v2 on LiveMind's kernels), embeds the request, and picks
the expert whose texts are closest. :class:`FunctionRouter` wraps a plain function that names the
expert itself. Both answer ``await router.route(messages_or_text)`` with a
:class:`~livemind.events.RouteDecision`.

>>> router = Router(default_team())                       # doctest: +SKIP
>>> router.route_sync("def fib(n):").expert               # doctest: +SKIP
'coder'
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Callable, Iterable, Sequence

import anyio
import numpy as np

from livemind._language import non_english
from livemind.errors import UnknownExpert
from livemind.events import RouteDecision
from livemind.experts import Expert

# An expert's score is the mean of its TOP_K best cosine similarities (description and
# examples together): one example that shares a stray word with the request cannot win alone, as
# it can with the single best match. On tests/data/router_queries.jsonl with the default team,
# top-3 routes 98% right, the single best 90%, the centroid 93% (scoring alone, no threshold).
TOP_K = 3

# Below this score no expert is a real match and the request goes to the default expert. With
# all-MiniLM-L6-v2, on-topic requests score 0.13-0.6 against their expert and nothing clears
# 0.1 by chance often; short noise ("ok", "hmm") still scores 0.13-0.25, so the threshold catches
# requests far from every expert, not gibberish.
DEFAULT_THRESHOLD = 0.1


def query_text(messages_or_text: Any) -> str:
    """The text a router matches: the string itself, or the last user message of a chat (the
    last message of any role when none is from the user). Content given as OpenAI-style parts
    keeps its text parts. Messages may be dicts or objects with ``role`` and ``content``.

    >>> query_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    'Hi'
    """
    if isinstance(messages_or_text, str):
        return messages_or_text
    messages = list(messages_or_text)
    if not messages:
        raise ValueError("nothing to route: the message list is empty")
    role = lambda m: m.get("role") if isinstance(m, dict) else getattr(m, "role", None)  # noqa: E731
    chosen = next((m for m in reversed(messages) if role(m) == "user"), messages[-1])
    content = chosen.get("content") if isinstance(chosen, dict) else getattr(chosen, "content", None)
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    return " ".join(p.get("text", "") if isinstance(p, dict) else str(getattr(p, "text", ""))
                    for p in content)


def _as_messages(messages_or_text: Any) -> list:
    if isinstance(messages_or_text, str):
        return [{"role": "user", "content": messages_or_text}]
    return list(messages_or_text)


def _team_of(pool_or_experts: Any) -> Callable[[], list[Expert]]:
    """A function that lists the current experts of a pool (anything with ``experts`` names and
    ``expert(name)``) or of a fixed list of :class:`Expert`."""
    if hasattr(pool_or_experts, "expert") and hasattr(pool_or_experts, "experts"):
        pool = pool_or_experts
        return lambda: [pool.expert(name) for name in pool.experts]
    experts = list(pool_or_experts)
    for e in experts:
        if not isinstance(e, Expert):
            raise TypeError(f"a router needs a pool or a list of Expert, got a {type(e).__name__} in the list")
    names = [e.name for e in experts]
    if len(set(names)) != len(names):
        raise ValueError(f"expert names must be unique, got {names}")
    return lambda: experts


class _Profile:
    """One expert's matched texts (description first, then examples) and their unit vectors."""

    def __init__(self, texts: tuple[str, ...], vectors: np.ndarray):
        self.texts = texts          # (k,)
        self.vectors = vectors      # (k, n_embd), unit rows

    @staticmethod
    def texts_of(expert: Expert) -> tuple[str, ...]:
        texts = tuple(t for t in (expert.description, *expert.examples) if t.strip())
        return texts or (expert.name,)   # nothing written: match on the name alone

    def score(self, q: np.ndarray) -> tuple[float, str]:
        """The expert's score for the unit query vector ``q`` (the mean of its ``TOP_K`` best
        cosines) and its nearest text."""
        sims = self.vectors @ q     # (k,)
        top = np.sort(sims)[-TOP_K:]
        return float(top.mean()), self.texts[int(np.argmax(sims))]


class Router:
    """Routes each request to the expert whose description or examples it is closest to.

    ``pool_or_experts`` is an :class:`~livemind.ExpertPool` or a list of :class:`Expert`.
    ``encoder`` is anything with ``embed(list[str]) -> (n, d)`` (default: the packaged
    all-MiniLM-L6-v2, loaded on first use). An expert's score is the mean cosine similarity
    between the request and the three closest of its texts (description and examples). A best
    score under ``threshold`` sends the request to ``default`` (the first expert when None). A
    request that is clearly not English goes to the best-scoring expert marked
    ``multilingual=True``, when the team has one (docs/router.md says how it tells).

    The experts' texts are embedded once, on the first route or on ``await router.prepare()``;
    an expert added to the pool later is embedded when it is first seen.

    >>> router = Router(lm.default_team())                        # doctest: +SKIP
    >>> d = await router.route([{"role": "user", "content": "Write a haiku about rain"}])
    >>> d.expert, d.reason                                        # doctest: +SKIP
    ('writer', "closest to 'writer' (0.46; next 'multilingual' 0.28) via 'Write a haiku about autumn leaves.'")
    """

    def __init__(self, pool_or_experts: Any, *, encoder: Any = None, threshold: float = DEFAULT_THRESHOLD,
                 default: str | None = None):
        self._team = _team_of(pool_or_experts)
        self._encoder = encoder
        self.threshold = float(threshold)
        names = [e.name for e in self._team()]
        if not names:
            raise ValueError("a router needs at least one expert")
        if default is not None and default not in names:
            raise UnknownExpert(default, names)
        self.default = default
        self._profiles: dict[tuple, _Profile] = {}   # keyed by the texts, so an edited expert re-embeds
        self._lock = threading.RLock()               # one embedding at a time: the encoder is shared

    async def prepare(self) -> None:
        """Load the encoder and embed every expert's texts now (in a worker thread), so the first
        :meth:`route` costs no more than the others."""
        await anyio.to_thread.run_sync(self._prepared, self._team())

    async def route(self, messages_or_text: Any) -> RouteDecision:
        """Choose an expert for a chat (its last user message) or a plain string. The encoder
        runs in a worker thread; the event loop never waits on it."""
        return await anyio.to_thread.run_sync(self.route_sync, messages_or_text)

    def route_sync(self, messages_or_text: Any) -> RouteDecision:
        """:meth:`route`, blocking the calling thread."""
        text = query_text(messages_or_text)
        team = self._team()
        profiles = self._prepared(team)
        default = self.default or team[0].name
        if not text.strip():
            return RouteDecision(expert=default, reason=f"empty request → default expert {default!r}")
        q = self._embed([text])[0]
        scored = {e.name: profiles[e.name].score(q) for e in team}
        scores = {name: s for name, (s, _) in scored.items()}
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)   # stable: ties keep team order

        language = non_english(text)
        multilingual = [name for name in ranked if any(e.multilingual for e in team if e.name == name)]
        if language and multilingual:
            chosen = multilingual[0]
            reason = f"non-English request ({language}) → multilingual expert {chosen!r}"
        elif scores[ranked[0]] < self.threshold:
            chosen = default
            reason = (f"no expert reached the threshold {self.threshold:.2f} (best {ranked[0]!r} "
                      f"{scores[ranked[0]]:.2f}) → default expert {default!r}")
        else:
            chosen = ranked[0]
            runner_up = f"; next {ranked[1]!r} {scores[ranked[1]]:.2f}" if len(ranked) > 1 else ""
            reason = f"closest to {chosen!r} ({scores[chosen]:.2f}{runner_up}) via {scored[chosen][1]!r}"
        return RouteDecision(expert=chosen, score=scores[chosen], scores=scores,
                             nearest_example=scored[chosen][1], reason=reason)

    def _prepared(self, team: Sequence[Expert]) -> dict[str, _Profile]:
        """Each expert's profile, embedding (in one encoder call) the texts not seen before."""
        keys = {e.name: _Profile.texts_of(e) for e in team}
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys.values() if k not in self._profiles))
            if missing:
                vectors = self._embed([t for texts in missing for t in texts])
                start = 0
                for texts in missing:
                    self._profiles[texts] = _Profile(texts, vectors[start:start + len(texts)])
                    start += len(texts)
            return {name: self._profiles[texts] for name, texts in keys.items()}

    def _embed(self, texts: list[str]) -> np.ndarray:   # → (len(texts), n_embd) unit rows
        with self._lock:
            if self._encoder is None:
                from livemind.engine.encoder import load_encoder

                self._encoder = load_encoder()
            v = np.asarray(self._encoder.embed(texts), np.float32).reshape(len(texts), -1)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)   # cosine needs unit rows


class FunctionRouter:
    """A router from a plain function ``fn(messages) -> expert name`` (sync or async). The
    name is checked against the team when one is given (:class:`~livemind.UnknownExpert`
    otherwise). A sync ``fn`` runs on the event loop, so keep it quick.

    >>> router = FunctionRouter(lambda msgs: "coder" if "def " in msgs[-1]["content"] else "general",
    ...                         lm.default_team())             # doctest: +SKIP
    >>> router.route_sync("def fib(n):").expert               # doctest: +SKIP
    'coder'
    """

    def __init__(self, fn: Callable[[list], Any], pool_or_experts: Any = None):
        if not callable(fn):
            raise TypeError(f"FunctionRouter needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self._team = _team_of(pool_or_experts) if pool_or_experts is not None else None

    async def prepare(self) -> None:
        """Nothing to prepare; here so every router has the same face."""

    async def route(self, messages_or_text: Any) -> RouteDecision:
        """Ask ``fn`` (awaiting it when it is async) and wrap its answer."""
        name = self.fn(_as_messages(messages_or_text))
        if inspect.isawaitable(name):
            name = await name
        return self._decision(name)

    def route_sync(self, messages_or_text: Any) -> RouteDecision:
        """:meth:`route` for a sync ``fn``, blocking."""
        name = self.fn(_as_messages(messages_or_text))
        if inspect.isawaitable(name):
            if hasattr(name, "close"):
                name.close()      # never awaited: close it so Python does not warn
            raise TypeError("this router's function is async: use await router.route(...)")
        return self._decision(name)

    def _decision(self, name: Any) -> RouteDecision:
        known: Iterable[str] = [e.name for e in self._team()] if self._team else ()
        if not isinstance(name, str) or (self._team and name not in known):
            raise UnknownExpert(str(name), known)
        return RouteDecision(expert=name, reason="custom router")
