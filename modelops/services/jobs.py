"""Model runs as background jobs: queued from the admin (or ``refresh_model``), run by a
worker on the ``modelops`` queue, with progress, cancel, a heartbeat, and recovery when the
worker dies (``soro_web/jobs.py``).

A kind of job is a *handler*: a function that takes the claimed run and does its work from
``run.config``, resuming when ``resume`` is true (the run was recovered after its worker
stopped). Evaluation and quantization start over (they store nothing until they finish);
training resumes from its last checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from modelops.models import ModelRun, ModelVersion
from modelops.services.runs import RunCancelled
from soro_web.jobs import RECOVERED_NOTE, heartbeat, new_owner

if TYPE_CHECKING:
    from soro_web.accounts.models import User

logger = logging.getLogger(__name__)

Handler = Callable[[ModelRun, bool], None]
_handlers: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs queued runs of ``kind``."""

    def register(handler: Handler) -> Handler:
        _handlers[kind] = handler
        return handler

    return register


def model_run_enqueue(
    *,
    kind: str,
    version: ModelVersion | None,
    config: dict[str, Any],
    user: User | None = None,
) -> ModelRun:
    """Record a queued run and send it to the worker once the transaction commits."""
    if kind not in _handlers:
        raise ValueError(f"runs of kind {kind!r} are not jobs")
    with transaction.atomic():
        run = ModelRun.objects.create(
            kind=kind,
            status=ModelRun.Status.QUEUED,
            config={**config, **({"version": version.name} if version else {})},
            input_version=version,
            started_by=user if getattr(user, "is_authenticated", False) else None,
            sent_at=timezone.now(),
        )
        _send(run.pk)
    return run


def _send(run_id: int) -> None:
    from modelops import tasks

    tasks.run_job.delay_on_commit(run_id)


def model_run_cancel(*, run: ModelRun) -> str:
    """Cancel a queued run at once, or ask a running one to stop at its next step.
    Returns the run's status afterwards."""
    if ModelRun.objects.filter(pk=run.pk, status=ModelRun.Status.QUEUED).update(
        status=ModelRun.Status.CANCELLED, finished_at=timezone.now(), log="cancelled before it ran"
    ):
        return ModelRun.Status.CANCELLED
    ModelRun.objects.filter(pk=run.pk, status=ModelRun.Status.RUNNING).update(
        is_cancel_requested=True
    )
    run.refresh_from_db()
    return run.status


def model_run_execute(*, run_id: int) -> None:
    """Run a queued job. Idempotent: the run is claimed with a conditional update, so a
    second delivery of the same message does nothing; while it runs, a heartbeat keeps the
    sweep from taking it for dead."""
    owner, now = new_owner(), timezone.now()
    claimed = ModelRun.objects.filter(pk=run_id, status=ModelRun.Status.QUEUED).update(
        status=ModelRun.Status.RUNNING,
        owner=owner,
        heartbeat_at=now,
        started_at=now,
    )
    if not claimed:
        return
    run = ModelRun.objects.select_related("input_version").get(pk=run_id)

    def mine() -> QuerySet[ModelRun]:
        return ModelRun.objects.filter(pk=run_id, status=ModelRun.Status.RUNNING, owner=owner)

    handler = _handlers.get(run.kind)
    with heartbeat(lambda: mine().update(heartbeat_at=timezone.now())):
        try:
            if handler is None:
                raise ValueError(f"runs of kind {run.kind!r} are not jobs")
            handler(run, run.recoveries > 0)
        except RunCancelled:
            return
        except Exception as error:  # recorded on the run; the worker stays up
            logger.exception("model run %s failed", run_id)
            mine().update(
                status=ModelRun.Status.FAILED, error=str(error), finished_at=timezone.now()
            )


