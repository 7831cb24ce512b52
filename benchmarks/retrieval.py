"""Retrieval at 100,000 passages on 2 cores: build time, memory, query latency, HNSW recall.

    .venv/bin/python benchmarks/retrieval.py [--passages 100000] [--embed-passages]
    .venv/bin/python benchmarks/retrieval.py --dense-only   # FAISS part alone (minutes)
    .venv/bin/python benchmarks/retrieval.py --smoke        # 2,000 passages (seconds)

Builds a synthetic corpus from the demo textbooks: every sentence of
``tutoring/data/textbooks/*.md`` gets light variants (numbers changed, a word dropped, two
words swapped), and each passage is 5–9 variants drawn from one book (about 100 words).
Then it measures, with 2 threads:

* build time of the BM25 index (Tajik tokenization included) and of the FAISS indexes
  (exact ``IndexFlatIP`` and approximate ``IndexHNSWFlat``), embeddings included;
* resident memory;
* p50/p95 latency per query, query embedding included, for lexical, dense and fused search,
  unfiltered and filtered to one book's passages or to 1 % of them;
* recall@10 of HNSW against exact search on the same queries at each efSearch of
  ``EF_SEARCHES`` (the shipped one, ``HNSW_EF_SEARCH`` in ``tutoring/retrieval/dense.py``,
  is always among them and marked), and exact search's latency at several sizes (which sets
  ``EXACT_SEARCH_LIMIT`` there). Query latencies with embedding use the shipped efSearch.

``--dense-only`` skips BM25 (its build, lexical and fused latency, the filtered searches):
the FAISS part alone, about a third of the full run's time.

The default encoder is USE multilingual (see docs/retrieval.md). Embedding 100,000 passages of
about 100 words with it takes over half an hour on 2 cores, so by default the passage vectors
are the normalised means of the USE vectors of their sentence variants (each variant embedded
once), and real passage-embedding throughput is measured on a sample and extrapolated; pass
``--embed-passages`` to embed every passage instead. Query vectors are always real USE
embeddings of real questions.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import faiss
import numpy as np

from tutoring.retrieval.dense import DenseIndex, DenseIndexSettings, encoder_from_spec, l2_normalise
from tutoring.retrieval.fusion import reciprocal_rank_fusion
from tutoring.retrieval.lexical import LexicalIndex
from tutoring.retrieval.normalize import normalize_tajik, tokenize_tajik

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOKS = ROOT / "tutoring" / "data" / "textbooks"
EVAL_SET = ROOT / "tutoring" / "data" / "retrieval_eval.jsonl"
THREADS = 2
K = 10
CANDIDATES = 50
#: HNSW efSearch values whose recall and search time are measured (plus the shipped one).
EF_SEARCHES = (64, 128, 256, 512, 1024)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def book_sentences() -> dict[str, list[str]]:
    sentences: dict[str, list[str]] = {}
    for path in sorted(TEXTBOOKS.glob("*.md")):
        body = re.sub(r"\A---\n.*?\n---\n", "", path.read_text(encoding="utf-8"), flags=re.S)
        body = re.sub(r"<!--.*?-->|^#+ .*$", "", body, flags=re.M)
        found = [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if len(s.split()) >= 4]
        sentences[path.stem] = found
    return sentences


def variant(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    words = [
        str(rng.randint(2, 2000)) if word.isdigit() and rng.random() < 0.5 else word
        for word in words
    ]
    if len(words) > 6 and rng.random() < 0.4:
        del words[rng.randrange(1, len(words) - 1)]
    if len(words) > 6 and rng.random() < 0.3:
        position = rng.randrange(1, len(words) - 2)
        words[position], words[position + 1] = words[position + 1], words[position]
    return " ".join(words)


def synthetic_corpus(
    count: int, variants_per_sentence: int, seed: int = 0
) -> tuple[list[str], list[str], list[list[int]], list[str]]:
    """(sentence variants, their books, passages as variant indexes, passage books)."""
    rng = random.Random(seed)
    pool: list[str] = []
    pool_books: list[str] = []
    by_book: dict[str, list[int]] = {}
    for book, sentences in book_sentences().items():
        for sentence in sentences:
            for number in range(variants_per_sentence):
                by_book.setdefault(book, []).append(len(pool))
                pool.append(sentence if number == 0 else variant(sentence, rng))
                pool_books.append(book)
    books = sorted(by_book)
    passages, passage_books = [], []
    for _ in range(count):
        book = rng.choice(books)
        passages.append(rng.sample(by_book[book], rng.randint(5, 9)))
        passage_books.append(book)
    return pool, pool_books, passages, passage_books


def percentiles(milliseconds: Sequence[float]) -> str:
    ordered = sorted(milliseconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):6.1f} ms  p95 {p95:6.1f} ms"


def timed(function: Callable[[str], object], queries: Sequence[str]) -> list[float]:
    for query in queries[:5]:
        function(query)  # warm-up
    times = []
    for query in queries:
        started = time.perf_counter()
        function(query)
        times.append((time.perf_counter() - started) * 1000)
    return times


def recall_at_k(approximate: list[list[int]], exact: list[list[int]]) -> float:
    found = sum(len(set(a) & set(e)) for a, e in zip(approximate, exact, strict=True))
    return found / sum(len(e) for e in exact)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=12, help="variants per sentence")
    parser.add_argument("--encoder", default="use")
    parser.add_argument("--embed-passages", action="store_true")
    parser.add_argument("--sample", type=int, default=1000, help="passages for throughput")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--dense-only", action="store_true", help="skip BM25: build, lexical, fused, filters"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="2,000 passages, one variant per sentence, 20 queries: checks that it runs",
    )
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.passages, arguments.variants = 2000, 1
        arguments.sample, arguments.queries = 32, 20

    import torch

    torch.set_num_threads(THREADS)
    faiss.omp_set_num_threads(THREADS)
    out: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    say(
        f"# Retrieval at {arguments.passages:,} passages, {platform.machine()}, "
        f"{THREADS} threads of {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    started = time.perf_counter()
    pool, _, passage_parts, passage_books = synthetic_corpus(arguments.passages, arguments.variants)
    texts = [" ".join(pool[index] for index in parts) for parts in passage_parts]
    words = [len(text.split()) for text in texts]
    say(
        f"corpus: {len(texts):,} passages (median {statistics.median(words):.0f} words) from "
        f"{len(pool):,} sentence variants, made in {time.perf_counter() - started:.1f} s; "
        f"RSS {rss_mb():.0f} MB"
    )

    # Lexical index.
    started = time.perf_counter()
    lexical: LexicalIndex | None = None
    if arguments.dense_only:  # only the throughput sample below reads passage text
        normalised = [normalize_tajik(text) for text in texts[: arguments.sample]]
        lexical_build_s = 0.0
        say("BM25: not built (--dense-only)")
    else:
        normalised = [normalize_tajik(text) for text in texts]
        lexical = LexicalIndex.build(normalised, tokenizer=tokenize_tajik)
        lexical_build_s = time.perf_counter() - started
        say(
            f"BM25 build (normalise + tokenize + index): {lexical_build_s:.1f} s; "
            f"RSS {rss_mb():.0f} MB"
        )

    # Embeddings.
    encoder = encoder_from_spec(arguments.encoder)
    sample = normalised[: arguments.sample]
    encoder.encode(sample[:8], is_query=False)
    started = time.perf_counter()
    encoder.encode(sample, is_query=False)
    sample_rate = len(sample) / (time.perf_counter() - started)
    full_estimate_s = len(texts) / sample_rate
    say(
        f"{encoder.name}: {sample_rate:.0f} passages/s on {THREADS} threads "
        f"(sample of {len(sample):,}) -> {full_estimate_s / 60:.1f} min for all {len(texts):,}"
    )
    started = time.perf_counter()
    if arguments.embed_passages:
        vectors = encoder.encode(normalised, is_query=False)
        embed_s = time.perf_counter() - started
        say(f"embedded all passages: {embed_s:.0f} s")
    else:
        sentence_vectors = encoder.encode([normalize_tajik(s) for s in pool], is_query=False)
        vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
        for position, parts in enumerate(passage_parts):
            vectors[position] = sentence_vectors[parts].mean(axis=0)
        vectors = l2_normalise(vectors)
        embed_s = time.perf_counter() - started
        say(
            f"passage vectors as means of {len(pool):,} embedded sentence variants: "
            f"{embed_s:.0f} s "
            f"(stand-in; real passage embedding estimated above)"
        )

    started = time.perf_counter()
    exact = DenseIndex.build(vectors, approximate=False)
    flat_build_s = time.perf_counter() - started
    settings = DenseIndexSettings()
    started = time.perf_counter()
    hnsw = DenseIndex.build(vectors, approximate=True, settings=settings)
    hnsw_build_s = time.perf_counter() - started
    say(
        f"FAISS build: IndexFlatIP {flat_build_s:.1f} s; "
        f"IndexHNSWFlat (M={settings.hnsw_neighbours}, "
        f"efConstruction={settings.hnsw_ef_construction}) {hnsw_build_s:.1f} s"
    )
    bm25 = "" if arguments.dense_only else "BM25 + "
    say(
        f"build total with real embedding: {bm25}estimated embedding + HNSW = "
        f"{(lexical_build_s + full_estimate_s + hnsw_build_s) / 60:.1f} min "
        f"({bm25}flat: {(lexical_build_s + full_estimate_s + flat_build_s) / 60:.1f} min)"
    )
    say(
        f"RSS {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB) "
        f"with corpus, {'' if arguments.dense_only else 'BM25, '}both FAISS indexes, model"
    )

    # Queries: the labelled questions, then sentence variants as extra questions.
    questions = [json.loads(line)["question"] for line in EVAL_SET.read_text().splitlines() if line]
    rng = random.Random(1)
    queries = [normalize_tajik(q) for q in questions][: arguments.queries]
    queries += [
        normalize_tajik(" ".join(rng.choice(pool).split()[:8]))
        for _ in range(arguments.queries - len(queries))
    ]
    query_vectors = encoder.encode(queries, is_query=True)

    exact_top = [[hit.chunk_id for hit in exact.search(v, K)] for v in query_vectors]
    for ef_search in sorted({*EF_SEARCHES, settings.hnsw_ef_search}):
        hnsw.index.hnsw.efSearch = ef_search
        approximate_top = [[hit.chunk_id for hit in hnsw.search(v, K)] for v in query_vectors]
        search_ms = timed(
            lambda q, index=hnsw: index.search(query_vectors[queries.index(q)], K), queries
        )
        shipped = " (shipped)" if ef_search == settings.hnsw_ef_search else ""
        say(
            f"HNSW efSearch={ef_search:4d}: recall@10 vs exact "
            f"{recall_at_k(approximate_top, exact_top):.3f} "
            f"over {len(queries)} queries; search only {percentiles(search_ms)}{shipped}"
        )
    hnsw.index.hnsw.efSearch = settings.hnsw_ef_search
    exact_ms = timed(lambda q: exact.search(query_vectors[queries.index(q)], K), queries)
    say(f"IndexFlatIP at {len(texts):,}: search only {percentiles(exact_ms)}")
    for size in (10_000, 25_000, 50_000):
        if size < len(texts):
            small = DenseIndex.build(vectors[:size], approximate=False)
            small_ms = timed(
                lambda q, index=small: index.search(query_vectors[queries.index(q)], K), queries
            )
            say(f"IndexFlatIP at {size:,}: search only {percentiles(small_ms)}")

    def lexical_search(query: str, allowed: set[int] | None = None) -> list:
        assert lexical is not None
        return lexical.search(query, CANDIDATES, allowed)

    def dense_search(query: str, index: DenseIndex = hnsw, allowed: set[int] | None = None) -> list:
        vector = encoder.encode([query], is_query=True)[0]
        return index.search(vector, CANDIDATES, allowed)

    def fused_search(query: str, index: DenseIndex = hnsw, allowed: set[int] | None = None) -> list:
        return reciprocal_rank_fusion(
            [lexical_search(query, allowed), dense_search(query, index, allowed)], limit=K
        )

    say("")
    say(
        f"query latency, {len(queries)} queries, {CANDIDATES} candidates per list, "
        f"embedding included, HNSW at the shipped efSearch={settings.hnsw_ef_search}:"
    )
    if lexical is not None:
        say(f"  lexical (BM25)               {percentiles(timed(lexical_search, queries))}")
    say(f"  dense, HNSW                  {percentiles(timed(dense_search, queries))}")
    say(
        "  dense, IndexFlatIP           "
        + percentiles(timed(lambda q: dense_search(q, exact), queries))
    )
    if lexical is None:
        say("  (lexical, fused and filtered searches: not run, --dense-only)")
        say(f"RSS {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB); load {os.getloadavg()[0]:.2f}")
        return
    say(f"  fused (BM25 + HNSW, RRF)     {percentiles(timed(fused_search, queries))}")
    say(
        "  fused (BM25 + flat, RRF)     "
        + percentiles(timed(lambda q: fused_search(q, exact), queries))
    )

    one_book = {i for i, book in enumerate(passage_books) if book == passage_books[0]}
    one_percent = set(rng.sample(range(len(texts)), len(texts) // 100))
    half = set(range(0, len(texts), 2))

    def overfetch(vector: np.ndarray, allowed: set[int]) -> list[int]:
        # Unfiltered HNSW search for enough candidates that K allowed ones are likely left.
        fetch = min(4096, int(2 * K * len(texts) / len(allowed)))
        hnsw.index.hnsw.efSearch = max(settings.hnsw_ef_search, fetch)
        hits = hnsw.search(vector, fetch)
        hnsw.index.hnsw.efSearch = settings.hnsw_ef_search
        return [hit.chunk_id for hit in hits if hit.chunk_id in allowed][:K]

    for label, allowed in (("one book", one_book), ("1 %", one_percent), ("half", half)):
        truth = [[h.chunk_id for h in exact.search(v, K, allowed)] for v in query_vectors]
        fetched = [overfetch(v, allowed) for v in query_vectors]
        ms = timed(
            lambda q, allowed=allowed: overfetch(query_vectors[queries.index(q)], allowed), queries
        )
        say(
            f"  dense only, filter {label} ({len(allowed):,}), over-fetch then filter  "
            f"search only {percentiles(ms)}  recall@10 {recall_at_k(fetched, truth):.3f}"
        )
        for strategy, limit in (("subset exact", 10**9), ("IDSelector in HNSW", 0)):
            hnsw.settings = DenseIndexSettings(subset_search_limit=limit)
            filtered = [[h.chunk_id for h in hnsw.search(v, K, allowed)] for v in query_vectors]
            ms = timed(lambda q, allowed=allowed: fused_search(q, hnsw, allowed), queries)
            say(
                f"  fused, filter {label} ({len(allowed):,} passages), {strategy:18s} "
                f"{percentiles(ms)}  dense recall@10 {recall_at_k(filtered, truth):.3f}"
            )
        hnsw.settings = settings
    say(f"RSS {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB); load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
