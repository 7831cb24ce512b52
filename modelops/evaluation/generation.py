"""The generation suite: held-out instructions that the model must *answer*, scored
automatically.

A multiple-choice benchmark cannot see that a model answers "write the lesson objectives" by
repeating its own prompt; this suite can. Each item is a chat exactly as a platform feature
sends it (rendered from :mod:`modelops.prompts`), with the reference reply when one exists.
The model generates greedily up to a bounded length; each reply is scored on:

- ``tajik_share``: the reply is in the item's language (the platform's language check);
- ``echo_share``: the reply repeats the system prompt or a passage verbatim — the longest
  common substring is at least :data:`ECHO_CHARACTERS` characters (or most of a short system
  prompt);
- ``citation_share``: of the replies to grounded items, those that cite with [n] and whose
  every [n] points at a passage that exists;
- ``chrf``: chrF (character 6-grams, β = 2, as sacrebleu computes it by default) against the
  reference, where there is one;
- ``mean_words``: the replies' mean length in words.

Django-free.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from modelops.evaluation.benchmarks import BenchmarkError
from modelops.llm.budget import with_context
from modelops.llm.types import ChatMessage

#: A verbatim run this long (about seven Tajik words) counts as copying.
ECHO_CHARACTERS = 50
#: ... or this share of a system prompt shorter than that.
ECHO_SHARE_OF_SHORT_PROMPT = 0.8
MARKER = re.compile(r"\[(\d{1,2})\]")
CHRF_ORDER = 6
CHRF_BETA = 2.0

DetectLanguage = Callable[[str], tuple[str, float]]


class GenerationSuiteError(BenchmarkError):
    """A suite file with problems, each named by line."""


@dataclass(frozen=True)
class GenerationItem:
    id: str
    task: str
    messages: tuple[ChatMessage, ...]
    context: tuple[str, ...] = ()
    reference: str = ""
    language: str = "tg"

    def planned_messages(self) -> list[ChatMessage]:
        """The chat as the engine sends it: passages before the last user message."""
        *earlier, last = self.messages
        return [*earlier, with_context(last, list(self.context))]

    @property
    def system(self) -> str:
        return self.messages[0].content if self.messages[0].role == "system" else ""


@dataclass(frozen=True)
class GenerationBenchmark:
    """A generation suite as loaded: its name (the file's stem), path and items."""

    name: str
    source: str
    items: tuple[GenerationItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    def limited(self, count: int | None) -> GenerationBenchmark:
        """The first ``count`` items (the suite puts the held-out lesson sections first)."""
        if count is None or count >= len(self.items):
            return self
        return GenerationBenchmark(self.name, self.source, self.items[:count])


def is_generation_suite(path: Path) -> bool:
    """Whether a JSONL file holds generation items (a ``messages`` field) rather than
    multiple-choice or short-answer items."""
    if not path.is_file() or path.suffix != ".jsonl":
        return False
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    return "messages" in json.loads(line)
                except json.JSONDecodeError:
                    return False
    return False


def load_generation_suite(path: Path) -> list[GenerationItem]:
    """Read ``{"id", "task", "messages", "context", "reference", "language"}`` lines."""
    items: list[GenerationItem] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
            messages = tuple(ChatMessage(m["role"], m["content"]) for m in row["messages"])
            item = GenerationItem(
                id=str(row["id"]),
                task=str(row.get("task", "")),
                messages=messages,
                context=tuple(str(p) for p in row.get("context", ())),
                reference=str(row.get("reference", "")),
                language=str(row.get("language", "tg")),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            problems.append(f"{where}: {type(error).__name__}: {error}")
            continue
        if not messages or messages[-1].role != "user":
            problems.append(f"{where}: the chat must end with the user's message")
            continue
        if item.id in seen:
            problems.append(f"{where}: the id {item.id!r} is used twice")
            continue
        seen.add(item.id)
        items.append(item)
    if problems:
        raise GenerationSuiteError("; ".join(problems))
    if not items:
        raise GenerationSuiteError(f"{path.name} has no items")
    return items


# --- metrics --------------------------------------------------------------------------------


def longest_common_run(first: str, second: str) -> int:
    """Characters of the longest substring the two texts share (case and spacing kept)."""
    if not first or not second:
        return 0
    match = SequenceMatcher(None, first, second, autojunk=False).find_longest_match(
        0, len(first), 0, len(second)
    )
    return match.size


def echoes(reply: str, item: GenerationItem) -> bool:
    """Whether the reply copies the system prompt or one of the passages verbatim."""
    system = item.system.strip()
    if system:
        need = min(ECHO_CHARACTERS, max(10, int(len(system) * ECHO_SHARE_OF_SHORT_PROMPT)))
        if longest_common_run(reply, system) >= need:
            return True
    return any(longest_common_run(reply, passage) >= ECHO_CHARACTERS for passage in item.context)


def citations_valid(reply: str, passages: int) -> bool:
    """At least one [n], and every [n] points at one of the ``passages``."""
    numbers = [int(n) for n in MARKER.findall(reply)]
    return bool(numbers) and all(1 <= n <= passages for n in numbers)


def _char_ngrams(text: str, order: int) -> Counter[str]:
    text = "".join(text.split())  # sacrebleu's chrF ignores whitespace by default
    return Counter(text[i : i + order] for i in range(len(text) - order + 1))


def chrf(hypothesis: str, reference: str, *, order: int = CHRF_ORDER) -> float:
    """chrF (0–100): the F-β score of character n-grams, averaged over n = 1..order."""
    precisions: list[float] = []
    recalls: list[float] = []
    for n in range(1, order + 1):
        hyp, ref = _char_ngrams(hypothesis, n), _char_ngrams(reference, n)
        if not hyp or not ref:
            continue
        matches = sum((hyp & ref).values())
        precisions.append(matches / sum(hyp.values()))
        recalls.append(matches / sum(ref.values()))
    if not precisions:
        return 0.0
    # Averaged over the orders both texts have (sacrebleu's "effective order").
    precision, recall = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if precision + recall == 0:
        return 0.0
    beta2 = CHRF_BETA**2
    return 100 * (1 + beta2) * precision * recall / (beta2 * precision + recall)


@dataclass(frozen=True)
class ReplyScore:
    item_id: str
    task: str
    reply: str
    language: str
    is_expected_language: bool
    is_echo: bool
    cites_correctly: bool | None  # None: the item has no passages
    chrf: float | None  # None: the item has no reference
    words: int


def score_reply(item: GenerationItem, reply: str, detect: DetectLanguage) -> ReplyScore:
    language = detect(reply)[0] if reply.strip() else ""
    return ReplyScore(
        item_id=item.id,
        task=item.task,
        reply=reply,
        language=language,
        is_expected_language=language == item.language,
        is_echo=echoes(reply, item),
        cites_correctly=citations_valid(reply, len(item.context)) if item.context else None,
        chrf=chrf(reply, item.reference) if item.reference.strip() else None,
        words=len(reply.split()),
    )


@dataclass(frozen=True)
class GenerationSummary:
    """The suite's figures for one group of items (all, or one task)."""

    group: str
    count: int
    tajik_share: float
    echo_share: float
    citation_share: float | None
    chrf: float | None
    mean_words: float

    def metrics(self) -> dict[str, float]:
        values = {
            "tajik_share": self.tajik_share,
            "echo_share": self.echo_share,
            "mean_words": self.mean_words,
        }
        if self.citation_share is not None:
            values["citation_share"] = self.citation_share
        if self.chrf is not None:
            values["chrf"] = self.chrf
        return values


def summarize(group: str, scores: Sequence[ReplyScore]) -> GenerationSummary:
    count = len(scores)
    cited = [s.cites_correctly for s in scores if s.cites_correctly is not None]
    chrfs = [s.chrf for s in scores if s.chrf is not None]
    return GenerationSummary(
        group=group,
        count=count,
        tajik_share=sum(s.is_expected_language for s in scores) / max(count, 1),
        echo_share=sum(s.is_echo for s in scores) / max(count, 1),
        citation_share=sum(cited) / len(cited) if cited else None,
        chrf=sum(chrfs) / len(chrfs) if chrfs else None,
        mean_words=sum(s.words for s in scores) / max(count, 1),
    )


def summaries(scores: Sequence[ReplyScore]) -> list[GenerationSummary]:
    """All items, then each task."""
    tasks = sorted({s.task for s in scores})
    return [
        summarize("all", scores),
        *(summarize(f"task:{task}", [s for s in scores if s.task == task]) for task in tasks),
    ]


# --- generating -----------------------------------------------------------------------------


def generate_replies(
    model: Any,
    tokenizer: Any,
    items: Sequence[GenerationItem],
    *,
    max_new_tokens: int = 96,
    batch_size: int = 8,
    stop_token_ids: Sequence[int] = (),
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """Greedy replies, batched with left padding, each prompt templated with the
    tokenizer's chat template exactly as the engine does; generation stops at any of
    ``stop_token_ids`` (Gemma's ``<end_of_turn>``)."""
    import torch

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = model.device
    replies: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            encoded = [
                list(
                    tokenizer.apply_chat_template(
                        [{"role": m.role, "content": m.content} for m in item.planned_messages()],
                        tokenize=True,
                        add_generation_prompt=True,
                        return_dict=False,
                    )
                )
                for item in batch
            ]
            width = max(len(ids) for ids in encoded)
            input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
            for row, ids in enumerate(encoded):
                input_ids[row, width - len(ids) :] = torch.tensor(ids)
                attention_mask[row, width - len(ids) :] = 1
            generated = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad_id,
                eos_token_id=list(stop_token_ids) or None,
            )
            for row in range(len(encoded)):
                text = tokenizer.decode(generated[row, width:], skip_special_tokens=True)
                replies.append(text.strip())
            if on_batch is not None:
                on_batch(len(replies))
    return replies
