"""A small document language detector: scripts first, then stopwords for Latin text.

Good enough to label a page (ISO 639-1) for the dialects that report a language; it
says None rather than guess when the evidence is thin.
"""

from __future__ import annotations

import re
from collections import Counter

_STOPWORDS = {
    "en": "the and of to in is that for it with as was on are be this by at from or an "
    "not have which you your we our all can will has but",
    "de": "der die und das ist nicht den von zu mit sich des auf für ein eine im dem "
    "auch es an als wird werden oder bei einer sind wir sie ich",
    "fr": "le la les et des est un une du en que pour qui dans pas sur au il elle ce "
    "avec sont par nous vous mais ou plus aux",
    "es": "el la los las y de que en un una es por con para del se su al lo como "
    "más pero sus le ha este esta",
    "it": "il di che e la per un una non in sono è del della con si le da gli al dei "
    "alla nel questo ma anche",
    "pt": "o a os as de que e do da em um uma para não por se na dos das ao "
    "mais como mas foi é são",
    "nl": "de het een en van in is dat op te zijn met voor niet aan er ook als bij "
    "door maar om wordt",
    "ms": "dan yang di ke dari untuk dengan ini itu pada adalah tidak dalam akan "
    "kami anda oleh juga atau jalan",
    "sv": "och att det som en på är av för med till den har inte om ett de jag var",
    "pl": "i w nie na się z do to że jest o jak ale po tak za od",
}
# One-letter words ("a", "e", "o", "i") occur in every Latin language and in receipts'
# item codes alike; they tell nothing.
_WORDS = {
    lang: {word for word in words.split() if len(word) > 1} for lang, words in _STOPWORDS.items()
}
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)

_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
)


def language_detect(text: str) -> str | None:
    if not text or not text.strip():
        return None
    letters = sum(1 for ch in text if ch.isalpha())
    if letters == 0:
        return None
    script_counts = {lang: len(pattern.findall(text)) for lang, pattern in _SCRIPTS}
    # Japanese mixes kana and kanji; any real amount of kana decides it.
    if script_counts["ja"] >= max(3, letters * 0.1):
        return "ja"
    lang, count = max(script_counts.items(), key=lambda item: item[1])
    # One stray letter (a Greek kappa misread in a line of digits) names no language.
    if count >= max(2, letters * 0.3):
        return lang
    tokens = [token.lower() for token in _TOKEN.findall(text)]
    if len(tokens) < 3:
        return None
    # Distinct stopwords, not occurrences: "No." repeated down a receipt is one word.
    distinct = set(tokens)
    hits: Counter[str] = Counter(
        {lang: len(distinct & words) for lang, words in _WORDS.items() if distinct & words}
    )
    if not hits:
        return None
    (best, best_hits), *rest = hits.most_common(2) + [("", 0)]
    runner_up = rest[0][1] if rest else 0
    if best_hits < 2 or best_hits < runner_up * 1.2:
        return best if best_hits >= 2 and best_hits > runner_up else None
    return best
