"""The arithmetic of grading, without Django: exact answers compared after normalisation,
near-duplicate answers by word shingles, and the agreement of several model samples.

Plain values in and out, so the benchmark and the tests run it as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_SPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = " \t\n.,;:!?«»\"'()[]{}–—-"
_NUMBER = re.compile(r"^[+\-]?\d[\d\s]*(?:[.,]\d+)?$|^[+\-]?[.,]\d+$")
_FRACTION = re.compile(r"^([+\-]?\d+)\s*/\s*(\d+)$")
# Latin and Russian letters that look like or stand for Tajik ones in typed answers.
_LOOKALIKES = str.maketrans(
    {
        "a": "а",
        "e": "е",
        "o": "о",
        "p": "р",
        "c": "с",
        "x": "х",
        "y": "у",
        "k": "к",
    }
)
_WORD = re.compile(r"\w+", re.UNICODE)


def _number_text(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().rstrip(".").replace("−", "-")


def normalize_text(text: str) -> str:
    """Case, Unicode form, look-alike letters, spaces and surrounding punctuation do not
    count: "  Бухоро. " and "бухоро" are the same answer."""
    text = unicodedata.normalize("NFC", text).casefold().replace("\u00ad", "")
    text = _SPACE.sub(" ", text).strip(_EDGE_PUNCTUATION)
    if any("\u0400" <= ch <= "\u04ff" for ch in text):
        text = text.translate(_LOOKALIKES)
    return text


def parse_number(text: str) -> Decimal | None:
    """A number written as a student would: "2,5", "2.50", "−3", "1 000", "3/4"."""
    cleaned = _number_text(text)
    fraction = _FRACTION.match(cleaned)
    if fraction:
        denominator = Decimal(fraction.group(2))
        return Decimal(fraction.group(1)) / denominator if denominator else None
    if not _NUMBER.match(cleaned):
        return None
    try:
        return Decimal(cleaned.replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None


def accepted_answers(expected: str) -> list[str]:
    """The accepted answers of an exact question, separated by "|"."""
    return [part for part in (piece.strip() for piece in expected.split("|")) if part]


def exact_match(answer: str, expected: str) -> bool:
    """Whether ``answer`` equals one of the accepted answers: numbers by value, other answers
    after :func:`normalize_text`."""
    given = normalize_text(answer)
    if not given:
        return False
    given_number = parse_number(answer)
    for accepted in accepted_answers(expected):
        accepted_number = parse_number(accepted)
        if accepted_number is not None or given_number is not None:
            if accepted_number == given_number:
                return True
            continue
        if normalize_text(accepted) == given:
            return True
    return False


#: Letters only Tajik has among Cyrillic alphabets: a text with them is Tajik whatever a
#: language identifier says about a short sentence.
TAJIK_LETTERS = frozenset("ҷҳқӣӯғҶҲҚӢӮҒ")


def looks_tajik(text: str, language: str, confidence: float, *, min_confidence: float) -> bool:
    """Whether to take ``text`` as Tajik, given what language ID said about it. Short
    sentences are often misread (a Tajik sentence without ҷ ҳ қ ӣ ӯ ғ may come back as
    Russian with low confidence), so only a confident other language counts against it."""
    if any(ch in TAJIK_LETTERS for ch in text):
        return True
    return language == "tg" or confidence < min_confidence


def shingles(text: str, size: int = 2) -> frozenset[str]:
    """Word ``size``-grams of the normalised text (the words themselves for short texts)."""
    words = _WORD.findall(normalize_text(text))
    if len(words) < size:
        return frozenset(words)
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def near_duplicates(
    texts: dict[int, str], *, threshold: float, min_words: int = 5
) -> dict[int, list[int]]:
    """For each key, the other keys whose text is at least ``threshold`` similar (Jaccard of
    word pairs). Texts shorter than ``min_words`` words are never flagged: two students
    may well both write "Бухоро"."""
    sets = {
        key: shingles(text) for key, text in texts.items() if len(_WORD.findall(text)) >= min_words
    }
    keys = sorted(sets)
    found: dict[int, list[int]] = {}
    for index, key in enumerate(keys):
        for other in keys[index + 1 :]:
            if jaccard(sets[key], sets[other]) >= threshold:
                found.setdefault(key, []).append(other)
                found.setdefault(other, []).append(key)
    return found


@dataclass(frozen=True)
class Consensus:
    """What k samples of the model agree on: the points per criterion (the most common value,
    the lower one on a tie), the agreement (0..1) and which sample gave those points."""

    points: tuple[float, ...]
    agreement: float
    chosen: int


def consensus(samples: Sequence[Sequence[float] | None], criteria: int) -> Consensus | None:
    """Combine k samples (None for a reply that did not parse). The agreement is the mean,
    over criteria, of the share of all k samples that gave the chosen value; a sample that
    did not parse agrees with nothing. None when no sample parsed."""
    parsed = [(index, tuple(s)) for index, s in enumerate(samples) if s is not None]
    if not parsed or criteria == 0:
        return None
    points: list[float] = []
    shares: list[float] = []
    for criterion in range(criteria):
        counts = Counter(values[criterion] for _index, values in parsed)
        best = max(counts.values())
        value = min(v for v, count in counts.items() if count == best)
        points.append(value)
        shares.append(best / len(samples))
    chosen = next((index for index, values in parsed if values == tuple(points)), parsed[0][0])
    return Consensus(points=tuple(points), agreement=sum(shares) / len(shares), chosen=chosen)


def total(points: Iterable[float]) -> float:
    return float(sum(points))
