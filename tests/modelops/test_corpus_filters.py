"""Each corpus step on hand-made Tajik documents: what passes, what is removed and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datatrove.data import Document

from modelops.corpus import steps
from modelops.corpus.sources import Unit, catalog_strings, read_unit
from modelops.corpus.text import ScrubCounts, scrub_pii
from modelops.corpus.types import QualityThresholds, SourceSpec

# A real page of Tajik prose (about 110 words), written for these tests.
TAJIK = (
    "Душанбе пойтахти Ҷумҳурии Тоҷикистон ва бузургтарин шаҳри кишвар мебошад. "
    "Шаҳр дар водии Ҳисор, дар соҳили дарёи Варзоб ҷойгир шудааст.\n"
    "Дар асри бист деҳаи хурд ба шаҳри калони саноатӣ ва фарҳангӣ табдил ёфт. "
    "Дар он донишгоҳҳо, театрҳо, осорхонаҳо ва китобхонаҳои зиёд амал мекунанд.\n"
    "Аҳолии шаҳр аз як миллион нафар зиёд аст ва ҳар сол меафзояд. "
    "Бисёр ҷавонон барои таҳсил аз ноҳияҳои дигар ба пойтахт меоянд.\n"
    "Боғи Рӯдакӣ ва майдони Дӯстӣ ҷойҳои дӯстдоштаи сокинони шаҳр мебошанд. "
    "Дар рӯзҳои ид мардум бо оилаҳои худ ба ин ҷойҳо мераванд ва ҳаво тоза аст.\n"
    "Дар наздикии шаҳр кӯҳҳои баланд ҳастанд, ки дар зимистон барф мепӯшанд. "
    "Сайёҳон барои дидани табиати зебо ва шиносоӣ бо таърихи қадим ба ин ҷо меоянд.\n"
    "Дар бозорҳои шаҳр мева ва сабзавоти тару тоза фаровон аст, зеро замини водӣ ҳосилхез аст."
)
RUSSIAN = (
    "Москва является столицей Российской Федерации и крупнейшим городом страны. "
    "Город расположен на реке Москве, в центре Восточно-Европейской равнины.\n"
    "В двадцатом веке небольшой город превратился в огромный промышленный и культурный центр. "
    "Здесь работают университеты, театры, музеи и большие библиотеки.\n"
    "Население города превышает двенадцать миллионов человек и растёт каждый год. "
    "Многие молодые люди приезжают сюда из других регионов, чтобы учиться.\n"
    "Парки и площади города любимы жителями, которые гуляют там по выходным дням. "
    "Рядом с городом нет высоких гор, но есть леса и реки, где отдыхают семьи."
)
RUSSIAN_KEYBOARD = str.maketrans(
    {"ҳ": "х", "ҷ": "ч", "қ": "к", "ғ": "г", "ӯ": "у", "ӣ": "и", "Ҷ": "Ч", "Ҳ": "Х"}
)
THRESHOLDS = QualityThresholds()


def verdict(step: steps.BaseFilter, text: str, *, curated: bool = False) -> bool | tuple[bool, str]:
    return step.filter(Document(text=text, id="doc", metadata={"curated": curated}))


def all_quality(text: str, *, curated: bool = False) -> list[bool | tuple[bool, str]]:
    return [
        verdict(step, text, curated=curated)
        for step in (
            steps.TajikGopherQuality(THRESHOLDS),
            steps.TajikGopherRepetition(THRESHOLDS),
            steps.TajikFineWebQuality(THRESHOLDS),
            steps.TajikShareFilter(THRESHOLDS),
        )
    ]


def test_tajik_prose_passes_every_quality_rule() -> None:
    assert all_quality(TAJIK) == [True, True, True, True]


def test_a_short_page_is_removed_by_length() -> None:
    text = "Душанбе пойтахти Тоҷикистон аст ва дар водии Ҳисор ҷойгир аст."
    assert verdict(steps.TajikGopherQuality(THRESHOLDS), text) == (False, "gopher_short_doc")


def test_repeated_lines_are_removed() -> None:
    line = "Харидани мол бо нархи арзон дар мағозаи мо ва барои шумо."
    text = "\n".join([line] * 12 + TAJIK.split("\n")[:2])
    assert verdict(steps.TajikGopherRepetition(THRESHOLDS), text) == (False, "dup_line_frac")


def test_a_word_list_without_stop_words_is_removed() -> None:
    words = "китоб мактаб донишгоҳ муаллим шогирд дафтар қалам синф дарс имтиҳон " * 8
    assert verdict(steps.TajikGopherQuality(THRESHOLDS), words) == (
        False,
        "gopher_enough_stop_words",
    )
    assert verdict(steps.TajikShareFilter(THRESHOLDS), words) == (False, "few_stop_words")


def test_lines_without_closing_punctuation_are_removed() -> None:
    menu = "\n".join(["Асосӣ ва хабарҳо", "Дар бораи мо", "Тамос бо мо ва шумо"] * 20)
    assert verdict(steps.TajikFineWebQuality(THRESHOLDS), menu) == (False, "line_punct_ratio")


def test_a_table_of_numbers_is_removed_by_its_digit_share() -> None:
    rows = "\n".join(
        f"Дар соли {1990 + i} ҳосил {1234 + i} тонна ва нарх {567 + i} сомонӣ буд."
        for i in range(12)
    )
    assert verdict(steps.TajikShareFilter(THRESHOLDS), rows) == (False, "many_digits")


def test_symbol_soup_is_removed_by_its_symbol_share() -> None:
    text = TAJIK + "\n" + " ".join(["★ ♥ ☺ ✔ ➤ ◆ ■ ● ▲"] * 30)
    assert verdict(steps.TajikShareFilter(THRESHOLDS), text) == (False, "many_symbols")


def test_curated_sources_skip_the_web_heuristics() -> None:
    short = "Алифбои тоҷикӣ; Садонокҳо ва ҳамсадоҳо."
    assert all_quality(short, curated=True) == [True, True, True, True]


@pytest.fixture(scope="module")
def language_filter() -> steps.TajikLanguageFilter:
    return steps.TajikLanguageFilter(threshold=0.4)


def test_tajik_is_kept_and_russian_removed(language_filter: steps.TajikLanguageFilter) -> None:
    tajik = Document(text=TAJIK, id="tg", metadata={})
    assert language_filter.filter(tajik) is True
    assert tajik.metadata["language"] == "tg"
    russian = Document(text=RUSSIAN, id="ru", metadata={})
    assert language_filter.filter(russian) == (False, "not_tajik")
    assert russian.metadata["language"] == "ru"


def test_tajik_typed_with_russian_letters_is_kept(
    language_filter: steps.TajikLanguageFilter,
) -> None:
    from tutoring.retrieval.normalize import EMPTY_LEXICON, normalize_tajik

    typed = "\n".join(
        normalize_tajik(line, lexicon=EMPTY_LEXICON)
        for line in TAJIK.translate(RUSSIAN_KEYBOARD).split("\n")
    )
    assert not any(letter in typed for letter in "ҳҷқғӯӣ")
    document = Document(text=typed, id="typed", metadata={})
    assert language_filter.filter(document) is True
    assert document.metadata["language"] == "tg-russian-letters"


def test_pii_is_replaced_and_numbers_that_are_not_pii_stay() -> None:
    counts = ScrubCounts()
    text = (
        "Нависед ба info@maktab.tj ё занг занед: +992 93 123 45 67, (37) 221-22-33. "
        "Рақами андоз 123456789, шиноснома А1234567. Соли 1991, аҳолӣ 1 000 000 нафар, "
        "санаи 12.05.2023, сервер 192.168.1.10."
    )
    assert scrub_pii(text, counts) == (
        "Нависед ба [email] ё занг занед: [phone], [phone]. "
        "Рақами андоз [id], шиноснома [id]. Соли 1991, аҳолӣ 1 000 000 нафар, "
        "санаи 12.05.2023, сервер [ip]."
    )
    assert (counts.email, counts.phone, counts.id_number, counts.ip) == (1, 2, 2, 1)


def test_a_document_with_a_benchmark_item_is_dropped(tmp_path: Path) -> None:
    question = "Баландтарин қуллаи Тоҷикистон кадом аст?"
    index = steps.build_decontamination_index(
        [("suite", [question, f"{question} Қуллаи Исмоили Сомонӣ"])], min_ngram=8, max_ngram=13
    )
    assert index["ngram_per_benchmark"] == {"suite": 8}
    path = tmp_path / "index.json"
    path.write_text(json.dumps(index), encoding="utf-8")
    step = steps.Decontaminate(str(path))
    leaked = Document(
        text=TAJIK + "\nСавол: баландтарин қуллаи тоҷикистон кадом аст? Қуллаи Исмоили Сомонӣ.",
        id="leak",
        metadata={},
    )
    assert step.filter(leaked) == (False, "contaminated")
    assert leaked.metadata["contaminated_by"] == "suite"
    assert step.filter(Document(text=TAJIK, id="clean", metadata={})) is True


def test_catalog_sentences_and_jsonl_rows(tmp_path: Path) -> None:
    po = (
        'msgid ""\nmsgstr ""\n\nmsgid "Save"\nmsgstr "Захира"\n\n'
        'msgid "Long"\nmsgstr ""\n'
        '"Тағйиротҳо бо муваффақият захира карда шуданд ва шумо метавонед "\n'
        '"кори худро идома диҳед."\n'
    )
    assert catalog_strings("django.po", po.encode()) == [
        "Захира",
        "Тағйиротҳо бо муваффақият захира карда шуданд ва шумо метавонед кори худро идома диҳед.",
    ]
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"body": "Матни якум."}\nnot json\n{"other": 1}\n', encoding="utf-8")
    unit = Unit(0, str(rows), "rows.jsonl", "jsonl", rows.stat().st_size)
    read = list(
        read_unit(unit, SourceSpec("web", str(tmp_path), text_field="body"), max_file_bytes=10**6)
    )
    assert [(doc.id, doc.kind) for doc in read] == [
        ("web/rows.jsonl:1", "text"),
        ("web/rows.jsonl:2", "skipped:malformed_json"),
        ("web/rows.jsonl:3", "skipped:no_text_field"),
    ]
