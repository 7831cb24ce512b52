"""Quantize the real Gemma 3 270M to FP8 and INT4 and measure what each keeps.

    .venv/bin/python benchmarks/quantization.py
    .venv/bin/python benchmarks/quantization.py --model var/models/gemma3-270m-base \\
        --out var/cache/quant-bench --samples 128 --length 256
    .venv/bin/python benchmarks/quantization.py --smoke   # a tiny model, a few texts (seconds)

Runs :func:`modelops.quantization.quantize_checkpoint` three times - FP8 (dynamic), INT4
GPTQ calibrated on the demo textbooks' calibration split, INT4 plain rounding (the
fallback) - and prints one table with the parent as the baseline of the same run: sizes
(whole directory, weights, the quantized Linear layers before and after), compression
ratios, seconds, and on the held-out split (every 5th textbook chunk, never calibrated
on) perplexity, top-1 agreement with the parent and KL divergence from it. Two reference
rows separate the causes: the parent with only its embedding and norms rounded to
bfloat16 (what every quantized output stores them as), and FP8 with its weights rounded
but activations left in float32 (the default FP8 row also rounds activations per token,
as the server does).

Outputs go under ``--out`` (replaced on every run; ``var/`` is ignored by git), with the
table's numbers in ``results.json``. CPU numbers depend on what else runs: the load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LLM_COMPRESSOR_LOG_LEVEL", "WARNING")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from benchmarks import _smoke
from modelops.quantization import (
    QuantizationResult,
    RetentionResult,
    load_fake_quantized,
    perplexity_and_agreement,
    quantize_checkpoint,
    text_split,
)

MB = 1_000_000
DEMO_TEXTS = sorted(
    (Path(__file__).resolve().parents[1] / "tutoring" / "data" / "textbooks").glob("*.md")
)


def _bf16_storage_reference(model_dir: Path) -> PreTrainedModel:
    """The parent with what the quantized outputs store in bfloat16 rounded to it."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head"):
                continue
            for parameter in module.parameters(recurse=False):
                parameter.copy_(parameter.to(torch.bfloat16).to(torch.float32))
    return model


def _row(
    name: str,
    retention: RetentionResult,
    result: QuantizationResult | None = None,
    *,
    parent_dir_bytes: int = 0,
    parent_weight_bytes: int = 0,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "variant": name,
        "perplexity": retention.candidate_perplexity,
        "top1_agreement": retention.top1_agreement,
        "kl": retention.mean_kl_divergence,
    }
    if result is not None:
        row.update(
            dir_mb=result.size_bytes / MB,
            weights_mb=result.weights_bytes / MB,
            linear_mb=f"{round(result.linear_bytes_before / MB)}->"
            f"{round(result.linear_bytes_after / MB)}",
            embedding_mb=result.embedding_bytes_after / MB,
            linear_ratio=result.linear_compression_ratio,
            whole_ratio=result.compression_ratio,
            seconds=result.seconds,
        )
    elif parent_dir_bytes:
        row.update(dir_mb=parent_dir_bytes / MB, weights_mb=parent_weight_bytes / MB)
    return row


