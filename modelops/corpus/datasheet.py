"""The datasheet: what went in, what each step removed and why, what came out.

``datasheet.json`` is the record (the ``Corpus`` row keeps a copy); ``datasheet.md`` is
the same for a person, with 20 random kept and 20 random removed examples.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from modelops.corpus.types import BuildOptions, SourceSpec

# (stage, step name fragment, label, reasons shown): the order steps are reported in.
_STEPS = (
    ("filter", "Soro sources", "read"),
    ("filter", "Trafilatura", "HTML main-text extraction (trafilatura)"),
    ("filter", "Tajik normalisation", "NFC + Tajik normalisation"),
    ("filter", "language ID", "language ID (tg, offline)"),
    ("filter", "Gopher Quality", "Gopher quality rules"),
    ("filter", "Gopher Repetition", "Gopher repetition rules"),
    ("filter", "FineWeb", "FineWeb line rules"),
    ("filter", "stop-word", "Tajik stop-word, digit and symbol shares"),
    ("filter", "PII", "PII scrubbing (replaces, removes nothing)"),
    ("filter", "decontamination", "benchmark decontamination"),
    ("exact-filter", "exact-deduplication stage 3", "exact duplicates"),
    ("finalise", "MinHash stage 4", "near duplicates (MinHash)"),
)


def _step_row(label: str, stats: dict[str, Any]) -> dict[str, Any]:
    total = int(stats.get("total", 0))
    dropped = int(stats.get("dropped", 0))
    forwarded = int(stats.get("forwarded", total - dropped))
    reasons = {
        key.removeprefix("dropped_"): int(value)
        for key, value in sorted(stats.items())
        if key.startswith("dropped_")
    }
    notes = {
        key: int(value)
        for key, value in sorted(stats.items())
        if key.startswith(("language_", "kept_", "replaced_", "contaminated_", "changed"))
        or key == "documents_changed"
    }
    return {
        "step": label,
        "in": total,
        "out": forwarded,
        "removed": dropped,
        "reasons": reasons,
        "notes": notes,
    }


def build_datasheet(
    *,
    name: str,
    sources: list[SourceSpec],
    stages: dict[str, list[dict[str, Any]]],
    totals: dict[str, dict[str, dict[str, int]]],
    removed: dict[str, Any],
    kept_samples: list[dict[str, Any]],
    problems: list[dict[str, str]],
    options: BuildOptions,
    decontamination: dict[str, Any],
    checksum: str,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    import datatrove

    steps: list[dict[str, Any]] = []
    reader: dict[str, Any] = {}
    for stage, fragment, label in _STEPS:
        for step in stages.get(stage, []):
            if fragment.lower() in step["name"].lower():
                if fragment == "Soro sources":
                    reader = step["stats"]
                    continue
                steps.append(_step_row(label, step["stats"]))
                break
    units_per_source: dict[str, int] = {}
    for unit in manifest["units"]:
        source_name = manifest["sources"][unit["source"]]["name"]
        units_per_source[source_name] = units_per_source.get(source_name, 0) + 1
    source_rows = []
    for source in sources:
        train = totals["train"].get(source.name, {})
        validation = totals["validation"].get(source.name, {})
        source_rows.append(
            {
                "name": source.name,
                "path": source.path,
                "curated": source.curated,
                "files": units_per_source.get(source.name, 0),
                "documents_read": int(reader.get(f"source_{source.name}", 0)),
                "documents": train.get("documents", 0) + validation.get("documents", 0),
                "words": train.get("words", 0) + validation.get("words", 0),
                "tokens": train.get("tokens", 0) + validation.get("tokens", 0),
            }
        )

    def split_total(split: str) -> dict[str, int]:
        rows = totals[split].values()
        return {key: sum(row[key] for row in rows) for key in ("documents", "words", "tokens")}

    splits = {"train": split_total("train"), "validation": split_total("validation")}
    return {
        "name": name,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "engine": f"datatrove {datatrove.__version__}"
        if hasattr(datatrove, "__version__")
        else "datatrove",
        "sources": source_rows,
        "read": {
            "files": int(reader.get("files", 0)),
            "documents": int(reader.get("total", 0)),
            "unreadable": {
                key.removeprefix("unreadable_"): int(value)
                for key, value in sorted(reader.items())
                if key.startswith("unreadable_")
            },
            "skipped_rows": {
                key.removeprefix("skipped_"): int(value)
                for key, value in sorted(reader.items())
                if key.startswith("skipped_")
            },
        },
        "unreadable_files": problems,
        "steps": steps,
        "splits": splits,
        "totals": {
            key: splits["train"][key] + splits["validation"][key] for key in splits["train"]
        },
        "decontamination": {
            "ngram_per_benchmark": decontamination.get("ngram_per_benchmark", {}),
            "indexed_ngrams": len(decontamination.get("hashes", {})),
        },
        "options": asdict(options),
        "removed_counts": removed["counts"],
        "removed_examples": removed["sample"],
        "kept_examples": kept_samples,
        "checksum": checksum,
    }


def _number(value: int) -> str:
    return f"{value:,}"


def summary_lines(datasheet: dict[str, Any]) -> list[str]:
    """The datasheet's head, as printed at the end of ``build_corpus``."""
    totals = datasheet["totals"]
    splits = datasheet["splits"]
    lines = [
        f"Corpus {datasheet['name']}: {_number(totals['documents'])} documents, "
        f"{_number(totals['words'])} words, {_number(totals['tokens'])} Gemma tokens "
        f"(validation: {_number(splits['validation']['documents'])} documents, "
        f"{_number(splits['validation']['tokens'])} tokens)",
        "",
        f"{'source':<24} {'files':>6} {'read':>8} {'kept':>8} {'words':>10} {'tokens':>11}",
    ]
    for row in datasheet["sources"]:
        lines.append(
            f"{row['name'][:24]:<24} {row['files']:>6} {row['documents_read']:>8} "
            f"{row['documents']:>8} {row['words']:>10,} {row['tokens']:>11,}"
        )
    lines += ["", f"{'step':<44} {'in':>8} {'removed':>8}  why"]
    for step in datasheet["steps"]:
        reasons = ", ".join(f"{key} {value}" for key, value in step["reasons"].items())
        notes = ", ".join(f"{key} {value}" for key, value in step["notes"].items())
        detail = "; ".join(part for part in (reasons, notes) if part)
        lines.append(f"{step['step'][:44]:<44} {step['in']:>8} {step['removed']:>8}  {detail}")
    unreadable = datasheet["read"]["unreadable"]
    if unreadable:
        lines += [
            "",
            "Unreadable files: "
            + ", ".join(f"{reason} {count}" for reason, count in unreadable.items())
            + " (listed in datasheet.json)",
        ]
    return lines


