"""Validate a Soro question bank file (format "soro-question-bank", version 1).

Usage, from the repository root:

    /work/main/.venv/bin/python tutoring/exams/data/check_bank.py [BANK.json]

Checks every item (ids, types and the fields of each type, options, answer index, matching
pairs, short answers, curriculum topic codes, textbook references) and prints a table of
counts per subject, type, difficulty and answer position. Exits with status 1 and one line
per problem when the file is not valid; nothing is changed.

Standard library and PyYAML only, so that staff can run it without the web application.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BANK = Path(__file__).resolve().with_name("demo_bank.json")
DEFAULT_CURRICULUM = REPOSITORY_ROOT / "soro_web/curriculum/data/demo_curriculum.yaml"
DEFAULT_TEXTBOOKS = REPOSITORY_ROOT / "tutoring/data/textbooks"

FORMAT = "soro-question-bank"
VERSION = 1
TYPES = ("choice", "matching", "short")
SHARED_FIELDS = {
    "id",
    "type",
    "subject",
    "grade",
    "part",
    "topic",
    "difficulty",
    "clusters",
    "stem",
    "explanation",
    "source",
    "reference",
}
TYPE_FIELDS = {
    "choice": {"options", "answer"},
    "matching": {"left", "right", "pairs"},
    "short": {"answers", "numeric"},
}
PARTS = ("A", "B")
ID_PATTERN = re.compile(r"^[a-z]+-\d{3,}$")
# An option must not carry its printed label ("А) ...", "B. ..."): the platform labels options.
OPTION_LABEL = re.compile(r"^\s*[АБВГабвгABCDabcd]\s*[).]\s")
PAGE_MARKER = re.compile(r"<!--\s*page\s+(\d+)\s*-->")
# Letters of Russian that Tajik Cyrillic does not use: a sign of text typed with a Russian
# keyboard layout (reported as a warning, not an error).
RUSSIAN_ONLY = re.compile(r"[цщыьЦЩЫЬ]")


@dataclass(frozen=True)
class Topic:
    code: str
    subject: str
    grade: int


@dataclass(frozen=True)
class Book:
    title: str
    subject: str
    grade: int
    pages: frozenset[int]


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")


def load_topics(path: Path) -> dict[str, Topic]:
    """Every topic code of the curriculum YAML with its subject and grade."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    topics: dict[str, Topic] = {}
    for subject in data["subjects"]:
        for unit in subject["units"]:
            for topic in unit["topics"]:
                topics[topic["code"]] = Topic(topic["code"], subject["code"], int(unit["grade"]))
    return topics


def load_books(folder: Path) -> dict[str, Book]:
    """Textbooks by the title in their front matter, with the page numbers they mark."""
    books: dict[str, Book] = {}
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---"):
            continue
        front, _, body = text[3:].partition("\n---")
        meta = yaml.safe_load(front) or {}
        pages = frozenset(int(number) for number in PAGE_MARKER.findall(body))
        books[str(meta["title"])] = Book(
            str(meta["title"]), str(meta["subject"]), int(meta["grade"]), pages
        )
    return books


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def text_list(value: Any, length: range) -> bool:
    return (
        isinstance(value, list)
        and len(value) in length
        and all(is_text(entry) for entry in value)
        and len({entry.strip() for entry in value}) == len(value)
    )


def check_choice(item: dict[str, Any], where: str, report: Report) -> None:
    options = item["options"]
    if not text_list(options, range(4, 5)):
        report.error(where, "choice needs exactly four different non-empty options")
    else:
        for option in options:
            if OPTION_LABEL.match(option):
                report.error(where, f"option {option!r} has a printed label; give the text only")
    answer = item["answer"]
    if not is_int(answer) or not 0 <= answer <= 3:
        report.error(where, "answer must be the 0-based index of the key (0, 1, 2 or 3)")


