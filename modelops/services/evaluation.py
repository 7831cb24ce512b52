"""Evaluating a model version on a benchmark and keeping the numbers.

``model_evaluate`` is what the ``evaluate`` command and the admin's evaluation job call: it
loads the version (quantized versions with their real quantization error), scores the
multiple-choice items by log-likelihood (lm-eval's acc and acc_norm) and the short-answer
items by exact match, computes bootstrap intervals per domain and per subject and the
tokenizer's fertility on Tajik text, and stores every number in one transaction at the end,
so a failed or cancelled run leaves no results behind.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from modelops.evaluation.benchmarks import Benchmark, BenchmarkError, BenchmarkItem, load_benchmark
from modelops.evaluation.generation import (
    GenerationBenchmark,
    is_generation_suite,
    load_generation_suite,
)
from modelops.evaluation.metrics import ALL_ITEMS, bootstrap_interval, summarize_scores
from modelops.evaluation.scoring import ItemScore, score_items
from modelops.evaluation.short_answer import ShortAnswerScore, score_short_answers
from modelops.models import EvaluationResult, ModelRun, ModelVersion
from modelops.services.registry import model_version_check_loads, tajik_text_paths
from modelops.services.runs import (
    Progress,
    RunCancelled,
    run_check_cancel,
    run_finish,
    run_report_progress,
    run_start,
)

if TYPE_CHECKING:
    from soro_web.accounts.models import User

DEMO_BENCHMARKS_DIR = Path(__file__).resolve().parents[1] / "data" / "benchmarks"
FERTILITY_GROUP = "tajik_text"
# How many items go through the model between progress reports and cancel checks.
CHUNK_ITEMS = 8


#: A multiple-choice / short-answer benchmark, or a generation suite.
AnyBenchmark = Benchmark | GenerationBenchmark
#: Reply budget of the generation suite, in tokens (the builder's shortest section budget is
#: 200; a bounded reply keeps the suite fast enough to run on every version of a refresh).
GENERATION_MAX_NEW_TOKENS = 96


class EvaluationError(Exception):
    """An evaluation that cannot run; the message says what to do."""


@dataclass(frozen=True)
class ResultRow:
    group: str  # "all", "domain:<name>" or "subject:<name>"
    metric: str  # acc, acc_norm, exact_match, fertility
    value: float
    interval: tuple[float, float] | None
    count: int


@dataclass
class EvaluationReport:
    version: str
    benchmark: str
    benchmark_sha256: str
    shots: int
    rows: list[ResultRow] = field(default_factory=list)
    seconds: float = 0.0
    items_scored: int = 0
    run_id: int | None = None

    def value(self, metric: str, group: str = ALL_ITEMS) -> float | None:
        for row in self.rows:
            if row.metric == metric and row.group == group:
                return row.value
        return None


# --- benchmarks -----------------------------------------------------------------------------


def benchmark_directories() -> list[Path]:
    """Where benchmark names are looked up: the administrator's folder, then the demo suites."""
    return [Path(settings.SORO_BENCHMARKS_DIR), DEMO_BENCHMARKS_DIR]


def benchmark_resolve(
    name_or_path: str, *, mapping: str | None = None, split: str | None = None
) -> AnyBenchmark:
    """A benchmark by path (JSONL file or datasets directory) or by name (``tajik_suite``
    finds ``tajik_suite.jsonl`` or a ``tajik_suite/`` directory in the benchmark folders).

    Raises :class:`BenchmarkError` naming the file, line and item when it is malformed."""
    path = Path(name_or_path)
    if not path.exists() and path.parent == Path("."):
        for folder in benchmark_directories():
            for candidate in (folder / f"{name_or_path}.jsonl", folder / name_or_path):
                if candidate.exists():
                    path = candidate
                    break
            if path.exists():
                break
    if not path.exists():
        known = sorted(
            {
                entry.stem
                for folder in benchmark_directories()
                if folder.is_dir()
                for entry in folder.iterdir()
                if entry.suffix == ".jsonl" or entry.is_dir()
            }
        )
        raise BenchmarkError(
            f"no benchmark {name_or_path!r}: give a JSONL file, a datasets directory or one of "
            f"{', '.join(known) or 'none'}"
        )
    name = path.stem if path.is_file() else path.name
    if is_generation_suite(path):
        return GenerationBenchmark(name, str(path), tuple(load_generation_suite(path)))
    return load_benchmark(path, mapping, split=split, name=name)


