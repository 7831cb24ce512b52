"""``refresh_model``: the administrator's one command from a base model to a promoted one.

corpus → continued pretraining → instruction tuning → evaluation (Tajik suite, English
retention, generation suite) of the active, pretrained and tuned versions → FP8 and INT4
quantization, and the llama.cpp ``cpu-int4`` export schools run on a CPU → evaluation of the
quantized versions → the gate → promotion of the export (or of the tuned version when
llama-cpp-python is not installed), or a refusal with the gate's reasons.

The chain is one ``ModelRun`` of kind ``refresh``; each stage is a run of its own, recorded in
the chain's ``config["stages"]`` with its outcome. A chain that failed (or whose worker died)
resumes at the first stage that did not finish: finished stages are never redone. The final
side-by-side table (every version on every benchmark) is built from the stored evaluations.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from modelops.evaluation.benchmarks import Benchmark
from modelops.evaluation.metrics import ALL_ITEMS
from modelops.models import Corpus, ModelRun, ModelVersion
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

logger = logging.getLogger(__name__)

SFT_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "sft"


@dataclass(frozen=True)
class RefreshPreset:
    """How much each stage does. ``demo`` fits a 2-core machine; ``full`` is for GPUs."""

    name: str
    pretrain_steps: int
    pretrain_seq_len: int
    pretrain_micro_batch: int
    pretrain_accumulation: int
    sft_epochs: float
    sft_steps: int | None
    sft_seq_len: int
    sft_accumulation: int
    generation_limit: int | None
    quantize_int4_method: str
    calibration_samples: int
    # The first N items of each multiple-choice benchmark (None: all); for smoke runs.
    benchmark_limit: int | None = None
    # The GPU servers' formats, then the CPU export schools run (skipped, and said so on the
    # run, where llama-cpp-python is not installed).
    quantize_schemes: tuple[str, ...] = ("fp8", "int4", "cpu-int4")


PRESETS = {
    "demo": RefreshPreset(
        name="demo",
        # About 25 s a step on 2 cores (2 x 512 tokens), 40 s a step of 4 examples.
        pretrain_steps=20,
        pretrain_seq_len=512,
        pretrain_micro_batch=2,
        pretrain_accumulation=1,
        sft_epochs=1.0,
        sft_steps=25,
        sft_seq_len=1024,
        sft_accumulation=4,
        generation_limit=24,
        quantize_int4_method="rtn",
        calibration_samples=8,
    ),
    "full": RefreshPreset(
        name="full",
        pretrain_steps=0,  # 0: one pass over the corpus's tokens
        pretrain_seq_len=2048,
        pretrain_micro_batch=8,
        pretrain_accumulation=8,
        sft_epochs=3.0,
        sft_steps=None,
        sft_seq_len=2048,
        sft_accumulation=8,
        generation_limit=None,
        quantize_int4_method="gptq",
        calibration_samples=128,
    ),
}

STAGES = (
    "corpus",
    "pretrain",
    "sft",
    "evaluate",
    "quantize",
    "evaluate_quantized",
    "promote",
)

BENCHMARKS = ("tajik_suite", "english_retention", "generation_suite")

# The rows of the side-by-side table: (benchmark, group, metric, label).
TABLE_ROWS = (
    ("tajik_suite", ALL_ITEMS, "acc", "Tajik suite, accuracy"),
    ("tajik_suite", ALL_ITEMS, "acc_norm", "Tajik suite, accuracy (length-normalised)"),
    ("english_retention", ALL_ITEMS, "acc", "English retention, accuracy"),
    ("generation_suite", "task:lesson_section", "tajik_share", "Lesson sections in Tajik"),
    ("generation_suite", "task:lesson_section", "echo_share", "Lesson sections echoing"),
    ("generation_suite", ALL_ITEMS, "tajik_share", "All replies in Tajik"),
    ("generation_suite", ALL_ITEMS, "echo_share", "All replies echoing"),
    ("generation_suite", ALL_ITEMS, "chrf", "chrF against the reference"),
    ("generation_suite", ALL_ITEMS, "citation_share", "Citations that point at a passage"),
    ("generation_suite", ALL_ITEMS, "mean_words", "Mean reply length (words)"),
)


class RefreshError(Exception):
    """A stage could not run; the message says which and why."""


@dataclass
class RefreshOutcome:
    run: ModelRun
    promoted: ModelVersion | None
    refusal: list[str]
    table: dict[str, Any]


def refresh_config(
    *,
    base: ModelVersion,
    corpus: str = "demo",
    sft_data: str | None = None,
    preset: str = "demo",
    promote: bool = True,
) -> dict[str, Any]:
    """A chain's configuration, checked: what ``refresh_start`` records and a job runs."""
    if preset not in PRESETS:
        raise ValidationError(
            f"Unknown preset {preset!r}: choose {' or '.join(PRESETS)}.", code="preset"
        )
    data = Path(sft_data) if sft_data else SFT_DATA_DIR
    if not data.exists():
        raise ValidationError(f"No instruction data at {data}.", code="sft_data")
    return {
        "base": base.name,
        "corpus": corpus,
        "sft_data": str(data),
        "preset": preset,
        "promote": promote,
        "stages": {},
    }


