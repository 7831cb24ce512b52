"""Continual pretraining: every weight trained on a corpus's packed ``train`` documents,
with an optional share of English replay; and the held-out perplexity that judges it."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.checkpoints import file_sha256
from modelops.training.data import (
    IGNORE_INDEX,
    PackState,
    corpus_files,
    packed_sequences,
    read_replay,
)
from modelops.training.loop import (
    LoopSpec,
    MicroBatch,
    save_full_model,
    steps_for,
    train,
    world_size,
)
from modelops.training.types import (
    PretrainConfig,
    ProgressCallback,
    StopCheck,
    TrainingError,
    TrainingResult,
    identity,
)


def load_causal_lm(model_dir: Path) -> Any:
    """A Gemma 3 checkpoint in float32 (training keeps float32 master weights; bf16 is
    autocast by accelerate where the hardware has it)."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except (OSError, ValueError) as error:
        raise TrainingError(f"The model in {model_dir} does not load: {error}") from error


def load_tokenizer(model_dir: Path) -> Any:
    """The checkpoint's tokenizer. Loading Gemma's (262k pieces) takes seconds, and a
    child checkpoint carries its parent's files unchanged, so one process keeps one copy
    per distinct set of tokenizer files (treat it as read-only)."""
    digest = hashlib.sha256()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        path = Path(model_dir) / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(file_sha256(path).encode())
    key = digest.hexdigest()
    if key not in _TOKENIZERS:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
        except (OSError, ValueError) as error:
            raise TrainingError(f"The tokenizer in {model_dir} does not load: {error}") from error
        if len(_TOKENIZERS) >= 4:
            _TOKENIZERS.pop(next(iter(_TOKENIZERS)))
        _TOKENIZERS[key] = tokenizer
    return _TOKENIZERS[key]


_TOKENIZERS: dict[str, Any] = {}


def tokens_per_step(config: PretrainConfig, processes: int = 1) -> int:
    schedule = config.schedule
    return schedule.seq_len * schedule.micro_batch_size * schedule.gradient_accumulation * processes


def pretrain(
    config: PretrainConfig,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainingResult:
    """Train every weight of ``config.model_dir`` on the corpus's ``train`` split and save
    the result into ``config.output_dir``. Resumes from the newest checkpoint in
    ``config.run_dir`` when it holds a run with the same arguments (refused with
    :class:`~modelops.training.types.ResumeMismatch` otherwise). ``should_stop()`` returning
    True writes a checkpoint and raises :class:`~modelops.training.types.TrainingStopped`."""
    if not 0.0 <= config.replay_share < 1.0:
        raise TrainingError("The replay share must be at least 0 and below 1.")
    schedule = config.schedule
    shards = corpus_files(config.corpus_dir, "train")
    tokenizer = load_tokenizer(config.model_dir)
    replay = read_replay(config.replay_file) if config.replay_share > 0 else []
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id

    def encode(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def batches(position: Any, processes: int, rank: int) -> Iterator[MicroBatch]:
        stream = packed_sequences(
            shards=shards,
            encode=encode,
            seq_len=schedule.seq_len,
            bos_id=bos,
            eos_id=eos,
            seed=schedule.seed,
            state=PackState.from_json(position) if position else None,
            replay=replay,
            replay_share=config.replay_share,
        )
        per_step = schedule.micro_batch_size * processes
        while True:
            taken = [next(stream) for _ in range(per_step)]
            mine = [sequence for sequence, _ in taken][
                rank * schedule.micro_batch_size : (rank + 1) * schedule.micro_batch_size
            ]
            yield mine, [list(row) for row in mine], taken[-1][1].to_json()

    def save(accelerator: Any, model: Any, directory: Path) -> None:
        save_full_model(accelerator, model, directory, config.model_dir)

    spec = LoopSpec(
        kind="pretrain",
        identity=identity(config),
        schedule=schedule,
        run_dir=config.run_dir,
        output_dir=config.output_dir,
        total_steps=steps_for(schedule, tokens_per_step(config, world_size())),
        load_model=lambda: load_causal_lm(config.model_dir),
        batches=batches,
        save_model=save,
        extra={"replay_share": config.replay_share, "shards": len(shards)},
    )
    return train(spec, progress, should_stop)


@dataclass(frozen=True)
class Perplexity:
    """Perplexity over ``tokens`` predicted tokens of ``documents`` documents."""

    perplexity: float
    mean_nll: float
    tokens: int
    documents: int


def perplexity(
    model_dir: Path,
    texts: Iterable[str],
    *,
    seq_len: int = 1024,
    max_tokens: int | None = 50_000,
    batch_size: int = 4,
) -> Perplexity:
    """Token-level perplexity of a checkpoint on ``texts`` (each ``<bos> text``, cut into
    windows of ``seq_len`` that start afresh), up to ``max_tokens`` tokens. Pass text the
    model never trained on: a corpus's ``validation`` split is held out by a hash of the
    document id (``modelops.training.data.corpus_texts``)."""
    import torch

    tokenizer = load_tokenizer(model_dir)
    windows: list[list[int]] = []
    documents, total = 0, 0
    for text in texts:
        if not text.strip():
            continue
        ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
        documents += 1
        for start in range(0, len(ids), seq_len):
            window = ids[start : start + seq_len]
            if len(window) < 2:
                continue
            if max_tokens is not None and total + len(window) - 1 > max_tokens:
                window = window[: max_tokens - total + 1]
                if len(window) < 2:
                    break
            windows.append(window)
            total += len(window) - 1
            if max_tokens is not None and total >= max_tokens:
                break
        if max_tokens is not None and total >= max_tokens:
            break
    if not windows:
        raise TrainingError("No held-out text to measure perplexity on.")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model = model.to(device).eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    nll_sum, counted = 0.0, 0
    windows.sort(key=len)
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            group = windows[start : start + batch_size]
            width = max(len(window) for window in group)
            batch = torch.tensor([w + [pad] * (width - len(w)) for w in group], device=device)
            mask = torch.tensor(
                [[1] * len(w) + [0] * (width - len(w)) for w in group], device=device
            )
            labels = batch.masked_fill(mask == 0, IGNORE_INDEX)
            logits = model(input_ids=batch, attention_mask=mask).logits.float()
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]),
                labels[:, 1:].reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
            nll_sum += float(loss)
            counted += int((labels[:, 1:] != IGNORE_INDEX).sum())
    mean = nll_sum / counted
    return Perplexity(perplexity=math.exp(mean), mean_nll=mean, tokens=counted, documents=documents)
