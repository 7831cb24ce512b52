"""Inputs: which files a source holds, and the documents each file yields.

A *unit* is what one task reads whole: one file, or one Hugging Face ``datasets``
directory saved with ``save_to_disk``. Units are listed once, at the start of a build,
into a manifest that assigns them to tasks; every task reads only its own units, so the
corpus is never in memory and a task can be redone alone after a kill.

Kinds, by suffix: HTML (raw; trafilatura extracts the main text later), PDF, DOCX,
Markdown and text (the textbook parsers of :mod:`tutoring.retrieval.parsers`, OCR
included), JSONL and parquet rows with a text field, ``datasets`` directories, and
translation catalogs (gettext ``.po``/``.mo``, Mozilla Fluent ``.ftl`` and language
packs ``.xpi`` that hold them), of which only the strings that read as sentences are kept.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelops.corpus.text import sentences_like, word_count
from modelops.corpus.types import CorpusBuildError, SourceSpec

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
PARSED_SUFFIXES = (".pdf", ".docx", ".md", ".markdown", ".txt", ".text")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json.gz")
CATALOG_SUFFIXES = (".po", ".mo", ".ftl", ".xpi")
DATASET_MARKERS = ("dataset_dict.json", "state.json", "dataset_info.json")
#: Catalog strings are grouped into documents of about this many words.
CATALOG_DOCUMENT_WORDS = 400


@dataclass(frozen=True)
class Unit:
    """One file (or saved dataset directory) of one source."""

    source: int  # index into the build's sources
    path: str  # absolute
    relative: str  # for document ids: stable across machines
    kind: str  # html, parsed, jsonl, parquet, dataset, catalog, unsupported
    size: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RawDocument:
    """What a reader yields: text (raw HTML for ``html``) and where it came from."""

    id: str
    text: str
    kind: str


class Unreadable(Exception):
    """A unit that yields nothing: ``reason`` is counted and reported."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(HTML_SUFFIXES):
        return "html"
    if name.endswith(PARSED_SUFFIXES):
        return "parsed"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(CATALOG_SUFFIXES):
        return "catalog"
    return "unsupported"


def _is_dataset_directory(path: Path) -> bool:
    return any((path / marker).is_file() for marker in DATASET_MARKERS) and not any(
        path.glob("*.parquet")
    )


def list_units(sources: list[SourceSpec]) -> list[Unit]:
    """Every unit of every source, in a stable order. Raises CorpusBuildError
    ("missing_source") for a path that does not exist."""
    units: list[Unit] = []
    for index, source in enumerate(sources):
        root = Path(source.path)
        if not root.exists():
            raise CorpusBuildError(
                "missing_source", f"{root}: no such file or folder (source {source.name!r})."
            )
        if root.is_file():
            units.append(_unit(index, root, root.name))
            continue
        if _is_dataset_directory(root):
            units.append(Unit(index, str(root), ".", "dataset", _tree_size(root)))
            continue
        if source.include:
            matched = sorted({path for pattern in source.include for path in root.glob(pattern)})
            units += [
                _unit(index, path, str(path.relative_to(root)))
                for path in matched
                if path.is_file()
            ]
            continue
        for directory, subdirectories, files in os.walk(root):
            here = Path(directory)
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            for sub in list(subdirectories):
                if _is_dataset_directory(here / sub):
                    subdirectories.remove(sub)
                    path = here / sub
                    units.append(
                        Unit(
                            index,
                            str(path),
                            str(path.relative_to(root)),
                            "dataset",
                            _tree_size(path),
                        )
                    )
            for file_name in sorted(files):
                if file_name.startswith("."):
                    continue
                path = here / file_name
                units.append(_unit(index, path, str(path.relative_to(root))))
    return sorted(units, key=lambda unit: (unit.source, unit.relative))


def _unit(source: int, path: Path, relative: str) -> Unit:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return Unit(source, str(path.resolve()), relative, _kind(path), size)


