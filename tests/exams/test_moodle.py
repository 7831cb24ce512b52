"""Moodle formats: XML exports and imports back unchanged; GIFT export; foreign files."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tutoring.exams.models import Item
from tutoring.exams.services import bank_export, bank_import

FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/Химия</text></category></question>
  <question type="multichoice">
    <name><text>sch-001</text></name>
    <questiontext format="html"><text><![CDATA[<p>Формулаи <b>об</b>?</p>]]></text></questiontext>
    <generalfeedback format="html"><text>&lt;p&gt;Об H₂O аст.&lt;/p&gt;</text></generalfeedback>
    <single>true</single>
    <answer fraction="0"><text>CO₂</text></answer>
    <answer fraction="100"><text>H₂O</text></answer>
    <answer fraction="0"><text>O₂</text></answer>
    <answer fraction="0"><text>NaCl</text></answer>
    <tags><tag><text>soro-topic:chemistry-8-02-03</text></tag></tags>
  </question>
  <question type="shortanswer">
    <name><text>sch-002</text></name>
    <questiontext format="plain_text"><text>Моддаи аз ҳама паҳншуда?</text></questiontext>
    <generalfeedback><text>Об.</text></generalfeedback>
    <answer fraction="100"><text>об</text></answer>
  </question>
</quiz>
"""


def test_moodle_xml_exports_and_imports_back_unchanged(bank) -> None:  # type: ignore[no-untyped-def]
    items = Item.objects.select_related("current", "topic__subject", "topic__grade")
    before = bank_export(items=items, file_format="json")
    xml = bank_export(items=items, file_format="xml")
    assert xml.count("<question ") == 236 and 'type="numerical"' in xml
    report = bank_import(text=xml, file_format="xml")
    assert len(report.unchanged) == 236, (report.created, report.updated)
    assert bank_export(items=items, file_format="json") == before


def test_gift_export(bank) -> None:  # type: ignore[no-untyped-def]
    items = Item.objects.select_related("current", "topic__subject", "topic__grade")
    gift = bank_export(items=items.filter(code__in=["chem-019", "math-007"]), file_format="gift")
    assert "::chem-019::" in gift and "~0 °C ~100 °C =+4 °C ~+20 °C" in gift
    assert "{#12:0 ####" in gift  # the numeric key and the explanation as general feedback


def test_a_foreign_moodle_file_needs_the_topic_tag_and_keeps_nothing_without_it(curriculum) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as error:
        bank_import(text=FOREIGN, file_format="xml")
    assert [m.split(":")[0] for m in error.value.messages] == ["сатри 2 (sch-002)"]
    assert not Item.objects.exists()
    tagged = FOREIGN.replace(
        '<answer fraction="100"><text>об</text></answer>',
        '<answer fraction="100"><text>об</text></answer>'
        "<tags><tag><text>soro-topic:chemistry-8-02-03</text></tag></tags>",
    )
    bank_import(text=tagged, file_format="xml")
    first = Item.objects.get(code="sch-001").current
    assert first.stem == "Формулаи об?" and first.explanation == "Об H₂O аст."
    assert first.content == {"options": ["CO₂", "H₂O", "O₂", "NaCl"], "answer": 1}
    assert Item.objects.get(code="sch-002").current.content == {"answers": ["об"]}
    with pytest.raises(ValidationError):
        bank_import(text="<quiz><question", file_format="xml")
