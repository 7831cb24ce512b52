"""Promotion with a quality gate: a version becomes the classrooms' model only when its
stored evaluation shows it is at least as good in Tajik as the active one and keeps enough of
its English; an administrator may override, and the override is recorded with who, when
and why."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from modelops.evaluation.metrics import ALL_ITEMS
from modelops.models import ModelRun, ModelVersion
from modelops.services.registry import model_version_check_loads
from modelops.services.runs import run_finish, run_start

if TYPE_CHECKING:
    from soro_web.accounts.models import User


@dataclass
class GateDecision:
    is_allowed: bool
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)


def _score(version: ModelVersion, benchmark: str, metric: str) -> tuple[float, str] | None:
    from modelops.services.evaluation import evaluation_latest

    result = evaluation_latest(version=version, benchmark=benchmark).get((ALL_ITEMS, metric))
    return (result.value, result.benchmark_sha256) if result else None


def promotion_gate(*, candidate: ModelVersion, active: ModelVersion | None) -> GateDecision:
    """Whether ``candidate`` may replace ``active``, from stored evaluations.

    Needs the candidate's (and the active version's) evaluation on the Tajik suite and the
    English set, and the candidate's on the generation suite (``SORO_GATE_*`` settings).
    Refuses when the Tajik score is below the active version's, or the English score keeps
    less than ``SORO_GATE_MIN_ENGLISH_RETENTION`` of the active version's, or the two were
    evaluated on different contents of a benchmark, or the candidate's replies to the
    platform's prompts are too seldom Tajik or too often a copy of the prompt."""
    tajik, english = settings.SORO_GATE_TAJIK_BENCHMARK, settings.SORO_GATE_ENGLISH_BENCHMARK
    metric, minimum = settings.SORO_GATE_METRIC, settings.SORO_GATE_MIN_ENGLISH_RETENTION
    decision = GateDecision(is_allowed=False)
    _generation_gate(candidate, decision)
    scores: dict[tuple[str, str], tuple[float, str]] = {}
    versions = [("candidate", candidate)]
    if active is not None and active.pk != candidate.pk:
        versions.append(("active", active))
    for role, version in versions:
        for benchmark in (tajik, english):
            score = _score(version, benchmark, metric)
            if score is None:
                decision.reasons.append(
                    _(
                        "%(version)s has no evaluation on %(benchmark)s; run: manage.py "
                        "evaluate --model %(version)s --benchmark %(benchmark)s"
                    )
                    % {"version": version.name, "benchmark": benchmark}
                )
            else:
                scores[(role, benchmark)] = score
                decision.figures[f"{role}_{benchmark}_{metric}"] = round(score[0], 4)
    if decision.reasons or len(versions) == 1:
        decision.is_allowed = not decision.reasons
        return decision
    for benchmark in (tajik, english):
        if scores[("candidate", benchmark)][1] != scores[("active", benchmark)][1]:
            decision.reasons.append(
                _(
                    "%(candidate)s and %(active)s were evaluated on different contents of "
                    "%(benchmark)s; evaluate both again on the same file"
                )
                % {"candidate": candidate.name, "active": active.name, "benchmark": benchmark}  # type: ignore[union-attr]
            )
    candidate_tajik, active_tajik = scores[("candidate", tajik)][0], scores[("active", tajik)][0]
    if candidate_tajik < active_tajik:
        decision.reasons.append(
            _("Tajik %(metric)s %(candidate).3f is below the active version's %(active).3f")
            % {"metric": metric, "candidate": candidate_tajik, "active": active_tajik}
        )
    candidate_english, active_english = (
        scores[("candidate", english)][0],
        scores[("active", english)][0],
    )
    retention = candidate_english / active_english if active_english > 0 else 1.0
    decision.figures["english_retention"] = round(retention, 4)
    if retention < minimum:
        decision.reasons.append(
            _(
                "English keeps %(retention).1f%% of the active version's score "
                "(%(candidate).3f vs %(active).3f); at least %(minimum).0f%% is required"
            )
            % {
                "retention": 100 * retention,
                "candidate": candidate_english,
                "active": active_english,
                "minimum": 100 * minimum,
            }
        )
    decision.is_allowed = not decision.reasons
    return decision


