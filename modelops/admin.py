from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from modelops.models import Corpus, EvaluationResult, GenerationLog, ModelRun, ModelVersion
from modelops.services.jobs import model_run_cancel, model_run_enqueue
from soro_web.accounts.models import User

#: The admin's pretraining job: a demo of a few minutes on a CPU; longer runs from the
#: command (``manage.py pretrain``), which takes every argument.
ADMIN_PRETRAIN = {"steps": 30, "seq_len": 512, "micro_batch_size": 2, "gradient_accumulation": 4}


def _staff(request: HttpRequest) -> User | None:
    """The signed-in administrator behind an admin action."""
    return request.user if isinstance(request.user, User) else None


def human_size(size_bytes: int | None) -> str:
    """ "1.2 GB" rather than 1234567890 (localised decimal separator); empty when unknown."""
    return "" if size_bytes is None else str(filesizeformat(size_bytes))


def human_seconds(seconds: float | None) -> str:
    """ "1 min 54 s", "3.4 s" rather than 114.32001223400005; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return _("%(seconds)s s") % {"seconds": formats.number_format(seconds, 1)}
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": rest}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "stage",
        "format",
        "quantization",
        "parameter_count",
        "size",
        "is_active",
        "created_at",
    ]
    list_filter = ["stage", "format", "is_active"]
    readonly_fields = ["checksum", "created_at", "is_active", "size"]

    @admin.display(description=_("size on disk"), ordering="size_bytes")
    def size(self, version: ModelVersion) -> str:
        return human_size(version.size_bytes)

    search_fields = ["name"]
    actions = [
        "refresh_model",
        "evaluate_for_promotion",
        "quantize_fp8",
        "quantize_int4",
        "pretrain_demo",
        "instruction_tune",
    ]

    @admin.action(
        description=_(
            "Refresh model from this base: corpus, pretraining, instruction tuning, "
            "evaluation, quantization, gate (demo preset, job)"
        )
    )
    def refresh_model(self, request: HttpRequest, queryset: QuerySet) -> None:
        from modelops.services.refresh import refresh_config

        runs = [
            model_run_enqueue(
                kind=ModelRun.Kind.REFRESH,
                version=version,
                config=refresh_config(base=version),
                user=_staff(request),
            )
            for version in queryset
        ]
        self._queued(request, runs)

    @admin.action(description=_("Evaluate on the Tajik suite and the English set (job)"))
    def evaluate_for_promotion(self, request: HttpRequest, queryset: QuerySet) -> None:
        runs = [
            model_run_enqueue(
                kind=ModelRun.Kind.EVALUATE,
                version=version,
                config={"benchmark": benchmark, "shots": 0},
                user=_staff(request),
            )
            for version in queryset
            for benchmark in (
                settings.SORO_GATE_TAJIK_BENCHMARK,
                settings.SORO_GATE_ENGLISH_BENCHMARK,
            )
        ]
        self._queued(request, runs)

    @admin.action(description=_("Quantize to FP8 (job)"))
    def quantize_fp8(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._quantize(request, queryset, "fp8")

    @admin.action(description=_("Quantize to INT4 with GPTQ (job)"))
    def quantize_int4(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._quantize(request, queryset, "int4")

    @admin.action(description=_("Continue pretraining on the newest corpus, demo length (job)"))
    def pretrain_demo(self, request: HttpRequest, queryset: QuerySet) -> None:
        corpus = Corpus.objects.order_by("-created_at").first()
        if corpus is None:
            self.message_user(
                request, _("There is no corpus yet; build one with build_corpus."), messages.ERROR
            )
            return
        runs = [
            model_run_enqueue(
                kind=ModelRun.Kind.PRETRAIN,
                version=version,
                config={"corpus": corpus.name, **ADMIN_PRETRAIN},
                user=_staff(request),
            )
            for version in queryset
        ]
        self._queued(request, runs)

    @admin.action(description=_("Instruction-tune with LoRA on Soro's examples (job)"))
    def instruction_tune(self, request: HttpRequest, queryset: QuerySet) -> None:
        from modelops.instruction_data import DEMO_DIR

        runs = [
            model_run_enqueue(
                kind=ModelRun.Kind.FINETUNE,
                version=version,
                config={"data": [str(DEMO_DIR)], "lora": True, "epochs": 1.0},
                user=_staff(request),
            )
            for version in queryset
        ]
        self._queued(request, runs)

    def _quantize(self, request: HttpRequest, queryset: QuerySet, scheme: str) -> None:
        runs = [
            model_run_enqueue(
                kind=ModelRun.Kind.QUANTIZE,
                version=version,
                config={"scheme": scheme},
                user=_staff(request),
            )
            for version in queryset
        ]
        self._queued(request, runs)

    def _queued(self, request: HttpRequest, runs: list[ModelRun]) -> None:
        self.message_user(
            request,
            ngettext(
                "%(count)d job queued; follow it under Model runs.",
                "%(count)d jobs queued; follow them under Model runs.",
                len(runs),
            )
            % {"count": len(runs)},
            messages.SUCCESS,
        )


class EvaluationResultInline(admin.TabularInline):
    model = EvaluationResult
    fields = ("benchmark", "group", "metric", "value", "interval_low", "interval_high", "count")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "progress_bar",
        "stage",
        "input_version",
        "output_version",
        "created_at",
        "finished_at",
        "duration",
    ]
    list_filter = ["kind", "status"]
    inlines = [EvaluationResultInline]
    actions = ["cancel_runs"]

    # Runs are records of jobs: only the actions on model versions (and the commands) create
    # them, and nobody edits one by hand. Viewing stays, and so does cancelling (an action).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in ModelRun._meta.fields] + ["duration"]

    @admin.display(description=_("duration"))
    def duration(self, run: ModelRun) -> str:
        if run.started_at is None or run.finished_at is None:
            return ""
        return human_seconds((run.finished_at - run.started_at).total_seconds())

    @admin.display(description=_("progress"))
    def progress_bar(self, run: ModelRun) -> str:
        percent = round(100 * run.progress)
        return format_html(
            '<progress max="100" value="{}" aria-label="{}">{}%</progress> {}%',
            percent,
            _("progress"),
            percent,
            percent,
        )

    @admin.action(description=_("Cancel the selected runs"))
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet) -> None:
        statuses = [model_run_cancel(run=run) for run in queryset if not run.is_finished]
        self.message_user(
            request,
            _("%(cancelled)d cancelled; %(stopping)d will stop at their next step.")
            % {
                "cancelled": statuses.count(ModelRun.Status.CANCELLED),
                "stopping": statuses.count(ModelRun.Status.RUNNING),
            },
            messages.SUCCESS,
        )


@admin.register(EvaluationResult)
class EvaluationResultAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "benchmark",
        "group",
        "metric",
        "value",
        "count",
        "run",
        "created_at",
    ]
    list_filter = ["benchmark", "metric", "version"]
    readonly_fields = [field.name for field in EvaluationResult._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(GenerationLog)
class GenerationLogAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "purpose",
        "backend",
        "status",
        "reason",
        "output_pieces",
        "duration",
        "language",
        "is_expected_language",
    ]
    list_filter = ["purpose", "status", "is_expected_language"]
    readonly_fields = [field.name for field in GenerationLog._meta.fields] + ["duration"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    @admin.display(description=_("duration"), ordering="seconds")
    def duration(self, log: GenerationLog) -> str:
        return human_seconds(log.seconds)


@admin.register(Corpus)
class CorpusAdmin(admin.ModelAdmin):
    """Read-only: corpora are built with ``manage.py build_corpus``. Deleting a row
    unregisters the corpus; its folder stays on disk."""

    list_display = ["name", "documents", "words", "tokens", "created_at"]
    search_fields = ["name"]
    readonly_fields = [
        "name",
        "status",
        "sources",
        "counts",
        "documents",
        "words",
        "tokens",
        "checksum",
        "path",
        "run",
        "datasheet",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