def _print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        ("variant", "{}", 34),
        ("dir_mb", "{:.0f}", 7),
        ("weights_mb", "{:.0f}", 8),
        ("linear_mb", "{}", 9),
        ("embedding_mb", "{:.0f}", 6),
        ("linear_ratio", "{:.2f}x", 7),
        ("whole_ratio", "{:.2f}x", 7),
        ("seconds", "{:.1f}", 7),
        ("perplexity", "{:.3f}", 8),
        ("top1_agreement", "{:.2%}", 7),
        ("kl", "{:.4f}", 7),
    ]
    headers = ["variant", "dir MB", "weights", "linear", "embed", "lin x", "whole x", "sec"]
    headers += ["ppl", "top-1", "KL"]
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, (_, _, w)) in enumerate(zip(headers, columns, strict=True))
        )
    )
    for row in rows:
        cells = []
        for index, (key, template, width) in enumerate(columns):
            value = row.get(key)
            text = "-" if value is None else template.format(value)
            cells.append(text.ljust(width) if index == 0 else text.rjust(width))
        print("  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("var/models/gemma3-270m-base"))
    parser.add_argument("--out", type=Path, default=Path("var/cache/quant-bench"))
    parser.add_argument("--samples", type=int, default=128, help="GPTQ calibration texts")
    parser.add_argument("--length", type=int, default=256, help="tokens per text")
    parser.add_argument("--words", type=int, default=90, help="words per textbook chunk")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny random model 128 wide, 4 short texts each way: checks that it runs",
    )
    args = parser.parse_args()
    if args.smoke:
        args.model = _smoke.tiny_model_dir(wide=True)
        args.out = _smoke.CACHE_DIR / "quant-bench"
        args.samples, args.length, args.words = 4, 48, 24

    print(f"load average before: {os.getloadavg()}; torch threads: {torch.get_num_threads()}")
    split = text_split(DEMO_TEXTS, words_per_text=args.words)
    if args.smoke:
        split = dataclasses.replace(
            split, calibration=split.calibration[:4], held_out=split.held_out[:4]
        )
    print(
        f"demo textbooks: {len(split.calibration)} calibration and {len(split.held_out)} "
        f"held-out chunks of {args.words} words"
    )
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)

    results: dict[str, QuantizationResult] = {}
    plans: list[tuple[str, dict[str, Any]]] = [
        ("fp8", {"scheme": "fp8"}),
        (
            "int4-gptq",
            {
                "scheme": "int4",
                "method": "gptq",
                "calibration_texts": split.calibration,
                "max_calibration_samples": args.samples,
                "max_sequence_length": args.length,
            },
        ),
        ("int4-rtn", {"scheme": "int4", "method": "rtn"}),
    ]
    for name, options in plans:
        print(f"quantizing {name} ...", flush=True)
        results[name] = quantize_checkpoint(source=args.model, output=args.out / name, **options)
        print(f"  {results[name].seconds:.1f} s", flush=True)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    parent = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()

    def score(candidate: PreTrainedModel) -> RetentionResult:
        started = time.perf_counter()
        retention = perplexity_and_agreement(
            parent=parent,
            candidate=candidate,
            tokenizer=tokenizer,
            texts=split.held_out,
            max_length=args.length,
        )
        print(f"  scored {retention.tokens} tokens in {time.perf_counter() - started:.1f} s")
        return retention

    parent_dir_bytes = sum(p.stat().st_size for p in args.model.rglob("*") if p.is_file())
    parent_weight_bytes = sum(p.stat().st_size for p in args.model.glob("*.safetensors"))
    rows = []
    print("scoring the parent against itself ...", flush=True)
    rows.append(
        _row(
            "parent fp32 (baseline)",
            score(parent),
            parent_dir_bytes=parent_dir_bytes,
            parent_weight_bytes=parent_weight_bytes,
        )
    )
    print("scoring the bfloat16 storage reference ...", flush=True)
    rows.append(_row("  ref: embedding+norms in bf16", score(_bf16_storage_reference(args.model))))
    labels = {
        "fp8": "fp8 dynamic (W8A8, as served)",
        "int4-gptq": f"int4 gptq ({results['int4-gptq'].calibration_samples} x <={args.length})",
        "int4-rtn": "int4 rtn (fallback)",
    }
    for name, result in results.items():
        print(f"scoring {name} ...", flush=True)
        rows.append(_row(labels[name], score(load_fake_quantized(result.output)), result))
        if name == "fp8":
            print("scoring fp8 with float32 activations ...", flush=True)
            weights_only = load_fake_quantized(result.output, quantize_activations=False)
            rows.append(_row("  ref: fp8 weights only", score(weights_only)))

    print()
    _print_table(rows)
    print(f"\nload average after: {os.getloadavg()}")
    record = {
        "rows": rows,
        "results": {name: result.as_dict() for name, result in results.items()},
        "held_out_texts": len(split.held_out),
        "calibration_texts": len(split.calibration),
    }
    (args.out / "results.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
