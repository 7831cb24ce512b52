"""The evaluation core on the tiny random Gemma 3 with the real tokenizer: loaders and
their validation, lm-eval's log-likelihood and acc/acc_norm definitions, metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from modelops.evaluation import (
    BenchmarkError,
    BenchmarkItem,
    bootstrap_interval,
    build_prompt,
    encode_pair,
    load_benchmark,
    loglikelihoods,
    score_items,
    summarize_scores,
    tokenizer_fertility,
)
from modelops.evaluation.scoring import score_choices

ROWS: list[dict[str, Any]] = [
    {
        "id": "m1",
        "question": "2 + 2 чанд аст?",
        "choices": ["3", "4", "5", "22"],
        "answer": 1,
        "subject": "math",
        "domain": "stem",
    },
    {
        "id": "h1",
        "question": "Пойтахти Тоҷикистон кадом шаҳр аст?",
        "choices": ["Душанбе", "Хуҷанд", "Бохтар", "Кӯлоб"],
        "answer": 0,
        "subject": "history",
        "domain": "humanities",
    },
    {
        "id": "l1",
        "question": "Калимаи «китоб» чӣ маъно дорад?",
        "choices": ["book", "table", "a very long answer about something else", "pen"],
        "answer": 0,
        "subject": "language",
        "domain": "humanities",
    },
]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join(
            (row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
            for row in rows
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


# --- loading ---------------------------------------------------------------------------


def test_load_jsonl(tmp_path: Path) -> None:
    benchmark = load_benchmark(write_jsonl(tmp_path / "tj.jsonl", ROWS))

    assert benchmark.name == "tj"
    assert [item.id for item in benchmark] == ["m1", "h1", "l1"]
    assert benchmark.items[1] == BenchmarkItem(
        id="h1",
        question="Пойтахти Тоҷикистон кадом шаҳр аст?",
        choices=("Душанбе", "Хуҷанд", "Бохтар", "Кӯлоб"),
        answer=0,
        subject="history",
        domain="humanities",
    )


@pytest.mark.parametrize("mapping_kind", ["dict", "json", "yaml"])
def test_mapping_renames_fields_and_reads_cyrillic_letters(
    tmp_path: Path, mapping_kind: str
) -> None:
    rows = [
        {"qid": 7, "savol": "Савол?", "A": "як", "B": "ду", "C": "се", "D": "чор", "javob": "В"},
        {"qid": 8, "savol": "Боз?", "A": "а", "B": "б", "C": "в", "D": "г", "javob": "г"},
        {"qid": 9, "savol": "Лотинӣ?", "A": "а", "B": "б", "C": "в", "D": "г", "javob": "D"},
    ]
    mapping: Any = {
        "fields": {
            "id": "qid",
            "question": "savol",
            "choices": ["A", "B", "C", "D"],
            "answer": "javob",
        },
        "answer_format": "letter",
    }
    if mapping_kind == "json":
        (tmp_path / "map.json").write_text(json.dumps(mapping), encoding="utf-8")
        mapping = tmp_path / "map.json"
    elif mapping_kind == "yaml":
        (tmp_path / "map.yaml").write_text(
            "fields:\n  id: qid\n  question: savol\n  choices: [A, B, C, D]\n"
            "  answer: javob\nanswer_format: letter\n",
            encoding="utf-8",
        )
        mapping = tmp_path / "map.yaml"

    benchmark = load_benchmark(write_jsonl(tmp_path / "b.jsonl", rows), mapping)

    assert [(item.id, item.answer) for item in benchmark] == [("7", 2), ("8", 3), ("9", 3)]
    assert benchmark.items[0].choices == ("як", "ду", "се", "чор")


def test_letter_mapping_rejects_an_index(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", [ROWS[0]])
    with pytest.raises(BenchmarkError, match=r"line 1: item 'm1': answer 1 is not a letter"):
        load_benchmark(path, {"answer_format": "letter"})


def test_load_datasets_parquet_and_saved_directory(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the datasets package is not installed")
    dataset = datasets.Dataset.from_list(ROWS)
    parquet_dir = tmp_path / "parquet" / "data"
    parquet_dir.mkdir(parents=True)
    dataset.to_parquet(str(parquet_dir / "test-00000-of-00001.parquet"))
    dataset_dict = datasets.DatasetDict({"test": dataset, "dev": dataset.select([0])})
    dataset_dict.save_to_disk(str(tmp_path / "saved"))

    from_parquet = load_benchmark(tmp_path / "parquet")
    from_saved = load_benchmark(tmp_path / "saved", split="test")

    expected = load_benchmark(write_jsonl(tmp_path / "same.jsonl", ROWS)).items
    assert from_parquet.items == expected
    assert from_saved.items == expected
    with pytest.raises(BenchmarkError, match="several splits"):
        load_benchmark(tmp_path / "saved")


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "x1", "question": "Q?", ', r"line 2: item None: malformed JSON"),
        ({**ROWS[0]}, r"line 2: item 'm1': duplicate id \(first on line 1\)"),
        ({**ROWS[1], "id": "x1", "answer": 4}, r"line 2: item 'x1': answer 4 is out of range"),
        ({**ROWS[1], "id": "x1", "answer": -1}, r"line 2: item 'x1': answer -1 is out of range"),
        ({**ROWS[1], "id": "x1", "choices": []}, r"line 2: item 'x1': empty choices"),
        ({**ROWS[1], "id": "x1", "choices": ["a", " "]}, r"line 2: item 'x1': choice 1 is empty"),
        (
            {k: v for k, v in ROWS[1].items() if k != "answer"} | {"id": "x1"},
            r"line 2: item 'x1': missing field 'answer'",
        ),
        ({k: v for k, v in ROWS[1].items() if k != "id"}, r"line 2: item None: missing field 'id'"),
        ({**ROWS[1], "id": "x1", "answer": "Д"}, r"line 2: item 'x1': answer 'Д' is out of range"),
    ],
    ids=[
        "malformed",
        "duplicate",
        "above",
        "negative",
        "no-choices",
        "empty-choice",
        "no-answer",
        "no-id",
        "letter-out-of-range",
    ],
)
def test_bad_input_raises_naming_the_item(tmp_path: Path, bad_line: Any, message: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [ROWS[0], bad_line])
    with pytest.raises(BenchmarkError, match=message) as raised:
        load_benchmark(path)
    assert str(path) in str(raised.value)


# --- prompt and scoring ----------------------------------------------------------------


def test_prompt_is_tajik_cloze_with_shots() -> None:
    items = load_items()
    assert build_prompt(items[0]) == "Савол: 2 + 2 чанд аст?\nҶавоб:"
    assert build_prompt(items[0], items[1:]) == (
        "Савол: Пойтахти Тоҷикистон кадом шаҳр аст?\nҶавоб: Душанбе\n\n"
        "Савол: Калимаи «китоб» чӣ маъно дорад?\nҶавоб: book\n\n"
        "Савол: 2 + 2 чанд аст?\nҶавоб:"
    )


def load_items() -> tuple[BenchmarkItem, ...]:
    return tuple(
        BenchmarkItem(
            id=row["id"],
            question=row["question"],
            choices=tuple(row["choices"]),
            answer=row["answer"],
            subject=row["subject"],
            domain=row["domain"],
        )
        for row in ROWS
    )


def reference_loglikelihood(model: Any, tokenizer: Any, context: str, continuation: str) -> float:
    """The definition, slowly: one unpadded full forward pass, log_softmax over the whole
    vocabulary at every position, summed over the continuation's tokens."""
    bos = [tokenizer.bos_token_id]
    whole = bos + tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    context_length = len(bos + tokenizer(context, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([whole])).logits[0]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return sum(
        float(logprobs[position - 1, whole[position]])
        for position in range(context_length, len(whole))
    )


def test_fast_scorer_matches_full_forward(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    items = load_items()
    requests = [
        (build_prompt(item, items[:shots]), " " + choice)
        for shots, item in enumerate(items)
        for choice in item.choices
    ]

    fast = loglikelihoods(model, tokenizer, requests, batch_size=5)

    for (context, continuation), result in zip(requests, fast, strict=True):
        expected = reference_loglikelihood(model, tokenizer, context, continuation)
        assert result.total == pytest.approx(expected, abs=1e-4)
        assert result.total < 0


def test_a_log_likelihood_computed_by_hand(tiny_model_dir: Path) -> None:
    """With an output layer of zeros every logit is 0, so every token has probability
    1/V and a continuation of n tokens scores exactly -n·ln V; the greedy flag is then
    decided by ties (argmax picks token 0)."""
    import math

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        model.get_output_embeddings().weight.zero_()
    vocabulary = model.get_output_embeddings().weight.shape[0]
    context, continuation = "Савол: Пойтахти Тоҷикистон?\nҶавоб:", " Душанбе"
    _, continuation_ids = encode_pair(tokenizer, context, continuation)
    [result] = loglikelihoods(model, tokenizer, [(context, continuation)])
    assert result.token_count == len(continuation_ids) >= 1
    assert result.total == pytest.approx(-len(continuation_ids) * math.log(vocabulary), abs=1e-3)
    assert result.is_greedy is (set(continuation_ids) == {0})


def test_encode_pair_moves_trailing_space_and_adds_bos(tiny: tuple[Any, Any]) -> None:
    _, tokenizer = tiny
    context_ids, continuation_ids = encode_pair(tokenizer, "Савол: ?\nҶавоб: ", "Душанбе")
    whole = tokenizer("Савол: ?\nҶавоб: Душанбе", add_special_tokens=False)["input_ids"]

    assert context_ids[0] == tokenizer.bos_token_id
    assert (
        context_ids
        == [tokenizer.bos_token_id]
        + tokenizer("Савол: ?\nҶавоб:", add_special_tokens=False)["input_ids"]
    )
    assert context_ids + continuation_ids == [tokenizer.bos_token_id, *whole]


def test_acc_norm_divides_by_characters_of_the_choice_without_space() -> None:
    # Raw sums prefer "x"; per character "abcd" wins (-1.0 > -1.1). Counting the leading
    # space would give -0.55 vs -0.8 and pick "x" again.
    score = score_choices("q", 1, ["x", "abcd"], [-1.1, -4.0])
    assert (score.prediction, score.prediction_norm) == (0, 1)
    assert (score.is_correct, score.is_correct_norm) == (False, True)
    # Characters, not bytes: "ббббб" is 5 characters and 10 UTF-8 bytes. Per character
    # -2.0 vs -1.857 picks the second; per byte -1.0 vs -1.857 would pick the first.
    cyrillic = score_choices("q", 1, ["ббббб", "abcdefg"], [-10.0, -13.0])
    assert cyrillic.choice_lengths == (5, 7)
    assert (cyrillic.prediction, cyrillic.prediction_norm) == (0, 1)


def test_score_items_end_to_end(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    items = load_items()

    scores = score_items(model, tokenizer, items, examples=items[:1], batch_size=3)

    assert [score.item_id for score in scores] == ["m1", "h1", "l1"]
    for item, score in zip(items, scores, strict=True):
        context = build_prompt(item, items[:1])
        expected = [
            reference_loglikelihood(model, tokenizer, context, " " + choice)
            for choice in item.choices
        ]
        assert score.loglikelihoods == pytest.approx(expected, abs=1e-4)
        assert score.prediction == max(range(4), key=lambda i: expected[i])
        assert score.prediction_norm == max(
            range(4), key=lambda i: expected[i] / len(item.choices[i])
        )


# --- metrics ---------------------------------------------------------------------------


def test_summaries_by_domain_and_subject() -> None:
    items = load_items()
    scores = [
        score_choices("m1", 1, items[0].choices, [-1.0, -2.0, -3.0, -4.0]),  # wrong, wrong
        score_choices("h1", 0, items[1].choices, [-1.0, -9.0, -9.0, -9.0]),  # right, right
        score_choices("l1", 0, items[2].choices, [-4.0, -9.0, -90.0, -3.5]),  # wrong, right
    ]

    by_domain = summarize_scores(items, scores, by="domain")
    by_subject = summarize_scores(items, scores, by="subject")

    assert sorted(by_domain) == ["all", "domain:humanities", "domain:stem"]
    assert (by_domain["all"].count, by_domain["all"].acc) == (3, pytest.approx(1 / 3))
    assert by_domain["all"].acc_norm == pytest.approx(2 / 3)
    assert (by_domain["domain:humanities"].acc, by_domain["domain:humanities"].acc_norm) == (
        0.5,
        1.0,
    )
    assert by_domain["domain:stem"].acc_interval == (0.0, 0.0)
    assert by_domain["domain:humanities"].acc_norm_interval == (1.0, 1.0)
    assert sorted(by_subject) == ["all", "subject:history", "subject:language", "subject:math"]
    low, high = by_domain["all"].acc_interval
    assert 0.0 <= low <= 1 / 3 <= high <= 1.0


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = [1.0] * 60 + [0.0] * 40
    first = bootstrap_interval(values, seed=3)
    assert first == bootstrap_interval(values, seed=3)
    assert first != bootstrap_interval(values, seed=4)
    low, high = first
    assert 0.48 < low < 0.6 < high < 0.72


def test_fertility_counts_tokens_per_word(tiny: tuple[Any, Any]) -> None:
    _, tokenizer = tiny
    text = "Донишҷӯён дар мактаб забони тоҷикӣ меомӯзанд."
    tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])

    assert tokenizer_fertility(tokenizer, text) == pytest.approx(tokens / 6)
    assert tokenizer_fertility(tokenizer, text) > 1.0
    with pytest.raises(ValueError):
        tokenizer_fertility(tokenizer, "   ")


def test_the_demo_suites_load_and_cover_each_domain() -> None:
    from collections import Counter
    from pathlib import Path

    from modelops.evaluation.benchmarks import load_benchmark

    data = Path(__file__).resolve().parents[2] / "modelops" / "data" / "benchmarks"
    tajik = load_benchmark(data / "tajik_suite.jsonl")
    domains = Counter(item.domain for item in tajik.multiple_choice)
    assert set(domains) == {"general_knowledge", "linguistic", "entrance_exam"}
    assert min(domains.values()) >= 40
    assert {item.domain for item in tajik.short_answer} == set(domains)
    assert not any(set("цщыь") & set(item.question.lower()) for item in tajik)
    english = load_benchmark(data / "english_retention.jsonl")
    assert len(list(english)) >= 50
