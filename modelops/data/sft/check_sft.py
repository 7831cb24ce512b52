"""Check the teacher-style instruction data in this folder and print a summary table.

Run from the repository root::

    /work/main/.venv/bin/python modelops/data/sft/check_sft.py [--details] [FILE ...]

Without arguments every ``<task>.jsonl`` of this folder whose name is a prompt builder is
checked (any subset may be present). Every line is converted to the builders' types
(TutorItem, RubricCriterion/RubricLevel, ChatMessage) and its prompt is built with the very
builder the platform calls (:mod:`modelops.prompts`), then rendered as a training
conversation (``--details`` also lists the replies whose detected language is not the one
asked for). The script exits 1 when a line breaks the contract; the figures of the table
(Tajik share, citations, echo) are reported, and an echo count above zero is also an error.
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
from modelops.instruction_data import builder_arguments  # noqa: E402
from modelops.llm.langid import detect_language  # noqa: E402

HERE = Path(__file__).resolve().parent
TASKS = (
    "lesson_section",
    "explain_concept",
    "write_questions",
    "tutor_reply",
    "grade_answer",
    "teacher_chat",
)
ID_PATTERN = re.compile(r"^[a-z]{2,4}-\d{4}$")
LANGUAGES = ("tg", "ru")
#: The builder's trim of a passage (DRAFT_PASSAGE_WORDS); a trimmed one ends with "…".
PASSAGE_WORDS = 45
#: A reply may not repeat this many consecutive words of its own prompt.
ECHO_WORDS = 8
#: Reply lengths in words: most replies, and the long kinds.
MAX_WORDS = 70
MAX_WORDS_LONG = 110
LONG_KINDS = {"new_material", "worked_examples", "checks", "differentiation"}
MARKER = re.compile(r"\[(\d{1,2})\]")
WORD = re.compile(r"\w+", re.UNICODE)
TAJIK_LETTERS = re.compile(r"[ғӣқӯҳҷҒӢҚӮҲҶ]")
OPTION_LINE = re.compile(r"^([АБВГ])\)\s+\S", re.M)
KEY_LINE = re.compile(r"^Ҷавоб:\s*([АБВГ])\s*$", re.M)
#: Lesson sections: a rewrite's current text, and the shapes of "checks" replies.
CURRENT_TEXT_WORDS = (30, 60)
LESSON_KEY_LINE = re.compile(r"^(?:Ҷавоб|Ответ):\s*([АБВ])\b", re.M)
LESSON_OPTIONS = re.compile(r"(?:^|\s)А\)\s.+?\sБ\)\s.+?\sВ\)\s", re.S)


@dataclass
class TaskStats:
    examples: int = 0
    words: list[int] = field(default_factory=list)
    tajik: int = 0
    tajik_asked: int = 0  # examples whose language is "tg"
    tajik_of_asked: int = 0
    grounded: int = 0
    citations_ok: int = 0
    echo: int = 0
    other_language: list[str] = field(default_factory=list)


def _words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def echoes(reply: str, prompt_texts: Sequence[str], n: int = ECHO_WORDS) -> bool:
    """Whether ``reply`` repeats ``n`` consecutive words of any of ``prompt_texts``."""
    reply_grams = _ngrams(_words(reply), n)
    return any(reply_grams & _ngrams(_words(text), n) for text in prompt_texts)


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
        keys = LESSON_KEY_LINE.findall(reply)
        if len(keys) != 3:
            problems.append(f"checks: {len(keys)} key lines (want 3 'Ҷавоб: <letter>')")
        if len(LESSON_OPTIONS.findall(reply)) != 3:
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


def _check_line(task: str, record: dict[str, Any], problems: list[str]) -> None:
    """Task-specific rules of the data brief (the builder does not enforce them)."""
    inputs = record["inputs"]
    reply: str = record["reply"]
    language = inputs.get("language", "tg")
    for number, passage in enumerate(inputs.get("passages", ()), 1):
        count = len([w for w in passage.split() if w != "…"])
        if count > PASSAGE_WORDS:
            problems.append(f"passage [{number}] has {count} words (> {PASSAGE_WORDS})")
    if len(inputs.get("passages", ())) > 2:
        problems.append("more than 2 passages")
    if language == "tg" and not TAJIK_LETTERS.search(reply):
        problems.append("a Tajik reply without any of ғ ӣ қ ӯ ҳ ҷ")
    if task == "lesson_section":
        problems.extend(lesson_section_problems(inputs, reply))
    if task == "write_questions":
        count = inputs.get("count", 3)
        if not 1 <= count <= 3:
            problems.append(f"count {count} outside 1-3")
        keys = KEY_LINE.findall(reply)
        if len(keys) != count:
            problems.append(f"{len(keys)} 'Ҷавоб: <letter>' lines for count {count}")
        if len(OPTION_LINE.findall(reply)) != 4 * count:
            problems.append("each question needs the four option lines А) Б) В) Г)")
        if reply.count("Шарҳ:") != count:
            problems.append("each question needs one 'Шарҳ:' line")
    if task == "tutor_reply":
        level = inputs.get("level", 1)
        item = inputs.get("item")
        if item and level < 3 and (item.get("key") or item.get("explanation")):
            problems.append("an item's key/explanation given below level 3")
    if task == "grade_answer":
        criteria = builder_arguments(task, {"criteria": inputs["criteria"]})["criteria"]
        if not 2 <= len(criteria) <= 3:
            problems.append(f"{len(criteria)} criteria (want 2-3)")
        for criterion in criteria:
            if not 2 <= len(criterion.levels) <= 4:
                problems.append(f"criterion {criterion.name!r} has {len(criterion.levels)} levels")
        parsed = prompts.parse_grade_reply(reply, criteria)
        if parsed is None:
            problems.append("parse_grade_reply cannot read the reply")
        elif not parsed.feedback:
            problems.append("the reply has no 'Шарҳ:' feedback")
        lines = reply.strip().split("\n")
        shape = [f"Меъёр {n}: " for n in range(1, len(criteria) + 1)]
        if len(lines) != len(criteria) + 1 or not all(
            re.fullmatch(re.escape(start) + r"\d+", line)
            for start, line in zip(shape, lines, strict=False)
        ):
            problems.append("the reply must be exactly the 'Меъёр n: points' lines then 'Шарҳ:'")
        if not lines[-1].startswith("Шарҳ: "):
            problems.append("the last line must start with 'Шарҳ: '")


def check_file(path: Path, stats: dict[str, TaskStats], seen_ids: set[str]) -> list[str]:
    errors: list[str] = []
    task_from_name = path.stem
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{line_number}"
        if not line.strip():
            errors.append(f"{where}: blank line")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(f"{where}: not JSON ({error})")
            continue
        problems: list[str] = []
        if set(record) != {"id", "task", "inputs", "reply"}:
            problems.append(f"keys {sorted(record)} (want id, task, inputs, reply)")
            errors.append(f"{where}: " + "; ".join(problems))
            continue
        task = record["task"]
        if task != task_from_name or task not in TASKS:
            problems.append(f"task {task!r} in {path.name}")
        if not ID_PATTERN.match(record["id"]):
            problems.append(f"id {record['id']!r} is not <prefix>-NNNN")
        if record["id"] in seen_ids:
            problems.append(f"duplicate id {record['id']}")
        seen_ids.add(record["id"])
        reply = record["reply"]
        if not isinstance(reply, str) or not reply.strip():
            problems.append("empty reply")
        inputs = record["inputs"]
        language = inputs.get("language", "tg")
        if language not in LANGUAGES:
            problems.append(f"language {language!r}")
        builder: Callable[..., prompts.Prompt] | None = getattr(prompts, task, None)
        if builder is None:
            errors.append(f"{where}: " + "; ".join(problems))
            continue
        unknown = set(inputs) - set(inspect.signature(builder).parameters)
        if unknown:
            problems.append(f"unknown inputs {sorted(unknown)}")
        try:
            prompt = builder(**builder_arguments(task, inputs))
            conversation = prompt.conversation(reply)
        except Exception as error:  # report every broken line, not only the first
            problems.append(f"the builder failed: {error!r}")
            errors.append(f"{where}: " + "; ".join(problems))
            continue
        _check_line(task, record, problems)

        words = len(reply.split())
        limit = MAX_WORDS_LONG if inputs.get("kind") in LONG_KINDS else MAX_WORDS
        if task in ("write_questions", "grade_answer"):
            limit = MAX_WORDS_LONG
        if task == "tutor_reply" and inputs.get("level", 1) >= 3:  # the step-by-step explanation
            limit = MAX_WORDS_LONG
        if words > limit:
            problems.append(f"reply has {words} words (> {limit})")
        passages = inputs.get("passages", [])
        markers = {int(m) for m in MARKER.findall(reply)}
        s = stats.setdefault(task, TaskStats())
        s.examples += 1
        s.words.append(words)
        detected, confidence = detect_language(reply)
        s.tajik += detected == "tg"
        if detected != language:
            s.other_language.append(f"{record['id']}={detected}({confidence:.2f})")
        if language == "tg":
            s.tajik_asked += 1
            s.tajik_of_asked += detected == "tg"
        if passages:
            s.grounded += 1
            valid = all(1 <= m <= len(passages) for m in markers)
            s.citations_ok += valid
            if not valid:
                problems.append(f"citation {sorted(markers)} with {len(passages)} passages")
        elif markers:
            problems.append(f"citation {sorted(markers)} without passages")
        prompt_texts = [m["content"] for m in conversation[:-1]]
        if echoes(reply, prompt_texts):
            s.echo += 1
            problems.append(f"repeats {ECHO_WORDS}+ consecutive words of its prompt")
        if problems:
            errors.append(f"{where} ({record['id']}): " + "; ".join(problems))
    return errors


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def table(stats: dict[str, TaskStats]) -> str:
    header = (
        "task", "examples", "words min/med/max", "tg (all)", "tg (lang=tg)",
        "grounded", "[n] valid", "echo>=8",
    )  # fmt: skip
    rows = [header]
    total = TaskStats()
    for task in TASKS:
        s = stats.get(task)
        if s is None:
            continue
        rows.append(
            (
                task,
                str(s.examples),
                f"{min(s.words)}/{statistics.median(s.words):g}/{max(s.words)}",
                _share(s.tajik, s.examples),
                _share(s.tajik_of_asked, s.tajik_asked),
                str(s.grounded),
                _share(s.citations_ok, s.grounded),
                str(s.echo),
            )
        )
        total.examples += s.examples
        total.words += s.words
        total.tajik += s.tajik
        total.tajik_asked += s.tajik_asked
        total.tajik_of_asked += s.tajik_of_asked
        total.grounded += s.grounded
        total.citations_ok += s.citations_ok
        total.echo += s.echo
    if total.examples:
        rows.append(
            (
                "all",
                str(total.examples),
                f"{min(total.words)}/{statistics.median(total.words):g}/{max(total.words)}",
                _share(total.tajik, total.examples),
                _share(total.tajik_of_asked, total.tajik_asked),
                str(total.grounded),
                _share(total.citations_ok, total.grounded),
                str(total.echo),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    details = "--details" in argv
    argv = [a for a in argv if a != "--details"]
    paths = [Path(a) for a in argv] or [HERE / f"{task}.jsonl" for task in TASKS]
    paths = [p for p in paths if p.exists()]
    if not paths:
        print("no data files found", file=sys.stderr)
        return 1
    stats: dict[str, TaskStats] = {}
    seen_ids: set[str] = set()
    errors: list[str] = []
    for path in paths:
        errors += check_file(path, stats, seen_ids)
    print(table(stats))
    if details:
        for task, s in stats.items():
            if s.other_language:
                print(f"{task}: detected language differs: {', '.join(s.other_language)}")
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for error in errors:
            print(f"- {error}", file=sys.stderr)
        return 1
    print("\nall lines build with their prompt builder; no problems found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
