"""The plain values the training core takes and returns (no Django)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Soro's English replay text (about 100 sentences written for the project).
DEFAULT_REPLAY_FILE = Path(__file__).resolve().parents[1] / "data" / "replay" / "english.txt"


class TrainingError(Exception):
    """A training run cannot start or go on; the message says why and what to do."""


class ResumeMismatch(TrainingError):
    """A resume whose arguments differ from the run's first start."""

    def __init__(self, run_dir: Path, differences: Sequence[str]) -> None:
        self.differences = list(differences)
        super().__init__(
            f"Cannot resume the run in {run_dir}: its arguments differ from the first start "
            f"({'; '.join(self.differences)}). Resume with the same arguments, or start a "
            "new run."
        )


class TrainingStopped(TrainingError):
    """``should_stop`` asked the run to stop; a checkpoint was written first."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        self.step, self.checkpoint = step, checkpoint
        super().__init__(f"stopped at step {step}" + (f" ({checkpoint})" if checkpoint else ""))


class SftDataError(TrainingError):
    """Instruction data with problems; each problem names its file and line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        super().__init__("; ".join(shown) + (f"; and {more} more" if more > 0 else ""))


@dataclass(frozen=True)
class Schedule:
    """What every run shares: the optimiser, the schedule, batches, checkpoints."""

    lr: float = 1e-4
    #: Optimiser steps; ``None`` with ``tokens`` set: as many steps as it takes.
    steps: int | None = None
    tokens: int | None = None
    seq_len: int = 1024
    micro_batch_size: int = 4
    gradient_accumulation: int = 4
    warmup_ratio: float = 0.05
    #: The cosine ends at ``lr * min_lr_ratio``.
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    #: "auto": bf16 when a GPU supports it, else float32; or "bf16", "no".
    mixed_precision: str = "auto"
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    #: Run the model's forward with gradient checkpointing (saves memory on GPUs).
    gradient_checkpointing: bool = False


@dataclass(frozen=True)
class PretrainConfig:
    """Continual pretraining of all weights on a corpus's ``train`` split."""

    model_dir: Path
    corpus_dir: Path
    output_dir: Path
    run_dir: Path
    schedule: Schedule = field(default_factory=Schedule)
    #: Share of training tokens taken from English replay text (0 = none).
    replay_share: float = 0.0
    replay_file: Path = DEFAULT_REPLAY_FILE


@dataclass(frozen=True)
class SftConfig:
    """Instruction tuning on conversations (assistant tokens only carry loss)."""

    model_dir: Path
    data_paths: tuple[Path, ...]
    output_dir: Path
    run_dir: Path
    schedule: Schedule = field(
        default_factory=lambda: Schedule(lr=2e-4, seq_len=2048, steps=None, warmup_ratio=0.03)
    )
    epochs: float = 1.0
    eval_split: float = 0.1
    lora: bool = True
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )


@dataclass(frozen=True)
class TrainingProgress:
    """One report to the progress callback, after an optimiser step."""

    step: int
    total_steps: int
    loss: float
    lr: float
    tokens_seen: int
    tokens_per_second: float
    epoch: float = 0.0


@dataclass
class TrainingResult:
    """What a finished run produced."""

    output_dir: Path
    steps: int
    tokens_seen: int
    seconds: float
    tokens_per_second: float
    final_loss: float
    losses: list[tuple[int, float]]
    resumed_from_step: int | None = None
    eval_loss: float | None = None
    train_examples: int = 0
    eval_examples: int = 0
    packed_sequences: int = 0
    parameters: int = 0
    trainable_parameters: int = 0
    mixed_precision: str = "no"
    world_size: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[TrainingProgress], None]
StopCheck = Callable[[], bool]


def identity(config: PretrainConfig | SftConfig) -> dict[str, Any]:
    """The arguments a resume must repeat: everything but where the result goes and how
    often checkpoints are written. Paths become strings (the result is JSON)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple | list):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    data = plain(dataclasses.asdict(config))
    for key in ("output_dir", "run_dir"):
        data.pop(key, None)
    for key in ("checkpoint_every", "keep_checkpoints"):
        data["schedule"].pop(key, None)
    return dict(data)


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two identities."""
    found: list[str] = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            found += differences(before, after, f"{prefix}{key}.")
        elif before != after:
            found.append(f"{prefix}{key} was {before!r}, now {after!r}")
    return found