def refresh_start(*, base: ModelVersion, user: User | None = None, **options: Any) -> ModelRun:
    """Record a new chain run from a command: ``refresh_run`` runs it in this process."""
    config = refresh_config(base=base, **options)
    return run_start(kind=ModelRun.Kind.REFRESH, config=config, user=user, input_version=base)


def refresh_run(*, run: ModelRun, progress: Progress | None = None) -> RefreshOutcome:
    """Run the chain's unfinished stages in order; a finished stage is never redone.

    Raises :class:`RefreshError` (the run is marked failed and can be resumed) or
    :class:`RunCancelled`."""
    run.refresh_from_db()
    preset = PRESETS[run.config["preset"]]
    ModelRun.objects.filter(pk=run.pk).update(
        status=ModelRun.Status.RUNNING, error="", finished_at=None
    )
    run.refresh_from_db()
    runner = _Chain(run, preset, progress)
    try:
        for index, stage in enumerate(STAGES):
            if run.config["stages"].get(stage, {}).get("status") == "done":
                continue
            run_check_cancel(run)
            runner.index = index
            runner.report(f"{stage}", 0.0)
            began = time.perf_counter()
            try:
                result = getattr(runner, f"stage_{stage}")()
            except RunCancelled:
                raise
            except Exception as error:
                message = _error_text(error)
                runner.record(stage, {"status": "failed", "error": message})
                raise RefreshError(f"stage {stage} failed: {message}") from error
            seconds = round(time.perf_counter() - began, 1)
            runner.record(stage, {"status": "done", **result, "seconds": seconds})
    except RunCancelled:
        run_finish(run, status=ModelRun.Status.CANCELLED, log="cancelled by an administrator\n")
        raise
    except RefreshError as error:
        run_finish(run, status=ModelRun.Status.FAILED, error=str(error))
        raise
    promoted_name = run.config["stages"]["promote"].get("promoted")
    promoted = ModelVersion.objects.filter(name=promoted_name).first() if promoted_name else None
    refusal = run.config["stages"]["promote"].get("refused", [])
    table = refresh_table(run=run)
    run.config = {**run.config, "table": table}
    run.save(update_fields=["config"])
    run_finish(run, status=ModelRun.Status.SUCCEEDED, output=promoted)
    return RefreshOutcome(run=run, promoted=promoted, refusal=refusal, table=table)


def refresh_versions(run: ModelRun) -> list[tuple[str, ModelVersion]]:
    """The chain's versions in table order: (column label, version)."""
    stages = run.config.get("stages", {})
    names: list[tuple[str, str | None]] = [
        ("active", stages.get("evaluate", {}).get("active")),
        ("base", run.config.get("base")),
        ("pretrained", stages.get("pretrain", {}).get("version")),
        ("sft", stages.get("sft", {}).get("version")),
        ("sft fp8", stages.get("quantize", {}).get("fp8")),
        ("sft int4", stages.get("quantize", {}).get("int4")),
        ("sft cpu-int4", stages.get("quantize", {}).get("cpu-int4")),
    ]
    found: list[tuple[str, ModelVersion]] = []
    seen: set[str] = set()
    for label, name in names:
        if not name or name in seen:
            continue
        version = ModelVersion.objects.filter(name=name).first()
        if version is not None:
            seen.add(name)
            found.append((label, version))
    return found


def refresh_table(*, run: ModelRun) -> dict[str, Any]:
    """Every version of the chain on every benchmark, from the stored evaluations:
    ``{"columns": [...], "rows": [{"benchmark", "label", "values": [...]}]}`` (lists, not
    mappings: PostgreSQL's jsonb does not keep the order of an object's keys)."""
    from modelops.services.evaluation import evaluation_latest

    versions = refresh_versions(run)
    latest = {
        (version.name, benchmark): evaluation_latest(version=version, benchmark=benchmark)
        for _label, version in versions
        for benchmark in BENCHMARKS
    }
    rows = []
    for benchmark, group, metric, label in TABLE_ROWS:
        values = []
        for _column, version in versions:
            stored = latest[(version.name, benchmark)].get((group, metric))
            values.append(round(stored.value, 4) if stored else None)
        rows.append({"benchmark": benchmark, "label": label, "values": values})
    columns = [f"{column} ({version.name})" for column, version in versions]
    return {"columns": columns, "rows": rows}


