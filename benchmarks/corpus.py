"""Throughput and accuracy of ``build_corpus`` on a generated Tajik web-like collection.

    .venv/bin/python benchmarks/corpus.py            # 20,000 documents (minutes)
    .venv/bin/python benchmarks/corpus.py --smoke    # 300 documents (seconds)

The collection (seeded, written under ``--out``, replaced every run): Tajik pages made of
the demo textbooks' sentences recombined, wrapped in HTML with navigation and footer
boilerplate, or as plain text; Tajik typed with Russian letters; planted exact duplicates
and near duplicates (a few words changed, a sentence added or dropped); Russian, English,
Kyrgyz (Cyrillic) and Persian pages made of Django's translation catalogs; and
boilerplate-only pages (menus and link lists). The whole pipeline runs on it as
``manage.py build_corpus`` would (one local worker), and the table shows:

- documents/s and MB/s of the input, end to end (all stages and the assembly);
- precision and recall of the planted duplicates, counted per planted cluster (a
  cluster's extra copies are the positives; which copy is kept does not matter);
- precision and recall of the language filter on labelled samples (Tajik, including
  Russian-letter Tajik, against the other languages), after normalisation;
- the baseline of the same run: a plain loop doing only the per-document work
  (trafilatura, normalisation, language ID) on the first 1,000 documents;
- a linear projection of the wall time for 1.9B kept Gemma tokens on one machine and on
  N workers (the per-document stages scale with workers; the dedup stages that run as
  one task are a small share here, so the projection ignores them: a lower bound).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import cpu_name, load_average

ROOT = Path(__file__).resolve().parents[1]
TARGET_TOKENS = 1.9e9
RUSSIAN_KEYBOARD = str.maketrans(
    {"ҳ": "х", "ҷ": "ч", "қ": "к", "ғ": "г", "ӯ": "у", "ӣ": "и",
     "Ҳ": "Х", "Ҷ": "Ч", "Қ": "К", "Ғ": "Г", "Ӯ": "У", "Ӣ": "И"}
)  # fmt: skip
NAV = ["Асосӣ", "Хабарҳо", "Ҷамъият", "Иқтисод", "Варзиш", "Фарҳанг", "Тамос"]


def tajik_sentences() -> list[str]:
    from modelops.corpus.thresholds import textbook_pages

    sentences: list[str] = []
    for page in textbook_pages():
        for line in page.split("\n"):
            sentences += [
                s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if len(s.split()) >= 5
            ]
    return sorted(set(sentences))


def foreign_sentences(language: str) -> list[str]:
    from modelops.corpus.sources import catalog_strings, sentences_like
    from modelops.corpus.thresholds import _django_catalogs

    strings: list[str] = []
    for path in _django_catalogs(language):
        strings += sentences_like(catalog_strings(path.name, path.read_bytes()))
    return sorted(set(strings))


def english_sentences() -> list[str]:
    from modelops.corpus.sources import sentences_like
    from modelops.corpus.thresholds import _django_catalogs

    strings: list[str] = []
    for path in _django_catalogs("ru"):
        strings += re.findall(r'^msgid "(.+)"$', path.read_text(encoding="utf-8"), flags=re.M)
    return sorted(set(sentences_like(strings)))


def html_page(title: str, paragraphs: list[str], rng: random.Random) -> str:
    nav = " | ".join(f'<a href="/{i}">{item}</a>' for i, item in enumerate(rng.sample(NAV, 5)))
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body><header><nav>{nav}</nav></header>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer><p>© Ҳамаи ҳуқуқҳо ҳифз шудаанд.</p><a href='/privacy'>Сиёсат</a></footer>"
        "</body></html>"
    )


def generate(out: Path, count: int, seed: int) -> dict[str, dict[str, str]]:
    """Write ``count`` documents under ``out/collection``; return each one's label."""
    rng = random.Random(seed)
    tajik = tajik_sentences()
    foreign = {
        "ru": foreign_sentences("ru"),
        "en": english_sentences(),
        "ky": foreign_sentences("ky"),
        "fa": foreign_sentences("fa"),
    }
    folder = out / "collection"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    labels: dict[str, dict[str, str]] = {}
    originals: list[tuple[str, list[str], str]] = []  # (name, paragraphs, suffix)

    def write(name: str, paragraphs: list[str], suffix: str, label: dict[str, str]) -> None:
        title = paragraphs[0][:40]
        if suffix == ".html":
            content = html_page(title, paragraphs, rng)
        else:
            content = "\n\n".join(paragraphs)
        (folder / f"{name}{suffix}").write_text(content, encoding="utf-8")
        labels[f"web/{name}{suffix}"] = label

    for number in range(count):
        name = f"doc-{number:06d}"
        roll = rng.random()
        if roll < 0.05 and originals:  # near duplicate of an earlier Tajik page
            original, paragraphs, suffix = rng.choice(originals)
            edited = [list(paragraph.split(" ")) for paragraph in paragraphs]
            for _ in range(3):
                words = rng.choice(edited)
                words[rng.randrange(len(words))] = rng.choice(["нав", "калон", "хуб", "зиёд"])
            changed = [" ".join(words) for words in edited]
            if rng.random() < 0.5:
                changed.append(rng.choice(tajik))
            write(name, changed, suffix, {"kind": "near", "of": original, "language": "tg"})
        elif roll < 0.08 and originals:  # exact duplicate
            original, paragraphs, suffix = rng.choice(originals)
            write(name, paragraphs, suffix, {"kind": "exact", "of": original, "language": "tg"})
        elif roll < 0.14:  # another language
            language = rng.choice(sorted(foreign))
            sentences = rng.sample(
                foreign[language], min(len(foreign[language]), rng.randint(8, 16))
            )
            paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
            write(
                name,
                paragraphs,
                rng.choice([".html", ".txt"]),
                {"kind": "foreign", "language": language},
            )
        elif roll < 0.17:  # boilerplate only
            links = [f"{rng.choice(NAV)} {rng.randint(1, 99)}" for _ in range(40)]
            content = "<html><body><nav>" + "".join(
                f"<li><a href='#'>{link}</a></li>" for link in links
            )
            (folder / f"{name}.html").write_text(content + "</nav></body></html>", encoding="utf-8")
            labels[f"web/{name}.html"] = {"kind": "boilerplate", "language": "none"}
        else:
            sentences = rng.sample(tajik, rng.randint(8, 20))
            paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
            russian_letters = rng.random() < 0.03
            if russian_letters:
                paragraphs = [paragraph.translate(RUSSIAN_KEYBOARD) for paragraph in paragraphs]
            suffix = ".html" if rng.random() < 0.7 else ".txt"
            kind = "tajik-russian-letters" if russian_letters else "tajik"
            write(name, paragraphs, suffix, {"kind": kind, "language": "tg"})
            if not russian_letters:
                originals.append((f"web/{name}{suffix}", paragraphs, suffix))
    return labels


