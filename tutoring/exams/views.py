"""Exam practice pages: practice by topic and mock exams for students; the question bank,
class tests and item analysis for teachers. Every htmx form also posts without JavaScript."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from soro_web.forms import form_add_validation_error
from soro_web.http import AuthenticatedRequest
from soro_web.permissions import role_required
from tutoring.exams import services
from tutoring.exams.forms import AssignForm, ItemForm
from tutoring.exams.models import ItemType, ItemVersion


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def _fields(version: ItemVersion | None, answer: dict[str, Any] | None) -> dict[str, Any]:
    assert version is not None
    return services.answer_view(item_type=version.type, content=version.content, answer=answer)


# --- students and teachers: the start page ---------------------------------------------


@role_required("student", "teacher")
@require_GET
def exams_home(request: AuthenticatedRequest) -> HttpResponse:
    """Students: topics with mastery, mock exams, class tests and past attempts.
    Teachers: their class tests and the way to the question bank."""
    user = request.user
    if user.is_teacher:
        return render(
            request,
            "exams/teacher_home.html",
            {"tests": services.class_tests_for_teacher(user=user)},
        )
    topics = services.practice_topics(student=user)
    return render(
        request,
        "exams/student_home.html",
        {
            "topics": topics,
            "has_weak": any(t.is_weak for t in topics),
            "blueprints": services.blueprints_offered(),
            "tests": services.class_tests_for_student(student=user),
            "attempts": services.attempts_for_student(student=user),
        },
    )


# --- practice by topic -------------------------------------------------------------------


@role_required("student")
@require_GET
def practice_next(request: AuthenticatedRequest) -> HttpResponse:
    """Go to the next item of a topic (``?topic=``) or of the weak topics (``?weak=1``)."""
    topic_id = _int(request.GET.get("topic")) or None
    item = services.practice_next(student=request.user, topic_id=topic_id)
    if item is None:
        messages.info(request, _("No weak topics: well done. Pick a topic to practise."))
        return redirect("exams:home")
    query = f"?topic={topic_id}" if topic_id else "?weak=1"
    return redirect(reverse("exams:practice_item", kwargs={"pk": item.pk}) + query)


@role_required("student")
@require_http_methods(["GET", "POST"])
def practice_item(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One item; posting an answer shows feedback, the explanation and the citation."""
    topic_id = _int(request.GET.get("topic")) or None
    context: dict[str, object] = {"topic_id": topic_id, "weak": request.GET.get("weak")}
    if request.method == "POST":
        try:
            feedback = services.practice_answer(student=request.user, item_id=pk, data=request.POST)
        except ValidationError as error:
            item = services.practice_item(student=request.user, item_id=pk)
            context.update(
                item=item,
                version=item.current,
                fields=_fields(item.current, None),
                error=" ".join(error.messages),
            )
            template = "exams/practice.html#question" if request.htmx else "exams/practice.html"
            return render(request, template, context, status=422)
        context.update(
            item=feedback.item,
            version=feedback.item.current,
            fields=_fields(feedback.item.current, feedback.answer),
            feedback=feedback,
        )
        template = "exams/practice.html#question" if request.htmx else "exams/practice.html"
        return render(request, template, context)
    item = services.practice_item(student=request.user, item_id=pk)
    context.update(item=item, version=item.current, fields=_fields(item.current, None))
    return render(request, "exams/practice.html", context)


# --- mock exams and class tests ----------------------------------------------------------