def _generation_gate(candidate: ModelVersion, decision: GateDecision) -> None:
    """The candidate must answer the platform's prompts in Tajik and not by repeating them."""
    from modelops.services.evaluation import evaluation_latest

    benchmark = settings.SORO_GATE_GENERATION_BENCHMARK
    if not benchmark:
        return
    group = settings.SORO_GATE_GENERATION_GROUP
    stored = evaluation_latest(version=candidate, benchmark=benchmark)
    tajik, echo = stored.get((group, "tajik_share")), stored.get((group, "echo_share"))
    if tajik is None or echo is None:
        decision.reasons.append(
            _(
                "%(version)s has no evaluation on %(benchmark)s; run: manage.py "
                "evaluate --model %(version)s --benchmark %(benchmark)s"
            )
            % {"version": candidate.name, "benchmark": benchmark}
        )
        return
    decision.figures["candidate_tajik_share"] = round(tajik.value, 4)
    decision.figures["candidate_echo_share"] = round(echo.value, 4)
    if tajik.value < settings.SORO_GATE_MIN_TAJIK_SHARE:
        decision.reasons.append(
            _(
                "only %(share).0f%% of its replies to the platform's prompts are in Tajik; at "
                "least %(minimum).0f%% are required"
            )
            % {"share": 100 * tajik.value, "minimum": 100 * settings.SORO_GATE_MIN_TAJIK_SHARE}
        )
    if echo.value > settings.SORO_GATE_MAX_ECHO_SHARE:
        decision.reasons.append(
            _(
                "%(share).0f%% of its replies repeat their prompt or the passages; at most "
                "%(maximum).0f%% are allowed"
            )
            % {"share": 100 * echo.value, "maximum": 100 * settings.SORO_GATE_MAX_ECHO_SHARE}
        )


def model_version_promote(
    *,
    version: ModelVersion,
    user: User | None = None,
    force: bool = False,
    reason: str = "",
) -> ModelVersion:
    """Make ``version`` the one active model, if its files load and it passes the gate.

    ``force=True`` with a ``reason`` overrides a failed gate; the promotion run records the
    gate's reasons, the override, who (the signed-in user or the operating-system account)
    and when. Raises ValidationError (codes ``does_not_load``, ``gate``, ``reason_required``)
    and changes nothing when it refuses."""
    problem = model_version_check_loads(directory=version.directory)
    if problem:
        raise ValidationError(
            _("Version %(name)s cannot be promoted: %(problem)s.")
            % {"name": version.name, "problem": problem},
            code="does_not_load",
        )
    reason = reason.strip()
    if force and not reason:
        raise ValidationError(
            _('Say why the gate is overridden: --force needs --reason "…".'),
            code="reason_required",
        )
    active = ModelVersion.objects.active().first()
    decision = promotion_gate(candidate=version, active=active)
    if not decision.is_allowed and not force:
        raise ValidationError(
            "\n".join(
                [
                    _("Version %(name)s is not promoted:") % {"name": version.name},
                    *(f"- {reason}" for reason in decision.reasons),
                ]
            ),
            code="gate",
        )
    username = getattr(user, "username", "") if getattr(user, "is_authenticated", False) else ""
    config = {
        "version": version.name,
        "replaces": active.name if active else None,
        "gate_passed": decision.is_allowed,
        "gate_reasons": decision.reasons,
        "figures": decision.figures,
        "forced": bool(force and not decision.is_allowed),
        "reason": reason,
        "by": username or _system_user(),
        "at": timezone.localtime().isoformat(),
    }
    run = run_start(kind=ModelRun.Kind.PROMOTE, config=config, user=user, input_version=version)
    with transaction.atomic():
        ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        run_finish(run, status=ModelRun.Status.SUCCEEDED, output=version)
    version.refresh_from_db()
    return version


def _system_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
