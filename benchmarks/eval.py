"""Speed of the evaluator on the real Gemma 3 270M against lm-evaluation-harness and a naive loop.

    .venv/bin/python benchmarks/eval.py --model-dir var/models/gemma3-270m-base
    .venv/bin/python benchmarks/eval.py --smoke    # the tiny model, 6 items (seconds)

Scores the same multiple-choice items of a demo suite, in the same run and with one float32
model shared by all, with:

- the project's evaluator (``modelops.evaluation.score_items``) at ``--batch-size``
  requests per forward pass, and at ``--more-batch-sizes``;
- lm-evaluation-harness as the anchor: ``HFLM.loglikelihood`` (hf backend, BOS added as
  ours does) on the same ``(context, " " + choice)`` requests, at ``--batch-size``;
- a naive loop: one unpadded forward pass per request, ``log_softmax`` over the whole
  vocabulary at every position, the continuation's log-probabilities summed.

Reports items per second, the ratios to lm-eval and to the naive loop, and acc and acc_norm
(lm-eval's definitions: argmax of the sums, argmax of the sums over the characters of each
choice). Exits with status 1 if any item's acc or acc_norm prediction differs from
lm-eval's. lm-eval comes with the ``bench`` extra: ``pip install -e '.[bench]'``; without
it the script stops, except with ``--smoke``, which then says so and checks the evaluator
against the naive loop instead (and exits with status 1 if they disagree).

Timings depend on what else runs on the machine: the load average is printed before and
after each method so that a noisy run can be recognised.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

from benchmarks import _smoke
from benchmarks.machine import cpu_name, load_average
from modelops.evaluation import BenchmarkItem, build_prompt, encode_pair, load_benchmark
from modelops.evaluation.scoring import TARGET_DELIMITER, ItemScore, score_items

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SUITE = ROOT / "modelops/data/benchmarks/tajik_suite.jsonl"


@dataclass(frozen=True)
class Run:
    method: str
    batch_size: int
    seconds: float
    sums: list[list[float]]  # per item, the log-likelihood sum of each choice
    predictions: list[int]  # acc: argmax of the sums
    predictions_norm: list[int]  # acc_norm: argmax of sum / characters
    load: str  # one-minute load average before and after


def spread_over_domains(items: Sequence[BenchmarkItem], count: int) -> list[BenchmarkItem]:
    """``count`` items taken in turn from each domain, in file order within a domain."""
    by_domain: dict[str, list[BenchmarkItem]] = {}
    for item in items:
        by_domain.setdefault(item.domain, []).append(item)
    queues = list(by_domain.values())
    chosen: list[BenchmarkItem] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def lm_eval_predictions(
    items: Sequence[BenchmarkItem], sums: Sequence[Sequence[float]]
) -> tuple[list[int], list[int]]:
    """acc and acc_norm predictions as lm-eval's ``ConfigurableTask.process_results`` makes
    them for ``multiple_choice`` (lm_eval/api/task.py): ``np.argmax(lls)`` and
    ``np.argmax(lls / completion_len)`` with ``completion_len`` the choices' characters."""
    predictions, predictions_norm = [], []
    for item, lls in zip(items, sums, strict=True):
        completion_len = np.array([float(len(choice)) for choice in item.choices])
        predictions.append(int(np.argmax(lls)))
        predictions_norm.append(int(np.argmax(np.array(lls) / completion_len)))
    return predictions, predictions_norm


def timed(score: Callable[[], Any]) -> tuple[Any, float, str]:
    """What ``score()`` returns, its wall-clock seconds, and the load average around it."""
    before = os.getloadavg()[0]
    started = time.perf_counter()
    result = score()
    seconds = time.perf_counter() - started
    return result, seconds, f"{before:.1f}-{os.getloadavg()[0]:.1f}"


def run_of_sums(
    method: str, batch_size: int, items: Sequence[BenchmarkItem], score: Callable[[], list[float]]
) -> Run:
    """A run of a method that returns one log-likelihood sum per request."""
    flat, seconds, load = timed(score)
    sums, offset = [], 0
    for item in items:
        sums.append([float(value) for value in flat[offset : offset + len(item.choices)]])
        offset += len(item.choices)
    predictions, predictions_norm = lm_eval_predictions(items, sums)
    return Run(method, batch_size, seconds, sums, predictions, predictions_norm, load)