def refresh_table_text(table: dict[str, Any]) -> str:
    """The table as Markdown, as the command prints it and docs/training.md quotes it."""
    columns = table.get("columns", [])
    if not columns:
        return ""
    lines = [
        "| " + " | ".join(["benchmark", *columns]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for row in table["rows"]:
        cells = ["–" if value is None else f"{value:.3f}" for value in row["values"]]
        lines.append("| " + " | ".join([row["label"], *cells]) + " |")
    return "\n".join(lines)


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or type(error).__name__


class _Chain:
    """The stages, each returning what the chain records about it."""

    def __init__(self, run: ModelRun, preset: RefreshPreset, progress: Progress | None) -> None:
        self.run, self.preset, self.progress, self.index = run, preset, progress, 0

    # -- bookkeeping --------------------------------------------------------------------
    def report(self, label: str, fraction: float) -> None:
        overall = (self.index + max(0.0, min(1.0, fraction))) / len(STAGES)
        run_report_progress(
            self.run, f"{STAGES[self.index]}: {label}"[:200], overall, self.progress
        )

    def stage_progress(self) -> Callable[[str, float], None]:
        def report(label: str, fraction: float) -> None:
            run_check_cancel(self.run)
            self.report(label, fraction)

        return report

    def record(self, stage: str, outcome: dict[str, Any]) -> None:
        self.run.refresh_from_db(fields=["config"])
        stages = dict(self.run.config.get("stages", {}))
        # Merged: a failed stage keeps the run it trained in, so a resume continues it.
        merged = {**stages.get(stage, {}), **outcome, "at": timezone.localtime().isoformat()}
        if outcome.get("status") == "done":
            merged.pop("error", None)
        stages[stage] = merged
        self.run.config = {**self.run.config, "stages": stages}
        self.run.save(update_fields=["config"])

    def child_run(self, stage: str, kind: str, version: ModelVersion) -> ModelRun:
        """The stage's own run: the one a failed attempt left (to resume from its last
        checkpoint), or a new one, recorded before training starts."""
        recorded = self.run.config["stages"].get(stage, {}).get("run")
        child = ModelRun.objects.filter(pk=recorded, kind=kind).first() if recorded else None
        if child is None or child.status == ModelRun.Status.SUCCEEDED:
            child = run_start(kind=kind, config={"refresh": self.run.pk}, input_version=version)
            self.record(stage, {"status": "running", "run": child.pk})
        return child

    def stage_version(self, stage: str) -> ModelVersion:
        name = self.run.config["stages"][stage]["version"]
        return ModelVersion.objects.get(name=name)

    # -- stages -------------------------------------------------------------------------
    def stage_corpus(self) -> dict[str, Any]:
        from modelops.services.corpus import corpus_build

        name = self.run.config["corpus"]
        corpus = Corpus.objects.filter(name=name).first()
        if corpus is not None:
            return {"corpus": name, "reused": True, "tokens": corpus.tokens}
        corpus = corpus_build(
            name=name,
            sources=[],
            textbooks=True,
            curriculum=True,
            packaged=True,
            resume=(Path(settings.SORO_CORPORA_DIR) / ".work" / name).exists(),
            progress=self.stage_progress(),
        )
        return {"corpus": name, "reused": False, "tokens": corpus.tokens}

    def stage_pretrain(self) -> dict[str, Any]:
        from modelops.services.training import model_pretrain

        base = ModelVersion.objects.get(name=self.run.config["base"])
        corpus = Corpus.objects.get(name=self.run.config["corpus"])
        child = self.child_run("pretrain", ModelRun.Kind.PRETRAIN, base)
        steps = self.preset.pretrain_steps or None
        tokens = None if steps else max(corpus.tokens, 1)  # the full preset: one pass
        version = model_pretrain(
            version=base,
            corpus=corpus,
            seq_len=self.preset.pretrain_seq_len,
            micro_batch_size=self.preset.pretrain_micro_batch,
            gradient_accumulation=self.preset.pretrain_accumulation,
            name=f"{base.name}-cpt-r{self.run.pk}",
            progress=self.stage_progress(),
            run=child,
            steps=steps,
            tokens=tokens,
        )
        return {"version": version.name, "run": child.pk}

    def stage_sft(self) -> dict[str, Any]:
        from modelops.services.training import model_sft

        pretrained = self.stage_version("pretrain")
        child = self.child_run("sft", ModelRun.Kind.FINETUNE, pretrained)
        version = model_sft(
            version=pretrained,
            data=[Path(self.run.config["sft_data"])],
            epochs=self.preset.sft_epochs,
            steps=self.preset.sft_steps,
            seq_len=self.preset.sft_seq_len,
            gradient_accumulation=self.preset.sft_accumulation,
            name=f"{self.run.config['base']}-sft-r{self.run.pk}",
            progress=self.stage_progress(),
            run=child,
        )
        return {"version": version.name, "run": child.pk}

    def _evaluate(self, versions: list[ModelVersion]) -> list[str]:
        from modelops.services.evaluation import (
            benchmark_resolve,
            evaluation_is_current,
            model_evaluate,
        )

        done = []
        jobs = [(version, name) for version in versions for name in BENCHMARKS]
        stage_report = self.stage_progress()
        for number, (version, name) in enumerate(jobs):
            benchmark = benchmark_resolve(name)
            limit = self.preset.generation_limit if name == "generation_suite" else None
            if isinstance(benchmark, Benchmark) and self.preset.benchmark_limit:
                benchmark = dataclasses.replace(
                    benchmark, items=benchmark.items[: self.preset.benchmark_limit]
                )
            if evaluation_is_current(version=version, benchmark=benchmark, shots=0, limit=limit):
                continue

            def report(label: str, fraction: float, number: int = number) -> None:
                stage_report(f"{label}", (number + fraction) / len(jobs))

            model_evaluate(
                version=version,
                benchmark=benchmark,
                limit=limit,
                batch_size=8,
                progress=report,
            )
            done.append(f"{version.name}:{name}")
        return done

    def stage_evaluate(self) -> dict[str, Any]:
        active = ModelVersion.objects.active().first()
        base = ModelVersion.objects.get(name=self.run.config["base"])
        versions = [base, self.stage_version("pretrain"), self.stage_version("sft")]
        if active is not None and active not in versions:
            versions.insert(0, active)
        evaluated = self._evaluate(versions)
        return {"active": active.name if active else None, "evaluated": evaluated}

    def stage_quantize(self) -> dict[str, Any]:
        from modelops.llm.llamacpp import llama_cpp_missing
        from modelops.services.quantization import CPU_SCHEMES, model_quantize

        sft = self.stage_version("sft")
        made: dict[str, Any] = {}
        for scheme in self.preset.quantize_schemes:
            missing = llama_cpp_missing() if scheme in CPU_SCHEMES else None
            if missing:
                made.setdefault("skipped", []).append(f"{scheme}: {missing}")
                continue
            name = f"{sft.name}-{scheme}"
            existing = ModelVersion.objects.filter(name=name).first()
            if existing is None:
                existing = model_quantize(
                    version=sft,
                    scheme=scheme,
                    method=self.preset.quantize_int4_method if scheme == "int4" else None,
                    name=name,
                    calibration_samples=self.preset.calibration_samples,
                    progress=self.stage_progress(),
                )
            made[scheme] = existing.name
        return made

    def stage_evaluate_quantized(self) -> dict[str, Any]:
        names = self.run.config["stages"]["quantize"]
        versions = [
            ModelVersion.objects.get(name=names[scheme])
            for scheme in self.preset.quantize_schemes
            if scheme in names
        ]
        return {"evaluated": self._evaluate(versions)}

    def stage_promote(self) -> dict[str, Any]:
        from modelops.services.promotion import model_version_promote, promotion_gate

        # What a school will run is judged and promoted: the CPU export when there is one,
        # otherwise the tuned version itself (served by the float32 engine or a GPU server).
        exported = self.run.config["stages"]["quantize"].get("cpu-int4")
        candidate = (
            ModelVersion.objects.get(name=exported) if exported else self.stage_version("sft")
        )
        decision = promotion_gate(candidate=candidate, active=ModelVersion.objects.active().first())
        if not self.run.config.get("promote", True):
            return {
                "candidate": candidate.name,
                "promoted": None,
                "refused": [],
                "gate": decision.reasons,
                "skipped": True,
            }
        try:
            model_version_promote(version=candidate, user=self.run.started_by)
        except ValidationError as error:
            if error.code != "gate":
                raise
            return {
                "candidate": candidate.name,
                "promoted": None,
                "refused": decision.reasons or error.messages,
            }
        return {"candidate": candidate.name, "promoted": candidate.name, "refused": []}
