"""The safety check on what a student writes, before anything reaches the model.

A message that speaks of self-harm, violence or abuse gets a fixed, kind reply with the help
contacts staff configured (``SORO_TUTOR_HELP_CONTACTS``) and a flag for the student's
teachers; the model is not called. The word lists are a data file
(``tutoring/tutor/data/safety_words.yaml``) that a school can extend without code.

Children type around filters, so the text is normalised first: Tajik normalisation (NFC,
invisible characters removed, look-alike Latin letters in Cyrillic words), then NFKD with the
accents dropped, every Latin, Greek or digit look-alike made the Cyrillic letter it imitates,
the Tajik letters folded to their Russian neighbours (ҳ→х, ҷ→ч, қ→к, ғ→г; ӣ and ӯ lose
their accent), doubled letters made single, and everything that is not a letter removed, so
"у б и т ь", "у.б.и.т.ь", "yбью" and "убииить" all read "убить".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from django.conf import settings
from django.utils.translation import gettext as _

from tutoring.services import text_normalize

WORD_LISTS = Path(__file__).resolve().parent.parent / "data" / "safety_words.yaml"
#: Categories, in the order they are checked (the first match names the flag).
CATEGORIES = ("self_harm", "violence", "abuse")

# What Latin, Greek and digit characters pass for, once lowercased.
_LOOK_ALIKES = str.maketrans(
    {
        "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "k": "к", "m": "м", "o": "о",
        "p": "р", "t": "т", "x": "х", "y": "у", "u": "и", "r": "г", "n": "п",
        "α": "а", "β": "в", "ε": "е", "η": "н", "κ": "к", "μ": "м", "ο": "о", "ρ": "р",
        "τ": "т", "υ": "у", "χ": "х", "ν": "в",
        "0": "о", "3": "з", "4": "ч", "6": "б", "@": "а",
        "ҳ": "х", "ҷ": "ч", "қ": "к", "ғ": "г", "ӯ": "у", "ӣ": "и", "ё": "е", "й": "и",
    }
)  # fmt: skip
_NOT_LETTER = re.compile(r"[^а-яa-z]+")
_DOUBLED = re.compile(r"(.)\1+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SafetyResult:
    """Whether a message is safe to send to the model; ``category`` names the flag."""

    category: str = ""
    matched: str = ""

    @property
    def is_safe(self) -> bool:
        return not self.category


def _plain(text: str) -> str:
    """Tajik-normalised, lowercased, accents dropped (ӣ→и, ё→е, й→и)."""
    text = unicodedata.normalize("NFKD", text_normalize(text).casefold())
    return "".join(char for char in text if not unicodedata.combining(char))


def folded(text: str) -> str:
    """The letters of ``text`` as the Cyrillic word lists are checked: see the module."""
    text = _plain(text).translate(_LOOK_ALIKES)
    return _DOUBLED.sub(r"\1", _NOT_LETTER.sub("", text))


def _english(text: str) -> str:
    return _SPACES.sub(" ", re.sub(r"[^\w]+", " ", _plain(text))).strip()


@dataclass(frozen=True)
class _Lists:
    cyrillic: dict[str, tuple[tuple[str, str], ...]]  # category -> (folded, as written)
    english: dict[str, tuple[tuple[re.Pattern[str], str], ...]]


@cache
def _lists(path: Path = WORD_LISTS) -> _Lists:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cyrillic: dict[str, tuple[tuple[str, str], ...]] = {}
    english: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {}
    for category in CATEGORIES:
        languages = data.get(category) or {}
        phrases = [str(p) for language in ("tg", "ru") for p in languages.get(language) or []]
        cyrillic[category] = tuple((folded(p), p) for p in phrases if folded(p))
        english[category] = tuple(
            (re.compile(r"\b" + re.escape(_english(str(p))) + r"\b"), str(p))
            for p in languages.get("en") or []
        )
    return _Lists(cyrillic=cyrillic, english=english)


def safety_check(text: str) -> SafetyResult:
    """The first category whose word list matches ``text`` (after normalisation)."""
    lists = _lists()
    letters = folded(text)
    english = _english(text)
    for category in CATEGORIES:
        for phrase, written in lists.cyrillic[category]:
            if phrase in letters:
                return SafetyResult(category=category, matched=written)
        for pattern, written in lists.english[category]:
            if pattern.search(english):
                return SafetyResult(category=category, matched=written)
    return SafetyResult()


def safety_reply() -> str:
    """The fixed, kind reply (in the active language) with the configured help contacts."""
    reply = _(
        "Thank you for telling me. What you wrote sounds serious, and you do not have to "
        "face it alone. Please talk now to an adult you trust: your teacher, your parents or "
        "the school psychologist."
    )
    contacts = settings.SORO_TUTOR_HELP_CONTACTS.strip()
    if contacts:
        reply += " " + _("Where to get help: %(contacts)s.") % {"contacts": contacts.rstrip(".")}
    return reply + " " + _("Your teacher will see this message so that they can help you.")
