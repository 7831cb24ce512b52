"""Training data: a corpus's documents packed into fixed-length sequences (with optional
English replay), and instruction conversations with their assistant-only labels.

Every stream here is deterministic and has a small JSON *state* after each sequence, so a
resumed run continues with exactly the sequences an uninterrupted run would have seen.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.training.types import SftDataError, TrainingError

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant")


# --- corpus documents ------------------------------------------------------------------------


def corpus_files(corpus_dir: Path, split: str = "train") -> list[Path]:
    """The parquet shards of one split of a corpus folder (``data/<split>-*.parquet``)."""
    files = sorted((Path(corpus_dir) / "data").glob(f"{split}-*.parquet"))
    if split == "train" and not files:
        raise TrainingError(
            f"{corpus_dir} has no training shards (data/train-*.parquet); is it a corpus "
            "folder written by build_corpus?"
        )
    return files


def _shard_texts(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [str(text) for text in pq.read_table(path, columns=["text"]).column(0).to_pylist()]


def corpus_texts(corpus_dir: Path, split: str = "validation") -> Iterator[str]:
    """The texts of one split, in stored order (the held-out split for perplexity)."""
    for path in corpus_files(corpus_dir, split):
        yield from _shard_texts(path)


def read_replay(path: Path) -> list[str]:
    """Replay documents: paragraphs of a text file, separated by blank lines."""
    text = Path(path).read_text(encoding="utf-8")
    documents = [part.strip() for part in text.split("\n\n") if part.strip()]
    if not documents:
        raise TrainingError(f"The replay file {path} has no text.")
    return documents


@dataclass
class PackState:
    """Where a packed stream is: the next document (epoch, shard, index in the shard's
    seeded order), the tokens left over from the last one, and the replay accounts."""

    epoch: int = 0
    shard: int = 0
    index: int = 0
    carry: list[int] | None = None
    tajik_tokens: int = 0
    replay_tokens: int = 0
    replay_index: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "carry": list(self.carry or [])}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PackState:
        return cls(**{**data, "carry": list(data.get("carry") or [])})


def packed_sequences(
    *,
    shards: Sequence[Path],
    encode: Callable[[str], list[int]],
    seq_len: int,
    bos_id: int,
    eos_id: int,
    seed: int,
    state: PackState | None = None,
    replay: Sequence[str] = (),
    replay_share: float = 0.0,
) -> Iterator[tuple[list[int], PackState]]:
    """Endless ``(sequence, state after it)``: each document is ``<bos> text <eos>``, the
    documents of a shard in an order seeded by (seed, epoch, shard), concatenated and cut
    into ``seq_len`` tokens (a document may continue into the next sequence). Before each
    Tajik document, replay documents are added while they are under ``replay_share`` of
    the tokens so far. After the last shard the next epoch starts in a new order."""
    if not shards:
        raise TrainingError("The corpus has no training shards.")
    state = PackState.from_json(state.to_json()) if state else PackState()
    buffer: list[int] = list(state.carry or [])
    replay_cache: dict[int, list[int]] = {}
    empty_epochs = 0
    while True:
        texts = _shard_texts(shards[state.shard])
        order = list(range(len(texts)))
        random.Random(f"{seed}-{state.epoch}-{state.shard}").shuffle(order)
        progressed = False
        while state.index < len(order):
            text = texts[order[state.index]]
            state.index += 1
            tokens = [bos_id, *encode(text), eos_id] if text.strip() else []
            if not tokens:
                continue
            progressed = True
            if replay and replay_share > 0:
                while state.replay_tokens < replay_share * (
                    state.replay_tokens + state.tajik_tokens + len(tokens)
                ):
                    position = state.replay_index % len(replay)
                    if position not in replay_cache:
                        replay_cache[position] = [bos_id, *encode(replay[position]), eos_id]
                    buffer += replay_cache[position]
                    state.replay_tokens += len(replay_cache[position])
                    state.replay_index += 1
            state.tajik_tokens += len(tokens)
            buffer += tokens
            while len(buffer) >= seq_len:
                sequence, buffer = buffer[:seq_len], buffer[seq_len:]
                state.carry = buffer
                yield sequence, PackState.from_json(state.to_json())
        empty_epochs = 0 if progressed else empty_epochs + 1
        if empty_epochs > len(shards):
            raise TrainingError("The corpus's training shards hold no text.")
        state.index = 0
        state.shard += 1
        if state.shard >= len(shards):
            state.shard, state.epoch = 0, state.epoch + 1


# --- instruction conversations -----------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """One training conversation (the OpenAI/TRL ``messages`` shape) and where it came from."""

    id: str
    source: str  # "file:line" or "folder[split]:row"
    messages: tuple[dict[str, str], ...]


def _check_messages(messages: Any) -> str | None:
    """Why a ``messages`` value cannot be trained on, or None."""
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for number, message in enumerate(messages, 1):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            return f"turn {number} needs a role and a content"
        if message["role"] not in ROLES:
            allowed = ", ".join(ROLES)
            return f"turn {number} has the unknown role {message['role']!r} (use {allowed})"
        if not isinstance(message["content"], str) or not message["content"].strip():
            return f"turn {number} ({message['role']}) is empty"
    roles = [message["role"] for message in messages]
    turns = roles[1:] if roles[0] == "system" else roles
    if "system" in turns:
        return "a system turn may only come first"
    for number, role in enumerate(turns):
        expected = "user" if number % 2 == 0 else "assistant"
        if role != expected:
            return (
                "turns must alternate user/assistant starting with user "
                f"(found {role} where {expected} belongs)"
            )
    if roles[-1] != "assistant":
        return "the conversation does not end with the assistant"
    return None


def _record_conversation(record: Any, where: str) -> tuple[Conversation | None, str | None]:
    if not isinstance(record, dict):
        return None, "not a JSON object"
    if "messages" in record:
        problem = _check_messages(record["messages"])
        if problem:
            return None, problem
        messages = tuple(
            {"role": str(m["role"]), "content": str(m["content"])} for m in record["messages"]
        )
    elif "task" in record:
        # Soro's own records: a prompt builder's inputs and the reply (modelops.instruction_data).
        from modelops import instruction_data

        missing = [key for key in ("id", "task", "inputs", "reply") if key not in record]
        if missing:
            return None, f"missing {', '.join(missing)}"
        if record["task"] not in instruction_data.TASKS:
            return None, f"unknown task {record['task']!r}"
        if not str(record["reply"]).strip():
            return None, "the reply is empty"
        try:
            example = instruction_data.Example(
                id=str(record["id"]),
                task=str(record["task"]),
                inputs=dict(record["inputs"]),
                reply=str(record["reply"]),
            )
            messages = tuple(instruction_data.conversation(example))
        except (TypeError, ValueError, KeyError) as error:
            return None, f"the {record['task']} builder refuses it ({error})"
    else:
        return None, "no messages (or task) field"
    identifier = record.get("id")
    if identifier is None:
        identifier = hashlib.sha256(
            json.dumps(messages, ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest()[:16]
    return Conversation(id=str(identifier), source=where, messages=messages), None


def _is_dataset_directory(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def load_conversations(paths: Sequence[Path]) -> list[Conversation]:
    """Read JSONL files (or every ``*.jsonl`` of a folder, or a ``datasets`` folder written
    by ``save_to_disk``). Raises :class:`SftDataError` naming each bad line."""
    conversations: list[Conversation] = []
    problems: list[str] = []
    seen: dict[str, str] = {}

    def add(record: Any, where: str) -> None:
        conversation, problem = _record_conversation(record, where)
        if problem:
            problems.append(f"{where}: {problem}")
        elif conversation is not None:
            if conversation.id in seen:
                problems.append(
                    f"{where}: the id {conversation.id!r} is used twice (first at "
                    f"{seen[conversation.id]})"
                )
                return
            seen[conversation.id] = where
            conversations.append(conversation)

    for path in (Path(p) for p in paths):
        if not path.exists():
            problems.append(f"{path}: no such file or folder")
        elif path.is_dir() and _is_dataset_directory(path):
            import datasets

            loaded = datasets.load_from_disk(str(path))
            splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
            for split, dataset in splits:
                for number, row in enumerate(dataset, 1):
                    where = f"{path.name}[{split}]" if split else path.name
                    add(dict(row), f"{where}:{number}")
        else:
            files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
            if not files:
                problems.append(f"{path}: no *.jsonl files")
            for file in files:
                try:
                    lines = file.read_text(encoding="utf-8").splitlines()
                except (OSError, UnicodeDecodeError) as error:
                    problems.append(f"{file.name}: unreadable ({error})")
                    continue
                for number, line in enumerate(lines, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as error:
                        problems.append(f"{file.name}:{number}: not JSON ({error.msg})")
                        continue
                    add(record, f"{file.name}:{number}")
    if problems:
        raise SftDataError(problems)
    if not conversations:
        raise SftDataError([f"{', '.join(str(p) for p in paths)}: no conversations"])
    return conversations


def is_held_out(conversation_id: str, share: float) -> bool:
    """The same stable choice as :func:`modelops.instruction_data.is_held_out`, so Soro's
    held-out examples (the generation suite's) are never trained on."""
    from modelops.instruction_data import is_held_out as held_out

    return held_out(conversation_id, share=share)


def tokenize_conversation(
    tokenizer: Any, messages: Sequence[dict[str, str]]
) -> tuple[list[int], list[int]]:
    """Token ids of the conversation in the tokenizer's chat template, and labels that are
    ``-100`` everywhere except each assistant reply and the ``<end_of_turn>`` closing it.

    The template is rendered for each prefix ending in an assistant turn; the tokens it adds
    over the prefix with the generation prompt are the reply's. A template that does not
    extend its prefixes that way is refused (the mask would be wrong)."""

    def ids(turns: Sequence[dict[str, str]], generation_prompt: bool) -> list[int]:
        text = tokenizer.apply_chat_template(
            list(turns), tokenize=False, add_generation_prompt=generation_prompt
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    full = ids(messages, False)
    labels = [IGNORE_INDEX] * len(full)
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    for position, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = ids(messages[:position], True)
        through = ids(messages[: position + 1], False)
        if full[: len(through)] != through or through[: len(before)] != before:
            raise TrainingError(
                "The chat template does not render a conversation as its prefixes; the "
                "assistant-only loss mask cannot be computed."
            )
        reply = through[len(before) :]
        # Loss on the reply up to and including <end_of_turn>, not on what follows it.
        if end_of_turn in reply:
            reply = reply[: reply.index(end_of_turn) + 1]
        labels[len(before) : len(before) + len(reply)] = reply
    return full, labels


@dataclass(frozen=True)
class TokenizedExample:
    id: str
    source: str
    input_ids: list[int]
    labels: list[int]


def tokenize_conversations(
    tokenizer: Any, conversations: Sequence[Conversation], *, max_length: int
) -> list[TokenizedExample]:
    """Tokenize every conversation; raises :class:`SftDataError` naming each that is over
    ``max_length`` tokens after templating."""
    examples: list[TokenizedExample] = []
    problems: list[str] = []
    for conversation in conversations:
        input_ids, labels = tokenize_conversation(tokenizer, conversation.messages)
        if len(input_ids) > max_length:
            problems.append(
                f"{conversation.source}: {len(input_ids)} tokens after the chat template, "
                f"over the context length of {max_length} (--seq-len)"
            )
            continue
        examples.append(TokenizedExample(conversation.id, conversation.source, input_ids, labels))
    if problems:
        raise SftDataError(problems)
    return examples


def pack_examples(
    examples: Sequence[TokenizedExample], *, seq_len: int, pad_id: int
) -> list[tuple[list[int], list[int]]]:
    """Whole examples packed first-fit into sequences of ``seq_len`` (never split), padded
    at the end with ``pad_id`` and label ``-100``."""
    bins: list[tuple[list[int], list[int]]] = []
    for example in sorted(examples, key=lambda e: (-len(e.input_ids), e.id)):
        for input_ids, labels in bins:
            if len(input_ids) + len(example.input_ids) <= seq_len:
                input_ids += example.input_ids
                labels += example.labels
                break
        else:
            bins.append((list(example.input_ids), list(example.labels)))
    for input_ids, labels in bins:
        padding = seq_len - len(input_ids)
        input_ids += [pad_id] * padding
        labels += [IGNORE_INDEX] * padding
    return bins
