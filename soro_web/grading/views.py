"""Batch grading pages: the teacher's assignments, import, "grade all" with its progress,
the review queue, release, audit trail and export; the student's answers and, after release,
grades.

Every form posts normally and the page comes back whole; with htmx the progress box polls
and stops when the job ends.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from soro_web.forms import form_add_validation_error
from soro_web.grading import services
from soro_web.grading.forms import (
    AssignmentCreateForm,
    ExamImportForm,
    GradeEditForm,
    ImportForm,
    QuestionForm,
    RubricForm,
)
from soro_web.http import AuthenticatedRequest
from soro_web.permissions import role_required

DETAIL = "grading/assignment_detail.html"


def _errors(request: AuthenticatedRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def _to_detail(pk: int) -> HttpResponse:
    return redirect("grading:assignment_detail", pk=pk)


@role_required("teacher", "student")
@require_GET
def assignment_list(request: AuthenticatedRequest) -> HttpResponse:
    """Teachers: their assignments. Students: the assignments of their classes."""
    assignments = services.assignments_for_user(user=request.user)
    context: dict[str, object] = {"assignments": assignments}
    if request.user.is_teacher:
        tests = services.exam_tests_for_grading(teacher=request.user)
        context["exam_form"] = ExamImportForm(tests=tests) if tests else None
    return render(request, "grading/assignment_list.html", context)


@role_required("teacher")
@require_POST
def assignment_from_exam(request: AuthenticatedRequest) -> HttpResponse:
    """Bring the short answers of one of the teacher's class tests into grading."""
    form = ExamImportForm(request.POST, tests=services.exam_tests_for_grading(teacher=request.user))
    if not form.is_valid():
        messages.error(request, _("Choose one of your class tests."))
        return redirect("grading:assignment_list")
    try:
        result = services.assignment_from_exam(
            teacher=request.user, test_id=form.cleaned_data["test"]
        )
    except ValidationError as error:
        _errors(request, error)
        return redirect("grading:assignment_list")
    messages.success(
        request,
        _("Short answers brought in: %(created)d new, %(unchanged)d already here.")
        % {"created": result.created, "unchanged": result.unchanged},
    )
    if result.skipped_questions:
        messages.info(
            request,
            _("Numeric questions with a tolerance stay with the test's own scoring: %(count)d.")
            % {"count": result.skipped_questions},
        )
    return _to_detail(result.assignment.pk)


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def assignment_create(request: AuthenticatedRequest) -> HttpResponse:
    form = AssignmentCreateForm(
        request.POST if request.method == "POST" else None, teacher=request.user
    )
    if request.method == "POST" and form.is_valid():
        try:
            assignment = services.assignment_create(teacher=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            return _to_detail(assignment.pk)
    return render(request, "grading/assignment_create.html", {"form": form})


def _detail_context(request: AuthenticatedRequest, assignment, **forms):  # type: ignore[no-untyped-def]
    return {
        "assignment": assignment,
        "questions": services.assignment_questions(assignment=assignment),
        "counts": services.grade_counts(assignment=assignment),
        "job": services.grading_job_latest(assignment=assignment),
        "question_form": forms.get("question_form") or QuestionForm(),
        "import_form": forms.get("import_form") or ImportForm(),
    }


@role_required("teacher")
@require_GET
def assignment_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    return render(request, DETAIL, _detail_context(request, assignment))


@role_required("teacher")
@require_POST
def question_add(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    form = QuestionForm(request.POST)
    if form.is_valid():
        try:
            services.question_add(assignment=assignment, **form.cleaned_data)
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(request, _("Question added."))
            return _to_detail(pk)
    return render(
        request, DETAIL, _detail_context(request, assignment, question_form=form), status=422
    )


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def rubric_edit(request: AuthenticatedRequest, pk: int, question_pk: int) -> HttpResponse:
    """Change an open question's rubric: a new version; "grade all" then grades again."""
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    question = services.question_get_for_teacher(assignment=assignment, pk=question_pk)
    rubric = services.current_rubric(question)
    if request.method == "POST":
        form = RubricForm(request.POST)
        if form.is_valid():
            try:
                changed = services.rubric_change(
                    question=question, rubric=form.cleaned_data["rubric"]
                )
            except ValidationError as error:
                form_add_validation_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Rubric version %(version)d saved. Press “Grade all” to grade the "
                        "answers again with it."
                    )
                    % {"version": changed.version},
                )
                return _to_detail(pk)
        status = 422
    else:
        form = RubricForm(initial={"rubric": services.rubric_text(rubric)})
        status = 200
    context = {"assignment": assignment, "question": question, "rubric": rubric, "form": form}
    return render(request, "grading/rubric_edit.html", context, status=status)


