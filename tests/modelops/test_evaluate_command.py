"""``manage.py evaluate`` and the evaluation job, on the tiny real Gemma 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from modelops.evaluation.short_answer import exact_match, normalize_answer
from modelops.models import EvaluationResult, ModelRun, ModelVersion
from modelops.services.evaluation import benchmark_resolve, evaluation_latest, model_evaluate
from modelops.services.jobs import model_run_cancel, model_run_enqueue, model_run_execute

ITEMS = [
    {
        "id": f"q{number}",
        "question": f"Савол {number}: пойтахти Тоҷикистон?",
        "choices": ["Душанбе", "Хуҷанд", "Кӯлоб", "Бохтар"],
        "answer": number % 4,
        "subject": "geography" if number % 2 else "history",
        "domain": "general_knowledge" if number < 4 else "linguistic",
    }
    for number in range(6)
] + [
    {"id": "s1", "question": "Антоними «калон»?", "answers": ["хурд"], "domain": "linguistic"},
    {"id": "s2", "question": "7 × 8?", "answers": "56", "domain": "entrance_exam"},
]


@pytest.fixture
def small_benchmark(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in ITEMS) + "\n")
    return path


def test_evaluate_prints_the_table_and_stores_every_number(
    tiny_version, small_benchmark, capsys
) -> None:  # type: ignore[no-untyped-def]
    call_command("evaluate", "--model", "tiny", "--benchmark", str(small_benchmark))
    out = capsys.readouterr().out
    assert "tiny on small, 0-shot, 8 items" in out
    assert "domain:general_knowledge" in out
    assert "exact_match" in out
    assert "fertility" in out
    run = ModelRun.objects.get(kind="evaluate")
    assert run.status == "succeeded"
    assert run.config["benchmark"] == "small"
    assert run.config["items"] == 8
    stored = evaluation_latest(version=tiny_version, benchmark="small")
    assert stored[("all", "acc")].count == 6
    assert stored[("domain:linguistic", "acc")].count == 2
    assert stored[("subject:geography", "acc_norm")].count == 3
    assert stored[("all", "exact_match")].count == 2
    assert 0.0 <= stored[("all", "acc")].value <= 1.0
    low, high = stored[("all", "acc")].interval  # type: ignore[misc]
    assert low <= stored[("all", "acc")].value <= high
    assert stored[("tajik_text", "fertility")].value > 1.0


def test_stored_accuracy_is_what_the_scores_say(tiny_version, small_benchmark) -> None:  # type: ignore[no-untyped-def]
    from modelops.evaluation.scoring import score_items
    from modelops.services.evaluation import model_load_for_evaluation

    benchmark = benchmark_resolve(str(small_benchmark))
    report = model_evaluate(version=tiny_version, benchmark=benchmark, batch_size=3)
    model, tokenizer = model_load_for_evaluation(version=tiny_version)
    scores = score_items(model, tokenizer, benchmark.multiple_choice)
    expected = sum(score.is_correct for score in scores) / len(scores)
    assert report.value("acc") == pytest.approx(expected)


def test_against_prints_both_versions_with_deltas(tiny_version, small_benchmark, capsys) -> None:  # type: ignore[no-untyped-def]
    ModelVersion.objects.create(name="tiny-copy", stage="base", path="tiny")
    call_command(
        "evaluate", "--model", "tiny", "--benchmark", str(small_benchmark), "--against", "tiny-copy"
    )
    out = capsys.readouterr().out
    assert "tiny-copy has no result to compare; evaluating it." in out
    assert "tiny vs tiny-copy on small" in out
    # The same weights score the same: every delta is zero.
    table = out.split("tiny vs tiny-copy on small", 1)[1]
    assert "+0.000" in table
    assert all(
        line.split()[-1] == "-" or line.split()[-1] == "+0.000"
        for line in table.splitlines()[3:]
        if line.strip()
    )
    # A second comparison reuses the stored results.
    call_command(
        "evaluate", "--model", "tiny", "--benchmark", str(small_benchmark), "--against", "tiny-copy"
    )
    assert "has no result to compare" not in capsys.readouterr().out
    assert ModelRun.objects.filter(kind="evaluate", input_version__name="tiny-copy").count() == 1


def test_shots_take_examples_out_of_the_scored_items(tiny_version, small_benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark = benchmark_resolve(str(small_benchmark))
    report = model_evaluate(version=tiny_version, benchmark=benchmark, shots=2)
    assert report.items_scored == 6
    assert report.shots == 2
    assert EvaluationResult.objects.filter(shots=2, group="all", metric="acc").get().count == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"id": "a", "question": "Савол?", "choices": ["x", "y"], "answer": 1}\n{oops\n',
            "line 2",
        ),
        ('{"id": "a", "question": "Савол?", "choices": ["x", "y"], "answer": 5}\n', "out of range"),
        ('{"id": "a", "question": "Савол?", "choices": [], "answer": 0}\n', "empty choices"),
    ],
)
def test_a_bad_benchmark_is_named_and_nothing_is_stored(
    tiny_version, tmp_path, content, message
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("evaluate", "--model", "tiny", "--benchmark", str(path))
    assert not EvaluationResult.objects.exists()
    assert not ModelRun.objects.filter(kind="evaluate").exists()


def test_unknown_benchmark_and_version_say_what_exists(tiny_version) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="tajik_suite"):
        call_command("evaluate", "--model", "tiny", "--benchmark", "no_such_suite")
    with pytest.raises(CommandError, match="Known versions: tiny"):
        call_command("evaluate", "--model", "nope", "--benchmark", "tajik_suite")


def test_a_version_that_does_not_load_fails_its_run_and_stores_nothing(
    tiny_version, models_dir, small_benchmark
) -> None:  # type: ignore[no-untyped-def]
    broken_dir = models_dir / "broken-eval"
    broken_dir.mkdir(exist_ok=True)
    (broken_dir / "config.json").write_text("{not json")
    (broken_dir / "model.safetensors").write_bytes(b"")
    ModelVersion.objects.create(name="broken", stage="base", path="broken-eval")
    with translation.override("en"), pytest.raises(CommandError, match="cannot be evaluated"):
        call_command("evaluate", "--model", "broken", "--benchmark", str(small_benchmark))
    run = ModelRun.objects.get(kind="evaluate")
    assert run.status == "failed"
    assert "does not load" in run.error
    assert not EvaluationResult.objects.exists()


def test_the_job_runs_once_and_records_progress(
    tiny_version, small_benchmark, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = model_run_enqueue(
            kind="evaluate",
            version=tiny_version,
            config={"benchmark": str(small_benchmark), "shots": 0},
        )
    assert len(callbacks) == 1  # sent to the worker only once the row is committed
    assert run.status == "queued"
    model_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.progress == 1.0
    assert run.results.filter(group="all", metric="acc").exists()
    results = EvaluationResult.objects.count()
    model_run_execute(run_id=run.pk)  # a second delivery changes nothing
    assert EvaluationResult.objects.count() == results


def test_cancel_a_queued_job_at_once_and_a_running_one_at_its_next_step(
    tiny_version, small_benchmark, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False):
        queued = model_run_enqueue(
            kind="evaluate", version=tiny_version, config={"benchmark": str(small_benchmark)}
        )
        running = model_run_enqueue(
            kind="evaluate", version=tiny_version, config={"benchmark": str(small_benchmark)}
        )
    assert model_run_cancel(run=queued) == "cancelled"
    model_run_execute(run_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    # The administrator presses cancel after the worker has claimed the run.
    ModelRun.objects.filter(pk=running.pk).update(status="running")
    assert model_run_cancel(run=running) == "running"
    ModelRun.objects.filter(pk=running.pk).update(status="queued")  # let the worker claim it
    model_run_execute(run_id=running.pk)
    running.refresh_from_db()
    assert running.status == "cancelled"
    assert not EvaluationResult.objects.exists()


def test_admin_actions_queue_jobs(tiny_version, people, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import client_for

    client = client_for(people.staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/admin/modelops/modelversion/",
            {"action": "evaluate_for_promotion", "_selected_action": [tiny_version.pk]},
        )
    assert response.status_code == 302
    assert len(callbacks) == 2
    assert sorted(ModelRun.objects.values_list("config__benchmark", flat=True)) == [
        "english_retention",
        "tajik_suite",
    ]
    response = client.post(
        "/admin/modelops/modelrun/",
        {
            "action": "cancel_runs",
            "_selected_action": list(ModelRun.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 302
    assert set(ModelRun.objects.values_list("status", flat=True)) == {"cancelled"}
    page = client.get("/admin/modelops/modelrun/")
    assert b"<progress" in page.content


def test_exact_match_normalises_case_punctuation_and_composition() -> None:
    assert normalize_answer("  Душанбе! ") == "душанбе"
    assert exact_match("Хурд.\nСавол: ...", ["хурд"])
    decomposed = "Фирдавси\u0304"  # и + combining macron is ӣ
    assert exact_match(decomposed, ["Фирдавсӣ"])
    assert not exact_match("калон", ["хурд"])


def test_the_generation_suite_is_answered_scored_and_kept_for_reading(
    tiny_version, settings, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path
    call_command("evaluate", "--model", "tiny", "--benchmark", "generation_suite", "--limit", "3")
    out = capsys.readouterr().out
    assert "tiny on generation_suite, 0-shot, 3 items" in out
    run = ModelRun.objects.get(kind="evaluate")
    assert run.status == "succeeded" and run.config["limit"] == 3
    stored = evaluation_latest(version=tiny_version, benchmark="generation_suite")
    # The first items are held-out lesson sections with passages and references.
    for metric in ("tajik_share", "echo_share", "citation_share", "chrf", "mean_words"):
        assert stored[("all", metric)].count == 3
        assert stored[("task:lesson_section", metric)].count == 3
    assert 0.0 <= stored[("all", "tajik_share")].value <= 1.0
    low, high = stored[("all", "echo_share")].interval  # type: ignore[misc]
    assert low <= stored[("all", "echo_share")].value <= high
    replies = [
        json.loads(line)
        for line in (tmp_path / "evaluations" / f"run-{run.pk}.jsonl").read_text().splitlines()
    ]
    assert [r["task"] for r in replies] == ["lesson_section"] * 3
    words = sum(len(r["reply"].split()) for r in replies) / 3
    assert stored[("all", "mean_words")].value == pytest.approx(words)
    # Compared with itself, the suite is not evaluated again for the same limit.
    from modelops.services.evaluation import evaluation_is_current

    suite = benchmark_resolve("generation_suite")
    assert evaluation_is_current(version=tiny_version, benchmark=suite, shots=0, limit=3)
    assert not evaluation_is_current(version=tiny_version, benchmark=suite, shots=0)
