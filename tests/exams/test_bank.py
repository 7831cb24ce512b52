"""The question bank: the demo import, bad files (named rows, nothing kept), versions, CSV."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from tests.exams.conftest import demo_items
from tutoring.exams.models import Blueprint, Item, ItemVersion
from tutoring.exams.services import bank_export, bank_import, item_approve, item_save


def bank_text(items: list[dict]) -> str:  # type: ignore[type-arg]
    return json.dumps({"format": "soro-question-bank", "version": 1, "items": items})


def test_the_demo_bank_and_blueprints_load_once(curriculum, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("import_questions", "--demo")
    assert Item.objects.approved().count() == 236
    assert {b.code for b in Blueprint.objects.all()} == {"cluster-1", "cluster-5", "short-5"}
    cluster5 = Blueprint.objects.get(code="cluster-5")
    assert cluster5.item_count == 104 and cluster5.minutes == 220 and cluster5.scaled_max == 500
    call_command("import_questions", "--demo")
    assert "0 new, 0 changed, 236 unchanged" in capsys.readouterr().out
    assert ItemVersion.objects.count() == 236


def test_a_bad_file_names_its_rows_and_keeps_nothing(curriculum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    items = copy.deepcopy(demo_items()[:5])
    items[1]["answer"] = 7
    items[3]["topic"] = "math-99-01-01"
    del items[4]["pairs" if items[4]["type"] == "matching" else "explanation"]
    path = tmp_path / "bank.json"
    path.write_text(bank_text(items), encoding="utf-8")
    with pytest.raises(CommandError) as error:
        call_command("import_questions", str(path))
    message = str(error.value)
    assert "сатри 2 (math-002)" in message and "сатри 4 (math-004)" in message
    assert "сатри 5 (math-005)" in message and "сатри 1 " not in message
    assert Item.objects.count() == 0


def test_malformed_json_and_missing_file_are_clear(curriculum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bank.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="Файл JSON-и дуруст нест"):
        call_command("import_questions", str(path))
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_questions", str(tmp_path / "none.json"))


def test_printed_labels_are_normalised_on_import(curriculum) -> None:  # type: ignore[no-untyped-def]
    item = copy.deepcopy(demo_items()[0])  # key "2" (index 1)
    item["options"] = [
        f"{label}) {text}" for label, text in zip("АБВГ", item["options"], strict=True)
    ]
    item["answer"] = "B"  # Latin B: the second option
    bank_import(text=bank_text([item]), file_format="json")
    version = Item.objects.get().current
    assert version.content == {"options": ["−2", "2", "7", "22"], "answer": 1}


def test_csv_export_imports_back_unchanged(bank) -> None:  # type: ignore[no-untyped-def]
    items = Item.objects.select_related("current", "topic__subject", "topic__grade")
    csv_text = bank_export(items=items, file_format="csv")
    assert csv_text.splitlines()[0].startswith("id,type,subject")
    json_before = bank_export(items=items, file_format="json")
    report = bank_import(text=csv_text, file_format="csv")
    assert len(report.unchanged) == 236 and not report.created and not report.updated
    assert bank_export(items=items, file_format="json") == json_before


def test_an_edit_adds_a_version_and_sends_the_item_back_to_draft(bank, people) -> None:  # type: ignore[no-untyped-def]
    data = {
        "type": "choice",
        "topic": "biology-9-01-01",
        "part": "B",
        "difficulty": 1,
        "stem": "Кадом органоид фотосинтез мекунад?",
        "options": ["Митохондрия", "Хлоропласт", "Рибосома", "Ядро"],
        "answer": 1,
        "explanation": "Фотосинтез дар хлоропластҳо мегузарад.",
    }
    item = item_save(user=people.teacher, data=data)
    assert (item.status, item.version, item.code) == ("draft", 1, f"t{people.teacher.pk}-001")
    item_approve(user=people.teacher, item=item)
    first = item.current
    item = item_save(
        user=people.teacher, data={**data, "answer": 1, "stem": "Фотосинтез дар куҷо?"}, item=item
    )
    assert item.version == 2 and item.status == "draft"
    assert ItemVersion.objects.get(pk=first.pk).stem == "Кадом органоид фотосинтез мекунад?"
    with pytest.raises(ValidationError):
        item_save(user=people.teacher, data={**data, "options": ["a", "a", "b", "c"]}, item=item)
    assert Item.objects.get(pk=item.pk).version == 2


def test_staff_cannot_save_a_broken_blueprint(curriculum) -> None:  # type: ignore[no-untyped-def]
    blueprint = Blueprint(code="x", name="X", minutes=10, sections=[{"subject": "math"}])
    with pytest.raises(ValidationError) as error:
        blueprint.full_clean()
    assert "sections" in error.value.message_dict
    blueprint.sections = [{"subject": "math", "counts": {"choice": 2}, "points": {"choice": 1}}]
    blueprint.full_clean()
