"""BM25 over Tajik tokens: ranking, matched words, filters, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutoring.retrieval.lexical import LexicalIndex
from tutoring.retrieval.types import Hit

TEXTS = [
    "Ҳуҷайра воҳиди асосии сохт ва фаъолияти ҳаётии организмҳо мебошад.",
    "Фотосинтез дар хлоропластҳои барги растанӣ мегузарад.",
    "Митохондрия нерӯгоҳи ҳуҷайра аст, дар он энергия ҳосил мешавад.",
    "Исмоили Сомонӣ аз соли 892 то соли 907 ҳукмронӣ кардааст.",
]
IDS = [10, 20, 30, 40]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build(TEXTS, IDS)


def test_search_ranks_by_bm25_and_names_the_matched_words(index: LexicalIndex) -> None:
    hits = index.search("ҳуҷайра энергия", k=5)

    assert [hit.chunk_id for hit in hits] == [30, 10]
    assert hits[0].matched == ("ҳуҷайра", "энергия")
    assert hits[1].matched == ("ҳуҷайра",)
    assert hits[0].score > hits[1].score > 0


def test_query_is_normalised_like_the_texts(index: LexicalIndex) -> None:
    # Typed on a Russian keyboard: х for ҳ, ч for ҷ.
    hits = index.search("Хучайра", k=5)

    assert {hit.chunk_id for hit in hits} == {10, 30}


def test_allowed_ids_filter_and_k(index: LexicalIndex) -> None:
    assert [hit.chunk_id for hit in index.search("ҳуҷайра энергия", k=5, allowed_ids={10})] == [10]
    assert index.search("ҳуҷайра", k=5, allowed_ids={20, 40, 999}) == []
    assert [hit.chunk_id for hit in index.search("ҳуҷайра энергия", k=1)] == [30]


def test_no_shared_word_finds_nothing(index: LexicalIndex) -> None:
    assert index.search("зарафшон", k=5) == []
    assert index.search("", k=5) == []
    assert index.search("ҳуҷайра", k=0) == []


def test_ids_default_to_positions_and_must_be_unique() -> None:
    assert [hit.chunk_id for hit in LexicalIndex.build(TEXTS).search("фотосинтез")] == [1]
    with pytest.raises(ValueError, match="unique"):
        LexicalIndex.build(TEXTS[:2], [1, 1])
    with pytest.raises(ValueError, match="2 texts but 1 ids"):
        LexicalIndex.build(TEXTS[:2], [1])


def test_empty_index_answers_nothing() -> None:
    assert LexicalIndex.build([]).search("ҳуҷайра") == []


def test_save_and_load_give_the_same_hits(index: LexicalIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "lexical")

    loaded = LexicalIndex.load(tmp_path / "lexical")

    assert loaded.search("соли 892", k=3) == index.search("соли 892", k=3)
    assert loaded.search("соли 892", k=3)[0] == Hit(
        chunk_id=40, score=pytest.approx(index.search("соли 892")[0].score), matched=("соли", "892")
    )


# --- phrases and Tajik word forms -----------------------------------------------------

# The case: the history passage names the ruler; the algebra passages price things
# in сомонӣ (the currency named after the dynasty) and one has a boy called Исмоил in it.
SOMONI_TEXTS = [
    "Агар як кило себ 12 сомонӣ арзад, нархи x кило бо формулаи y = 12x ифода мешавад. "
    "Ҳар як сомонӣ сад дирам аст; 15 сомонӣ ва 30 сомонӣ ҷамъ 45 сомонӣ мешавад.",
    "Исмоил се дафтарро ба 12 сомонӣ харид. Исмоил чанд сомонӣ пардохт? "
    "Масъаларо бо муодила ҳал мекунем: 3x = 12, пас як дафтар 4 сомонӣ арзиш дорад.",
    "Баъди вафоти Наср Исмоили Сомонӣ аз соли 892 то соли 907 тамоми давлатро идора кард. "
    "Ӯ пойтахтро ба Бухоро кӯчонд.",
]


def test_the_exact_phrase_ranks_above_scattered_words() -> None:
    index = LexicalIndex.build(SOMONI_TEXTS)

    hits = index.search("Исмоили Сомонӣ", k=3)

    assert hits[0].chunk_id == 2
    assert {hit.chunk_id for hit in hits} == {0, 1, 2}


def test_without_the_phrase_boost_the_currency_passages_win() -> None:
    # The same index with the boost off: the algebra passages repeat "сомонӣ" (and one has
    # "Исмоил"), so plain BM25 puts them first. This is what the boost fixes.
    index = LexicalIndex.build(SOMONI_TEXTS, phrase_weight=0.0)

    assert index.search("Исмоили Сомонӣ", k=3)[0].chunk_id != 2


def test_inflected_query_words_find_the_base_form() -> None:
    index = LexicalIndex.build(
        [
            "Ҳуҷайра воҳиди асосии сохт мебошад.",
            "Дарёи Вахш аз пайвастшавии Сурхоб ва Обихингоб ташаккул меёбад.",
            "Китобро дар раф гузоштанд.",
        ]
    )

    # plural + object marker, ezafe, plural on the other side
    assert [hit.chunk_id for hit in index.search("ҳуҷайраҳоро", k=3)] == [0]
    assert [hit.chunk_id for hit in index.search("дарёҳои калон", k=3)] == [1]
    assert [hit.chunk_id for hit in index.search("китобҳо", k=3)] == [2]
    # the surface-form index (format 1 behaviour) misses all three
    surface = LexicalIndex.build(
        ["Ҳуҷайра воҳиди асосии сохт мебошад.", "Дарёи Вахш", "Китобро дар раф гузоштанд."],
        analyzer="none",
        phrases=False,
    )
    assert surface.search("ҳуҷайраҳоро") == surface.search("китобҳо") == []


def test_analyzer_and_phrases_survive_save_and_load(tmp_path: Path) -> None:
    index = LexicalIndex.build(SOMONI_TEXTS)
    index.save(tmp_path / "lexical")

    loaded = LexicalIndex.load(tmp_path / "lexical")

    assert (loaded.analyzer_name, loaded.phrases) == ("suffix", True)
    assert loaded.search("Исмоили Сомонӣ", k=3) == index.search("Исмоили Сомонӣ", k=3)


def test_a_format_1_index_is_still_searched_as_it_was_built(tmp_path: Path) -> None:
    # An index written before analyzers and phrases: surface words, lexical.json format 1.
    old = LexicalIndex.build(TEXTS, IDS, analyzer="none", phrases=False)
    old.save(tmp_path / "lexical")
    (tmp_path / "lexical" / "lexical.json").write_text('{"format": 1, "count": 4}')

    loaded = LexicalIndex.load(tmp_path / "lexical")

    assert (loaded.analyzer_name, loaded.phrases) == ("none", False)
    assert [hit.chunk_id for hit in loaded.search("ҳуҷайра энергия", k=5)] == [30, 10]
    assert loaded.search("соли 892", k=1)[0].matched == ("соли", "892")