def render_datasheet(datasheet: dict[str, Any]) -> str:
    totals = datasheet["totals"]
    lines = [
        f"# Datasheet: corpus `{datasheet['name']}`",
        "",
        f"Built {datasheet['built_at']} with {datasheet['engine']} by `manage.py build_corpus`. "
        f"{_number(totals['documents'])} documents, {_number(totals['words'])} words, "
        f"{_number(totals['tokens'])} Gemma 3 tokens. Checksum (SHA-256 of the shards): "
        f"`{datasheet['checksum']}`.",
        "",
        'Load it with `datasets.load_dataset("parquet", data_dir="<this folder>/data")` '
        'or `datasets.load_dataset("<this folder>")`: splits `train` and `validation` '
        "(held out by a stable hash of the document id after deduplication; never train on it).",
        "",
        "## Sources",
        "",
        "| source | path | curated | files | documents read | documents kept | words "
        "| Gemma tokens |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in datasheet["sources"]:
        lines.append(
            f"| {row['name']} | `{row['path']}` | {'yes' if row['curated'] else 'no'} | "
            f"{row['files']} | {_number(row['documents_read'])} | {_number(row['documents'])} | "
            f"{_number(row['words'])} | {_number(row['tokens'])} |"
        )
    lines += [
        "",
        "## Splits",
        "",
        "| split | documents | words | Gemma tokens |",
        "|---|---:|---:|---:|",
    ]
    for split, row in datasheet["splits"].items():
        lines.append(
            f"| {split} | {_number(row['documents'])} | {_number(row['words'])} "
            f"| {_number(row['tokens'])} |"
        )
    lines += [
        "",
        "## What each step removed",
        "",
        "| step | documents in | removed | reasons | notes |",
        "|---|---:|---:|---|---|",
    ]
    for step in datasheet["steps"]:
        reasons = ", ".join(f"{key}: {value}" for key, value in step["reasons"].items()) or "—"
        notes = ", ".join(f"{key}: {value}" for key, value in step["notes"].items()) or "—"
        lines.append(f"| {step['step']} | {step['in']} | {step['removed']} | {reasons} | {notes} |")
    read = datasheet["read"]
    lines += [
        "",
        f"Files read: {read['files']}; unreadable: "
        + (", ".join(f"{k} {v}" for k, v in read["unreadable"].items()) or "none")
        + "; rows without text: "
        + (", ".join(f"{k} {v}" for k, v in read["skipped_rows"].items()) or "none")
        + ".",
    ]
    for problem in datasheet["unreadable_files"][:50]:
        lines.append(f"- `{problem['path']}`: {problem['reason']} ({problem['message']})")
    decontamination = datasheet["decontamination"]
    lines += [
        "",
        "Decontamination n-gram length per benchmark: "
        + (
            ", ".join(f"{k} {v}" for k, v in decontamination["ngram_per_benchmark"].items())
            or "no benchmarks"
        )
        + f" ({decontamination['indexed_ngrams']} n-grams indexed).",
        "",
        "## 20 random kept documents",
        "",
    ]
    for row in datasheet["kept_examples"]:
        lines += [f"### `{row['id']}` ({row['source']})", "", _quote(row["text"]), ""]
    lines += ["## 20 random removed documents", ""]
    for row in datasheet["removed_examples"]:
        lines += [
            f"### `{row['id']}` ({row['source']}), removed by {row['step']}: {row['reason']}",
            "",
            _quote(row["text"]),
            "",
        ]
    return "\n".join(lines) + "\n"


def _quote(text: str, limit: int = 600) -> str:
    short = text if len(text) <= limit else text[:limit].rstrip() + " …"
    return "\n".join(f"> {line}" if line else ">" for line in short.splitlines())
