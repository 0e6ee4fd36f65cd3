"""A cheap "is this English?" test for the router: no model, microseconds per query.

Two signals, in order:

1. Script. Letters outside the Latin script, counted only in runs of two or more (so the ``θ`` of a
   formula or a lone ``Δ`` does not count), making up at least 30% of the letters: the text is
   not English. The label names the language where the script says it (kana → Japanese, Hangul →
   Korean, Han → Chinese) and the script otherwise ("Cyrillic script").
2. Latin-script text: each word found in a small list of a language's function words ("el",
   "der", "est", "você", ...) is a vote for it, and so is each letter that English never uses
   (``ñ ß ã ł ı`` ..., and ``¿ ¡``). English function words vote for English. The text is in
   language L when L has at least two votes and more than English has. Words that are also
   English ("a", "in", "is", "was", "do") are removed from the other lists, so they only ever
   count for English. One-word greetings ("Bonjour") stay below the bar on purpose: a single
   vote is too weak to override the semantic match.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import regex

_ENGLISH = frozenset("""
a about after all also am an and any are as at be because been before being but by can could did
do does doing for from had has have having he her here hers him his how i if in into is it its just
me more most my no not of on or our out over please she should so some than that the their them
then there these they this those through to too up us very was we were what when where which who
whom whose why will with would you your yours
""".split())

# Function words by language, minus any that are English words too (see the module docstring).
_WORDS = {
    "Spanish": """el la los las un una unos unas y de del en que qué por para con sin es son está
        están estoy como cómo cuál cuáles dónde cuándo quién mi mis tu tus su sus yo tú él ella
        nosotros ustedes pero muy más también hay puedo puedes ayuda hola gracias lo le les
        se al este esta eso esto mejor necesito quiero hacer""",
    "French": """le la les un une des du de et est sont je tu il elle nous vous ils elles que qui
        quoi quel quelle quels où comment pourquoi pour avec sans dans sur pas ne mais très mon ma
        mes ton ta ses leur ce cette ces au aux bonjour merci moi toi peux pouvez suis être avoir
        faire entre""",
    "German": """der die das den dem des ein eine einen einem einer und ist sind ich du er sie wir
        ihr es nicht mit für auf von zu zum zur wie wer wo warum wann welche welcher kann kannst
        können bitte mir mich dich dir mein meine dein auch oder aber sehr noch nur schon hallo
        danke über bei nach aus im diese dieser""",
    "Italian": """il lo la gli le un uno una di del della dei delle è che chi cosa come dove
        quando perché per con non sono sei mi ti ci si mio mia tuo tua suo sua questo questa
        quello molto anche ma puoi può ciao grazie nel nella al alla sul dal""",
    "Portuguese": """os um uma uns umas de do da dos das em na nos nas é que qual quais como onde
        quando porque por para sem não sim eu você ele ela nós eles meu minha seu sua mais muito
        também mas está estou são pode posso olá obrigado obrigada melhor isso este esta""",
    "Dutch": """de het een en van ik je jij hij zij wij niet met voor op aan naar uit bij dat die
        wat wie waar wanneer waarom hoe kan kun kunt mijn jouw zijn heb hebt heeft ook maar nog
        dit deze graag alsjeblieft dank bedankt hallo""",
    "Swedish": """och att det som en är på för med jag du han hon vi ni inte har av om hur vad
        varför kan min mitt din tack hej också eller från""",
    "Polish": """na nie się jest są że co jak czy mi mnie ty ja mój moja twój proszę dziękuję
        dzień dobry cześć jestem może możesz ale też tak od dla po przez ten ta tego""",
    "Turkish": """ve bir bu şu için ile ne mi mı mu mü nasıl neden nerede ben sen biz siz onlar
        çok daha ama gibi değil yok merhaba teşekkür teşekkürler lütfen evet hayır""",
    "Vietnamese": """và của là có không tôi bạn được cho với một những các này đó trong như thế
        nào gì sao xin chào cảm ơn""",
    "Indonesian": """yang dan di ke dari ini itu untuk dengan tidak saya anda apa bagaimana ada
        bisa akan sudah juga terima kasih selamat""",
}
_STOPWORDS = {lang: frozenset(words.split()) - _ENGLISH for lang, words in _WORDS.items()}

# Letters (and marks) English text does not use; each distinct one is a vote.
_SIGNS = {"¿": "Spanish", "¡": "Spanish", "ñ": "Spanish", "ß": "German", "ã": "Portuguese",
          "õ": "Portuguese", "œ": "French", "ł": "Polish", "ą": "Polish", "ę": "Polish",
          "ś": "Polish", "ź": "Polish", "ż": "Polish", "ń": "Polish", "ı": "Turkish", "ş": "Turkish",
          "ğ": "Turkish", "ơ": "Vietnamese", "ư": "Vietnamese", "đ": "Vietnamese", "å": "Swedish"}

_WORD = regex.compile(r"\p{L}+")
_FOREIGN_RUN = regex.compile(r"(?V1)[[\p{L}\p{M}]--[\p{Latin}\p{Common}\p{Inherited}]]{2,}")
_LETTER = regex.compile(r"[\p{L}\p{M}]")
_SCRIPT_LANGUAGE = {"HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HANGUL": "Korean", "CJK": "Chinese"}


def non_english(text: str) -> str | None:
    """The language (or script) of ``text`` when it is clearly not English, else None.

    >>> non_english("¿Dónde está la estación?"), non_english("Where is the station?")
    ('Spanish', None)
    >>> non_english("Как дела?"), non_english("東京でおすすめのラーメン屋は？")
    ('Cyrillic script', 'Japanese')
    """
    runs = _FOREIGN_RUN.findall(text)
    foreign = sum(len(r) for r in runs)
    if foreign and foreign >= 0.3 * len(_LETTER.findall(text)):
        scripts = Counter(unicodedata.name(ch, "?").split(" ")[0] for r in runs for ch in r if ch.isalpha())
        for script, language in _SCRIPT_LANGUAGE.items():   # kana before Han: Japanese uses both
            if scripts[script]:
                return language
        return f"{scripts.most_common(1)[0][0].title()} script"

    words = [w.lower() for w in _WORD.findall(text)]
    english = sum(w in _ENGLISH for w in words)
    votes = Counter({lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()})
    lowered = text.lower()
    for ch in set(lowered) & _SIGNS.keys():
        votes[_SIGNS[ch]] += 1
    if any(0x1EA0 <= ord(ch) <= 0x1EF9 for ch in lowered):   # Vietnamese tone-marked vowels
        votes["Vietnamese"] += 1
    if not votes:
        return None
    language, n = votes.most_common(1)[0]
    return language if n >= 2 and n > english else None