def check_matching(item: dict[str, Any], where: str, report: Report) -> None:
    left: list[str] = item.get("left") or []
    right: list[str] = item.get("right") or []
    pairs = item.get("pairs")
    if not text_list(left, range(4, 5)):
        report.error(where, "matching needs exactly four different non-empty left items")
        return
    if not text_list(right, range(4, 6)):
        report.error(where, "matching needs four or five different non-empty right items")
        return
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(is_int(side) for side in pair)
        for pair in pairs
    ):
        report.error(where, "pairs must be a list of [left index, right index]")
        return
    lefts = [pair[0] for pair in pairs]
    rights = [pair[1] for pair in pairs]
    if sorted(lefts) != list(range(len(left))):
        report.error(where, "pairs must name every left item exactly once")
    if any(not 0 <= index < len(right) for index in rights):
        report.error(where, "a pair names a right item that does not exist")
    if len(set(rights)) != len(rights):
        report.error(where, "two left items are paired with the same right item")


def check_short(item: dict[str, Any], where: str, report: Report) -> None:
    has_words, has_number = "answers" in item, "numeric" in item
    if has_words == has_number:
        report.error(where, "short answer needs either answers (words) or numeric, not both")
        return
    if has_words:
        if not text_list(item["answers"], range(1, 100)):
            report.error(where, "answers must be a list of different non-empty words")
        return
    numeric = item["numeric"]
    if not isinstance(numeric, dict) or set(numeric) != {"value", "tolerance"}:
        report.error(where, "numeric must be {'value': number, 'tolerance': number}")
        return
    if not is_number(numeric["value"]):
        report.error(where, "numeric value must be a number")
    if not is_number(numeric["tolerance"]) or numeric["tolerance"] < 0:
        report.error(where, "numeric tolerance must be a number >= 0")


def check_reference(
    reference: Any, subject: Any, where: str, books: dict[str, Book], report: Report
) -> None:
    if reference is None:
        return
    if not isinstance(reference, dict) or set(reference) != {"book", "subject", "grade", "page"}:
        report.error(where, "reference must be null or {book, subject, grade, page}")
        return
    book = books.get(reference["book"])
    if book is None:
        report.error(where, f"no textbook has the title {reference['book']!r}")
        return
    if reference["subject"] != book.subject or reference["grade"] != book.grade:
        report.error(
            where,
            f"reference says {reference['subject']} {reference['grade']}, "
            f"the book {book.title!r} is {book.subject} {book.grade}",
        )
    if reference["subject"] != subject:
        report.error(where, f"the referenced book is {book.subject}, the item is {subject}")
    if not is_int(reference["page"]) or reference["page"] not in book.pages:
        report.error(where, f"the book {book.title!r} has no page {reference['page']!r}")


