"""Scoring and answer parsing: labels, numbers by value, Tajik normalisation, matching."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tutoring.exams.services.scoring import (
    answer_parse,
    answer_score,
    label_index,
    parse_number,
    strip_printed_label,
)

CHOICE = {"options": ["0 °C", "100 °C", "+4 °C", "+20 °C"], "answer": 2}
MATCHING = {
    "left": ["a", "b", "c", "d"],
    "right": ["1", "2", "3", "4", "5"],
    "pairs": [[0, 3], [1, 1], [2, 2], [3, 0]],
}
WORDS = {"answers": ["ҳуҷайра"]}
NUMBER = {"numeric": {"value": 11.2, "tolerance": 0.05}}


@pytest.mark.parametrize(
    ("label", "index"),
    [
        ("А", 0),
        ("Б", 1),
        ("В", 2),
        ("Г", 3),
        ("A", 0),
        ("B", 1),
        ("C", 2),
        ("D", 3),
        ("в)", 2),
        ("4", 3),
        ("Д", None),
        ("5", None),
    ],
)
def test_printed_labels_name_options_in_both_alphabets(label: str, index: int | None) -> None:
    assert label_index(label) == index


def test_printed_labels_are_stripped_from_options() -> None:
    assert strip_printed_label("В) +4 °C") == "+4 °C"
    assert strip_printed_label("B. 100 °C") == "100 °C"
    assert strip_printed_label("Ба ҳар") == "Ба ҳар"  # a word, not a label


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("11,2", 11.2),
        ("11.2", 11.2),
        (" −3 ", -3.0),
        ("1 000", 1000.0),
        (",5", 0.5),
        ("12a", None),
        ("", None),
        ("1,2,3", None),
    ],
)
def test_numbers_are_read_with_a_comma_or_a_point(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def score(item_type: str, content: dict, data: dict) -> tuple[bool, float]:  # type: ignore[type-arg]
    answer = answer_parse(item_type=item_type, content=content, data=data)
    result = answer_score(item_type=item_type, content=content, answer=answer)
    return result.is_correct, result.fraction


def test_choice_by_index_or_label() -> None:
    assert score("choice", CHOICE, {"choice": "2"}) == (True, 1.0)
    assert score("choice", CHOICE, {"choice": "В"}) == (True, 1.0)
    assert score("choice", CHOICE, {"choice": 1}) == (False, 0.0)
    with pytest.raises(ValidationError):
        answer_parse(item_type="choice", content=CHOICE, data={"choice": "7"})


def test_matching_earns_points_per_pair_and_needs_every_pair() -> None:
    form = {"pair-0": "3", "pair-1": "1", "pair-2": "0", "pair-3": "2"}
    assert score("matching", MATCHING, form) == (False, 0.5)
    assert score("matching", MATCHING, {"pairs": {"0": 3, "1": 1, "2": 2, "3": 0}}) == (True, 1.0)
    with pytest.raises(ValidationError) as error:
        answer_parse(item_type="matching", content=MATCHING, data={"pair-0": "3", "pair-1": "1"})
    assert error.value.code == "pairs"


@pytest.mark.parametrize(
    ("typed", "right"),
    [
        ("ҳуҷайра", True),
        ("Ҳуҷайра.", True),
        ("худжайра", False),
        ("хучайра", True),
        ("ҳуҷaйра", True),
        ("ҳуҷайраҳо", False),
    ],
)
def test_short_words_compare_after_tajik_normalisation(typed: str, right: bool) -> None:
    # Russian letters for Tajik ones (х for ҳ, ч for ҷ) and a Latin "a" inside the word.
    assert score("short", WORDS, {"text": typed})[0] is right


@pytest.mark.parametrize(
    ("typed", "right"), [("11,2", True), ("11.2", True), ("11,24", True), ("11,3", False)]
)
def test_short_numbers_compare_by_value(typed: str, right: bool) -> None:
    assert score("short", NUMBER, {"text": typed})[0] is right


def test_a_word_for_a_number_is_refused_with_a_message() -> None:
    with pytest.raises(ValidationError) as error:
        answer_parse(item_type="short", content=NUMBER, data={"text": "ёздаҳ"})
    assert error.value.code == "number"