@role_required("teacher")
@require_POST
def answers_import(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = services.answers_import(
                assignment=assignment, name=upload.name, content=upload.read()
            )
        except ValidationError as error:
            form.add_error("file", error.messages)
        else:
            messages.success(
                request,
                _("Imported: %(created)d new answers, %(updated)d replaced.")
                % {"created": result.created, "updated": result.updated},
            )
            return _to_detail(pk)
    return render(
        request, DETAIL, _detail_context(request, assignment, import_form=form), status=422
    )


@role_required("teacher")
@require_POST
def grade_all(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    try:
        services.grading_job_start(assignment=assignment, user=request.user)
    except ValidationError as error:
        _errors(request, error)
    return _to_detail(pk)


@role_required("teacher")
@require_GET
def job_progress(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The progress box; htmx polls it and stops when the job has ended."""
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    context = _detail_context(request, assignment)
    if not request.htmx:
        return render(request, DETAIL, context)
    response = render(request, f"{DETAIL}#progress", context)
    job = context["job"]
    if job is None or job.is_finished:
        return HttpResponseStopPolling(response.content)
    return response


@role_required("teacher")
@require_POST
def job_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    job = services.grading_job_latest(assignment=assignment)
    if job is not None and not job.is_finished:
        services.grading_job_cancel(job=job)
        messages.success(request, _("Grading stops after the answers in hand."))
    return _to_detail(pk)


@role_required("teacher")
@require_POST
def retry_failed(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    try:
        services.grading_retry_failed(assignment=assignment, user=request.user)
    except ValidationError as error:
        _errors(request, error)
    return _to_detail(pk)


@role_required("teacher")
@require_GET
def review_queue(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    grades = services.review_queue(assignment=assignment)
    return render(request, "grading/review.html", {"assignment": assignment, "grades": grades})


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def grade_review(request: AuthenticatedRequest, pk: int, grade_pk: int) -> HttpResponse:
    """One answer beside its rubric with the proposed points: accept, or change and save."""
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    grade = services.grade_get_for_teacher(user=request.user, pk=grade_pk)
    if grade.answer.assignment_id != assignment.pk:
        raise Http404(_("No such grade, or it is not yours."))
    criteria = services.grade_criteria(grade)
    form = GradeEditForm(
        request.POST if request.method == "POST" else None,
        criteria=criteria,
        initial={"feedback": grade.feedback},
    )
    if request.method == "POST":
        try:
            if request.POST.get("action") == "accept":
                services.grade_accept(grade=grade, user=request.user)
                messages.success(request, _("Grade accepted."))
            elif form.is_valid():
                services.grade_edit(
                    grade=grade,
                    user=request.user,
                    scores=form.scores(),
                    feedback=form.cleaned_data["feedback"],
                )
                messages.success(request, _("Grade saved."))
            else:
                raise ValidationError(_("Check the points of each criterion."))
        except ValidationError as error:
            _errors(request, error)
        else:
            following = services.review_queue(assignment=assignment)
            if following:
                return redirect("grading:grade_review", pk=pk, grade_pk=following[0].pk)
            return redirect("grading:review_queue", pk=pk)
    return render(
        request,
        "grading/grade_review.html",
        {"assignment": assignment, "grade": grade, "criteria": criteria, "form": form},
    )


@role_required("teacher")
@require_POST
def release(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    try:
        services.assignment_release(assignment=assignment, user=request.user)
    except ValidationError as error:
        _errors(request, error)
    else:
        messages.success(request, _("Grades released. Students can see them now."))
    return _to_detail(pk)


@role_required("teacher")
@require_GET
def audit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    entries = services.audit_trail(assignment=assignment)
    return render(request, "grading/audit.html", {"assignment": assignment, "entries": entries})


@role_required("teacher")
@require_GET
def export(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The gradebook as CSV, or XLSX with ?format=xlsx."""
    assignment = services.assignment_get_for_teacher(user=request.user, pk=pk)
    file_format = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    content, content_type = services.gradebook_export(
        assignment=assignment, file_format=file_format
    )
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = (
        content_disposition_header(True, f"{assignment.title}.{file_format}") or ""
    )
    return response


@role_required("student")
@require_http_methods(["GET", "POST"])
def student_assignment(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A student answers the questions; after release they see their grades and feedback."""
    assignment = services.assignment_get_for_student(user=request.user, pk=pk)
    if request.method == "POST":
        answers: dict[int, str] = {}
        for key in request.POST:
            if key.startswith("answer_") and key[7:].isdigit():
                answers[int(key[7:])] = request.POST.get(key, "")
        try:
            saved = services.answer_submit(
                student=request.user, assignment=assignment, answers=answers
            )
        except ValidationError as error:
            _errors(request, error)
        else:
            messages.success(
                request,
                ngettext("%(count)d answer saved.", "%(count)d answers saved.", saved)
                % {"count": saved},
            )
        return redirect("grading:student_assignment", pk=pk)
    results = services.student_results(assignment=assignment, student=request.user)
    return render(
        request,
        "grading/student_assignment.html",
        {"assignment": assignment, "results": results},
    )
