"""The model registry: every model version Soro knows and every pipeline run that made one."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelVersionQuerySet(models.QuerySet["ModelVersion"]):
    def active(self) -> ModelVersionQuerySet:
        return self.filter(is_active=True)


class ModelVersion(models.Model):
    class Stage(models.TextChoices):
        BASE = "base", _("base")
        CONTINUED_PRETRAINED = "continued_pretrained", _("continued pretraining")
        INSTRUCTION_TUNED = "instruction_tuned", _("instruction tuned")
        QUANTIZED = "quantized", _("quantized")

    class Format(models.TextChoices):
        HF = "hf", _("Hugging Face checkpoint")
        COMPRESSED_TENSORS = "compressed_tensors", _("compressed-tensors")
        GGUF = "gguf", _("GGUF for the CPU (llama.cpp)")

    name = models.SlugField(_("name"), max_length=100, unique=True)
    stage = models.CharField(_("stage"), max_length=30, choices=Stage.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    path = models.CharField(
        _("path"),
        max_length=500,
        help_text=_("Directory of the checkpoint, relative to the models directory or absolute."),
    )
    format = models.CharField(_("format"), max_length=30, choices=Format.choices, default=Format.HF)
    quantization = models.CharField(_("quantization"), max_length=30, blank=True)
    parameter_count = models.BigIntegerField(_("parameters"), null=True, blank=True)
    size_bytes = models.BigIntegerField(_("size on disk (bytes)"), null=True, blank=True)
    checksum = models.CharField(_("checksum (SHA-256)"), max_length=64, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_model_version",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def directory(self) -> Path:
        path = Path(self.path)
        return path if path.is_absolute() else Path(settings.SORO_MODELS_DIR) / path


class ModelRun(models.Model):
    class Kind(models.TextChoices):
        IMPORT = "import", _("import")
        PRETRAIN = "pretrain", _("continued pretraining")
        FINETUNE = "finetune", _("instruction tuning")
        EVALUATE = "evaluate", _("evaluation")
        QUANTIZE = "quantize", _("quantization")
        PROMOTE = "promote", _("promotion")
        CORPUS = "corpus", _("corpus building")
        REFRESH = "refresh", _("model refresh")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    progress = models.FloatField(_("progress"), default=0.0)
    stage = models.CharField(_("current step"), max_length=200, blank=True)
    is_cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    log = models.TextField(_("log"), blank=True)
    error = models.TextField(_("error"), blank=True)
    input_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runs_as_input",
        verbose_name=_("input version"),
    )
    output_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runs_as_output",
        verbose_name=_("output version"),
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("started by"),
    )
    # A job's claim and heartbeat (soro_web/jobs.py): the run that owns the row, the last sign
    # of life while it runs, and when its message was last sent to the queue. Runs started
    # from a command (not queued) have no heartbeat and are never swept.
    owner = models.CharField(_("owner"), max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent to the queue"), null=True, blank=True)
    recoveries = models.PositiveSmallIntegerField(_("recoveries"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("model run")
        verbose_name_plural = _("model runs")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (
            self.Status.SUCCEEDED,
            self.Status.FAILED,
            self.Status.CANCELLED,
        )


class EvaluationResultQuerySet(models.QuerySet["EvaluationResult"]):
    def latest_for(self, version: ModelVersion, benchmark: str) -> EvaluationResultQuerySet:
        """The results of the newest finished evaluation of ``version`` on ``benchmark``."""
        run_id = (
            self.filter(version=version, benchmark=benchmark)
            .order_by("-run__finished_at", "-run_id")
            .values_list("run_id", flat=True)
            .first()
        )
        return self.filter(run_id=run_id) if run_id else self.none()


class EvaluationResult(models.Model):
    """One number from one evaluation run: a metric of a model version on a benchmark, for
    all items (``group`` "all") or one domain ("domain:linguistic") or subject."""

    run = models.ForeignKey(
        ModelRun, on_delete=models.CASCADE, related_name="results", verbose_name=_("run")
    )
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.CASCADE,
        related_name="evaluation_results",
        verbose_name=_("model version"),
    )
    benchmark = models.CharField(_("benchmark"), max_length=200)
    benchmark_sha256 = models.CharField(_("benchmark checksum"), max_length=64)
    shots = models.PositiveSmallIntegerField(_("shots"), default=0)
    group = models.CharField(_("group"), max_length=200)
    metric = models.CharField(_("metric"), max_length=40)
    value = models.FloatField(_("value"))
    interval_low = models.FloatField(_("interval low"), null=True, blank=True)
    interval_high = models.FloatField(_("interval high"), null=True, blank=True)
    count = models.PositiveIntegerField(_("items"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = EvaluationResultQuerySet.as_manager()

    class Meta:
        ordering = ["benchmark", "group", "metric"]
        verbose_name = _("evaluation result")
        verbose_name_plural = _("evaluation results")
        constraints = [
            models.UniqueConstraint(
                fields=["run", "benchmark", "group", "metric"], name="one_value_per_run_metric"
            ),
        ]
        indexes = [models.Index(fields=["version", "benchmark"])]

    def __str__(self) -> str:
        return f"{self.version} {self.benchmark} {self.group} {self.metric}={self.value:.3f}"


class GenerationLog(models.Model):
    """One finished (or failed) generation: who asked, how fast, and whether it was Tajik."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("completed")
        STOPPED = "stopped", _("stopped by the user")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("user"),
    )
    purpose = models.CharField(_("purpose"), max_length=40)
    backend = models.CharField(_("backend"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    reason = models.CharField(_("failure reason"), max_length=30, blank=True)
    error = models.TextField(_("error"), blank=True)
    prompt_chars = models.PositiveIntegerField(_("prompt characters"), default=0)
    output_chars = models.PositiveIntegerField(_("output characters"), default=0)
    output_pieces = models.PositiveIntegerField(_("output pieces"), default=0)
    seconds = models.FloatField(_("seconds"), default=0.0)
    first_piece_seconds = models.FloatField(_("seconds to first piece"), null=True, blank=True)
    expected_language = models.CharField(_("expected language"), max_length=8, blank=True)
    language = models.CharField(_("detected language"), max_length=8, blank=True)
    language_score = models.FloatField(_("language score"), null=True, blank=True)
    is_expected_language = models.BooleanField(_("in the expected language"), null=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("generation")
        verbose_name_plural = _("generations")

    def __str__(self) -> str:
        return f"{self.purpose} {self.created_at:%Y-%m-%d %H:%M}"


class Corpus(models.Model):
    """A finished Tajik corpus: parquet shards in a ``datasets`` layout and its datasheet.

    Rows are written only when a build has finished, so every row points at a complete
    folder (an unfinished build lives on disk under ``<corpora>/.work/<name>``)."""

    class Status(models.TextChoices):
        READY = "ready", _("ready")
        MISSING = "missing", _("files missing")

    name = models.SlugField(_("name"), max_length=100, unique=True)
    sources = models.JSONField(_("sources"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.READY
    )
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    documents = models.PositiveIntegerField(_("documents"), default=0)
    words = models.BigIntegerField(_("words"), default=0)
    tokens = models.BigIntegerField(_("Gemma tokens"), default=0)
    checksum = models.CharField(_("checksum (SHA-256)"), max_length=64, blank=True)
    datasheet = models.JSONField(_("datasheet"), default=dict, blank=True)
    path = models.CharField(
        _("path"),
        max_length=500,
        help_text=_("Folder of the corpus, relative to the corpora directory or absolute."),
    )
    run = models.ForeignKey(
        ModelRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="corpora",
        verbose_name=_("run"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("corpus")
        verbose_name_plural = _("corpora")

    def __str__(self) -> str:
        return self.name

    @property
    def directory(self) -> Path:
        path = Path(self.path)
        return path if path.is_absolute() else Path(settings.SORO_CORPORA_DIR) / path