def _tree_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def assign_units(units: list[Unit], *, shard_bytes: int) -> list[list[int]]:
    """Units per task: about ``shard_bytes`` of input each, the biggest units placed first
    on the emptiest task (deterministic)."""
    total = sum(max(unit.size, 1) for unit in units)
    tasks = max(1, min(len(units), -(-total // max(shard_bytes, 1))))
    loads = [0] * tasks
    assignment: list[list[int]] = [[] for _ in range(tasks)]
    order = sorted(range(len(units)), key=lambda i: (-units[i].size, i))
    for index in order:
        task = min(range(tasks), key=lambda t: (loads[t], t))
        assignment[task].append(index)
        loads[task] += max(units[index].size, 1)
    return [sorted(task_units) for task_units in assignment]


# --- reading ------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1251 (older Tajik and
    Russian files)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def read_unit(unit: Unit, spec: SourceSpec, *, max_file_bytes: int) -> Iterator[RawDocument]:
    """The documents of one unit. Raises :class:`Unreadable` when the unit yields none
    because it cannot be read (the reason is counted); rows without text are skipped and
    counted by the caller through ``RawDocument.kind == "skipped:<reason>"``."""
    prefix = f"{spec.name}/{unit.relative}" if unit.relative != "." else spec.name
    if unit.kind == "unsupported":
        raise Unreadable("unsupported", f"{unit.path}: not a kind the corpus reads")
    if unit.kind != "dataset" and unit.size > max_file_bytes:
        raise Unreadable("too_large", f"{unit.path}: {unit.size:,} bytes is over the limit")
    if unit.kind != "dataset" and unit.size == 0:
        raise Unreadable("empty", f"{unit.path} is empty")
    if unit.kind == "html":
        yield RawDocument(prefix, decode(_read_bytes(unit.path)), "html")
    elif unit.kind == "parsed":
        yield RawDocument(prefix, _parsed_text(unit.path, max_file_bytes), "text")
    elif unit.kind == "jsonl":
        yield from _jsonl_documents(unit.path, prefix, spec.text_field)
    elif unit.kind == "parquet":
        yield from _parquet_documents(unit.path, prefix, spec.text_field)
    elif unit.kind == "dataset":
        yield from _dataset_documents(unit.path, prefix, spec.text_field)
    elif unit.kind == "catalog":
        yield from _catalog_documents(unit.path, prefix)


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise Unreadable("corrupt", f"{path} cannot be read: {error}") from error


def _parsed_text(path: str, max_file_bytes: int) -> str:
    from tutoring.retrieval.parsers import parse_file
    from tutoring.retrieval.types import IngestError

    try:
        book = parse_file(Path(path), max_bytes=max_file_bytes)
    except IngestError as error:
        raise Unreadable(error.code, error.message) from error
    return "\n".join(block.text for page in book.pages for block in page.blocks)


def _open_text(path: str) -> io.TextIOBase:
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _jsonl_documents(path: str, prefix: str, text_field: str) -> Iterator[RawDocument]:
    try:
        with _open_text(path) as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    yield RawDocument(f"{prefix}:{line_number}", "", "skipped:malformed_json")
                    continue
                text = row.get(text_field) if isinstance(row, dict) else None
                if not isinstance(text, str):
                    yield RawDocument(f"{prefix}:{line_number}", "", "skipped:no_text_field")
                    continue
                yield RawDocument(f"{prefix}:{line_number}", text, "text")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise Unreadable("corrupt", f"{path} cannot be read: {error}") from error


def _parquet_documents(path: str, prefix: str, text_field: str) -> Iterator[RawDocument]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:
        raise Unreadable("corrupt", f"{path} is not a readable parquet file: {error}") from error
    if text_field not in parquet.schema_arrow.names:
        raise Unreadable("no_text_field", f"{path} has no column {text_field!r}")
    row = 0
    for batch in parquet.iter_batches(columns=[text_field], batch_size=1000):
        for text in batch.column(0).to_pylist():
            row += 1
            if isinstance(text, str):
                yield RawDocument(f"{prefix}:{row}", text, "text")
            else:
                yield RawDocument(f"{prefix}:{row}", "", "skipped:no_text_field")


def _dataset_documents(path: str, prefix: str, text_field: str) -> Iterator[RawDocument]:
    import datasets

    try:
        loaded = datasets.load_from_disk(path)
    except Exception as error:
        raise Unreadable(
            "corrupt", f"{path} is not a readable datasets directory: {error}"
        ) from error
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    for split, dataset in splits:
        if text_field not in dataset.column_names:
            raise Unreadable("no_text_field", f"{path} has no column {text_field!r}")
        where = f"{prefix}/{split}" if split else prefix
        for row, text in enumerate(dataset.select_columns([text_field]).iter(batch_size=1000)):
            for offset, value in enumerate(text[text_field]):
                number = row * 1000 + offset + 1
                if isinstance(value, str):
                    yield RawDocument(f"{where}:{number}", value, "text")
                else:
                    yield RawDocument(f"{where}:{number}", "", "skipped:no_text_field")


# --- translation catalogs -------------------------------------------------------------

_FLUENT_MESSAGE = re.compile(r"^[A-Za-z][\w-]*\s*=\s*(.*)$")
_FLUENT_ATTRIBUTE = re.compile(r"^\s+\.[\w-]+\s*=\s*(.*)$")
_FLUENT_PLACEABLE = re.compile(r"\{[^{}]*\}")
_MARKUP = re.compile(r"<[^>]+>")


def catalog_strings(name: str, data: bytes) -> list[str]:
    """The translated strings of one catalog file (``.po``, ``.mo`` or ``.ftl``), with
    placeholders and markup removed."""
    lower = name.lower()
    if lower.endswith(".mo"):
        import gettext

        catalog = gettext.GNUTranslations(io.BytesIO(data))
        values = [
            value
            for key, value in catalog._catalog.items()  # type: ignore[attr-defined]
            if isinstance(value, str) and key and value
        ]
    elif lower.endswith(".po"):
        values = _po_strings(decode(data))
    elif lower.endswith(".ftl"):
        values = _fluent_strings(decode(data))
    else:
        return []
    cleaned = []
    for value in values:
        value = _MARKUP.sub("", _FLUENT_PLACEABLE.sub("", value))
        value = re.sub(r"%\(?\w*\)?[sd]|\{\w*\}|&(?=\w)", "", value)
        value = " ".join(value.split())
        if value:
            cleaned.append(value)
    return cleaned


def _po_strings(text: str) -> list[str]:
    values: list[str] = []
    current: list[str] | None = None
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if line.startswith(("msgstr ", "msgstr[")):
            current = [_po_literal(line.split(" ", 1)[1])]
        elif line.startswith('"') and current is not None:
            current.append(_po_literal(line))
        else:
            if current is not None and "".join(current):
                values.append("".join(current))
            current = None
    return values


def _po_literal(quoted: str) -> str:
    try:
        value = json.loads(quoted)
    except json.JSONDecodeError:
        return ""
    return value if isinstance(value, str) else ""


def _fluent_strings(text: str) -> list[str]:
    values: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _FLUENT_MESSAGE.match(line) or _FLUENT_ATTRIBUTE.match(line)
        if match is not None:
            values.append(match.group(1))
    return values


def _catalog_documents(path: str, prefix: str) -> Iterator[RawDocument]:
    files: list[tuple[str, bytes]] = []
    if path.lower().endswith(".xpi"):
        try:
            with zipfile.ZipFile(path) as archive:
                for member in sorted(archive.namelist()):
                    if member.lower().endswith((".ftl", ".po", ".mo")):
                        files.append((member, archive.read(member)))
        except (zipfile.BadZipFile, OSError) as error:
            raise Unreadable("corrupt", f"{path} is not a readable archive: {error}") from error
    else:
        files.append((Path(path).name, _read_bytes(path)))
    sentences: list[str] = []
    for member, data in files:
        try:
            sentences.extend(sentences_like(catalog_strings(member, data)))
        except Exception as error:  # a damaged .mo raises OSError or struct errors
            raise Unreadable("corrupt", f"{path}: {member} cannot be read: {error}") from error
    # Strings repeated across a catalog (the same message in several places) count once.
    sentences = list(dict.fromkeys(sentences))
    if not sentences:
        raise Unreadable("no_text", f"{path} has no translated sentences")
    chunk: list[str] = []
    size = 0
    number = 0
    for sentence in sentences:
        chunk.append(sentence)
        size += word_count(sentence)
        if size >= CATALOG_DOCUMENT_WORDS:
            number += 1
            yield RawDocument(f"{prefix}#{number}", "\n".join(chunk), "text")
            chunk, size = [], 0
    if chunk:
        number += 1
        yield RawDocument(f"{prefix}#{number}", "\n".join(chunk), "text")
