"""Instruction tuning: conversations in the tokenizer's chat template, loss on the
assistant's tokens only, whole examples packed into sequences, LoRA (merged into the saved
weights) or full fine-tuning."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from modelops.training.data import (
    IGNORE_INDEX,
    Conversation,
    is_held_out,
    load_conversations,
    pack_examples,
    tokenize_conversations,
)
from modelops.training.loop import (
    LoopSpec,
    MicroBatch,
    copy_tokenizer_files,
    save_full_model,
    train,
    world_size,
)
from modelops.training.pretrain import load_causal_lm, load_tokenizer
from modelops.training.types import (
    ProgressCallback,
    SftConfig,
    SftDataError,
    StopCheck,
    TrainingError,
    TrainingResult,
    identity,
)


def split_conversations(
    conversations: Sequence[Conversation], share: float
) -> tuple[list[Conversation], list[Conversation]]:
    """(train, eval): eval is the stable hash choice of ``share`` of the ids."""
    train_part = [c for c in conversations if not is_held_out(c.id, share)]
    eval_part = [c for c in conversations if is_held_out(c.id, share)]
    return train_part, eval_part


def add_lora(model: Any, config: SftConfig) -> Any:
    """Wrap ``model`` with LoRA adapters on the attention and MLP projections."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def merge_lora(model: Any) -> Any:
    """The plain model with the adapters added into its weights (what serving loads)."""
    return model.merge_and_unload()


def sft(
    config: SftConfig,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainingResult:
    """Fine-tune ``config.model_dir`` on the conversations in ``config.data_paths`` and
    save the (merged) model into ``config.output_dir``. Bad data raises
    :class:`~modelops.training.types.SftDataError` naming each line before anything is
    trained; resume and stop work as in :func:`modelops.training.pretrain.pretrain`."""
    if not 0.0 <= config.eval_split < 1.0:
        raise TrainingError("The eval split must be at least 0 and below 1.")
    if config.epochs <= 0:
        raise TrainingError("Train for more than 0 epochs.")
    schedule = config.schedule
    conversations = load_conversations(config.data_paths)
    train_part, eval_part = split_conversations(conversations, config.eval_split)
    if not train_part:
        raise SftDataError(["every conversation fell into the eval split; lower --eval-split"])
    tokenizer = load_tokenizer(config.model_dir)
    if not tokenizer.chat_template:
        raise TrainingError(f"The tokenizer in {config.model_dir} has no chat template.")
    train_examples = tokenize_conversations(tokenizer, train_part, max_length=schedule.seq_len)
    eval_examples = tokenize_conversations(tokenizer, eval_part, max_length=schedule.seq_len)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    packed = pack_examples(train_examples, seq_len=schedule.seq_len, pad_id=pad)
    processes = world_size()
    per_step = schedule.micro_batch_size * schedule.gradient_accumulation * processes
    total_steps = (
        int(schedule.steps)
        if schedule.steps is not None
        else max(1, math.ceil(config.epochs * len(packed) / per_step))
    )

    def order(epoch: int) -> list[int]:
        indices = list(range(len(packed)))
        random.Random(f"{schedule.seed}-{epoch}").shuffle(indices)
        return indices

    def sequences(epoch: int, index: int) -> Iterator[tuple[int, list[int]]]:
        while True:
            indices = order(epoch)
            while index < len(indices):
                index += 1
                yield indices[index - 1], [epoch, index]
            epoch, index = epoch + 1, 0

    def batches(position: Any, processes: int, rank: int) -> Iterator[MicroBatch]:
        # Position: [epoch, index of the next packed sequence in that epoch's order].
        stream = sequences(*(position or [0, 0]))
        width = schedule.micro_batch_size * processes
        while True:
            taken = [next(stream) for _ in range(width)]
            mine = [index for index, _ in taken][
                rank * schedule.micro_batch_size : (rank + 1) * schedule.micro_batch_size
            ]
            yield [packed[i][0] for i in mine], [packed[i][1] for i in mine], taken[-1][1]

    def load() -> Any:
        model = load_causal_lm(config.model_dir)
        if config.lora:
            model = add_lora(model, config)
        return model

    def evaluate(model: Any, accelerator: Any) -> float | None:
        if not eval_examples:
            return None
        import torch

        was_training = model.training
        model.eval()
        nll, counted = 0.0, 0
        with torch.no_grad():
            for example in eval_examples[accelerator.process_index :: accelerator.num_processes]:
                ids = torch.tensor([example.input_ids], device=accelerator.device)
                labels = torch.tensor([example.labels], device=accelerator.device)
                logits = model(input_ids=ids).logits.float()
                nll += float(
                    torch.nn.functional.cross_entropy(
                        logits[0, :-1], labels[0, 1:], ignore_index=IGNORE_INDEX, reduction="sum"
                    )
                )
                counted += int((labels[0, 1:] != IGNORE_INDEX).sum())
        if was_training:
            model.train()
        totals = torch.tensor([nll, float(counted)], device=accelerator.device)
        if accelerator.num_processes > 1:
            totals = accelerator.reduce(totals, reduction="sum")
        return float(totals[0]) / max(float(totals[1]), 1.0)

    def save(accelerator: Any, model: Any, directory: Path) -> None:
        if not config.lora:
            save_full_model(accelerator, model, directory, config.model_dir)
            return
        if accelerator.is_main_process:
            merged = merge_lora(accelerator.unwrap_model(model))
            merged.save_pretrained(directory)
            copy_tokenizer_files(config.model_dir, directory)

    spec = LoopSpec(
        kind="sft",
        identity=identity(config),
        schedule=schedule,
        run_dir=config.run_dir,
        output_dir=config.output_dir,
        total_steps=total_steps,
        load_model=load,
        batches=batches,
        save_model=save,
        evaluate=evaluate,
    )
    result = train(spec, progress, should_stop)
    result.train_examples, result.eval_examples = len(train_examples), len(eval_examples)
    result.packed_sequences = len(packed)
    result.extra.update(
        {
            "lora": config.lora,
            "label_tokens": sum(
                sum(1 for label in e.labels if label != IGNORE_INDEX) for e in train_examples
            ),
        }
    )
    return result