def benchmark_checksum(benchmark: AnyBenchmark) -> str:
    """SHA-256 of the items as loaded, so results on different contents are not compared."""
    digest = hashlib.sha256()
    if isinstance(benchmark, GenerationBenchmark):
        for generation_item in benchmark.items:
            digest.update(
                json.dumps(
                    [
                        generation_item.id,
                        [[m.role, m.content] for m in generation_item.messages],
                        list(generation_item.context),
                        generation_item.reference,
                        generation_item.language,
                    ],
                    ensure_ascii=False,
                ).encode()
            )
        return digest.hexdigest()
    for item in benchmark.items:
        digest.update(
            json.dumps(
                [item.id, item.question, item.choices, item.answer, item.answers],
                ensure_ascii=False,
            ).encode()
        )
    return digest.hexdigest()


def fewshot_split(
    benchmark: Benchmark, shots: int, *, seed: int = 1234
) -> tuple[list[BenchmarkItem], list[BenchmarkItem]]:
    """``(examples, evaluated)``: K multiple-choice items drawn with a fixed seed become the
    solved examples in every prompt (one shared prefix) and are left out of the score."""
    if shots < 0:
        raise EvaluationError("--shots must be 0 or more")
    candidates = list(benchmark.multiple_choice)
    if shots > len(candidates) // 2:
        raise EvaluationError(
            f"{shots} shots would use up most of {benchmark.name}'s "
            f"{len(candidates)} multiple-choice items; use at most {len(candidates) // 2}"
        )
    examples = random.Random(seed).sample(candidates, shots) if shots else []
    chosen = {item.id for item in examples}
    return examples, [item for item in benchmark.items if item.id not in chosen]


# --- loading a version ----------------------------------------------------------------------


def model_load_for_evaluation(*, version: ModelVersion) -> tuple[Any, Any]:
    """``(model, tokenizer)`` on the CPU in float32 (or the GPU in bfloat16 when there is
    one). A compressed-tensors version is loaded with its weights dequantized, so they carry
    exactly the quantization error the served model has."""
    problem = model_version_check_loads(directory=version.directory)
    if problem:
        raise EvaluationError(f"version {version.name} cannot be evaluated: {problem}")
    if version.format == ModelVersion.Format.GGUF:
        return _gguf_load_for_evaluation(version)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(version.directory)
        if version.format == ModelVersion.Format.COMPRESSED_TENSORS:
            from modelops.quantization import load_fake_quantized

            model = load_fake_quantized(version.directory)
        else:
            model = AutoModelForCausalLM.from_pretrained(version.directory, dtype=torch.float32)
    except Exception as error:
        raise EvaluationError(f"version {version.name} does not load: {error}") from error
    if torch.cuda.is_available():
        model = model.to("cuda", dtype=torch.bfloat16)  # type: ignore[arg-type]
    model.eval()
    return model, tokenizer


def _gguf_load_for_evaluation(version: ModelVersion) -> tuple[Any, Any]:
    """A llama.cpp export scored and answered by llama.cpp itself (the served weights)."""
    from transformers import AutoTokenizer

    from modelops.llm.llamacpp import GgufCausalLM
    from modelops.llm.types import ModelUnavailable

    try:
        tokenizer = AutoTokenizer.from_pretrained(version.directory)
        model = GgufCausalLM(Path(version.directory))
    except (OSError, ValueError, ModelUnavailable) as error:
        raise EvaluationError(f"version {version.name} does not load: {error}") from error
    return model, tokenizer


