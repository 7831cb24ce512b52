"""Multiple-choice benchmarks: one item per question, loaded from JSONL or a Hugging Face
``datasets`` directory and validated on load.

A mapping renames source fields to ours and says how the answer is written. It is a dict or
a small JSON/YAML file, for example::

    {"fields": {"id": "qid", "question": "savol", "choices": ["A", "B", "C", "D"],
                "answer": "javob"},
     "answer_format": "letter"}

``choices`` may name one list-valued field or several single-choice fields. An item without
choices that has ``answers`` (a list of accepted strings, or one string) is a short-answer
item, scored by normalised exact match on the model's generated text. ``id`` may be
``null`` to number the items by their line. ``answer_format`` is ``"index"`` (0-based
integer), ``"letter"`` (Latin A, B, C, D … or Cyrillic А, Б, В, Г …) or ``"auto"`` (integers
are indices, strings are letters), the default.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

AnswerFormat = Literal["index", "letter", "auto"]

FIELD_NAMES = ("id", "question", "choices", "answer", "answers", "subject", "domain")
REQUIRED_FIELDS = ("id", "question")
LATIN_LETTERS = "ABCDEFGHIJ"
CYRILLIC_LETTERS = "АБВГДЕЖЗИК"  # the Tajik exam's order: А, Б, В, Г, …


class BenchmarkError(ValueError):
    """A benchmark file that cannot be used; the message names the file, line and item."""


@dataclass(frozen=True)
class BenchmarkItem:
    id: str
    question: str
    choices: tuple[str, ...]
    answer: int
    subject: str = ""
    domain: str = ""
    answers: tuple[str, ...] = ()  # accepted answers of a short-answer item (no choices)

    @property
    def is_multiple_choice(self) -> bool:
        return bool(self.choices)


@dataclass(frozen=True)
class Benchmark:
    name: str
    source: str
    items: tuple[BenchmarkItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[BenchmarkItem]:
        return iter(self.items)

    @property
    def multiple_choice(self) -> tuple[BenchmarkItem, ...]:
        return tuple(item for item in self.items if item.is_multiple_choice)

    @property
    def short_answer(self) -> tuple[BenchmarkItem, ...]:
        return tuple(item for item in self.items if not item.is_multiple_choice)


@dataclass(frozen=True)
class BenchmarkMapping:
    """Where each of our fields lives in the source rows, and how answers are written."""

    fields: Mapping[str, str | tuple[str, ...] | None] = field(default_factory=dict)
    answer_format: AnswerFormat = "auto"

    def source_field(self, name: str) -> str | tuple[str, ...] | None:
        return self.fields.get(name, name)


def read_mapping(
    mapping: Mapping[str, Any] | str | Path | BenchmarkMapping | None,
) -> BenchmarkMapping:
    """A :class:`BenchmarkMapping` from a dict, a JSON or YAML file, or ``None``."""
    if mapping is None:
        return BenchmarkMapping()
    if isinstance(mapping, BenchmarkMapping):
        return mapping
    if isinstance(mapping, (str, Path)):
        path = Path(mapping)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise BenchmarkError(f"{path}: cannot read the mapping: {error}") from error
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                loaded = yaml.safe_load(text)
            else:
                loaded = json.loads(text)
        except Exception as error:
            raise BenchmarkError(f"{path}: the mapping is not valid: {error}") from error
        if not isinstance(loaded, dict):
            raise BenchmarkError(f"{path}: the mapping must be an object")
        mapping = loaded
    raw = dict(mapping)
    answer_format = raw.pop("answer_format", "auto")
    if answer_format not in ("index", "letter", "auto"):
        raise BenchmarkError(
            f"mapping: answer_format must be index, letter or auto, not {answer_format!r}"
        )
    # Either {"fields": {...}, "answer_format": ...} or the field names at the top level.
    fields = raw.pop("fields", None) or {}
    fields = {**raw, **fields}
    unknown = sorted(set(fields) - set(FIELD_NAMES))
    if unknown:
        raise BenchmarkError(f"mapping: unknown fields {unknown}; expected some of {FIELD_NAMES}")
    normalized: dict[str, str | tuple[str, ...] | None] = {}
    for name, source in fields.items():
        if isinstance(source, (list, tuple)):
            normalized[name] = tuple(str(part) for part in source)
        elif source is None and name == "id":
            normalized[name] = None
        elif isinstance(source, str):
            normalized[name] = source
        else:
            raise BenchmarkError(f"mapping: field {name!r} must name a source field")
    return BenchmarkMapping(fields=normalized, answer_format=answer_format)


def answer_index(value: Any, choice_count: int, answer_format: AnswerFormat) -> int:
    """The 0-based index an answer stands for; raises ``ValueError`` with the reason."""
    if isinstance(value, bool):
        raise ValueError(f"answer {value!r} is not an index or a letter")
    if isinstance(value, int) and answer_format in ("index", "auto"):
        index = value
    elif isinstance(value, str) and answer_format in ("letter", "auto"):
        letter = value.strip().upper()
        if len(letter) == 1 and letter in LATIN_LETTERS:
            index = LATIN_LETTERS.index(letter)
        elif len(letter) == 1 and letter in CYRILLIC_LETTERS:
            index = CYRILLIC_LETTERS.index(letter)
        else:
            raise ValueError(f"answer {value!r} is not a letter A–D or А–Г")
    else:
        expected = "an integer index" if answer_format == "index" else "a letter"
        raise ValueError(f"answer {value!r} is not {expected}")
    if not 0 <= index < choice_count:
        raise ValueError(f"answer {value!r} is out of range for {choice_count} choices")
    return index


def _item_from_row(
    row: Mapping[str, Any], mapping: BenchmarkMapping, *, where: str, line: int
) -> BenchmarkItem:
    def fail(item_id: Any, reason: str) -> BenchmarkError:
        return BenchmarkError(f"{where}: line {line}: item {item_id!r}: {reason}")

    id_field = mapping.source_field("id")
    if id_field is None:
        item_id: Any = f"{line}"
    elif isinstance(id_field, str) and id_field in row and row[id_field] not in (None, ""):
        item_id = row[id_field]
    else:
        raise fail(None, f"missing field {id_field!r} (id)")
    item_id = str(item_id)

    values: dict[str, Any] = {}
    for name in ("question", "choices", "answer", "answers", "subject", "domain"):
        source = mapping.source_field(name)
        if isinstance(source, tuple):
            missing = [part for part in source if part not in row]
            if missing:
                raise fail(item_id, f"missing field {missing[0]!r} ({name})")
            values[name] = [row[part] for part in source]
        elif source is not None and source in row and row[source] is not None:
            values[name] = row[source]
        elif name in REQUIRED_FIELDS:
            raise fail(item_id, f"missing field {source!r} ({name})")
        else:
            values[name] = None

    question = values["question"]
    if not isinstance(question, str) or not question.strip():
        raise fail(item_id, "empty question")
    subject, domain = str(values["subject"] or ""), str(values["domain"] or "")
    if values["choices"] is None:
        return _short_answer_item(item_id, question, values, subject, domain, fail)
    choices = values["choices"]
    if isinstance(choices, str) or not isinstance(choices, Iterable):
        raise fail(item_id, "choices must be a list of strings")
    choices = list(choices)
    if not choices:
        raise fail(item_id, "empty choices")
    for position, choice in enumerate(choices):
        if not isinstance(choice, str):
            raise fail(item_id, f"choice {position} is not a string")
        if not choice.strip():
            raise fail(item_id, f"choice {position} is empty")
    if values["answer"] is None:
        raise fail(item_id, f"missing field {mapping.source_field('answer')!r} (answer)")
    try:
        answer = answer_index(values["answer"], len(choices), mapping.answer_format)
    except ValueError as error:
        raise fail(item_id, str(error)) from None
    return BenchmarkItem(
        id=item_id,
        question=question,
        choices=tuple(choices),
        answer=answer,
        subject=subject,
        domain=domain,
    )


def _short_answer_item(
    item_id: str,
    question: str,
    values: dict[str, Any],
    subject: str,
    domain: str,
    fail: Any,
) -> BenchmarkItem:
    """An item without choices: its accepted answers come from ``answers`` (or, failing
    that, a string ``answer``)."""
    accepted = values["answers"] if values["answers"] is not None else values["answer"]
    if accepted is None or not isinstance(accepted, (str, list, tuple)):
        raise fail(
            item_id,
            "missing field 'choices' (a short-answer item needs 'answers', a list of strings)",
        )
    if isinstance(accepted, str):
        accepted = [accepted]
    if not isinstance(accepted, Iterable) or not all(isinstance(a, str) for a in accepted):
        raise fail(item_id, "answers must be a list of strings")
    accepted = [answer for answer in accepted if answer.strip()]
    if not accepted:
        raise fail(item_id, "empty answers")
    return BenchmarkItem(
        id=item_id,
        question=question,
        choices=(),
        answer=-1,
        subject=subject,
        domain=domain,
        answers=tuple(accepted),
    )


def _rows_from_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise BenchmarkError(
                    f"{path}: line {line_number}: item None: malformed JSON: {error.msg}"
                ) from None
            if not isinstance(row, dict):
                raise BenchmarkError(f"{path}: line {line_number}: item None: not a JSON object")
            yield line_number, row


def _rows_from_datasets(path: Path, split: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import datasets
    except ImportError as error:
        raise BenchmarkError(
            f"{path}: reading a datasets directory needs the `datasets` package"
        ) from error
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        loaded = datasets.load_from_disk(str(path))
    else:
        files = sorted(str(file) for file in path.rglob("*.parquet"))
        if not files:
            raise BenchmarkError(f"{path}: no JSONL file, parquet files or saved dataset")
        loaded = datasets.load_dataset("parquet", data_files=files, split="train")
    if isinstance(loaded, datasets.DatasetDict):
        if split is None:
            if len(loaded) != 1:
                raise BenchmarkError(
                    f"{path}: several splits {sorted(loaded)}; say which one to evaluate"
                )
            split = next(iter(loaded))
        if split not in loaded:
            raise BenchmarkError(f"{path}: no split {split!r}; there are {sorted(loaded)}")
        loaded = loaded[split]
    for row_number, row in enumerate(loaded, start=1):
        yield row_number, dict(row)


def load_benchmark(
    path: str | Path,
    mapping: Mapping[str, Any] | str | Path | BenchmarkMapping | None = None,
    *,
    split: str | None = None,
    name: str | None = None,
) -> Benchmark:
    """Load and validate a multiple-choice benchmark.

    ``path`` is a JSONL file (one object per line) or a directory holding parquet files or a
    dataset written by ``datasets.save_to_disk`` (``split`` picks one split of several).
    Raises :class:`BenchmarkError` naming the line and item on malformed JSON, a missing
    field, a duplicate id, empty choices or an empty choice, or an answer out of range.
    """
    path = Path(path)
    resolved = read_mapping(mapping)
    if path.is_dir():
        rows = _rows_from_datasets(path, split)
    elif path.is_file():
        rows = _rows_from_jsonl(path)
    else:
        raise BenchmarkError(f"{path}: no such file or directory")
    items: list[BenchmarkItem] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        item = _item_from_row(row, resolved, where=str(path), line=line)
        if item.id in first_line:
            raise BenchmarkError(
                f"{path}: line {line}: item {item.id!r}: duplicate id "
                f"(first on line {first_line[item.id]})"
            )
        first_line[item.id] = line
        items.append(item)
    if not items:
        raise BenchmarkError(f"{path}: the benchmark has no items")
    return Benchmark(name=name or path.stem, source=str(path), items=tuple(items))