@role_required("student")
@require_POST
def mock_start(request: AuthenticatedRequest) -> HttpResponse:
    try:
        attempt = services.mock_start(
            student=request.user, blueprint_id=_int(request.POST.get("blueprint"))
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("exams:home")
    return redirect("exams:attempt", pk=attempt.pk)


@role_required("student")
@require_POST
def test_start(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    try:
        attempt = services.assigned_start(student=request.user, test_id=pk)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("exams:home")
    return redirect("exams:attempt", pk=attempt.pk)


@role_required("student")
@require_GET
def attempt(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One question of a running attempt (``?q=`` its number); after submission, the review."""
    try:
        page = services.attempt_page(
            user=request.user, pk=pk, position=_int(request.GET.get("q"), 1)
        )
    except services.DeadlinePassed:
        return redirect("exams:attempt_review", pk=pk)
    version = page.test_item.version
    context = {
        "page": page,
        "version": version,
        "fields": _fields(version, page.answer),
        "saved_at": page.saved_at,
    }
    return render(request, "exams/attempt.html", context)


@role_required("student")
@require_POST
def attempt_answer(request: AuthenticatedRequest, pk: int, position: int) -> HttpResponse:
    """Save one answer. htmx: the "saved" state comes back; without JavaScript: the next
    question. After the deadline: refused, and the attempt is submitted."""
    try:
        saved = services.attempt_answer_save(
            user=request.user, attempt_id=pk, position=position, data=request.POST
        )
    except services.DeadlinePassed as error:
        messages.error(request, " ".join(error.messages))
        review = reverse("exams:attempt_review", kwargs={"pk": pk})
        return HttpResponseClientRedirect(review) if request.htmx else redirect(review)
    except ValidationError as error:
        if request.htmx:
            return render(
                request, "exams/attempt.html#save_state", {"error": " ".join(error.messages)}
            )
        messages.error(request, " ".join(error.messages))
        return redirect(reverse("exams:attempt", kwargs={"pk": pk}) + f"?q={position}")
    if request.htmx:
        return render(request, "exams/attempt.html#save_state", {"saved_at": saved.saved_at})
    following = position + 1 if request.POST.get("go") == "next" else position
    return redirect(reverse("exams:attempt", kwargs={"pk": pk}) + f"?q={following}")


@role_required("student")
@require_POST
def attempt_submit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    services.attempt_submit(attempt_id=pk, user=request.user)
    return redirect("exams:attempt_review", pk=pk)


@role_required("student")
@require_GET
def attempt_review(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    try:
        review = services.attempt_review(user=request.user, pk=pk)
    except PermissionDenied:
        return redirect("exams:attempt", pk=pk)
    return render(request, "exams/review.html", {"review": review})


# --- teachers: the question bank ---------------------------------------------------------


@role_required("teacher", "staff")
@require_GET
def item_list(request: AuthenticatedRequest) -> HttpResponse:
    items = services.items_for_teacher(user=request.user)
    return render(request, "exams/item_list.html", {"items": items, "types": ItemType.choices})


@role_required("teacher", "staff")
@require_http_methods(["GET", "POST"])
def item_create(request: AuthenticatedRequest) -> HttpResponse:
    item_type = request.GET.get("type", ItemType.CHOICE)
    if item_type not in ItemType.values:
        raise Http404
    form = ItemForm(request.POST or None, item_type=item_type)
    if request.method == "POST" and form.is_valid():
        try:
            item = services.item_save(user=request.user, data=form.bank_data())
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(request, _("Question saved as a draft."))
            return redirect("exams:item_detail", pk=item.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "exams/item_form.html", {"form": form, "item_type": item_type}, status=status
    )


@role_required("teacher", "staff")
@require_http_methods(["GET", "POST"])
def item_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = services.item_get_for_editor(user=request.user, pk=pk)
    form = ItemForm(request.POST or None, item_type=item.type, initial=ItemForm.initial_for(item))
    if request.method == "POST" and form.is_valid():
        try:
            services.item_save(user=request.user, data=form.bank_data(), item=item)
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(request, _("Question saved."))
            return redirect("exams:item_detail", pk=item.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "exams/item_form.html",
        {"form": form, "item": item, "item_type": item.type},
        status=status,
    )


@role_required("teacher", "staff")
@require_GET
def item_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The item as a student sees it, with its key, explanation and versions."""
    item = services.item_get_for_editor(user=request.user, pk=pk)
    return render(
        request,
        "exams/item_detail.html",
        {"item": item, "version": item.current, "key": services.item_key(item=item)},
    )


@role_required("teacher", "staff")
@require_POST
def item_approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = services.item_get_for_editor(user=request.user, pk=pk)
    services.item_approve(user=request.user, item=item)
    messages.success(request, _("Question approved: students can now practise it."))
    return redirect("exams:item_detail", pk=pk)


@role_required("teacher", "staff")
@require_GET
def bank_export(request: AuthenticatedRequest, file_format: str) -> HttpResponse:
    text = services.bank_export_for(user=request.user, file_format=file_format)
    content_type = services.EXPORT_FORMATS[file_format]
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = (
        content_disposition_header(True, f"soro-questions.{file_format.replace('gift', 'txt')}")
        or "attachment"
    )
    return response


# --- teachers: class tests ---------------------------------------------------------------


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def test_assign(request: AuthenticatedRequest) -> HttpResponse:
    classrooms, blueprints = services.exam_assign_choices(teacher=request.user)
    form = AssignForm(request.POST or None, classrooms=classrooms, blueprints=blueprints)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            test = services.exam_assign(
                teacher=request.user,
                classroom_id=data["classroom"].pk,
                title=data["title"],
                minutes=data["minutes"],
                opens_at=data["opens_at"],
                closes_at=data["closes_at"],
                blueprint_id=data["blueprint"].pk if data["blueprint"] else None,
                item_codes=data["items"].split(),
            )
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(request, _("Test assigned to the class."))
            return redirect("exams:test_results", pk=test.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "exams/assign.html", {"form": form}, status=status)


@role_required("teacher", "staff")
@require_GET
def test_results(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    results = services.exam_results(user=request.user, pk=pk)
    return render(request, "exams/results.html", {"results": results})


@role_required("teacher", "staff")
@require_GET
def test_results_csv(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    text = services.exam_results_csv(user=request.user, pk=pk)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        content_disposition_header(True, f"test-{pk}-results.csv") or "attachment"
    )
    return response


@role_required("teacher", "staff")
@require_GET
def test_results_xlsx(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    data = services.exam_results_xlsx(user=request.user, pk=pk)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = (
        content_disposition_header(True, f"test-{pk}-results.xlsx") or "attachment"
    )
    return response


@role_required("teacher", "staff")
@require_GET
def student_history(request: AuthenticatedRequest, pk: int, student_pk: int) -> HttpResponse:
    """One student of the teacher's class: every attempt and the topics practised."""
    history = services.student_history(user=request.user, classroom_id=pk, student_id=student_pk)
    return render(request, "exams/student_history.html", {"history": history})


# --- offline practice --------------------------------------------------------------------


@role_required("student")
@require_GET
def practice_offline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A topic's practice page that keeps working offline (service worker + a pack of the
    topic's approved items); answers wait in the browser and are sent once when online."""
    topic = services.topic_get(topic_id=pk)
    return render(request, "exams/offline.html", {"topic": topic})


@role_required("student")
@require_GET
def practice_pack(request: AuthenticatedRequest, pk: int) -> JsonResponse:
    return JsonResponse(services.practice_pack(student=request.user, topic_id=pk))


@role_required("student")
@require_POST
def practice_sync(request: AuthenticatedRequest) -> JsonResponse:
    """Answers given offline: ``{"answers": [{"client_id", "item_id", "answer"}]}``."""
    try:
        payload = json.loads(request.body or b"{}")
        answers = payload["answers"]
        if not isinstance(answers, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": _("Send a list of answers.")}, status=422)
    report = services.practice_sync(student=request.user, answers=answers[:500])
    return JsonResponse(
        {"stored": report.stored, "repeated": report.repeated, "refused": report.refused}
    )


@require_GET
def practice_worker(request: HttpRequest) -> HttpResponse:
    """The service worker script, served under /exams/practice/ so that it may control the
    offline practice pages."""
    path = finders.find("soro/practice-worker.js")
    assert path is not None
    with open(path, encoding="utf-8") as handle:
        response = HttpResponse(handle.read(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