def tajik_reference_text() -> str:
    """Tajik prose for the tokenizer's fertility: the files of ``SORO_TAJIK_TEXT_DIR`` (the
    demo textbooks by default, never changed by training, so figures stay comparable between
    versions)."""
    return "\n".join(path.read_text(encoding="utf-8") for path in tajik_text_paths())


# --- the run --------------------------------------------------------------------------------


def _summary_rows(
    items: Sequence[BenchmarkItem],
    choice_scores: Sequence[ItemScore],
    answer_scores: Sequence[ShortAnswerScore],
) -> list[ResultRow]:
    rows: list[ResultRow] = []
    multiple_choice = [item for item in items if item.is_multiple_choice]
    if multiple_choice:
        summaries = summarize_scores(multiple_choice, choice_scores, by="domain")
        by_subject = summarize_scores(multiple_choice, choice_scores, by="subject")
        summaries.update({key: value for key, value in by_subject.items() if key != ALL_ITEMS})
        for group, summary in summaries.items():
            rows.append(ResultRow(group, "acc", summary.acc, summary.acc_interval, summary.count))
            rows.append(
                ResultRow(
                    group, "acc_norm", summary.acc_norm, summary.acc_norm_interval, summary.count
                )
            )
    short = [item for item in items if not item.is_multiple_choice]
    if short:
        correct = {score.item_id: float(score.is_correct) for score in answer_scores}
        groups: dict[str, list[float]] = {ALL_ITEMS: [correct[item.id] for item in short]}
        for item in short:
            groups.setdefault(f"domain:{item.domain}", []).append(correct[item.id])
            groups.setdefault(f"subject:{item.subject}", []).append(correct[item.id])
        for group, values in groups.items():
            rows.append(
                ResultRow(
                    group,
                    "exact_match",
                    sum(values) / len(values),
                    bootstrap_interval(values),
                    len(values),
                )
            )
    return rows


def _store(
    run: ModelRun,
    version: ModelVersion,
    benchmark_name: str,
    checksum: str,
    shots: int,
    report: EvaluationReport,
    config: dict[str, Any],
) -> None:
    """All results of the run in one transaction, and the run finished."""
    with transaction.atomic():
        EvaluationResult.objects.bulk_create(
            EvaluationResult(
                run=run,
                version=version,
                benchmark=benchmark_name,
                benchmark_sha256=checksum,
                shots=shots,
                group=row.group,
                metric=row.metric,
                value=row.value,
                interval_low=row.interval[0] if row.interval else None,
                interval_high=row.interval[1] if row.interval else None,
                count=row.count,
            )
            for row in report.rows
        )
        run.config = {
            **config,
            "seconds": round(report.seconds, 2),
            "items": report.items_scored,
            "items_per_second": round(report.items_scored / max(report.seconds, 1e-9), 3),
            **{
                f"{row.metric}": round(row.value, 4)
                for row in report.rows
                if row.group in (ALL_ITEMS, FERTILITY_GROUP)
            },
        }
        run.save(update_fields=["config"])
        run_finish(run, status=ModelRun.Status.SUCCEEDED)


