"""The one training loop under ``pretrain`` and ``sft``: accelerate for devices, precision
and many processes; AdamW with a cosine schedule after a linear warm-up; gradient
accumulation; checkpoints that hold everything a resume needs.

Why a loop of our own and not ``transformers.Trainer``: a resume here must continue with
*exactly* the sequences an uninterrupted run would see, from a packed stream whose position
is a few integers (the next document and the tokens left over) rather than a count of
batches to skip, and both commands must share one checkpoint format, one progress callback
and one cancel check. The loop is short; the engines under it (accelerate's
``prepare``/``save_state``/``load_state``, FSDP and DeepSpeed through ``accelerate
launch``) are the standard ones.

A run folder holds ``run.json`` (the arguments of the first start) and
``checkpoint-NNNNNNN/`` folders (accelerate's state: model, optimiser, scheduler, RNG; and
``trainer_state.json``: step, tokens seen, data position, losses).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.training.types import (
    ProgressCallback,
    ResumeMismatch,
    Schedule,
    StopCheck,
    TrainingError,
    TrainingProgress,
    TrainingResult,
    TrainingStopped,
    differences,
)

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.json"
RUN_FILE = "run.json"

#: One micro-batch: input ids and labels (lists of equal-length rows) and the data
#: position after it.
MicroBatch = tuple[list[list[int]], list[list[int]], Any]


def cosine_with_warmup(
    total_steps: int, warmup_steps: int, min_ratio: float
) -> Callable[[int], float]:
    """The learning-rate factor at a step: linear warm-up to 1, then a cosine to
    ``min_ratio`` at ``total_steps``."""

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def mixed_precision(requested: str) -> str:
    """ "bf16" when asked for or ("auto") when a CUDA device supports it, else "no"."""
    import torch

    if requested == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    if requested not in ("bf16", "no"):
        raise TrainingError(f"mixed precision must be auto, bf16 or no, not {requested!r}")
    return requested


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run folder (partial ones are ignored)."""
    found = sorted(
        path
        for path in Path(run_dir).glob(f"{CHECKPOINT_PREFIX}*")
        if path.is_dir() and (path / STATE_FILE).is_file()
    )
    return found[-1] if found else None


def check_resume(run_dir: Path, identity: dict[str, Any]) -> bool:
    """True when ``run_dir`` holds a run with these arguments (resume it); raises
    :class:`ResumeMismatch` when it holds one with other arguments."""
    run_file = Path(run_dir) / RUN_FILE
    if not run_file.is_file():
        return False
    recorded = json.loads(run_file.read_text(encoding="utf-8"))
    found = differences(recorded["identity"], identity)
    if found:
        raise ResumeMismatch(Path(run_dir), found)
    return True


