"""Fixtures for exam practice: the demo curriculum, the demo bank (approved) and blueprints,
and a short blueprint that a test can sit in seconds."""

from __future__ import annotations

import json

import pytest

from soro_web.curriculum.services import DEMO_CURRICULUM, curriculum_import
from tutoring.exams.models import Blueprint, Item
from tutoring.exams.services import DEMO_BANK, bank_import, blueprints_import


@pytest.fixture
def curriculum(db) -> None:  # type: ignore[no-untyped-def]
    curriculum_import(text=DEMO_CURRICULUM.read_text(encoding="utf-8"))


@pytest.fixture
def bank(curriculum) -> list[Item]:  # type: ignore[no-untyped-def]
    bank_import(text=DEMO_BANK.read_text(encoding="utf-8"), file_format="json", approve=True)
    blueprints_import()
    return list(Item.objects.all())


@pytest.fixture
def tiny_blueprint(bank) -> Blueprint:  # type: ignore[no-untyped-def]
    """Three biology questions, one of each type, five minutes."""
    return Blueprint.objects.create(
        code="tiny",
        name="Санҷиши хурд",
        cluster=5,
        minutes=5,
        sections=[
            {
                "subject": "biology",
                "counts": {"choice": 1, "matching": 1, "short": 1},
                "points": {"choice": 1, "matching": 2, "short": 2},
            }
        ],
    )


def demo_items() -> list[dict]:  # type: ignore[type-arg]
    return json.loads(DEMO_BANK.read_text(encoding="utf-8"))["items"]
