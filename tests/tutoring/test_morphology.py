"""The light Tajik suffix stripper of the lexical index."""

from __future__ import annotations

import pytest

from tutoring.retrieval.morphology import analyzer_for, strip_suffixes


@pytest.mark.parametrize(
    ("forms", "stem"),
    [
        (
            ["китоб", "китобҳо", "китобро", "китобҳоро", "китоби", "китобҳои", "китобҳоямонро"],
            "китоб",
        ),
        (["дарахт", "дарахтон", "дарахтони"], "дарахт"),
        (["давлат", "давлати", "давлатро", "давлатҳо"], "давлат"),
        (["исмоил", "исмоили", "исмоилро"], "исмоил"),
        (["баланд", "баландтар", "баландтарин", "баландӣ"], "баланд"),
        (["кард", "кардааст", "карданд"], "кард"),
        (["кун", "мекунад", "мекунанд", "намекунад"], "кун"),
    ],
)
def test_forms_of_one_word_meet_in_one_stem(forms: list[str], stem: str) -> None:
    assert {strip_suffixes(form) for form in forms} == {stem}


def test_short_words_and_numbers_are_kept() -> None:
    words = ["об", "дар", "892", "x2"]
    assert [strip_suffixes(word) for word in words] == words
    # never shorter than three letters
    assert strip_suffixes("шаҳрҳо") == "шаҳр"
    assert len(strip_suffixes("сарон")) >= 3


def test_analyzers_by_name() -> None:
    assert analyzer_for("none")(["китобҳо"]) == ["китобҳо"]
    assert analyzer_for("suffix")(["китобҳо", "дарахтон"]) == ["китоб", "дарахт"]
    with pytest.raises(ValueError, match="unknown analyzer"):
        analyzer_for("porter")
