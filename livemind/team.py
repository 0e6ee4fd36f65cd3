"""The default team: the origin system's five roles on the models LiveMind can ship.

``general``, ``technical`` and ``coder`` share one loaded SmolLM2-135M-Instruct (a small chat
model) and differ in system prompt and description; ``writer`` and ``multilingual`` share
Gemma-3-270M (a base model trained on many languages, with a 32K context: the long-text role).
The descriptions and examples are what :class:`livemind.Router` matches a request against: each
example is a request a user might send, written in the words such a user would use.

>>> [e.name for e in default_team()]
['general', 'technical', 'coder', 'writer', 'multilingual']
"""

from __future__ import annotations

from livemind.experts import Expert

# The origin's numbers: two models warm at start, at most five resident, idle unload after five
# minutes, stop admitting models at 90% of RAM.
DEFAULT_POOL = dict(max_loaded=5, warm=("general", "writer"), idle_ttl=300.0)
DEFAULT_MAX_RAM_FRACTION = 0.90

_CHAT_MODEL = "smollm2-135m-instruct"
_TEXT_MODEL = "gemma3-270m"


def default_team() -> list[Expert]:
    """The five default experts, a new list each call (change it freely).

    SmolLM2's chat template injects its own system prompt when none is given, and greedy
    answers under that one are nonsense: every SmolLM2 expert here sets a plain one. Gemma-3-270M
    is a base model that continues text, so its experts carry no system prompt (it would be
    continued, not obeyed).
    """
    return [
        Expert(
            "general", model=_CHAT_MODEL,
            description="Everyday questions and small talk: general knowledge, facts and trivia, "
                        "history and geography, advice and recommendations, food and cooking, "
                        "travel, health, pets, home and daily life.",
            examples=(
                "What's the capital of Canada?",
                "How many ounces are in a pound?",
                "Any tips for keeping basil alive on a windowsill?",
                "Who wrote Pride and Prejudice?",
                "When did the Roman Empire fall?",
                "What's a good gift for a coworker who is leaving?",
                "Hi! How are you today?",
                "Is drinking three cups of coffee a day bad for you?",
                "What should I see in Rome if I only have two days?",
                "Why do leaves change color in autumn?",
                "How do I clean a cast iron pan?",
                "Thank you, that was helpful.",
            ),
            system_prompt="You are a helpful assistant. Answer briefly and clearly.",
            defaults={"temperature": 0.7},
        ),
        Expert(
            "technical", model=_CHAT_MODEL,
            description="Technical explanations: how computers, networks, operating systems, "
                        "databases, servers, cloud infrastructure, hardware and electronics work; "
                        "science, engineering and mathematics concepts; system administration, "
                        "troubleshooting and architecture trade-offs.",
            examples=(
                "How does HTTPS keep my connection private?",
                "What is the difference between RAM and virtual memory?",
                "Explain how a load balancer spreads traffic across servers.",
                "Why is disk I/O so slow on my Linux server?",
                "What does a CPU cache miss cost, and why?",
                "How does a neural network learn with backpropagation?",
                "What's the difference between IPv4 and IPv6?",
                "Explain the CAP theorem.",
                "How does a solar inverter turn DC into AC?",
                "What is a Fourier transform used for?",
                "How do I set up a VPN between two offices?",
            ),
            system_prompt="You are a helpful technical assistant. Explain clearly and accurately.",
            defaults={"temperature": 0.3},
        ),
        Expert(
            "coder", model=_CHAT_MODEL,
            description="Programming: writing, explaining, reviewing, refactoring and debugging code "
                        "in Python, JavaScript, TypeScript, C, C++, Rust, Go, Java, SQL and shell "
                        "scripts; error messages and stack traces, unit tests, regular expressions, "
                        "libraries, git and build tools.",
            examples=(
                "Write a function that returns the n-th Fibonacci number.",
                "Why does this raise IndexError: list index out of range?",
                "def add(a, b):\n    return a - b\n# what's wrong with this?",
                "How do I parse JSON in JavaScript?",
                "How do I read a file line by line in Go?",
                "Write a SQL query that counts orders per customer.",
                "Explain what this regex does: ^\\d{3}-\\d{4}$",
                "How do I use async and await in Python?",
                "What does this Rust borrow checker error mean?",
                "My C++ program crashes with a null pointer dereference.",
                "How do I undo my last git commit?",
                "Write a shell script that backs up a directory every night.",
            ),
            system_prompt="You are a helpful programming assistant. Answer with correct, concise code.",
            defaults={"temperature": 0.2},
        ),
        Expert(
            "writer", model=_TEXT_MODEL,
            description="Writing and long texts: drafting, continuing and rewriting prose; stories, "
                        "poems, song lyrics, essays, emails, letters, speeches and marketing copy; "
                        "editing, proofreading and changing tone; summarising and reviewing long "
                        "documents, chapters and transcripts.",
            examples=(
                "Write a short story about a robot who learns to paint.",
                "Continue this text: It was a dark and stormy night, and",
                "Draft an email to a client apologising for a late delivery.",
                "Write a haiku about autumn leaves.",
                "Rewrite this paragraph so it sounds friendlier.",
                "Summarize this article in three sentences.",
                "Write a speech for my grandfather's 80th birthday.",
                "Give me five slogans for a coffee shop.",
                "Edit my essay for grammar and flow.",
                "Write a letter of recommendation for a former intern.",
                "Proofread this paragraph and fix the typos.",
                "Write a persuasive essay on why cities need more bike lanes.",
            ),
            defaults={"temperature": 0.8},
        ),
        Expert(
            "multilingual", model=_TEXT_MODEL, multilingual=True,
            description="Other languages and translation: requests written in Spanish, French, "
                        "German, Chinese, Japanese, Arabic, Russian, Portuguese and other languages; "
                        "translating text between languages; how to say something in another "
                        "language; foreign grammar and vocabulary.",
            examples=(
                "Translate this paragraph into French.",
                "How do you say this in Italian?",
                "What does this German word mean in English?",
                "Can you translate my message into Japanese?",
                "Help me practise my Spanish.",
                "Is it der, die or das in German?",
                "Correct the grammar of my Portuguese sentence.",
                "What is the Chinese word for this?",
                "Translate from Russian to English.",
            ),
            defaults={"temperature": 0.5},
        ),
    ]