def run_of_scores(batch_size: int, score: Callable[[], list[ItemScore]]) -> Run:
    """A run of our evaluator, with its own acc and acc_norm predictions."""
    scores, seconds, load = timed(score)
    return Run(
        method="soro evaluator",
        batch_size=batch_size,
        seconds=seconds,
        sums=[list(item_score.loglikelihoods) for item_score in scores],
        predictions=[item_score.prediction for item_score in scores],
        predictions_norm=[item_score.prediction_norm for item_score in scores],
        load=load,
    )


def naive_loglikelihoods(
    model: Any, tokenizer: Any, requests: Sequence[tuple[str, str]]
) -> list[float]:
    """One full forward pass per request, log_softmax over [length, vocabulary]."""
    sums = []
    with torch.no_grad():
        for context, continuation in requests:
            context_ids, continuation_ids = encode_pair(tokenizer, context, continuation)
            tokens = context_ids + continuation_ids
            logits = model(input_ids=torch.tensor([tokens])).logits[0]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            first = len(context_ids)
            sums.append(
                sum(
                    float(logprobs[position - 1, tokens[position]])
                    for position in range(first, len(tokens))
                )
            )
    return sums


def lm_eval_loglikelihoods(lm: Any, requests: Sequence[tuple[str, str]]) -> list[float]:
    from lm_eval.api.instance import Instance

    instances = [
        Instance(
            request_type="loglikelihood",
            doc={},
            arguments=request,
            idx=number,
            metadata=("soro_suite", number, 1),
        )
        for number, request in enumerate(requests)
    ]
    return [total for total, _is_greedy in lm.loglikelihood(instances, disable_tqdm=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "var/models/gemma3-270m-base")
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    parser.add_argument(
        "--items",
        type=int,
        default=40,
        help="multiple-choice items to score, spread over the domains (0: all but the shots)",
    )
    parser.add_argument("--shots", type=int, default=0, help="solved examples before each item")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--more-batch-sizes", default="16,32", help="further batch sizes for our evaluator"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the tiny random model, 6 items, batch sizes 4 and 8: checks that it runs",
    )
    args = parser.parse_args()
    if args.smoke:
        args.model_dir = _smoke.tiny_model_dir()
        args.items, args.more_batch_sizes, args.skip_naive = 6, "8", False

    lm_eval: Any = None
    try:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        if not args.smoke:
            sys.exit(
                "benchmarks/eval.py needs lm-evaluation-harness as its anchor: "
                "pip install -e '.[bench]'  (or: pip install 'lm-eval>=0.4.9,<0.5')"
            )
        _smoke.skipped(
            "the lm-evaluation-harness anchor",
            "lm-eval is not installed; the naive loop is the anchor of this run",
        )
        lm_eval = None
    if not (args.model_dir / "config.json").is_file():
        sys.exit(f"no model in {args.model_dir}: run `make setup` first")
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)

    suite = load_benchmark(args.suite)
    multiple_choice = [item for item in suite.items if item.choices]  # no short-answer items
    examples = multiple_choice[: args.shots]
    rest = multiple_choice[args.shots :]
    items = spread_over_domains(rest, args.items or len(rest))
    requests = [
        (build_prompt(item, examples), f"{TARGET_DELIMITER}{choice}")
        for item in items
        for choice in item.choices
    ]
    more_batch_sizes = [int(size) for size in args.more_batch_sizes.split(",") if size]

    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    # lm-eval adds BOS when asked (Gemma's tokenizer does by default); ours always does.
    lm = (
        HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.batch_size, add_bos_token=True)
        if lm_eval
        else None
    )

    print(f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"cpu: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; transformers {transformers.__version__}; "
        f"lm-eval {lm_eval.__version__ if lm_eval else 'not installed'}; "
        f"attention {model.config._attn_implementation}"
    )
    domains = sorted({item.domain for item in items})
    tokens = [sum(map(len, encode_pair(tokenizer, *request))) for request in requests]
    print(
        f"suite: {args.suite.name}, {len(items)} items over {len(domains)} domains "
        f"({', '.join(domains)}), {len(requests)} requests, {args.shots}-shot, "
        f"{min(tokens)}-{max(tokens)} tokens per request (mean {np.mean(tokens):.1f})"
    )
    print(f"load average at start: {load_average()}")

    # Warm-up on two items, so that no method pays for first-call allocations.
    warm_items = items[:2]
    warm_requests = requests[: sum(len(item.choices) for item in warm_items)]
    if lm is not None:
        lm_eval_loglikelihoods(lm, warm_requests)
    score_items(model, tokenizer, warm_items, examples=examples, batch_size=args.batch_size)
    naive_loglikelihoods(model, tokenizer, warm_requests[:1])

    def ours(batch_size: int) -> Callable[[], list[ItemScore]]:
        return lambda: score_items(
            model, tokenizer, items, examples=examples, batch_size=batch_size
        )

    runs = []
    if lm is not None:
        runs.append(
            run_of_sums(
                "lm-eval HFLM (anchor)",
                args.batch_size,
                items,
                lambda: lm_eval_loglikelihoods(lm, requests),
            )
        )
    runs.append(run_of_scores(args.batch_size, ours(args.batch_size)))
    if not args.skip_naive:
        runs.append(
            run_of_sums(
                "naive loop", 1, items, lambda: naive_loglikelihoods(model, tokenizer, requests)
            )
        )
    runs += [run_of_scores(size, ours(size)) for size in more_batch_sizes]

    naive = next((run for run in runs if run.method == "naive loop"), None)
    # Without lm-eval (smoke runs only) the naive loop is the anchor the evaluator must match.
    anchor = runs[0] if lm is not None else naive
    assert anchor is not None
    anchor_name = "lm-eval" if lm is not None else "naive loop"
    print()
    versus = "vs lm-eval" if lm is not None else "vs anchor"
    header = (
        f"{'method':<24}{'batch':>6}{'items':>6}{'requests':>9}{'seconds':>9}{'items/s':>9}"
        f"{versus:>11}{'vs naive':>9}{'acc':>7}{'acc_norm':>9}{'load':>10}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        acc = np.mean([p == item.answer for p, item in zip(run.predictions, items, strict=True)])
        acc_norm = np.mean(
            [p == item.answer for p, item in zip(run.predictions_norm, items, strict=True)]
        )
        versus_naive = f"{naive.seconds / run.seconds:.2f}x" if naive else "-"
        print(
            f"{run.method:<24}{run.batch_size:>6}{len(items):>6}{len(requests):>9}"
            f"{run.seconds:>9.2f}{len(items) / run.seconds:>9.2f}"
            f"{anchor.seconds / run.seconds:>10.2f}x{versus_naive:>9}"
            f"{acc:>7.3f}{acc_norm:>9.3f}{run.load:>10}"
        )
    print(f"load average at end: {load_average()}")

    print()
    failed = False
    for run in runs:
        if run is anchor:
            continue
        difference = max(
            abs(ours - theirs)
            for ours_item, theirs_item in zip(run.sums, anchor.sums, strict=True)
            for ours, theirs in zip(ours_item, theirs_item, strict=True)
        )
        acc_differs = sum(a != b for a, b in zip(run.predictions, anchor.predictions, strict=True))
        norm_differs = sum(
            a != b for a, b in zip(run.predictions_norm, anchor.predictions_norm, strict=True)
        )
        verdict = "identical" if not (acc_differs or norm_differs) else "DIFFERENT"
        print(
            f"{run.method} (batch {run.batch_size}) vs {anchor_name}: max |log-likelihood "
            f"difference| {difference:.2e}; acc predictions differ on {acc_differs} items, "
            f"acc_norm on {norm_differs}: {verdict}"
        )
        failed = failed or bool(acc_differs or norm_differs)
    if failed:
        sys.exit(f"acc or acc_norm predictions differ from the {anchor_name}'s: see above")


if __name__ == "__main__":
    main()
