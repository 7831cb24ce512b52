"""Mock exams: answers saved one by one, resumed, a deadline the server holds, one submit,
the review by part and subject; keys never in the page before submission; light pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.conftest import People, client_for
from tests.soro_web.test_page_weight import page_weight
from tutoring.exams.models import Attempt, AttemptAnswer, ItemVersion, TestItem
from tutoring.exams.services import (
    DeadlinePassed,
    attempt_answer_save,
    attempt_review,
    attempt_submit,
    attempts_submit_overdue,
    blueprints_offered,
    mock_start,
)
from tutoring.exams.services.attempts import attempts_submit_overdue_sweep

ITEM_PAGE_BUDGET = 30 * 1024


def right_answer(test_item: TestItem) -> dict:  # type: ignore[type-arg]
    content = test_item.version.content
    if test_item.version.type == "choice":
        return {"choice": str(content["answer"])}
    if test_item.version.type == "matching":
        return {f"pair-{left}": str(right) for left, right in content["pairs"]}
    if "numeric" in content:
        return {"text": str(content["numeric"]["value"]).replace(".", ",")}
    return {"text": content["answers"][0]}


def wrong_answer(test_item: TestItem) -> dict:  # type: ignore[type-arg]
    content = test_item.version.content
    if test_item.version.type == "choice":
        return {"choice": str((content["answer"] + 1) % 4)}
    if test_item.version.type == "matching":  # two pairs swapped: half the points
        pairs = dict(content["pairs"])
        pairs[0], pairs[1] = pairs[1], pairs[0]
        return {f"pair-{left}": str(right) for left, right in pairs.items()}
    return {"text": "0" if "numeric" in content else "нодуруст"}


@pytest.fixture
def attempt(people: People, tiny_blueprint) -> Attempt:  # type: ignore[no-untyped-def]
    return mock_start(student=people.student, blueprint_id=tiny_blueprint.pk, seed=1)


def items_by_type(attempt: Attempt) -> dict[str, TestItem]:
    return {
        ti.version.type: ti
        for ti in TestItem.objects.filter(test=attempt.test).select_related("version")
    }


def test_the_cluster_5_mock_exam_follows_its_blueprint(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    cluster5 = next(b for b in blueprints_offered() if b.code == "cluster-5")
    attempt = mock_start(student=people.student, blueprint_id=cluster5.pk, seed=3)
    items = TestItem.objects.filter(test=attempt.test).select_related("version__item__subject")
    assert items.count() == 104
    chemistry = [ti.version.type for ti in items if ti.version.item.subject.code == "chemistry"]
    assert sorted(set(chemistry)) == ["choice", "matching", "short"]
    assert (chemistry.count("choice"), chemistry.count("matching"), chemistry.count("short")) == (
        18,
        2,
        7,
    )
    assert attempt.deadline - attempt.started_at == timedelta(minutes=220)


def test_scoring_by_part_and_subject_with_partial_matching(
    people: People, attempt: Attempt
) -> None:
    by_type = items_by_type(attempt)
    for kind, answer in (
        ("choice", right_answer(by_type["choice"])),
        ("matching", wrong_answer(by_type["matching"])),
        ("short", right_answer(by_type["short"])),
    ):
        attempt_answer_save(
            user=people.student, attempt_id=attempt.pk, position=by_type[kind].position, data=answer
        )
    done = attempt_submit(attempt_id=attempt.pk, user=people.student)
    # choice 1 + matching 2 × 2/4 + short 2 = 4 of 5 points → 400 of 500
    assert (done.score, done.max_score, done.scaled) == (
        Decimal("4.00"),
        Decimal("5.00"),
        Decimal("400.0"),
    )
    review = attempt_review(user=people.student, pk=attempt.pk)
    assert [(name, earned, total) for name, earned, total in review.by_subject] == [
        ("Биология", Decimal("4.00"), Decimal("5.00"))
    ]
    assert sum(total for _name, _e, total in review.by_part) == Decimal("5.00")
    assert {row.is_correct for row in review.rows} == {True, False}


def test_answers_are_kept_and_replaced_not_duplicated(people: People, attempt: Attempt) -> None:
    choice = items_by_type(attempt)["choice"]
    for value in ("0", "1", "2"):
        attempt_answer_save(
            user=people.student,
            attempt_id=attempt.pk,
            position=choice.position,
            data={"choice": value},
        )
    assert list(AttemptAnswer.objects.values_list("answer", flat=True)) == [{"choice": 2}]


def test_bad_answers_save_nothing(people: People, attempt: Attempt) -> None:
    matching = items_by_type(attempt)["matching"]
    with pytest.raises(ValidationError):
        attempt_answer_save(
            user=people.student,
            attempt_id=attempt.pk,
            position=matching.position,
            data={"pair-0": "1"},
        )
    with pytest.raises(Http404):  # a forged position
        attempt_answer_save(
            user=people.student, attempt_id=attempt.pk, position=99, data={"choice": "1"}
        )
    with pytest.raises(Http404):  # another student's attempt
        attempt_answer_save(
            user=people.student_other, attempt_id=attempt.pk, position=1, data={"choice": "1"}
        )
    assert not AttemptAnswer.objects.exists()


def test_after_the_deadline_answers_are_refused_and_the_attempt_submitted(
    people: People, attempt: Attempt
) -> None:
    choice = items_by_type(attempt)["choice"]
    attempt_answer_save(
        user=people.student,
        attempt_id=attempt.pk,
        position=choice.position,
        data=right_answer(choice),
    )
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with pytest.raises(DeadlinePassed):
        attempt_answer_save(
            user=people.student,
            attempt_id=attempt.pk,
            position=choice.position,
            data=wrong_answer(choice),
        )
    attempt.refresh_from_db()
    assert attempt.is_submitted and attempt.is_auto_submitted and attempt.score == Decimal("1.00")
    assert AttemptAnswer.objects.get().answer == {"choice": choice.version.content["answer"]}


def test_the_sweep_submits_overdue_attempts_once(people: People, attempt: Attempt) -> None:
    assert attempts_submit_overdue() == []
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    now = timezone.now()
    assert attempts_submit_overdue_sweep(now, now) == [attempt.pk]
    first = Attempt.objects.get(pk=attempt.pk).submitted_at
    assert attempts_submit_overdue() == []
    assert Attempt.objects.get(pk=attempt.pk).submitted_at == first


def test_the_celery_task_submits_overdue_attempts(people: People, attempt: Attempt) -> None:
    from tutoring.exams.tasks import attempts_submit_overdue_task

    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    attempts_submit_overdue_task.delay()
    attempt.refresh_from_db()
    assert attempt.is_submitted and attempt.is_auto_submitted


def test_a_second_submit_changes_nothing(people: People, attempt: Attempt) -> None:
    first = attempt_submit(attempt_id=attempt.pk, user=people.student)
    choice = items_by_type(attempt)["choice"]
    with pytest.raises(DeadlinePassed):
        attempt_answer_save(
            user=people.student,
            attempt_id=attempt.pk,
            position=choice.position,
            data={"choice": "0"},
        )
    again = attempt_submit(attempt_id=attempt.pk, user=people.student)
    assert (again.submitted_at, again.score) == (first.submitted_at, first.score)
    client = client_for(people.student)
    response = client.post(reverse("exams:attempt_submit", kwargs={"pk": attempt.pk}))
    assert response.status_code == 302
    assert Attempt.objects.get(pk=attempt.pk).submitted_at == first.submitted_at


def test_an_edited_item_keeps_the_version_the_attempt_was_given(
    people: People, attempt: Attempt
) -> None:
    from tutoring.exams.services import item_as_dict, item_save

    choice = items_by_type(attempt)["choice"]
    item = choice.version.item
    item.school = people.teacher.school
    item.save()
    data = item_as_dict(item)
    item_save(user=people.teacher, data={**data, "stem": "Матни нав"}, item=item)
    assert ItemVersion.objects.filter(item=item).count() == 2
    page = client_for(people.student).get(
        reverse("exams:attempt", kwargs={"pk": attempt.pk}) + f"?q={choice.position}"
    )
    assert choice.version.stem in page.content.decode() and "Матни нав" not in page.content.decode()


def test_pages_reload_with_saved_answers_and_without_keys(people: People, attempt: Attempt) -> None:
    client = client_for(people.student)
    by_type = items_by_type(attempt)
    matching = by_type["matching"]
    url = reverse("exams:attempt_answer", kwargs={"pk": attempt.pk, "position": matching.position})
    response = client.post(url, {**right_answer(matching), "go": "next"})
    assert response.status_code == 302 and response["Location"].endswith(
        f"?q={matching.position + 1}"
    )
    # htmx: the saved state comes back as a fragment
    short = by_type["short"]
    url = reverse("exams:attempt_answer", kwargs={"pk": attempt.pk, "position": short.position})
    response = client.post(url, right_answer(short), headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="save-state"' in response.content.decode()
    assert "<html" not in response.content.decode()
    response = client.post(url, {"text": ""}, headers={"HX-Request": "true"})
    assert "Ҷавоби худро нависед." in response.content.decode()  # Tajik first
    # reload: the answers are there; the key and the explanation are not
    page = client.get(
        reverse("exams:attempt", kwargs={"pk": attempt.pk}) + f"?q={short.position}"
    ).content.decode()
    assert f'value="{right_answer(short)["text"]}"' in page
    assert short.version.explanation not in page
    page = client.get(
        reverse("exams:attempt", kwargs={"pk": attempt.pk}) + f"?q={matching.position}"
    ).content.decode()
    assert page.count("selected") == 4 and matching.version.explanation not in page
    assert client.get(reverse("exams:attempt_review", kwargs={"pk": attempt.pk})).status_code == 302


def test_query_counts_of_the_item_page_and_the_answer_save(
    people: People, attempt: Attempt
) -> None:
    client = client_for(people.student)
    choice = items_by_type(attempt)["choice"]
    client.post(
        reverse("exams:attempt_answer", kwargs={"pk": attempt.pk, "position": choice.position}),
        {"choice": "1"},
    )
    with CaptureQueriesContext(connection) as page_queries:
        response = client.get(
            reverse("exams:attempt", kwargs={"pk": attempt.pk}) + f"?q={choice.position}"
        )
    assert response.status_code == 200
    assert len(page_queries) <= 8, [q["sql"] for q in page_queries]
    url = reverse("exams:attempt_answer", kwargs={"pk": attempt.pk, "position": choice.position})
    with CaptureQueriesContext(connection) as save_queries:
        response = client.post(url, {"choice": "2"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert len(save_queries) <= 8, [q["sql"] for q in save_queries]


def test_the_item_page_fits_30_kb_with_its_assets(people: People, attempt: Attempt) -> None:
    matching = items_by_type(attempt)["matching"]
    html = (
        client_for(people.student)
        .get(reverse("exams:attempt", kwargs={"pk": attempt.pk}) + f"?q={matching.position}")
        .content.decode()
    )
    total, _assets = page_weight(html)
    assert total <= ITEM_PAGE_BUDGET, f"exam item page: {total} bytes compressed"


def test_time_running_out_submits_on_the_next_request(people: People, attempt: Attempt) -> None:
    client = client_for(people.student)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("exams:attempt", kwargs={"pk": attempt.pk}))
    assert response.status_code == 302 and response["Location"].endswith("/review/")
    review = client.get(response["Location"]).content.decode()
    assert "Вақт ба охир расид" in review
    assert Attempt.objects.get(pk=attempt.pk).scaled == Decimal("0.0")
