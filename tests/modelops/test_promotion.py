"""The quality gate on promotion: what it refuses, what it accepts, what an override records."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import translation

from modelops.models import ModelRun, ModelVersion
from modelops.services import model_version_promote, promotion_gate
from tests.modelops.conftest import store_evaluation


@pytest.fixture
def candidate(tiny_version, models_dir) -> ModelVersion:  # type: ignore[no-untyped-def]
    return ModelVersion.objects.create(
        name="tiny-int4", stage="quantized", path="tiny", parent=tiny_version
    )


def active_names() -> list[str]:
    return list(ModelVersion.objects.active().values_list("name", flat=True))


def test_a_candidate_without_evaluation_is_refused_and_nothing_changes(
    tiny_version, candidate
) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(tiny_version, tajik=0.3, english=0.5)
    with translation.override("en"), pytest.raises(CommandError) as raised:
        call_command("promote_model", "tiny-int4")
    message = str(raised.value)
    assert "tiny-int4 has no evaluation on tajik_suite" in message
    assert "manage.py evaluate --model tiny-int4 --benchmark english_retention" in message
    assert "--force --reason" in message
    assert active_names() == ["tiny"]
    assert not ModelRun.objects.filter(kind="promote").exists()


def test_the_active_version_needs_numbers_too(tiny_version, candidate) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(candidate, tajik=0.9, english=0.9)
    with translation.override("en"):
        decision = promotion_gate(candidate=candidate, active=tiny_version)
    assert not decision.is_allowed
    assert any("tiny has no evaluation on tajik_suite" in reason for reason in decision.reasons)


def test_lower_tajik_score_is_refused(tiny_version, candidate) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(tiny_version, tajik=0.40, english=0.50)
    store_evaluation(candidate, tajik=0.39, english=0.50)
    with translation.override("en"):
        decision = promotion_gate(candidate=candidate, active=tiny_version)
    assert not decision.is_allowed
    assert decision.reasons == ["Tajik acc 0.390 is below the active version's 0.400"]
    with pytest.raises(ValidationError) as raised:
        model_version_promote(version=candidate)
    assert raised.value.code == "gate"
    assert active_names() == ["tiny"]


def test_english_retention_below_the_share_is_refused_until_the_setting_allows_it(
    settings, tiny_version, candidate
) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(tiny_version, tajik=0.40, english=0.50)
    store_evaluation(candidate, tajik=0.45, english=0.45)  # keeps 90% of the English score
    with translation.override("en"):
        decision = promotion_gate(candidate=candidate, active=tiny_version)
    assert not decision.is_allowed
    assert decision.figures["english_retention"] == 0.9
    assert "English keeps 90.0%" in decision.reasons[0]
    settings.SORO_GATE_MIN_ENGLISH_RETENTION = 0.85
    assert promotion_gate(candidate=candidate, active=tiny_version).is_allowed


def test_results_on_different_benchmark_contents_are_not_compared(tiny_version, candidate) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(tiny_version, tajik=0.40, english=0.50, checksum="a" * 64)
    store_evaluation(candidate, tajik=0.45, english=0.50, checksum="b" * 64)
    with translation.override("en"):
        decision = promotion_gate(candidate=candidate, active=tiny_version)
    assert not decision.is_allowed
    assert "different contents" in " ".join(decision.reasons)


def test_the_newest_evaluation_counts(tiny_version, candidate) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(tiny_version, tajik=0.40, english=0.50)
    store_evaluation(candidate, tajik=0.30, english=0.50)
    assert not promotion_gate(candidate=candidate, active=tiny_version).is_allowed
    store_evaluation(candidate, tajik=0.41, english=0.50)
    assert promotion_gate(candidate=candidate, active=tiny_version).is_allowed


def test_a_better_candidate_is_promoted_and_the_gate_is_recorded(tiny_version, candidate) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(tiny_version, tajik=0.40, english=0.50)
    store_evaluation(candidate, tajik=0.42, english=0.49)  # 98% of the English score
    call_command("promote_model", "tiny-int4")
    assert active_names() == ["tiny-int4"]
    run = ModelRun.objects.get(kind="promote")
    assert run.status == "succeeded"
    assert run.config["gate_passed"] is True
    assert run.config["forced"] is False
    assert run.config["replaces"] == "tiny"
    assert run.config["figures"]["english_retention"] == 0.98


def test_force_needs_a_reason_and_records_who_and_why(tiny_version, candidate) -> None:  # type: ignore[no-untyped-def]
    store_evaluation(tiny_version, tajik=0.40, english=0.50)
    store_evaluation(candidate, tajik=0.20, english=0.10)
    with translation.override("en"), pytest.raises(CommandError, match="needs --reason"):
        call_command("promote_model", "tiny-int4", "--force")
    assert active_names() == ["tiny"]
    call_command(
        "promote_model", "tiny-int4", "--force", "--reason", "INT4 is the only fit for 4 GB"
    )
    assert active_names() == ["tiny-int4"]
    run = ModelRun.objects.get(kind="promote")
    assert run.config["forced"] is True
    assert run.config["reason"] == "INT4 is the only fit for 4 GB"
    assert run.config["by"]  # the operating-system account on the command line
    assert run.config["at"]
    assert len(run.config["gate_reasons"]) == 2


def test_the_first_version_needs_only_its_own_evaluation(models_dir, db) -> None:  # type: ignore[no-untyped-def]
    version = ModelVersion.objects.create(name="tiny", stage="base", path="tiny")
    with pytest.raises(ValidationError):
        model_version_promote(version=version)
    store_evaluation(version, tajik=0.25, english=0.30)
    model_version_promote(version=version)
    assert active_names() == ["tiny"]


def test_promote_lists_versions(tiny_version, candidate, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("promote_model", "--list")
    out = capsys.readouterr().out
    assert "* tiny " in out
    assert "  tiny-int4 " in out


@pytest.mark.parametrize(
    ("tajik_share", "echo_share", "refused_because"),
    [
        (0.96, 0.0, None),
        (0.5, 0.0, "only 50% of its replies to the platform's prompts are in Tajik"),
        (0.9, 0.4, "40% of its replies repeat their prompt or the passages"),
    ],
)
def test_the_gate_reads_the_generation_suite(  # type: ignore[no-untyped-def]
    db, settings, tajik_share: float, echo_share: float, refused_because: str | None
) -> None:
    settings.LANGUAGE_CODE = "en"
    active = ModelVersion.objects.create(name="base", stage="base", path="base", is_active=True)
    candidate = ModelVersion.objects.create(name="sft", stage="instruction_tuned", path="sft")
    store_evaluation(active, tajik=0.30, english=0.40, generation=(0.1, 0.9))
    store_evaluation(candidate, tajik=0.31, english=0.40, generation=(tajik_share, echo_share))
    with translation.override("en"):
        decision = promotion_gate(candidate=candidate, active=active)
    assert decision.figures["candidate_tajik_share"] == tajik_share
    assert decision.figures["candidate_echo_share"] == echo_share
    if refused_because is None:
        assert decision.is_allowed and decision.reasons == []
    else:
        assert not decision.is_allowed
        assert [r for r in decision.reasons if refused_because in r]


def test_the_gate_asks_for_the_generation_suite_and_can_leave_it_out(db, settings) -> None:  # type: ignore[no-untyped-def]
    active = ModelVersion.objects.create(name="base", stage="base", path="base", is_active=True)
    candidate = ModelVersion.objects.create(name="sft", stage="instruction_tuned", path="sft")
    store_evaluation(active, tajik=0.30, english=0.40)
    store_evaluation(candidate, tajik=0.31, english=0.40, generation=None)
    with translation.override("en"):
        decision = promotion_gate(candidate=candidate, active=active)
    assert not decision.is_allowed
    assert decision.reasons == [
        "sft has no evaluation on generation_suite; run: manage.py evaluate --model sft "
        "--benchmark generation_suite"
    ]
    settings.SORO_GATE_GENERATION_BENCHMARK = ""
    assert promotion_gate(candidate=candidate, active=active).is_allowed
