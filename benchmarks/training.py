"""Tokens/s of Soro's ``pretrain`` loop against a plain ``transformers.Trainer`` on the same
packed sequences, in the same run.

    .venv/bin/python benchmarks/training.py                      # the 270M on the demo corpus
    .venv/bin/python benchmarks/training.py --smoke              # tiny model, tiny corpus (CI)
    .venv/bin/python benchmarks/training.py --model DIR --corpus DIR --steps 10 \\
        --seq-len 512 --batch-size 1 --accumulation 4 [--peak-tflops 989]

Both runs start from the same checkpoint, use the same sequences (Soro's packed stream:
``<bos> document <eos>`` concatenated and cut into ``--seq-len`` tokens), the same batch,
accumulation, AdamW and cosine schedule, and no checkpoints. Tokens/s counts every token
of every optimiser step over the time of the steps alone (model loading excluded for both:
Soro's loop reports its own, the Trainer's ``train_runtime`` is taken). With
``--peak-tflops`` (the accelerator's dense bf16 peak) it also prints the MFU, 6 × parameters
× tokens/s ÷ peak. CPU figures depend on what else runs: the load average is printed
before and after. Results also go to ``--out``/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.machine import cpu_name, load_average
from modelops.training import PretrainConfig, Schedule, pretrain
from modelops.training.data import corpus_files, packed_sequences
from modelops.training.pretrain import load_causal_lm, load_tokenizer

ROOT = Path(__file__).resolve().parents[1]


def smoke_corpus(directory: Path) -> Path:
    """A corpus folder in build_corpus's layout (train and validation parquet shards) from
    the demo textbooks' paragraphs: the same reader as a real corpus, seconds to write."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [
        paragraph.strip()
        for book in sorted((ROOT / "tutoring/data/textbooks").glob("*.md"))
        for paragraph in book.read_text(encoding="utf-8").split("\n\n")
        if len(paragraph.split()) > 12
    ][:80]
    data = directory / "data"
    data.mkdir(parents=True)
    for name, part in (
        ("train-00000-of-00001", texts[:-8]),
        ("validation-00000-of-00001", texts[-8:]),
    ):
        ids = [f"smoke-{name}-{number}" for number in range(len(part))]
        pq.write_table(pa.table({"id": ids, "text": part}), data / f"{name}.parquet")
    return directory


def soro_run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    schedule = Schedule(
        lr=args.lr,
        steps=args.steps,
        seq_len=args.seq_len,
        micro_batch_size=args.batch_size,
        gradient_accumulation=args.accumulation,
        warmup_ratio=0.1,
        checkpoint_every=10**9,
    )
    result = pretrain(
        PretrainConfig(
            model_dir=args.model,
            corpus_dir=args.corpus,
            output_dir=out / "soro-model",
            run_dir=out / "soro-run",
            schedule=schedule,
        )
    )
    return {
        "loop": "soro pretrain",
        "tokens": result.tokens_seen,
        "seconds": result.seconds,
        "tokens_per_second": result.tokens_per_second,
        "final_loss": result.final_loss,
        "precision": result.mixed_precision,
    }


def trainer_run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import torch
    from transformers import Trainer, TrainingArguments

    tokenizer = load_tokenizer(args.model)
    needed = args.steps * args.batch_size * args.accumulation
    stream = packed_sequences(
        shards=corpus_files(args.corpus, "train"),
        encode=lambda text: list(tokenizer(text, add_special_tokens=False)["input_ids"]),
        seq_len=args.seq_len,
        bos_id=tokenizer.bos_token_id,
        eos_id=tokenizer.eos_token_id,
        seed=0,
    )
    rows = [next(stream)[0] for _ in range(needed)]
    dataset = [{"input_ids": row, "labels": row} for row in rows]
    model = load_causal_lm(args.model)
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    training_args = TrainingArguments(
        output_dir=str(out / "trainer"),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.accumulation,
        learning_rate=args.lr,
        weight_decay=0.01,
        adam_beta2=0.95,
        max_grad_norm=1.0,
        warmup_steps=round(0.1 * args.steps),
        lr_scheduler_type="cosine",
        save_strategy="no",
        report_to=[],
        logging_steps=max(1, args.steps // 5),
        dataloader_drop_last=True,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        seed=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset)  # type: ignore[arg-type]
    started = time.perf_counter()
    output = trainer.train()
    seconds = float(output.metrics.get("train_runtime", time.perf_counter() - started))
    tokens = needed * args.seq_len
    return {
        "loop": "transformers.Trainer",
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds,
        "final_loss": float(output.training_loss),
        "precision": "bf16" if bf16 else "no",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "var/models/gemma3-270m-base")
    parser.add_argument("--corpus", type=Path, default=ROOT / "var/corpora/demo")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--accumulation", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak, for the MFU")
    parser.add_argument("--out", type=Path, default=ROOT / "var/cache/training-bench")
    parser.add_argument(
        "--smoke", action="store_true", help="the tiny model, a tiny corpus, 2 steps (seconds)"
    )
    args = parser.parse_args()
    if args.smoke:
        from benchmarks import _smoke

        args.model = _smoke.tiny_model_dir()
        args.out = ROOT / "var/cache/training-bench-smoke"
        shutil.rmtree(args.out, ignore_errors=True)
        args.corpus = smoke_corpus(args.out / "corpus")
        args.steps, args.seq_len, args.batch_size, args.accumulation = 2, 64, 1, 1
    else:
        shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_name()}; load average before: {load_average()}")
    from modelops.checkpoints import parameter_count

    parameters = parameter_count(args.model)
    rows = [soro_run(args, args.out), trainer_run(args, args.out)]
    print(f"load average after: {load_average()}")
    print(
        f"{args.model.name}: {parameters:,} parameters; {args.steps} steps of "
        f"{args.batch_size} x {args.accumulation} x {args.seq_len} tokens"
    )
    header = f"{'loop':22} {'tokens':>8} {'seconds':>9} {'tokens/s':>10} {'loss':>8} precision"
    if args.peak_tflops:
        header += "   MFU"
    print(header)
    print("-" * len(header))
    for row in rows:
        line = (
            f"{row['loop']:22} {row['tokens']:8d} {row['seconds']:9.1f} "
            f"{row['tokens_per_second']:10.1f} {row['final_loss']:8.4f} {row['precision']}"
        )
        if args.peak_tflops:
            row["mfu"] = 6 * parameters * row["tokens_per_second"] / (args.peak_tflops * 1e12)
            line += f"   {row['mfu']:.1%}"
        print(line)
    ratio = rows[0]["tokens_per_second"] / rows[1]["tokens_per_second"]
    print(f"soro / Trainer tokens/s: {ratio:.2f}")
    (args.out / "results.json").write_text(
        json.dumps({"parameters": parameters, "rows": rows, "ratio": ratio}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
