"""Instruction-tuning data written as *inputs of the platform's prompt builders*.

Soro's teacher-style examples (``modelops/data/sft/<task>.jsonl``) are not conversations:
each line names a builder of :mod:`modelops.prompts` (``task``), its keyword arguments
(``inputs``) and the reply a good Tajik teacher would write (``reply``)::

    {"id": "ls-0001", "task": "lesson_section",
     "inputs": {"kind": "objectives", "section_title": "Мақсадҳои дарс", "topic": "…",
                "subject": "…", "grade": 7, "passages": ["…"]},
     "reply": "- Хонанда … [1]"}

Rendering calls the builder and :meth:`modelops.prompts.Prompt.conversation`, so a training
conversation is exactly what the platform sends when it asks for that reply. A ministry team
can bring its own data either way: as such records (then a change of a builder re-renders
all of it) or as plain ``messages`` conversations.

Django-free.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops import prompts
from modelops.llm.types import ChatMessage

#: The builders that training examples may name.
TASKS: tuple[str, ...] = (
    "lesson_section",
    "explain_concept",
    "write_questions",
    "tutor_reply",
    "grade_answer",
    "teacher_chat",
)
#: Where Soro's own examples live.
DEMO_DIR = Path(__file__).resolve().parent / "data" / "sft"


class InstructionDataError(ValueError):
    """A file with problems; each names the file and line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        super().__init__("; ".join(shown) + (f"; and {more} more" if more > 0 else ""))


@dataclass(frozen=True)
class Example:
    """One teacher-style example: a builder, its inputs, and the reply."""

    id: str
    task: str
    inputs: dict[str, Any]
    reply: str
    source: str = ""  # "file:line", for messages

    @property
    def language(self) -> str:
        return str(self.inputs.get("language", "tg"))


def builder_arguments(task: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The builder's keyword arguments from JSON ``inputs`` (lists to tuples, nested
    objects to the builder's dataclasses)."""
    del task  # every builder takes the same JSON shapes
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


def build_prompt(example: Example) -> prompts.Prompt:
    """The platform's prompt for this example, from the one builder the feature uses."""
    builder = getattr(prompts, example.task)
    prompt: prompts.Prompt = builder(**builder_arguments(example.task, example.inputs))
    return prompt


def load_examples(paths: Iterable[Path], *, require_reply: bool = True) -> list[Example]:
    """Read example files (or every ``*.jsonl`` of a directory). Raises
    :class:`InstructionDataError` naming each bad line: not JSON, a missing field, an
    unknown task, a duplicate id, inputs the builder refuses. ``require_reply=False`` reads
    prompts without a reference reply (the generation suite's fixed platform prompts)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
    examples: list[Example] = []
    problems: list[str] = []
    seen: set[str] = set()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: not JSON ({error.msg})")
                continue
            needed = (
                ("id", "task", "inputs", "reply") if require_reply else ("id", "task", "inputs")
            )
            missing = [key for key in needed if key not in record]
            if missing:
                problems.append(f"{where}: missing {', '.join(missing)}")
                continue
            if record["task"] not in TASKS:
                problems.append(f"{where}: unknown task {record['task']!r}")
                continue
            if record["id"] in seen:
                problems.append(f"{where}: the id {record['id']!r} is used twice")
                continue
            if require_reply and not str(record["reply"]).strip():
                problems.append(f"{where}: the reply is empty")
                continue
            seen.add(record["id"])
            example = Example(
                id=str(record["id"]),
                task=str(record["task"]),
                inputs=dict(record["inputs"]),
                reply=str(record.get("reply", "")),
                source=where,
            )
            try:
                build_prompt(example)
            except (TypeError, ValueError, KeyError) as error:
                problems.append(f"{where}: the {example.task} builder refuses it ({error})")
                continue
            examples.append(example)
    if problems:
        raise InstructionDataError(problems)
    return examples


def is_held_out(example_id: str, *, share: float = 0.1) -> bool:
    """A stable choice of about ``share`` of the examples, by a hash of the id: the same
    examples stay held out when files grow or are reordered."""
    digest = hashlib.sha256(f"soro-held-out:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def split_examples(
    examples: Sequence[Example], *, share: float = 0.1
) -> tuple[list[Example], list[Example]]:
    """(training, held out)."""
    train = [e for e in examples if not is_held_out(e.id, share=share)]
    held_out = [e for e in examples if is_held_out(e.id, share=share)]
    return train, held_out


def conversation(example: Example) -> list[dict[str, str]]:
    """The training conversation: the prompt exactly as served, then the reply."""
    return build_prompt(example).conversation(example.reply)


def write_conversations(path: Path, examples: Iterable[Example]) -> int:
    """Write ``{"id", "task", "messages"}`` lines (the OpenAI/TRL shape ``sft`` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for example in examples:
            line = {"id": example.id, "task": example.task, "messages": conversation(example)}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
    return count


#: The generation suite's fixed platform prompts (the builder's prompts for demo topics, with
#: passages from the demo textbooks) and the suite file rendered from them and the held-out
#: examples; ``python -m modelops.instruction_data suite`` writes it.
PLATFORM_PROMPTS = (
    Path(__file__).resolve().parent / "data" / "benchmarks" / "platform_prompts.jsonl"
)
GENERATION_SUITE = (
    Path(__file__).resolve().parent / "data" / "benchmarks" / "generation_suite.jsonl"
)


def suite_record(example: Example) -> dict[str, Any]:
    """A generation-suite item: the builder's chat and passages, and the reference reply."""
    prompt = build_prompt(example)
    return {
        "id": example.id,
        "task": example.task,
        "language": example.language,
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        "context": list(prompt.context),
        "reference": example.reply,
    }


def write_suite(path: Path, held_out: Sequence[Example], platform: Sequence[Example]) -> int:
    """Held-out lesson sections first (the figures the gate reads), then the other held-out
    tasks, then the fixed platform prompts."""
    ordered = sorted(held_out, key=lambda e: (e.task != "lesson_section", e.task, e.id))
    lines = [json.dumps(suite_record(e), ensure_ascii=False) for e in [*ordered, *platform]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``render OUT_DIR`` writes train.jsonl and held_out.jsonl conversations from the demo
    examples (or ``--data DIR``); ``suite`` rewrites the generation suite."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m modelops.instruction_data")
    parser.add_argument("command", choices=("render", "suite"))
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--data", type=Path, action="append")
    args = parser.parse_args(argv)
    examples = load_examples(args.data or [DEMO_DIR])
    train, held_out = split_examples(examples)
    if args.command == "render":
        out = args.out or Path("var/sft/demo")
        write_conversations(out / "train.jsonl", train)
        write_conversations(out / "held_out.jsonl", held_out)
        print(f"{len(train)} training and {len(held_out)} held-out conversations in {out}")
    else:
        platform = load_examples([PLATFORM_PROMPTS], require_reply=False)
        count = write_suite(args.out or GENERATION_SUITE, held_out, platform)
        print(f"{count} items in {args.out or GENERATION_SUITE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