def duplicate_scores(
    labels: dict[str, dict[str, str]], removed: set[str], reached: set[str]
) -> tuple[float, float, int]:
    """Precision and recall of duplicate removal per planted cluster, over documents that
    reached deduplication (a copy whose original was filtered out earlier is not counted)."""
    clusters: dict[str, set[str]] = {}
    for doc_id, label in labels.items():
        if label["kind"] in ("near", "exact"):
            clusters.setdefault(label["of"], {label["of"]}).add(doc_id)
    positives = sum(max(0, len(members & reached) - 1) for members in clusters.values())
    true_removed = 0
    for members in clusters.values():
        true_removed += min(len(members & removed), max(0, len(members & reached) - 1))
    precision = true_removed / len(removed) if removed else 1.0
    recall = true_removed / positives if positives else 1.0
    return precision, recall, positives


def language_scores(
    folder: Path, labels: dict[str, dict[str, str]], limit: int
) -> tuple[float, float, int, int]:
    from datatrove.data import Document
    from trafilatura import extract

    from modelops.corpus.steps import TajikLanguageFilter, normalize_document

    step = TajikLanguageFilter(threshold=0.4)
    chosen = [
        doc
        for doc, label in labels.items()
        if label["kind"] in ("tajik", "tajik-russian-letters", "foreign")
    ]
    rng = random.Random(7)
    tajik = [d for d in chosen if labels[d]["language"] == "tg"]
    other = [d for d in chosen if labels[d]["language"] != "tg"]
    sample = (
        rng.sample(tajik, min(limit, len(tajik)))
        + [d for d in chosen if labels[d]["kind"] == "tajik-russian-letters"]
        + other
    )
    true_positive = false_positive = false_negative = 0
    for doc_id in dict.fromkeys(sample):
        path = folder / doc_id.removeprefix("web/")
        raw = path.read_text(encoding="utf-8")
        text = extract(raw) if path.suffix == ".html" else raw
        if not text:
            continue
        kept = step.filter(Document(text=normalize_document(text), id=doc_id, metadata={})) is True
        is_tajik = labels[doc_id]["language"] == "tg"
        true_positive += kept and is_tajik
        false_positive += kept and not is_tajik
        false_negative += (not kept) and is_tajik
    precision = (
        true_positive / (true_positive + false_positive) if true_positive + false_positive else 1.0
    )
    recall = (
        true_positive / (true_positive + false_negative) if true_positive + false_negative else 1.0
    )
    return precision, recall, len(tajik), len(other)