def _generation_rows(
    run: ModelRun,
    model: Any,
    tokenizer: Any,
    benchmark: GenerationBenchmark,
    *,
    batch_size: int,
    progress: Progress | None,
) -> list[ResultRow]:
    """Answer every item of the suite and score the replies; the replies are written to
    ``<var>/evaluations/run-<id>.jsonl``."""
    from modelops.evaluation.generation import generate_replies, score_reply, summaries
    from modelops.llm.gemma import stop_token_ids
    from modelops.llm.langid import detect_language

    items = benchmark.items
    replies: list[str] = []
    step = max(1, min(batch_size, 8))
    for start in range(0, len(items), step):
        run_check_cancel(run)
        replies += generate_replies(
            model,
            tokenizer,
            items[start : start + step],
            max_new_tokens=GENERATION_MAX_NEW_TOKENS,
            batch_size=step,
            stop_token_ids=stop_token_ids(tokenizer),
        )
        run_report_progress(run, "answering the suite", len(replies) / len(items), progress)
    scores = [
        score_reply(item, reply, detect_language)
        for item, reply in zip(items, replies, strict=True)
    ]
    out = Path(settings.VAR_DIR) / "evaluations" / f"run-{run.pk}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "".join(
            json.dumps(
                {
                    "id": score.item_id,
                    "task": score.task,
                    "reply": score.reply,
                    "language": score.language,
                    "echo": score.is_echo,
                    "cites": score.cites_correctly,
                    "chrf": score.chrf,
                },
                ensure_ascii=False,
            )
            + "\n"
            for score in scores
        ),
        encoding="utf-8",
    )
    rows: list[ResultRow] = []
    for summary in summaries(scores):
        group = ALL_ITEMS if summary.group == "all" else summary.group
        members = [s for s in scores if group == ALL_ITEMS or f"task:{s.task}" == group]
        intervals = {
            "tajik_share": bootstrap_interval([float(s.is_expected_language) for s in members]),
            "echo_share": bootstrap_interval([float(s.is_echo) for s in members]),
        }
        for metric, value in summary.metrics().items():
            rows.append(ResultRow(group, metric, value, intervals.get(metric), summary.count))
    return rows


def model_evaluate(
    *,
    version: ModelVersion,
    benchmark: AnyBenchmark,
    shots: int = 0,
    batch_size: int = 16,
    limit: int | None = None,
    user: User | None = None,
    progress: Progress | None = None,
    run: ModelRun | None = None,
) -> EvaluationReport:
    """Evaluate ``version`` on ``benchmark`` and store the results (one transaction).

    Records a :class:`ModelRun` (or uses the queued one a job passes in) with the
    configuration, timings and outcome. Raises :class:`EvaluationError` when the version does
    not load or the options do not fit the benchmark, :class:`RunCancelled` when the run was
    cancelled; in both cases no result is written.

    A generation suite is answered greedily (``GENERATION_MAX_NEW_TOKENS``) and scored on
    language, echo, citations, chrF and length; its replies are kept in
    ``<var>/evaluations/run-<id>.jsonl`` for reading. ``limit`` keeps the first items only
    (a different checksum, so such results are compared only with the same limit)."""
    if isinstance(benchmark, GenerationBenchmark):
        benchmark = benchmark.limited(limit)
        if shots:
            raise EvaluationError("a generation suite is answered zero-shot; drop --shots")
    checksum = benchmark_checksum(benchmark)
    config = {
        "benchmark": benchmark.name,
        "source": benchmark.source,
        "benchmark_sha256": checksum,
        "shots": shots,
        "batch_size": batch_size,
        "version": version.name,
        **({"limit": limit} if limit is not None else {}),
    }
    if run is None:
        run = run_start(
            kind=ModelRun.Kind.EVALUATE, config=config, user=user, input_version=version
        )
    report = EvaluationReport(version.name, benchmark.name, checksum, shots, run_id=run.pk)
    started = time.perf_counter()
    try:
        if isinstance(benchmark, GenerationBenchmark):
            run_report_progress(run, "loading the model", 0.0, progress)
            model, tokenizer = model_load_for_evaluation(version=version)
            report.rows = _generation_rows(
                run, model, tokenizer, benchmark, batch_size=batch_size, progress=progress
            )
            report.items_scored = len(benchmark)
            report.seconds = time.perf_counter() - started
            _store(run, version, benchmark.name, checksum, shots, report, config)
            return report
        examples, evaluated = fewshot_split(benchmark, shots)
        run_report_progress(run, "loading the model", 0.0, progress)
        model, tokenizer = model_load_for_evaluation(version=version)
        multiple_choice = [item for item in evaluated if item.is_multiple_choice]
        short = [item for item in evaluated if not item.is_multiple_choice]
        total = max(1, len(multiple_choice) + len(short))
        choice_scores: list[ItemScore] = []
        answer_scores: list[ShortAnswerScore] = []
        for start in range(0, len(multiple_choice), CHUNK_ITEMS):
            run_check_cancel(run)
            chunk = multiple_choice[start : start + CHUNK_ITEMS]
            choice_scores += score_items(
                model, tokenizer, chunk, examples=examples, batch_size=batch_size
            )
            run_report_progress(run, "multiple-choice items", len(choice_scores) / total, progress)
        for start in range(0, len(short), CHUNK_ITEMS):
            run_check_cancel(run)
            chunk = short[start : start + CHUNK_ITEMS]
            answer_scores += score_short_answers(
                model, tokenizer, chunk, examples=examples, batch_size=batch_size
            )
            run_report_progress(
                run,
                "short-answer items",
                (len(choice_scores) + len(answer_scores)) / total,
                progress,
            )
        run_check_cancel(run)
        from modelops.evaluation.metrics import tokenizer_fertility

        report.rows = _summary_rows(evaluated, choice_scores, answer_scores)
        report.rows.append(
            ResultRow(
                FERTILITY_GROUP,
                "fertility",
                tokenizer_fertility(tokenizer, tajik_reference_text()),
                None,
                0,
            )
        )
        report.items_scored = len(evaluated)
        report.seconds = time.perf_counter() - started
        _store(run, version, benchmark.name, checksum, shots, report, config)
    except RunCancelled:
        run_finish(run, status=ModelRun.Status.CANCELLED, log="cancelled by an administrator")
        raise
    except BaseException as error:  # a run is never left "running"
        run_finish(run, status=ModelRun.Status.FAILED, error=str(error))
        raise
    return report


