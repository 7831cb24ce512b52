"""Short-answer items: greedy generation after the same cloze prompt, scored by normalised
exact match against the accepted answers (lm-eval's ``exact_match`` with
``ignore_case``, ``ignore_punctuation`` and whitespace collapsed, plus Unicode NFC so that a
Tajik letter typed as a base letter and a combining mark matches the composed one)."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from modelops.evaluation.benchmarks import BenchmarkItem
from modelops.evaluation.scoring import build_prompt

_PUNCTUATION = set(string.punctuation) | set("«»“”„–—…")


def normalize_answer(text: str) -> str:
    """NFC, lower case, punctuation removed, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = "".join(
        " " if char in _PUNCTUATION or unicodedata.category(char).startswith("P") else char
        for char in text
    )
    return " ".join(text.split())


def first_answer_line(generated: str) -> str:
    """The answer is what the model writes before the first line break."""
    return generated.strip().split("\n", 1)[0].strip()


@dataclass(frozen=True)
class ShortAnswerScore:
    item_id: str
    generated: str
    is_correct: bool


def exact_match(generated: str, accepted: Sequence[str]) -> bool:
    answer = normalize_answer(first_answer_line(generated))
    return any(answer == normalize_answer(option) for option in accepted)


@torch.inference_mode()
def generate_answers(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 24,
    batch_size: int = 8,
) -> list[str]:
    """Greedy continuations of ``prompts`` (with BOS, left-padded batches), cut at the first
    line break."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = model.device
    outputs: list[str] = []
    for start in range(0, len(prompts), batch_size):
        encoded = [
            bos + list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
            for prompt in prompts[start : start + batch_size]
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
        )
        for row in range(len(encoded)):
            text = tokenizer.decode(generated[row, width:], skip_special_tokens=True)
            outputs.append(first_answer_line(text))
    return outputs


def score_short_answers(
    model: Any,
    tokenizer: Any,
    items: Sequence[BenchmarkItem],
    *,
    examples: Sequence[BenchmarkItem] = (),
    max_new_tokens: int = 24,
    batch_size: int = 8,
) -> list[ShortAnswerScore]:
    """Generate an answer for each short-answer item and compare it with the accepted ones.

    Examples (K-shot) may be multiple-choice items (their correct choice is shown) or
    short-answer items (their first accepted answer is shown)."""
    shots = [_as_solved(example) for example in examples]
    prompts = [build_prompt(item, shots) for item in items]
    generated = generate_answers(
        model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    return [
        ShortAnswerScore(item.id, text, exact_match(text, item.answers))
        for item, text in zip(items, generated, strict=True)
    ]


def _as_solved(item: BenchmarkItem) -> BenchmarkItem:
    """A short-answer example shown like a multiple-choice one with its answer."""
    if item.is_multiple_choice:
        return item
    return BenchmarkItem(
        id=item.id,
        question=item.question,
        choices=(item.answers[0],),
        answer=0,
        subject=item.subject,
        domain=item.domain,
    )