def baseline(folder: Path, limit: int) -> tuple[float, int]:
    """Documents/s of a plain loop doing the per-document work only."""
    from trafilatura import extract

    from modelops.corpus.steps import normalize_document
    from modelops.llm.langid import detect_language

    files = sorted(folder.iterdir())[:limit]
    start = time.perf_counter()
    for path in files:
        raw = path.read_text(encoding="utf-8")
        text = extract(raw) if path.suffix == ".html" else raw
        if text:
            detect_language(normalize_document(text)[:2000])
    return len(files) / (time.perf_counter() - start), len(files)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="300 documents, seconds")
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "cache" / "corpus-bench")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 8, 64, 256])
    args = parser.parse_args()
    count = 300 if args.smoke else args.documents

    from modelops.corpus import BuildRequest, SourceSpec, build
    from modelops.corpus.pipeline import removed_ids
    from modelops.llm import gemma

    print(f"machine: {cpu_name()}; load average before: {load_average()}")
    directory, file_name = gemma.locate_packaged_gguf()
    tokenizer = gemma.cached_gguf_tokenizer(directory / file_name) / "tokenizer.json"
    args.out.mkdir(parents=True, exist_ok=True)
    labels = generate(args.out, count, args.seed)
    folder = args.out / "collection"
    input_bytes = sum(path.stat().st_size for path in folder.iterdir())
    corpora = args.out / "corpora"
    shutil.rmtree(corpora, ignore_errors=True)
    request = BuildRequest(
        name="bench",
        corpora_dir=corpora,
        sources=[SourceSpec("web", str(folder))],
        tokenizer_file=str(tokenizer),
        benchmark_paths=[
            str(p) for p in sorted((ROOT / "modelops" / "data" / "benchmarks").glob("*.jsonl"))
        ],
    )
    start = time.perf_counter()
    result = build(request)
    seconds = time.perf_counter() - start

    work = request.work_dir
    dedup_removed = set(removed_ids(work, "exact_duplicate")) | set(
        removed_ids(work, "near_duplicate")
    )
    dedup_in = {step["step"]: step["in"] for step in result.datasheet["steps"]}["exact duplicates"]
    filtered_before = set()
    for step in (
        "language",
        "gopher_quality",
        "gopher_repetition",
        "fineweb_quality",
        "tajik_shares",
        "decontamination",
    ):
        filtered_before |= set(removed_ids(work, step))
    extracted_ids = set(labels)  # boilerplate pages may also drop at extraction (no id log)
    reached = {
        doc
        for doc in extracted_ids
        if doc not in filtered_before and labels[doc]["kind"] != "boilerplate"
    }
    dup_precision, dup_recall, planted = duplicate_scores(labels, dedup_removed, reached)
    lang_precision, lang_recall, tajik_count, other_count = language_scores(folder, labels, 1000)
    base_rate, base_count = baseline(folder, 1000)
    tokens_per_second = result.tokens / seconds

    kinds: dict[str, int] = {}
    for label in labels.values():
        kinds[label["kind"]] = kinds.get(label["kind"], 0) + 1
    rows = [
        (
            "documents generated",
            f"{count:,} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})",
        ),
        ("input size", f"{input_bytes / 1e6:.1f} MB"),
        ("wall time (all stages)", f"{seconds:.1f} s"),
        ("documents/s", f"{count / seconds:.1f}"),
        ("MB/s", f"{input_bytes / 1e6 / seconds:.3f}"),
        (
            "baseline: plain loop, per-document work only",
            f"{base_rate:.1f} documents/s ({base_count} documents)",
        ),
        (
            "kept",
            f"{result.documents:,} documents, {result.words:,} words, "
            f"{result.tokens:,} Gemma tokens",
        ),
        ("kept Gemma tokens/s", f"{tokens_per_second:,.0f}"),
        ("documents reaching dedup", f"{dedup_in:,}"),
        ("planted duplicates reaching dedup", f"{planted:,}"),
        ("duplicates removed", f"{len(dedup_removed):,}"),
        ("duplicate precision (goal >= 0.95)", f"{dup_precision:.3f}"),
        ("duplicate recall (goal >= 0.90)", f"{dup_recall:.3f}"),
        (
            "language filter precision",
            f"{lang_precision:.3f} (sample: {tajik_count:,} Tajik, {other_count:,} other)",
        ),
        ("language filter recall", f"{lang_recall:.3f}"),
    ]
    for workers in args.workers:
        hours = TARGET_TOKENS / tokens_per_second / workers / 3600
        rows.append(
            (f"1.9B kept tokens, {workers} worker(s) (linear projection)", f"{hours:,.1f} h")
        )
    width = max(len(label) for label, _ in rows)
    print(f"{'measure':<{width}}  value")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"load average after: {load_average()}")
    (args.out / "results.json").write_text(json.dumps(dict(rows), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