def model_run_sweep(stale_before: datetime, resend_before: datetime) -> list[int]:
    """Queue again the runs whose worker died (running, heartbeat older than
    ``stale_before``) and the queued ones last sent before ``resend_before``. Runs started
    from a command have no heartbeat and are left alone. Registered with
    :mod:`soro_web.jobs` by the app."""
    now = timezone.now()
    with transaction.atomic():
        dead = list(
            ModelRun.objects.filter(
                status=ModelRun.Status.RUNNING, heartbeat_at__lt=stale_before
            ).values_list("pk", flat=True)
        )
        for run in ModelRun.objects.filter(pk__in=dead):
            ModelRun.objects.filter(
                pk=run.pk, status=ModelRun.Status.RUNNING, heartbeat_at__lt=stale_before
            ).update(
                status=ModelRun.Status.QUEUED,
                owner="",
                sent_at=now,
                recoveries=F("recoveries") + 1,
                stage=RECOVERED_NOTE,
                log=(f"{run.log}\n" if run.log else "") + f"{now:%Y-%m-%d %H:%M} {RECOVERED_NOTE}",
            )
        waiting = list(
            ModelRun.objects.filter(status=ModelRun.Status.QUEUED)
            .filter(Q(sent_at__lt=resend_before) | Q(sent_at__isnull=True))
            .exclude(pk__in=dead)
            .values_list("pk", flat=True)
        )
        ModelRun.objects.filter(pk__in=waiting).update(sent_at=now)
        for run_id in [*dead, *waiting]:
            _send(run_id)
    return [*dead, *waiting]


# --- the kinds of jobs ----------------------------------------------------------------------


def _version_of(run: ModelRun) -> ModelVersion:
    if run.input_version is None:
        raise ValueError("the model version is gone")
    return run.input_version


@job_handler(ModelRun.Kind.EVALUATE)
def _evaluate(run: ModelRun, resume: bool) -> None:
    from modelops.services.evaluation import benchmark_resolve, model_evaluate

    benchmark = benchmark_resolve(
        run.config["benchmark"], mapping=run.config.get("mapping"), split=run.config.get("split")
    )
    model_evaluate(
        version=_version_of(run),
        benchmark=benchmark,
        shots=int(run.config.get("shots", 0)),
        batch_size=int(run.config.get("batch_size", 16)),
        limit=run.config.get("limit"),
        run=run,
    )


@job_handler(ModelRun.Kind.REFRESH)
def _refresh(run: ModelRun, resume: bool) -> None:
    # The chain resumes by itself at its first unfinished stage, recovered or not.
    from modelops.services.refresh import refresh_run

    refresh_run(run=run)


@job_handler(ModelRun.Kind.QUANTIZE)
def _quantize(run: ModelRun, resume: bool) -> None:
    from modelops.services.quantization import model_quantize

    model_quantize(
        version=_version_of(run),
        scheme=run.config["scheme"],
        method=run.config.get("method"),
        run=run,
    )


def _training_options(config: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {key: config[key] for key in names if config.get(key) is not None}


@job_handler(ModelRun.Kind.PRETRAIN)
def _pretrain(run: ModelRun, resume: bool) -> None:
    """Continual pretraining; a recovered run continues from its last checkpoint (the run
    folder is the run's own, so ``resume`` needs no special path)."""
    from modelops.models import Corpus
    from modelops.services.training import model_pretrain

    corpus = Corpus.objects.filter(name=run.config.get("corpus")).first()
    if corpus is None:
        raise ValueError(f"the corpus {run.config.get('corpus')!r} is gone")
    model_pretrain(
        version=_version_of(run),
        corpus=corpus,
        run=run,
        **_training_options(
            run.config,
            (
                "steps",
                "tokens",
                "lr",
                "seq_len",
                "replay",
                "micro_batch_size",
                "gradient_accumulation",
                "warmup_ratio",
                "checkpoint_every",
                "seed",
                "name",
            ),
        ),
    )


@job_handler(ModelRun.Kind.FINETUNE)
def _finetune(run: ModelRun, resume: bool) -> None:
    """Instruction tuning; resumes from the last checkpoint like :func:`_pretrain`."""
    from pathlib import Path

    from modelops.services.training import model_sft

    model_sft(
        version=_version_of(run),
        data=[Path(path) for path in run.config.get("data", [])],
        run=run,
        **_training_options(
            run.config,
            (
                "lora",
                "epochs",
                "lr",
                "eval_split",
                "seq_len",
                "steps",
                "micro_batch_size",
                "gradient_accumulation",
                "checkpoint_every",
                "seed",
                "name",
            ),
        ),
    )