# --- reading results back -------------------------------------------------------------------


@dataclass(frozen=True)
class StoredResult:
    value: float
    interval: tuple[float, float] | None
    count: int
    benchmark_sha256: str
    shots: int


def evaluation_latest(
    *, version: ModelVersion, benchmark: str
) -> dict[tuple[str, str], StoredResult]:
    """``{(group, metric): result}`` of the newest evaluation of ``version`` on
    ``benchmark``; empty when there is none."""
    return {
        (row.group, row.metric): StoredResult(
            row.value,
            (row.interval_low, row.interval_high) if row.interval_low is not None else None,  # type: ignore[arg-type]
            row.count,
            row.benchmark_sha256,
            row.shots,
        )
        for row in EvaluationResult.objects.latest_for(version, benchmark)
    }


def evaluation_is_current(
    *, version: ModelVersion, benchmark: AnyBenchmark, shots: int, limit: int | None = None
) -> bool:
    """Whether ``version`` has a stored result on exactly these benchmark contents and shots
    (so a comparison needs no new evaluation)."""
    if isinstance(benchmark, GenerationBenchmark):
        benchmark = benchmark.limited(limit)
    checksum = benchmark_checksum(benchmark)
    return any(
        result.benchmark_sha256 == checksum and result.shots == shots
        for result in evaluation_latest(version=version, benchmark=benchmark.name).values()
    )


@dataclass(frozen=True)
class ComparisonRow:
    group: str
    metric: str
    value: float | None
    other: float | None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.other is None:
            return None
        return self.value - self.other


def evaluation_compare(
    *, version: ModelVersion, against: ModelVersion, benchmark: str
) -> list[ComparisonRow]:
    """Side by side: ``version``'s newest results next to ``against``'s on one benchmark."""
    mine = evaluation_latest(version=version, benchmark=benchmark)
    theirs = evaluation_latest(version=against, benchmark=benchmark)
    keys = sorted(
        set(mine) | set(theirs),
        key=lambda key: (key[0] != ALL_ITEMS, not key[0].startswith("domain:"), key),
    )
    return [
        ComparisonRow(
            group,
            metric,
            mine[(group, metric)].value if (group, metric) in mine else None,
            theirs[(group, metric)].value if (group, metric) in theirs else None,
        )
        for group, metric in keys
    ]
