"""``python -m modelops.training pretrain|sft …``: the training core without Django, for
GPU nodes (``accelerate launch … -m modelops.training …``, as ``manage.py pretrain
--print-launch`` prints). It reads and writes folders only; bring the result back with
``manage.py import_model DIR``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from modelops.training.pretrain import pretrain
from modelops.training.sft import sft
from modelops.training.types import (
    PretrainConfig,
    Schedule,
    SftConfig,
    TrainingError,
    TrainingProgress,
)


def _print_progress(report: TrainingProgress) -> None:
    print(
        f"step {report.step}/{report.total_steps} loss {report.loss:.4f} lr {report.lr:.2e} "
        f"tokens {report.tokens_seen} {report.tokens_per_second:.0f} tokens/s",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelops.training")
    parser.add_argument("kind", choices=("pretrain", "sft"))
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--corpus-dir", type=Path)
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--tokens", type=int)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--eval-split", type=float, default=0.1)
    parser.add_argument("--full", action="store_true", help="sft: train every weight")
    parser.add_argument("--replay", type=float, default=0.0)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--gradient-accumulation", type=int)
    parser.add_argument("--warmup-ratio", type=float)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed-precision", default="auto")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    args = parser.parse_args(argv)
    pretraining = args.kind == "pretrain"
    schedule = Schedule(
        lr=args.lr or (1e-4 if pretraining else (2e-5 if args.full else 2e-4)),
        steps=args.steps,
        tokens=args.tokens,
        seq_len=args.seq_len or (1024 if pretraining else 2048),
        micro_batch_size=args.batch_size or (4 if pretraining else 1),
        gradient_accumulation=args.gradient_accumulation or (4 if pretraining else 8),
        warmup_ratio=args.warmup_ratio
        if args.warmup_ratio is not None
        else (0.05 if pretraining else 0.03),
        seed=args.seed,
        mixed_precision=args.mixed_precision,
        checkpoint_every=args.checkpoint_every,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    try:
        if pretraining:
            if args.corpus_dir is None:
                parser.error("pretrain needs --corpus-dir")
            result = pretrain(
                PretrainConfig(
                    model_dir=args.model_dir,
                    corpus_dir=args.corpus_dir,
                    output_dir=args.output_dir,
                    run_dir=args.run_dir,
                    schedule=schedule,
                    replay_share=args.replay,
                ),
                _print_progress,
            )
        else:
            if not args.data:
                parser.error("sft needs --data")
            result = sft(
                SftConfig(
                    model_dir=args.model_dir,
                    data_paths=tuple(args.data),
                    output_dir=args.output_dir,
                    run_dir=args.run_dir,
                    schedule=schedule,
                    epochs=args.epochs,
                    eval_split=args.eval_split,
                    lora=not args.full,
                ),
                _print_progress,
            )
    except TrainingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"saved {result.output_dir}: {result.steps} steps, {result.tokens_seen} tokens, "
        f"final loss {result.final_loss:.4f}, {result.tokens_per_second:.0f} tokens/s "
        f"on {result.world_size} processes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