def check_item(
    item: Any,
    number: int,
    topics: dict[str, Topic],
    books: dict[str, Book],
    report: Report,
) -> None:
    if not isinstance(item, dict):
        report.error(f"item #{number}", "an item must be an object")
        return
    where = f"item #{number} ({item.get('id', 'no id')})"
    kind = item.get("type")
    if kind not in TYPES:
        report.error(where, f"type must be one of {', '.join(TYPES)}")
        return
    allowed = SHARED_FIELDS | TYPE_FIELDS[kind]
    missing = (SHARED_FIELDS | (TYPE_FIELDS[kind] - {"answers", "numeric"})) - set(item)
    if missing:
        report.error(where, f"missing fields: {', '.join(sorted(missing))}")
        return
    extra = set(item) - allowed
    if extra:
        report.error(where, f"fields that a {kind} item does not have: {', '.join(sorted(extra))}")
    if not isinstance(item["id"], str) or not ID_PATTERN.match(item["id"]):
        report.error(where, "id must look like <subject-short>-NNN (e.g. bio-001)")
    topic = topics.get(item["topic"]) if isinstance(item["topic"], str) else None
    if topic is None:
        report.error(where, f"topic {item['topic']!r} is not in the curriculum")
    else:
        if topic.subject != item["subject"]:
            report.error(where, f"topic {topic.code} belongs to {topic.subject}")
        if topic.grade != item["grade"]:
            report.error(where, f"topic {topic.code} is grade {topic.grade}, not {item['grade']}")
    if item["part"] not in PARTS:
        report.error(where, f"part must be one of {', '.join(PARTS)}")
    elif item["part"] == "B" and is_int(item["grade"]) and item["grade"] > 9:
        report.error(where, "part B is the grade-9 programme; a grade 10-11 item belongs to part A")
    if item["difficulty"] not in (1, 2, 3) or not is_int(item["difficulty"]):
        report.error(where, "difficulty must be 1, 2 or 3")
    clusters = item["clusters"]
    if (
        not isinstance(clusters, list)
        or not clusters
        or not all(is_int(cluster) and 1 <= cluster <= 5 for cluster in clusters)
        or len(set(clusters)) != len(clusters)
    ):
        report.error(where, "clusters must be a non-empty list of different numbers 1-5")
    for name in ("stem", "explanation", "source"):
        if not is_text(item[name]):
            report.error(where, f"{name} must be non-empty text")
    check_reference(item["reference"], item["subject"], where, books, report)
    {"choice": check_choice, "matching": check_matching, "short": check_short}[kind](
        item, where, report
    )
    texts = [item["stem"], item["explanation"], *item.get("options", [])]
    texts += [*item.get("left", []), *item.get("right", []), *item.get("answers", [])]
    for text in texts:
        if isinstance(text, str) and RUSSIAN_ONLY.search(text):
            report.warn(where, f"Russian-only letter in {text[:60]!r}")


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.rjust(widths[col]) if col else cell.ljust(widths[col])
                for col, cell in enumerate(row)
            )
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def summary(items: list[dict[str, Any]]) -> str:
    subjects = sorted({item["subject"] for item in items})
    header = [
        "subject",
        "items",
        *TYPES,
        "d1",
        "d2",
        "d3",
        "key0",
        "key1",
        "key2",
        "key3",
        "partA",
        "partB",
        "ref",
    ]
    rows = [header]
    for subject in [*subjects, "all"]:
        chosen = [item for item in items if subject in ("all", item["subject"])]
        kinds = Counter(item["type"] for item in chosen)
        levels = Counter(item["difficulty"] for item in chosen)
        keys = Counter(item["answer"] for item in chosen if item["type"] == "choice")
        parts = Counter(item["part"] for item in chosen)
        referenced = sum(1 for item in chosen if item["reference"] is not None)
        rows.append(
            [subject, str(len(chosen))]
            + [str(kinds[kind]) for kind in TYPES]
            + [str(levels[level]) for level in (1, 2, 3)]
            + [str(keys[position]) for position in range(4)]
            + [str(parts["A"]), str(parts["B"]), str(referenced)]
        )
    return table(rows)


def check_bank(
    bank: Any, topics: dict[str, Topic], books: dict[str, Book]
) -> tuple[Report, list[dict[str, Any]]]:
    report = Report()
    if not isinstance(bank, dict) or bank.get("format") != FORMAT:
        report.error("file", f"format must be {FORMAT!r}")
        return report, []
    if bank.get("version") != VERSION:
        report.error("file", f"version must be {VERSION}")
    items = bank.get("items")
    if not isinstance(items, list) or not items:
        report.error("file", "items must be a non-empty list")
        return report, []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        check_item(item, number, topics, books, report)
        identifier = item.get("id") if isinstance(item, dict) else None
        if isinstance(identifier, str):
            if identifier in seen:
                report.error(
                    f"item #{number} ({identifier})", f"same id as item #{seen[identifier]}"
                )
            seen.setdefault(identifier, number)
    return report, [item for item in items if isinstance(item, dict)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", nargs="?", type=Path, default=DEFAULT_BANK)
    parser.add_argument("--curriculum", type=Path, default=DEFAULT_CURRICULUM)
    parser.add_argument("--textbooks", type=Path, default=DEFAULT_TEXTBOOKS)
    arguments = parser.parse_args(argv)
    try:
        bank = json.loads(arguments.bank.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        print(f"{arguments.bank}: cannot read the bank: {error}", file=sys.stderr)
        return 1
    report, items = check_bank(
        bank, load_topics(arguments.curriculum), load_books(arguments.textbooks)
    )
    for warning in report.warnings:
        print(f"warning: {warning}")
    if report.errors:
        for problem in report.errors:
            print(f"error: {problem}", file=sys.stderr)
        print(
            f"{arguments.bank}: {len(report.errors)} problem(s); the bank is not valid.",
            file=sys.stderr,
        )
        return 1
    print(summary(items))
    print(f"{arguments.bank}: {len(items)} items, valid.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
