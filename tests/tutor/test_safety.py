"""The safety check: the ways children type around a filter are caught, and the textbooks,
the tutor's training data and ordinary questions are not flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutoring.services import DEMO_TEXTBOOKS
from tutoring.tutor.services import folded, safety_check

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Ман мехоҳам худамро мекушам", "self_harm"),
        ("ман мехохам худамро мекушам", "self_harm"),  # typed on a Russian keyboard
        ("ХУДКУШӢ", "self_harm"),
        ("xyдкyшӣ", "self_harm"),  # Latin x and y
        ("Ман\u00adмехоҳам\u200bбимирам", "self_harm"),  # soft hyphen, zero-width space
        ("у.б.и.т.ь   с е б я", "self_harm"),
        ("убииить себя", "self_harm"),
        ("Не хочу ЖИТЬ", "self_harm"),
        ("I want to kill myself", "self_harm"),
        ("yбью тебя", "violence"),
        ("Я тебя зарежу", "violence"),
        ("Падарам маро мезанад", "abuse"),
        ("отчим меня бьёт", "abuse"),
        ("меня бьет", "abuse"),  # ё written as е
    ],
)
def test_obfuscated_messages_are_caught(text: str, category: str) -> None:
    assert safety_check(text).category == category


@pytest.mark.parametrize(
    "text",
    [
        "Муодилаи 3x + 4 = 19-ро чӣ гуна ҳал кунам?",
        "Мы решаем уравнение с одной переменной.",
        "Искандар ба Суғд ҳуҷум кард; мардум муқобилат карданд.",
        "the rapeseed harvest",
        "Ҷавобро бигӯ!",
    ],
)
def test_ordinary_questions_pass(text: str) -> None:
    assert safety_check(text).is_safe


def test_the_textbooks_and_the_tutors_training_data_pass() -> None:
    paragraphs = [
        paragraph
        for path in sorted(DEMO_TEXTBOOKS.glob("*.md"))
        for paragraph in path.read_text(encoding="utf-8").split("\n\n")
    ]
    for name in ("tutor_reply", "teacher_chat"):
        lines = (ROOT / "modelops/data/sft" / f"{name}.jsonl").read_text(encoding="utf-8")
        paragraphs += [json.loads(line)["inputs"]["message"] for line in lines.splitlines()]
    assert len(paragraphs) > 150
    flagged = [(p[:60], safety_check(p)) for p in paragraphs if not safety_check(p).is_safe]
    assert flagged == []


def test_folding() -> None:
    assert folded("Ҳ-ҷ қ ғ ӯ ӣ ё й") == "хчкгуиеи"
    assert folded("С0М0НИЁН") == "сомониен"
