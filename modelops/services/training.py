"""Continual pretraining and instruction tuning as recorded runs: the Django side of
:mod:`modelops.training`.

A run trains into ``<var>/training/run-<id>/`` (checkpoints; kept after a failure, a
cancel or a dead worker so the same run can resume) and saves the result into the models
directory; the new :class:`ModelVersion` is registered only when training and the
held-out measurements finished — never half-registered.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext as _

from modelops.checkpoints import directory_size, file_sha256, parameter_count, weights_sha256
from modelops.models import Corpus, ModelRun, ModelVersion
from modelops.services.registry import model_version_check_loads
from modelops.services.runs import Progress, RunCancelled, run_finish, run_start

if TYPE_CHECKING:
    from modelops.training import TrainingProgress, TrainingResult
    from soro_web.accounts.models import User

#: Held-out tokens the perplexity of the child and of the parent is measured on.
PERPLEXITY_TOKENS = 20_000
#: Points of the loss curve kept in a version's metrics.
LOSS_POINTS = 50


def training_run_dir(run: ModelRun) -> Path:
    """Where a run keeps its checkpoints."""
    return Path(settings.VAR_DIR) / "training" / f"run-{run.pk}"


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _check_version(version: ModelVersion) -> None:
    if version.format != ModelVersion.Format.HF or version.quantization:
        raise _refuse(
            _("%(name)s is quantized; train its unquantized parent instead.")
            % {"name": version.name},
            "quantized",
        )
    problem = model_version_check_loads(directory=version.directory)
    if problem:
        raise _refuse(
            _("%(name)s cannot be trained: %(problem)s.")
            % {"name": version.name, "problem": problem},
            "does_not_load",
        )


def _check_name(name: str) -> None:
    if ModelVersion.objects.filter(name=name).exists():
        raise _refuse(
            _("A version called %(name)s exists already; choose another --name.") % {"name": name},
            "name_taken",
        )
    if (Path(settings.SORO_MODELS_DIR) / name).exists():
        raise _refuse(
            _("The directory %(path)s exists but is not registered; remove it first.")
            % {"path": Path(settings.SORO_MODELS_DIR) / name},
            "directory_exists",
        )


def _claim_run(
    run: ModelRun | None, *, kind: str, config: dict[str, Any], version: ModelVersion, user: Any
) -> ModelRun:
    """A new running run, or ``run`` (a queued job, or a run to resume) marked running with
    ``config``. A resumed run must be of the same kind and not finished successfully."""
    if run is None:
        return run_start(kind=kind, config=config, user=user, input_version=version)
    if run.kind != kind:
        raise _refuse(
            _("Run #%(id)s is not a %(kind)s run.") % {"id": run.pk, "kind": kind}, "kind"
        )
    if run.status == ModelRun.Status.SUCCEEDED:
        raise _refuse(
            _("Run #%(id)s has finished already; there is nothing to resume.") % {"id": run.pk},
            "finished",
        )
    from django.utils import timezone

    if run.status != ModelRun.Status.RUNNING:
        # A stopped run resumed from the command: its old cancel request is spent. A
        # claimed job keeps a cancel that arrived since the claim.
        run.is_cancel_requested = False
    run.config = {**run.config, **config}
    run.status, run.error, run.finished_at = ModelRun.Status.RUNNING, "", None
    run.input_version = version
    run.started_at = run.started_at or timezone.now()
    run.save(
        update_fields=[
            "config",
            "status",
            "error",
            "finished_at",
            "is_cancel_requested",
            "input_version",
            "started_at",
        ]
    )
    return run


class _Reporter:
    """Progress from the training core to the run row (at most once a second), the log
    (about 20 lines a run) and a progress bar; and the admin's cancel flag."""

    def __init__(self, run: ModelRun, progress: Progress | None, label: str) -> None:
        self.run, self.progress, self.label = run, progress, label
        self.last_write = 0.0
        self.last_cancel_check = 0.0

    def __call__(self, report: TrainingProgress) -> None:
        fraction = 0.9 * report.step / max(report.total_steps, 1)
        stage = (
            f"{self.label}: step {report.step}/{report.total_steps}, loss {report.loss:.4f}, "
            f"{report.tokens_per_second:,.0f} tokens/s"
        )
        now = time.monotonic()
        if now - self.last_write > 1.0 or report.step == report.total_steps:
            self.last_write = now
            ModelRun.objects.filter(pk=self.run.pk).update(progress=fraction, stage=stage[:200])
        if report.step % max(1, report.total_steps // 20) == 0 or report.step == 1:
            line = (
                f"step {report.step}/{report.total_steps} loss {report.loss:.4f} "
                f"lr {report.lr:.2e} tokens {report.tokens_seen} "
                f"{report.tokens_per_second:.0f} tokens/s\n"
            )
            ModelRun.objects.filter(pk=self.run.pk).update(log=Concat(F("log"), Value(line)))
        if self.progress is not None:
            self.progress(stage, fraction)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_cancel_check < 2.0:
            return False
        self.last_cancel_check = now
        return ModelRun.objects.filter(pk=self.run.pk, is_cancel_requested=True).exists()


def _reload_log(run: ModelRun) -> None:
    """The log lines written during training (``run_finish`` saves the in-memory log)."""
    run.log = ModelRun.objects.values_list("log", flat=True).get(pk=run.pk)


def _loss_curve(losses: Sequence[tuple[int, float]]) -> list[list[float]]:
    stride = max(1, len(losses) // LOSS_POINTS)
    points = [list(point) for point in losses[::stride]]
    if losses and points[-1][0] != losses[-1][0]:
        points.append(list(losses[-1]))
    return [[int(step), round(float(loss), 4)] for step, loss in points]


def _train_and_register(
    *,
    run: ModelRun,
    version: ModelVersion,
    name: str,
    stage: str,
    train: Any,
    metrics: Any,
    progress: Progress | None,
) -> ModelVersion:
    """Run ``train(reporter)`` (which saves into the models directory), then ``metrics(
    result)``, then register the version in one transaction. Failures and cancels leave
    no directory and no version; the run's checkpoints stay for a resume."""
    from modelops.training import TrainingError, TrainingStopped

    output = Path(settings.SORO_MODELS_DIR) / name
    try:
        result: TrainingResult = train()
        ModelRun.objects.filter(pk=run.pk).update(
            progress=0.92, stage="measuring held-out perplexity"
        )
        if progress is not None:
            progress("measuring held-out perplexity", 0.92)
        values = metrics(result)
        with transaction.atomic():
            trained = ModelVersion.objects.create(
                name=name,
                stage=stage,
                parent=version,
                path=name,
                format=ModelVersion.Format.HF,
                parameter_count=parameter_count(output),
                size_bytes=directory_size(output),
                checksum=weights_sha256(output),
                metrics=values,
            )
            run.config = {**run.config, "output": name}
            run.save(update_fields=["config"])
            _reload_log(run)
            run_finish(run, status=ModelRun.Status.SUCCEEDED, output=trained)
    except TrainingStopped as stopped:
        shutil.rmtree(output, ignore_errors=True)
        _reload_log(run)
        run_finish(
            run,
            status=ModelRun.Status.CANCELLED,
            log=f"\ncancelled by an administrator at step {stopped.step}; resume with "
            f"--resume {run.pk}",
        )
        raise RunCancelled from stopped
    except BaseException as error:
        if not ModelVersion.objects.filter(name=name).exists():
            shutil.rmtree(output, ignore_errors=True)
        message = str(error)
        if not isinstance(error, TrainingError):
            message = f"{type(error).__name__}: {error}"
        _reload_log(run)
        run_finish(run, status=ModelRun.Status.FAILED, error=message)
        raise
    return trained


def model_pretrain(
    *,
    version: ModelVersion,
    corpus: Corpus,
    steps: int | None = None,
    tokens: int | None = None,
    lr: float = 1e-4,
    seq_len: int = 1024,
    replay: float = 0.0,
    micro_batch_size: int = 4,
    gradient_accumulation: int = 4,
    warmup_ratio: float = 0.05,
    checkpoint_every: int = 200,
    seed: int = 0,
    name: str | None = None,
    perplexity_tokens: int = PERPLEXITY_TOKENS,
    user: User | None = None,
    progress: Progress | None = None,
    run: ModelRun | None = None,
    on_start: Callable[[ModelRun], None] | None = None,
) -> ModelVersion:
    """Continue pretraining every weight of ``version`` on ``corpus`` (its ``train``
    split) for ``steps`` optimiser steps or ``tokens`` tokens, with ``replay`` (0–0.5) of
    the tokens from Soro's English replay text, and register the result (stage
    ``continued_pretrained``) with its held-out Tajik perplexity and its parent's on the
    corpus's ``validation`` split.

    ``run``: a queued job, or an earlier run of the same arguments to resume from its last
    checkpoint (other arguments are refused); ``on_start`` is called with the run once it
    is claimed (the commands print its id, which ``--resume`` takes). Raises ValidationError
    for bad requests, :class:`modelops.training.TrainingError` for failures, RunCancelled
    when cancelled."""
    from modelops.training import PretrainConfig, Schedule, corpus_texts, perplexity, pretrain

    if (steps is None) == (tokens is None):
        raise _refuse(_("Give either a number of steps or a number of tokens."), "budget")
    if (steps is not None and steps < 1) or (tokens is not None and tokens < 1):
        raise _refuse(_("Steps and tokens must be at least 1."), "budget")
    if not 0.0 <= replay <= 0.5:
        raise _refuse(_("The English replay share must be between 0 and 0.5."), "replay")
    if lr <= 0 or seq_len < 8 or micro_batch_size < 1 or gradient_accumulation < 1:
        raise _refuse(
            _("The learning rate, sequence length and batch sizes must be positive."), "schedule"
        )
    _check_version(version)
    if not (corpus.directory / "data").is_dir():
        raise _refuse(
            _("The files of corpus %(name)s are missing (%(path)s).")
            % {"name": corpus.name, "path": corpus.directory},
            "corpus_missing",
        )
    config: dict[str, Any] = {
        "version": version.name,
        "corpus": corpus.name,
        "corpus_checksum": corpus.checksum,
        "steps": steps,
        "tokens": tokens,
        "lr": lr,
        "seq_len": seq_len,
        "replay": replay,
        "micro_batch_size": micro_batch_size,
        "gradient_accumulation": gradient_accumulation,
        "warmup_ratio": warmup_ratio,
        "checkpoint_every": checkpoint_every,
        "seed": seed,
    }
    if run is not None and run.config.get("name") and name is None:
        name = str(run.config["name"])
    run = _claim_run(run, kind=ModelRun.Kind.PRETRAIN, config=config, version=version, user=user)
    if on_start is not None:
        on_start(run)
    name = name or f"{version.name}-cpt-{run.pk}"
    try:
        _check_name(name)
    except ValidationError as error:
        run_finish(run, status=ModelRun.Status.FAILED, error=" ".join(error.messages))
        raise
    run.config = {**run.config, "name": name}
    run.save(update_fields=["config"])
    reporter = _Reporter(run, progress, "pretraining")
    core_config = PretrainConfig(
        model_dir=version.directory,
        corpus_dir=corpus.directory,
        output_dir=Path(settings.SORO_MODELS_DIR) / name,
        run_dir=training_run_dir(run),
        schedule=Schedule(
            lr=lr,
            steps=steps,
            tokens=tokens,
            seq_len=seq_len,
            micro_batch_size=micro_batch_size,
            gradient_accumulation=gradient_accumulation,
            warmup_ratio=warmup_ratio,
            checkpoint_every=checkpoint_every,
            seed=seed,
        ),
        replay_share=replay,
    )

    def metrics(result: TrainingResult) -> dict[str, Any]:
        held_out = list(corpus_texts(corpus.directory, "validation"))
        values: dict[str, Any] = _common_metrics(result)
        values.update(
            {
                "corpus": corpus.name,
                "corpus_checksum": corpus.checksum,
                "replay_share": replay,
                "lr": lr,
                "seq_len": seq_len,
            }
        )
        if held_out:
            child = perplexity(
                core_config.output_dir, held_out, seq_len=seq_len, max_tokens=perplexity_tokens
            )
            parent = perplexity(
                version.directory, held_out, seq_len=seq_len, max_tokens=perplexity_tokens
            )
            values.update(
                {
                    "heldout_perplexity": round(child.perplexity, 4),
                    "parent_heldout_perplexity": round(parent.perplexity, 4),
                    "heldout_tokens": child.tokens,
                    "heldout_documents": child.documents,
                }
            )
        return values

    return _train_and_register(
        run=run,
        version=version,
        name=name,
        stage=ModelVersion.Stage.CONTINUED_PRETRAINED,
        train=lambda: pretrain(core_config, reporter, reporter.should_stop),
        metrics=metrics,
        progress=progress,
    )


def _common_metrics(result: TrainingResult) -> dict[str, Any]:
    return {
        "steps": result.steps,
        "tokens_seen": result.tokens_seen,
        "final_loss": round(result.final_loss, 4),
        "loss_curve": _loss_curve(result.losses),
        "tokens_per_second": round(result.tokens_per_second, 1),
        "train_seconds": round(result.seconds, 1),
        "resumed_from_step": result.resumed_from_step,
        "trainable_parameters": result.trainable_parameters,
        "mixed_precision": result.mixed_precision,
        "world_size": result.world_size,
    }


def data_checksum(paths: Sequence[Path]) -> str:
    """SHA-256 over the data files (every file of a folder), by relative name and content."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode())
            digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def model_sft(
    *,
    version: ModelVersion,
    data: Sequence[Path],
    lora: bool = True,
    epochs: float = 1.0,
    lr: float | None = None,
    eval_split: float = 0.1,
    seq_len: int = 2048,
    steps: int | None = None,
    micro_batch_size: int = 1,
    gradient_accumulation: int = 8,
    checkpoint_every: int = 200,
    seed: int = 0,
    name: str | None = None,
    user: User | None = None,
    progress: Progress | None = None,
    run: ModelRun | None = None,
    on_start: Callable[[ModelRun], None] | None = None,
) -> ModelVersion:
    """Instruction-tune ``version`` on the conversations in ``data`` (JSONL files, folders
    of them, or ``datasets`` folders; Soro's task records are rendered through the prompt
    builders) and register the result (stage ``instruction_tuned``) with its train and eval
    loss, example counts and the data checksum. LoRA adapters are merged into the saved
    weights; ``lora=False`` trains every weight. ``eval_split`` of the ids (a stable hash,
    the same choice as the generation suite's held-out examples) is never trained on.

    Raises ValidationError for bad requests, :class:`modelops.training.SftDataError` naming
    each bad line, RunCancelled when cancelled."""
    from modelops.training import Schedule, SftConfig, sft

    paths = [Path(path).expanduser().resolve() for path in data]
    missing = [str(path) for path in paths if not path.exists()]
    if not paths or missing:
        raise _refuse(
            _("No instruction data at %(paths)s.") % {"paths": ", ".join(missing) or "—"},
            "data_missing",
        )
    if epochs <= 0 or not 0.0 <= eval_split < 1.0 or seq_len < 8:
        raise _refuse(
            _("Epochs must be positive, the eval split between 0 and 1, the length at least 8."),
            "schedule",
        )
    _check_version(version)
    lr = lr if lr is not None else (2e-4 if lora else 2e-5)
    checksum = data_checksum(paths)
    config: dict[str, Any] = {
        "version": version.name,
        "data": [str(path) for path in paths],
        "data_checksum": checksum,
        "lora": lora,
        "epochs": epochs,
        "lr": lr,
        "eval_split": eval_split,
        "seq_len": seq_len,
        "steps": steps,
        "micro_batch_size": micro_batch_size,
        "gradient_accumulation": gradient_accumulation,
        "checkpoint_every": checkpoint_every,
        "seed": seed,
    }
    if run is not None and run.config.get("name") and name is None:
        name = str(run.config["name"])
    run = _claim_run(run, kind=ModelRun.Kind.FINETUNE, config=config, version=version, user=user)
    if on_start is not None:
        on_start(run)
    name = name or f"{version.name}-sft-{run.pk}"
    try:
        _check_name(name)
    except ValidationError as error:
        run_finish(run, status=ModelRun.Status.FAILED, error=" ".join(error.messages))
        raise
    run.config = {**run.config, "name": name}
    run.save(update_fields=["config"])
    reporter = _Reporter(run, progress, "instruction tuning")
    core_config = SftConfig(
        model_dir=version.directory,
        data_paths=tuple(paths),
        output_dir=Path(settings.SORO_MODELS_DIR) / name,
        run_dir=training_run_dir(run),
        schedule=Schedule(
            lr=lr,
            steps=steps,
            seq_len=seq_len,
            micro_batch_size=micro_batch_size,
            gradient_accumulation=gradient_accumulation,
            warmup_ratio=0.03,
            checkpoint_every=checkpoint_every,
            seed=seed,
        ),
        epochs=epochs,
        eval_split=eval_split,
        lora=lora,
    )

    def metrics(result: TrainingResult) -> dict[str, Any]:
        values = _common_metrics(result)
        values.update(
            {
                "data": [str(path) for path in paths],
                "data_checksum": checksum,
                "method": "lora" if lora else "full",
                "epochs": epochs,
                "lr": lr,
                "train_examples": result.train_examples,
                "eval_examples": result.eval_examples,
                "packed_sequences": result.packed_sequences,
                "train_loss": round(result.final_loss, 4),
                "eval_loss": round(result.eval_loss, 4) if result.eval_loss is not None else None,
                "label_tokens": result.extra.get("label_tokens"),
            }
        )
        return values

    return _train_and_register(
        run=run,
        version=version,
        name=name,
        stage=ModelVersion.Stage.INSTRUCTION_TUNED,
        train=lambda: sft(core_config, reporter, reporter.should_stop),
        metrics=metrics,
        progress=progress,
    )


def model_import(
    *, directory: Path, name: str, parent: ModelVersion | None = None, stage: str | None = None
) -> ModelVersion:
    """Register a Gemma 3 checkpoint folder (trained elsewhere, e.g. on rented GPUs) as a
    version, after the same checks as the base import: it has a config, safetensors
    weights and a tokenizer that load, and its config is a Gemma 3 one. The folder is used
    where it is."""
    directory = Path(directory).expanduser().resolve()
    problem = model_version_check_loads(directory=directory)
    if problem:
        raise _refuse(
            _("The checkpoint cannot be imported: %(problem)s.") % {"problem": problem},
            "does_not_load",
        )
    from transformers import AutoConfig

    model_type = getattr(AutoConfig.from_pretrained(directory), "model_type", "")
    if not str(model_type).startswith("gemma3"):
        raise _refuse(
            _("%(path)s holds a %(type)s model, not Gemma 3.")
            % {"path": directory, "type": model_type or "?"},
            "not_gemma3",
        )
    if ModelVersion.objects.filter(name=name).exists():
        raise _refuse(
            _("A version called %(name)s exists already; choose another --name.") % {"name": name},
            "name_taken",
        )
    if stage is None:
        stage = ModelVersion.Stage.CONTINUED_PRETRAINED if parent else ModelVersion.Stage.BASE
    if stage not in ModelVersion.Stage.values or stage == ModelVersion.Stage.QUANTIZED:
        raise _refuse(_("Unknown stage %(stage)r.") % {"stage": stage}, "stage")
    run = run_start(kind=ModelRun.Kind.IMPORT, config={"name": name, "source": str(directory)})
    with transaction.atomic():
        version = ModelVersion.objects.create(
            name=name,
            stage=stage,
            parent=parent,
            path=str(directory),
            format=ModelVersion.Format.HF,
            parameter_count=parameter_count(directory),
            size_bytes=directory_size(directory),
            checksum=weights_sha256(directory),
            metrics={"imported_from": str(directory)},
        )
        run_finish(run, status=ModelRun.Status.SUCCEEDED, output=version)
    return version
