"""Moodle formats: XML exports and imports back unchanged; GIFT export; foreign files."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tutoring.exams.models import Item
from tutoring.exams.services import bank_export, bank_import
from tutoring.exams.services.moodle import gift_to_items

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


def test_gift_exports_and_imports_back_unchanged(bank) -> None:  # type: ignore[no-untyped-def]
    items = Item.objects.select_related("current", "topic__subject", "topic__grade")
    before = bank_export(items=items, file_format="json")
    gift = bank_export(items=items, file_format="gift")
    assert gift.count("\n::") + gift.startswith("::") == 236 and "{#12:0 ####" in gift
    assert len(gift_to_items(gift)) == 236
    report = bank_import(text=gift, file_format="gift")
    assert len(report.unchanged) == 236, (report.created, report.updated)
    assert bank_export(items=items, file_format="json") == before


HAND_WRITTEN = r"""$CATEGORY: $course$/Химия
// a comment Moodle skips
// soro-topic:chemistry-8-02-03
::g-choice::Формулаи об? {~CO₂ =H₂O#Дуруст ~O₂ ~NaCl ####Об H₂O аст.}

// soro-topic:chemistry-8-02-03
::g-match::Мувофиқ кунед {=Об -> H₂O =Намак -> NaCl}

// soro-topic:chemistry-8-02-03
::g-short::Моддаи аз ҳама паҳншуда? {=об =Об}

// soro-topic:chemistry-8-02-03
// soro-part:C
::g-numeric::Массаи молярии об (г/мол)? {#18:0.5}

// soro-topic:chemistry-8-02-03
::g-exact::Ду ҷамъ ду? {#4}

// soro-topic:chemistry-8-02-03
::g\:escaped::Аломатҳо \= \~ \# \{ \} \: ва \\ {=a\=b ~a\~b ~c\#d ~\{e\}}
"""


def test_hand_written_gift_maps_each_type_and_its_escapes() -> None:
    items = {item["id"]: item for item in gift_to_items(HAND_WRITTEN)}
    assert list(items) == ["g-choice", "g-match", "g-short", "g-numeric", "g-exact", "g:escaped"]
    choice = items["g-choice"]
    assert choice["type"] == "choice" and choice["options"] == ["CO₂", "H₂O", "O₂", "NaCl"]
    assert choice["answer"] == 1 and choice["explanation"] == "Об H₂O аст."
    assert choice["topic"] == "chemistry-8-02-03" and choice["source"] == "GIFT"
    match = items["g-match"]
    assert match["type"] == "matching" and match["left"] == ["Об", "Намак"]
    assert match["right"] == ["H₂O", "NaCl"] and match["pairs"] == [[0, 0], [1, 1]]
    assert items["g-short"]["type"] == "short" and items["g-short"]["answers"] == ["об", "Об"]
    assert items["g-numeric"]["numeric"] == {"value": 18, "tolerance": 0.5}
    assert items["g-numeric"]["part"] == "C"
    assert items["g-exact"]["numeric"] == {"value": 4, "tolerance": 0}
    escaped = items["g:escaped"]
    assert escaped["stem"] == "Аломатҳо = ~ # { } : ва \\"
    assert escaped["options"] == ["a=b", "a~b", "c#d", "{e}"] and escaped["answer"] == 0


VALID_GIFT = """// soro-topic:chemistry-8-02-03
::sch-101::Формулаи об? {~CO₂ =H₂O ~O₂ ~NaCl ####Об H₂O аст.}

// soro-topic:chemistry-8-02-03
::sch-102::Мувофиқ кунед. {=Об -> H₂O =Намак -> NaCl =Гази карбонат -> CO₂ =Оксиген -> O₂
####Формулаҳои моддаҳо.}

// soro-topic:chemistry-8-02-03
::sch-103::Моддаи аз ҳама паҳншуда? {=об ####Об.}

// soro-topic:chemistry-8-02-03
::sch-104::Массаи молярии об (г/мол)? {#18:0.5 ####2 + 16 = 18.}
"""


def test_hand_written_gift_imports(curriculum) -> None:  # type: ignore[no-untyped-def]
    report = bank_import(text=VALID_GIFT, file_format="gift")
    assert sorted(report.created) == ["sch-101", "sch-102", "sch-103", "sch-104"]
    first = Item.objects.get(code="sch-101").current
    assert first.content == {"options": ["CO₂", "H₂O", "O₂", "NaCl"], "answer": 1}
    assert first.explanation == "Об H₂O аст."
    assert Item.objects.get(code="sch-102").type == "matching"
    assert Item.objects.get(code="sch-104").current.content["numeric"]["value"] == 18


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("::e1::Дар бораи об нависед. {}", "эссе"),
        ("::t1::Об моеъ аст. {T}", "дуруст/нодуруст"),
        ("::t2::Об моеъ аст. {FALSE#Не}", "дуруст/нодуруст"),
        ("::w1::Кадомҳо? {~%50%H₂O ~%50%об ~%-100%CO₂}", "вазн"),
        ("::m1::Кадомҳо? {=H₂O =об ~CO₂}", "як ҷавоби дуруст"),
        ("::n1::Чанд? {#abc}", "рақам"),
        ("::b1::Бе ҷавоб", "{"),
    ],
)
def test_unsupported_gift_is_refused_by_question_number_and_nothing_is_kept(  # type: ignore[no-untyped-def]
    curriculum, question: str, reason: str
) -> None:
    good = "// soro-topic:chemistry-8-02-03\n::sch-101::Об? {=H₂O ~CO₂ ~O₂ ~NaCl ####Об.}\n"
    text = f"{good}\n// soro-topic:chemistry-8-02-03\n{question}\n"
    with pytest.raises(ValidationError) as error:
        bank_import(text=text, file_format="gift")
    [message] = error.value.messages
    assert message.startswith("саволи 2 (") and reason in message, message
    assert not Item.objects.exists()
