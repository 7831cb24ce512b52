"""Reading a student's answer and scoring it against an item version's key.

Answers are stored as JSON: ``{"choice": 2}``, ``{"pairs": {"0": 3, "1": 1, ...}}`` (left
index → right index) or ``{"text": "…"}``. Matching items earn points per correct pair;
choice and short items all or nothing. Short answers are compared after the search's Tajik
normalisation (:func:`tutoring.services.answer_text_key`), numbers by value (a decimal comma
is fine)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tutoring.services import answer_text_key

# Printed option labels: Cyrillic А Б В Г and Latin A B C D (a Latin "B" is the second
# option, a Cyrillic "В" the third, as printed). Lowercase is accepted too.
LABELS = "АБВГД"
_LABEL_INDEX = {
    **{letter: index for index, letter in enumerate("АБВГ")},
    **{letter: index for index, letter in enumerate("абвг")},
    **{letter: index for index, letter in enumerate("ABCD")},
    **{letter: index for index, letter in enumerate("abcd")},
}
_PRINTED_LABEL = re.compile(r"^\s*([АБВГабвгABCDabcd])\s*[).:]\s+")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
MAX_TEXT = 200


def label_index(label: str) -> int | None:
    """The option index a printed label names ("Б" → 1, "C" → 2, "3" → 2), or None."""
    label = label.strip().rstrip(").:").strip()
    if label in _LABEL_INDEX:
        return _LABEL_INDEX[label]
    if label.isdigit() and 1 <= int(label) <= 4:
        return int(label) - 1
    return None


def strip_printed_label(text: str) -> str:
    """ "В) +4 °C" → "+4 °C": options are stored without labels; Soro prints its own."""
    return _PRINTED_LABEL.sub("", text, count=1).strip()


def parse_number(text: str) -> float | None:
    """ "11,2" and "11.2" → 11.2; "−3" (minus sign) → -3.0; anything else → None."""
    cleaned = text.strip().replace("\u2212", "-").replace("\u00a0", "").replace(" ", "")
    if not _NUMBER.match(cleaned):
        return None
    value = float(cleaned.replace(",", "."))
    return value if math.isfinite(value) else None


def answer_parse(*, item_type: str, content: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """The stored form of a submitted answer (form fields or API JSON), or a translated
    ``ValidationError``. A matching answer must pair every left item."""
    if item_type == "choice":
        raw = data.get("choice")
        index = label_index(str(raw)) if isinstance(raw, str) and not raw.isdigit() else raw
        try:
            index = int(index)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValidationError(_("Choose one of the options."), code="choice") from None
        if not 0 <= index < len(content["options"]):
            raise ValidationError(_("Choose one of the options."), code="choice")
        return {"choice": index}
    if item_type == "matching":
        given = data.get("pairs")
        if not isinstance(given, Mapping):
            given = {str(i): data.get(f"pair-{i}") for i in range(len(content["left"]))}
        pairs: dict[str, int] = {}
        for left in range(len(content["left"])):
            raw = given.get(str(left), given.get(left)) if isinstance(given, Mapping) else None
            if raw in (None, ""):
                raise ValidationError(
                    _("Match every item of the left column before saving."), code="pairs"
                )
            try:
                right = int(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValidationError(
                    _("That pairing is not one of the choices."), code="pairs"
                ) from None
            if not 0 <= right < len(content["right"]):
                raise ValidationError(_("That pairing is not one of the choices."), code="pairs")
            pairs[str(left)] = right
        return {"pairs": pairs}
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(_("Write your answer."), code="text")
    if len(text) > MAX_TEXT:
        raise ValidationError(_("The answer is too long."), code="text")
    if "numeric" in content and parse_number(text) is None:
        raise ValidationError(_("Write a number, for example 12 or 0,5."), code="number")
    return {"text": text.strip()}


@dataclass(frozen=True)
class Score:
    is_correct: bool
    fraction: float  # share of the item's points earned, 0–1


def answer_score(*, item_type: str, content: Mapping[str, Any], answer: Mapping[str, Any]) -> Score:
    """Score a stored answer against the key of an item version."""
    if item_type == "choice":
        right = answer.get("choice") == content["answer"]
        return Score(right, 1.0 if right else 0.0)
    if item_type == "matching":
        given = answer.get("pairs") or {}
        key = {str(left): right for left, right in content["pairs"]}
        hits = sum(1 for left, right in key.items() if given.get(left) == right)
        return Score(hits == len(key), hits / len(key) if key else 0.0)
    text = str(answer.get("text", ""))
    if "numeric" in content:
        value = parse_number(text)
        numeric = content["numeric"]
        right = (
            value is not None
            and abs(value - float(numeric["value"])) <= float(numeric.get("tolerance", 0)) + 1e-9
        )
    else:
        typed = answer_text_key(text)
        right = any(typed == answer_text_key(accepted) for accepted in content["answers"])
    return Score(right, 1.0 if right else 0.0)


def key_text(*, item_type: str, content: Mapping[str, Any]) -> str:
    """The key as a reader sees it in a review ("В", "1–Г, 2–Б, …", "11,2")."""
    if item_type == "choice":
        return f"{LABELS[content['answer']]}) {content['options'][content['answer']]}"
    if item_type == "matching":
        return ", ".join(f"{left + 1}–{LABELS[right]}" for left, right in content["pairs"])
    if "numeric" in content:
        return f"{content['numeric']['value']:g}".replace(".", ",")
    return " / ".join(content["answers"])


def answer_view(
    *, item_type: str, content: Mapping[str, Any], answer: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What a page needs to show an item's answer fields, with the given answer filled in
    and without the key."""
    answer = answer or {}
    if item_type == "choice":
        return {
            "options": [
                {"index": i, "label": LABELS[i], "text": text, "checked": answer.get("choice") == i}
                for i, text in enumerate(content["options"])
            ]
        }
    if item_type == "matching":
        pairs = answer.get("pairs") or {}
        right = [
            {"index": i, "label": LABELS[i], "text": t} for i, t in enumerate(content["right"])
        ]
        return {
            "left": [
                {"index": i, "number": i + 1, "text": text, "chosen": pairs.get(str(i))}
                for i, text in enumerate(content["left"])
            ],
            "right": right,
        }
    return {"text": answer.get("text", ""), "numeric": "numeric" in content}


def answer_text(*, item_type: str, content: Mapping[str, Any], answer: Mapping[str, Any]) -> str:
    """A student's answer as a reader sees it in a review ("Б) …", "1–Г, 2–Б …", "11,2")."""
    if item_type == "choice":
        index = answer.get("choice")
        if isinstance(index, int) and 0 <= index < len(content["options"]):
            return f"{LABELS[index]}) {content['options'][index]}"
        return ""
    if item_type == "matching":
        pairs = answer.get("pairs") or {}
        return ", ".join(
            f"{int(left) + 1}–{LABELS[right]}" for left, right in sorted(pairs.items())
        )
    return str(answer.get("text", ""))


def question_public(*, item_type: str, stem: str, content: Mapping[str, Any]) -> dict[str, Any]:
    """An item as a client may see it before answering: the text, never the key."""
    data: dict[str, Any] = {"type": item_type, "stem": stem}
    if item_type == "choice":
        data["options"] = list(content["options"])
    elif item_type == "matching":
        data["left"], data["right"] = list(content["left"]), list(content["right"])
    else:
        data["numeric"] = "numeric" in content
    return data