@dataclass
class LoopSpec:
    """What a kind of run gives the loop."""

    kind: str
    identity: dict[str, Any]
    schedule: Schedule
    run_dir: Path
    output_dir: Path
    total_steps: int
    load_model: Callable[[], Any]
    #: ``batches(position, world_size, rank)``: endless micro-batches from a data position
    #: (None: the start) for this process.
    batches: Callable[[Any, int, int], Iterator[MicroBatch]]
    #: Save the trained model (unwrapped) into a folder.
    save_model: Callable[[Any, Any, Path], None]
    evaluate: Callable[[Any, Any], float | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _parameter_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def train(
    spec: LoopSpec,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainingResult:
    """Train ``spec.total_steps`` optimiser steps, resuming from the run folder's newest
    checkpoint when it has one, and save the model into ``spec.output_dir``."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    schedule = spec.schedule
    if spec.total_steps < 1:
        raise TrainingError("A run needs at least one optimiser step.")
    if Path(spec.output_dir).exists():
        raise TrainingError(f"{spec.output_dir} exists already; choose another output folder.")
    precision = mixed_precision(schedule.mixed_precision)
    accelerator = Accelerator(mixed_precision=precision)
    if accelerator.distributed_type == "DEEPSPEED" and schedule.gradient_accumulation > 1:
        # DeepSpeed steps inside backward() by its own accumulation count; this loop
        # accumulates itself, so the two would disagree.
        raise TrainingError(
            "Under DeepSpeed use --gradient-accumulation 1 and a larger --batch-size."
        )
    set_seed(schedule.seed)
    run_dir = Path(spec.run_dir)
    resuming = check_resume(run_dir, spec.identity)
    if accelerator.is_main_process and not resuming:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(run_dir / RUN_FILE, {"kind": spec.kind, "identity": spec.identity})
    accelerator.wait_for_everyone()

    model = spec.load_model()
    if schedule.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    optimizer = torch.optim.AdamW(
        _parameter_groups(model, schedule.weight_decay), lr=schedule.lr, betas=(0.9, 0.95)
    )
    warmup = round(schedule.warmup_ratio * spec.total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, cosine_with_warmup(spec.total_steps, warmup, schedule.min_lr_ratio)
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    # Not prepared: accelerate would step a prepared scheduler once per process.
    accelerator.register_for_checkpointing(scheduler)

    step, tokens_seen, position = 0, 0, None
    losses: list[tuple[int, float]] = []
    resumed_from: int | None = None
    checkpoint = latest_checkpoint(run_dir) if resuming else None
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint), strict=False)
        saved = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))
        step, tokens_seen, position = saved["step"], saved["tokens_seen"], saved["position"]
        losses = [(int(s), float(v)) for s, v in saved["losses"]]
        resumed_from = step

    world, rank = accelerator.num_processes, accelerator.process_index
    batches = spec.batches(position, world, rank)
    device = accelerator.device
    model.train()
    started = time.perf_counter()
    session_tokens = 0
    loss_value = losses[-1][1] if losses else float("nan")
    while step < spec.total_steps:
        window = [next(batches) for _ in range(schedule.gradient_accumulation)]
        targets = sum(
            sum(1 for label in row[1:] if label != -100)
            for _, labels, _ in window
            for row in labels
        )
        loss_sum = 0.0
        for number, (input_ids, labels, _) in enumerate(window):
            syncing = number == len(window) - 1
            context = contextlib.nullcontext() if syncing else accelerator.no_sync(model)
            with context:
                output = model(
                    input_ids=torch.tensor(input_ids, device=device),
                    labels=torch.tensor(labels, device=device),
                    num_items_in_batch=torch.tensor(max(targets, 1), device=device),
                )
                accelerator.backward(output.loss)
            loss_sum += float(output.loss.detach())
        if schedule.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), schedule.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        window_tokens = sum(len(row) for input_ids, _, _ in window for row in input_ids) * world
        tokens_seen += window_tokens
        session_tokens += window_tokens
        position = window[-1][2]
        loss_value = _mean_across(accelerator, loss_sum)
        losses.append((step, loss_value))
        elapsed = max(time.perf_counter() - started, 1e-9)
        if progress is not None and accelerator.is_main_process:
            progress(
                TrainingProgress(
                    step=step,
                    total_steps=spec.total_steps,
                    loss=loss_value,
                    lr=float(scheduler.get_last_lr()[0]),
                    tokens_seen=tokens_seen,
                    tokens_per_second=session_tokens / elapsed,
                )
            )
        stop = step < spec.total_steps and should_stop is not None and should_stop()
        if (step % schedule.checkpoint_every == 0 and step < spec.total_steps) or stop:
            saved_to = _save_checkpoint(
                accelerator, run_dir, step, tokens_seen, position, losses, schedule.keep_checkpoints
            )
            if stop:
                raise TrainingStopped(step, saved_to)
    seconds = time.perf_counter() - started
    eval_loss = spec.evaluate(model, accelerator) if spec.evaluate is not None else None
    unwrapped = accelerator.unwrap_model(model)
    parameters = sum(p.numel() for p in unwrapped.parameters())
    trainable = sum(p.numel() for p in unwrapped.parameters() if p.requires_grad)
    _save_final(accelerator, spec, model)
    return TrainingResult(
        output_dir=Path(spec.output_dir),
        steps=step,
        tokens_seen=tokens_seen,
        seconds=seconds,
        tokens_per_second=session_tokens / max(seconds, 1e-9),
        final_loss=loss_value,
        losses=losses,
        resumed_from_step=resumed_from,
        eval_loss=eval_loss,
        parameters=parameters,
        trainable_parameters=trainable,
        mixed_precision=precision,
        world_size=world,
        extra=dict(spec.extra),
    )


def _mean_across(accelerator: Any, value: float) -> float:
    if accelerator.num_processes == 1:
        return value
    import torch

    tensor = torch.tensor([value], device=accelerator.device)
    return float(accelerator.reduce(tensor, reduction="mean").item())


def _write_json(path: Path, data: Any) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(partial, path)


def _save_checkpoint(
    accelerator: Any,
    run_dir: Path,
    step: int,
    tokens_seen: int,
    position: Any,
    losses: list[tuple[int, float]],
    keep: int,
) -> Path:
    """Write a checkpoint into a partial folder and rename it: a kill mid-save leaves the
    previous checkpoint as the newest complete one."""
    final = run_dir / f"{CHECKPOINT_PREFIX}{step:07d}"
    partial = run_dir / f".{final.name}.partial"
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    if accelerator.is_main_process:
        _write_json(
            partial / STATE_FILE,
            {"step": step, "tokens_seen": tokens_seen, "position": position, "losses": losses},
        )
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        for old in sorted(run_dir.glob(f"{CHECKPOINT_PREFIX}*"))[: -max(1, keep)]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def _save_final(accelerator: Any, spec: LoopSpec, model: Any) -> None:
    output = Path(spec.output_dir)
    partial = output.with_name(f".{output.name}.partial")
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    spec.save_model(accelerator, model, partial)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        os.replace(partial, output)
    accelerator.wait_for_everyone()


def copy_tokenizer_files(source: Path, destination: Path) -> None:
    """The tokenizer, chat template and generation settings of the parent, next to the
    new weights (files the save did not write)."""
    for path in Path(source).iterdir():
        if not path.is_file() or path.suffix == ".safetensors":
            continue
        if path.name in {"config.json", "model.safetensors.index.json"}:
            continue
        if not (destination / path.name).exists():
            shutil.copy2(path, destination / path.name)


def save_full_model(accelerator: Any, model: Any, directory: Path, source: Path) -> None:
    """Save every weight (a full state dict under FSDP/ZeRO-3) with the parent's
    tokenizer files."""
    state_dict = accelerator.get_state_dict(model)
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.save_pretrained(
        directory,
        state_dict=state_dict,
        is_main_process=accelerator.is_main_process,
        save_function=accelerator.save,
    )
    if accelerator.is_main_process:
        copy_tokenizer_files(source, directory)


def steps_for(schedule: Schedule, tokens_per_step: int) -> int:
    """Optimiser steps: ``schedule.steps``, or enough for ``schedule.tokens``."""
    if schedule.steps is not None:
        return int(schedule.steps)
    if schedule.tokens is None:
        raise TrainingError("Give a number of steps or of tokens.")
    return max(1, math.ceil(schedule.tokens / tokens_per_step))


def world_size() -> int:
    """Processes in this launch (``accelerate launch``/``torchrun`` set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))
