"""The lesson builder and the pages that show, print, export, share and copy lessons.

Every htmx request gets a fragment of the same template; without JavaScript every form
posts normally and the page comes back whole.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from soro_web.forms import form_add_validation_error
from soro_web.http import AuthenticatedRequest, ndjson_response
from soro_web.lessons import services
from soro_web.lessons.forms import (
    CurriculumFilterForm,
    DraftForm,
    LessonCreateForm,
    LessonDetailsForm,
    ProposalForm,
    PublishForm,
    SectionAddForm,
    SectionAudienceForm,
    SectionForm,
    SectionMoveForm,
)
from soro_web.lessons.models import Lesson, LessonSection
from soro_web.permissions import role_required

BUILDER = "lessons/builder.html"


# --- lists ----------------------------------------------------------------------------------


@role_required("teacher", "student", "staff")
@require_GET
def lesson_list(request: AuthenticatedRequest) -> HttpResponse:
    """Teachers: their lessons. Students: the lessons published to their classes."""
    lessons = services.lessons_for_user(user=request.user)
    template = (
        "lessons/lesson_list.html" if not request.user.is_student else "lessons/class_lessons.html"
    )
    return render(request, template, {"lessons": lessons})


@role_required("teacher")
@require_GET
def lesson_library(request: AuthenticatedRequest) -> HttpResponse:
    form = CurriculumFilterForm(request.GET or None)
    subject = grade = None
    if form.is_valid():
        subject, grade = form.cleaned_data["subject"], form.cleaned_data["grade"]
    lessons = services.lessons_library(
        user=request.user,
        subject_id=subject.pk if subject else None,
        grade_id=grade.pk if grade else None,
    )
    template = "lessons/library.html#results" if request.htmx else "lessons/library.html"
    return render(request, template, {"form": form, "lessons": lessons})


# --- creating -------------------------------------------------------------------------------


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def lesson_create(request: AuthenticatedRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    chosen, narrowing = services.lesson_create_choices(teacher=request.user, params=source)
    filter_form = CurriculumFilterForm(narrowing)
    subject = grade = None
    if filter_form.is_valid():
        subject, grade = filter_form.cleaned_data["subject"], filter_form.cleaned_data["grade"]
    form = LessonCreateForm(
        request.POST if request.method == "POST" else None,
        subject=subject,
        grade=grade,
        initial={
            "duration_minutes": 45,
            "language": "tg",
            "topic": chosen.pk if chosen else None,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            lesson = services.lesson_create(teacher=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            return redirect("lessons:lesson_builder", pk=lesson.pk)
    context = {"form": form, "filter_form": filter_form}
    if request.htmx and request.method == "GET":
        return render(request, "lessons/lesson_create.html#topic-field", context)
    return render(request, "lessons/lesson_create.html", context)


# --- the builder ----------------------------------------------------------------------------


def _builder_context(request: AuthenticatedRequest, lesson: Lesson) -> dict[str, Any]:
    passages = services.lesson_passages(lesson=lesson, user=request.user)
    return {
        "lesson": lesson,
        "sections": list(lesson.sections.all()),
        "passages": passages,
        "has_passages": bool(passages),
        "details_form": LessonDetailsForm(
            initial={"title": lesson.title, "duration_minutes": lesson.duration_minutes}
        ),
        "add_form": SectionAddForm(),
        "kinds": LessonSection.Kind.choices,
        "audiences": LessonSection.Audience.choices,
        "publication": services.lesson_publication(lesson),
        "slow_note": services.draft_slowness_note(),
    }


def _section_context(section: LessonSection, **extra: Any) -> dict[str, Any]:
    lesson = section.lesson
    return {
        "lesson": lesson,
        "section": section,
        "has_passages": bool(lesson.passage_ids),
        "audiences": LessonSection.Audience.choices,
        **extra,
    }


def _to_section(section: LessonSection) -> HttpResponse:
    url = reverse("lessons:lesson_builder", kwargs={"pk": section.lesson_id})
    return redirect(f"{url}#section-{section.pk}")


@role_required("teacher")
@require_GET
def lesson_builder(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    return render(request, BUILDER, _builder_context(request, lesson))


@role_required("teacher")
@require_POST
def lesson_update(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Autosave of the lesson's title and duration."""
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    form = LessonDetailsForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.lesson_update(lesson=lesson, user=request.user, **form.cleaned_data)
        except ValidationError as failure:
            error = " ".join(failure.messages)
    else:
        error = " ".join(str(message) for errors in form.errors.values() for message in errors)
    if request.htmx:
        # The timed plan's total is checked against the duration: shown again with it.
        plan_sections = lesson.sections.filter(kind=LessonSection.Kind.TIMED_PLAN)
        context = {
            "lesson": lesson,
            "error": error,
            "plan_sections": plan_sections,
            "oob": True,
            "publication": services.lesson_publication(lesson),
        }
        return render(request, f"{BUILDER}#details-saved", context)
    if error:
        messages.error(request, error)
    return redirect("lessons:lesson_builder", pk=lesson.pk)


@role_required("teacher")
@require_GET
def lesson_passages(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The passages beside the editor; ``?refresh=1`` searches the textbooks again."""
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    passages = services.lesson_passages(
        lesson=lesson, user=request.user, refresh=request.GET.get("refresh") == "1"
    )
    if request.htmx:
        return render(request, f"{BUILDER}#passages", {"lesson": lesson, "passages": passages})
    return redirect("lessons:lesson_builder", pk=lesson.pk)


@role_required("teacher")
@require_POST
def section_add(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    form = SectionAddForm(request.POST)
    section = None
    if form.is_valid():
        section = services.lesson_section_add(lesson=lesson, user=request.user, **form.cleaned_data)
    if request.htmx:
        return render(request, f"{BUILDER}#sections", _builder_context(request, lesson))
    return _to_section(section) if section else redirect("lessons:lesson_builder", pk=lesson.pk)


@role_required("teacher")
@require_GET
def section_detail(request: AuthenticatedRequest, pk: int, section_pk: int) -> HttpResponse:
    """One section as the builder shows it (``?part=proposal``: only its proposal)."""
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    if not request.htmx:
        return _to_section(section)
    part = "proposal" if request.GET.get("part") == "proposal" else "section"
    return render(request, f"{BUILDER}#{part}", _section_context(section))


@role_required("teacher")
@require_POST
def section_update(request: AuthenticatedRequest, pk: int, section_pk: int) -> HttpResponse:
    """Autosave of one section, refused (and shown side by side) when another tab saved
    it in between."""
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    form = SectionForm(request.POST)
    conflict: dict[str, str] | None = None
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.lesson_section_update(
                section=section,
                user=request.user,
                title=data["title"],
                body=data["body"],
                base_revision=data["revision"],
            )
        except services.SectionConflict as clash:
            section = clash.section
            conflict = {"mine": data["body"], "mine_title": data["title"]}
        except ValidationError as failure:
            error = " ".join(failure.messages)
    else:
        error = " ".join(str(message) for errors in form.errors.values() for message in errors)
    if request.htmx:
        context = _section_context(
            section,
            conflict=conflict,
            conflict_section=section.pk,
            error=error,
            oob=True,
            publication=services.lesson_publication(section.lesson),
        )
        return render(request, f"{BUILDER}#save-status", context)
    if conflict:
        page = _builder_context(request, section.lesson)
        page.update(conflict=conflict, conflict_section=section.pk)
        return render(request, BUILDER, page, status=409)
    if error:
        messages.error(request, error)
    return _to_section(section)


@role_required("teacher")
@require_POST
def section_audience(request: AuthenticatedRequest, pk: int, section_pk: int) -> HttpResponse:
    """Who reads the section once published: the teacher only, or the students too."""
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    form = SectionAudienceForm(request.POST)
    error = ""
    if form.is_valid():
        section = services.section_audience_set(
            section=section, user=request.user, audience=form.cleaned_data["audience"]
        )
    else:
        error = " ".join(str(message) for errors in form.errors.values() for message in errors)
    if request.htmx:
        context = _section_context(
            section,
            audience_error=error,
            oob=True,
            publication=services.lesson_publication(section.lesson),
        )
        return render(request, f"{BUILDER}#audience-saved", context)
    if error:
        messages.error(request, error)
    return _to_section(section)


@role_required("teacher")
@require_POST
def section_remove(request: AuthenticatedRequest, pk: int, section_pk: int) -> HttpResponse:
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    lesson = section.lesson
    services.lesson_section_remove(section=section, user=request.user)
    if request.htmx:
        return render(request, f"{BUILDER}#sections", _builder_context(request, lesson))
    messages.success(request, _("The section was removed. The history can bring it back."))
    return redirect("lessons:lesson_builder", pk=lesson.pk)


@role_required("teacher")
@require_POST
def section_move(request: AuthenticatedRequest, pk: int, section_pk: int) -> HttpResponse:
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    form = SectionMoveForm(request.POST)
    if form.is_valid():
        services.lesson_section_move(
            section=section, user=request.user, direction=form.cleaned_data["direction"]
        )
    if request.htmx:
        return render(request, f"{BUILDER}#sections", _builder_context(request, section.lesson))
    return _to_section(section)


@role_required("teacher")
@require_POST
def section_draft(
    request: AuthenticatedRequest, pk: int, section_pk: int
) -> HttpResponse | StreamingHttpResponse:
    """Draft (or regenerate) one section with the model. Scripts ask for a stream
    (``Accept: application/x-ndjson``): one JSON event per line as the text is written.
    Without JavaScript the whole draft is made, then the builder comes back."""
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    form = DraftForm(request.POST)
    streaming = "application/x-ndjson" in request.headers.get("Accept", "")
    if not form.is_valid():
        if streaming:
            return JsonResponse({"errors": form.errors}, status=422)
        return _to_section(section)
    events = services.lesson_draft_section(
        section=section,
        user=request.user,
        instruction=form.cleaned_data["instruction"],
        allow_ungrounded=form.cleaned_data["ungrounded"],
    )
    if streaming:
        return ndjson_response(events)
    for event in events:
        if event["type"] == "saved":
            if event.get("message"):
                messages.warning(request, event["message"])
            elif event["mode"] == "body":
                messages.success(request, _("The section was drafted. Read it and edit it."))
            else:
                messages.info(request, _("A new text is proposed below the section."))
        elif event["type"] in ("error", "no_passages"):
            messages.error(request, event["message"])
    return _to_section(section)


@role_required("teacher")
@require_POST
def section_proposal(request: AuthenticatedRequest, pk: int, section_pk: int) -> HttpResponse:
    """Accept or discard the proposed (regenerated) text."""
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    form = ProposalForm(request.POST)
    accepted = False
    if form.is_valid():
        if form.cleaned_data["action"] == "accept":
            section = services.section_proposal_accept(section=section, user=request.user)
            accepted = True
        else:
            section = services.section_proposal_discard(section=section, user=request.user)
    if request.htmx:
        part = "section" if accepted else "proposal"
        return render(request, f"{BUILDER}#{part}", _section_context(section))
    return _to_section(section)


@role_required("teacher")
@require_POST
def section_insert_passages(
    request: AuthenticatedRequest, pk: int, section_pk: int
) -> HttpResponse:
    """Start a section from the textbook: the passages, with their citations."""
    section = services.section_get_for_owner(user=request.user, lesson_pk=pk, pk=section_pk)
    error = ""
    try:
        section = services.section_insert_passages(section=section, user=request.user)
    except ValidationError as failure:
        error = " ".join(failure.messages)
    if request.htmx:
        return render(request, f"{BUILDER}#section", _section_context(section, error=error))
    if error:
        messages.error(request, error)
    return _to_section(section)


# --- history, publishing, copying, deleting -------------------------------------------------


@role_required("teacher")
@require_GET
def lesson_history(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    versions = lesson.versions.select_related("created_by")
    return render(request, "lessons/history.html", {"lesson": lesson, "versions": versions})


@role_required("teacher")
@require_POST
def lesson_version_restore(request: AuthenticatedRequest, pk: int, version_pk: int) -> HttpResponse:
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    version = get_object_or_404(lesson.versions, pk=version_pk)
    services.lesson_version_restore(version=version, user=request.user)
    messages.success(
        request, _("The lesson is as it was then. The text it replaced is kept in the history.")
    )
    return redirect("lessons:lesson_builder", pk=lesson.pk)


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def lesson_publish(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Publish (or publish the changes): students read the snapshot taken now. Empty
    sections are listed, and publishing needs an explicit "publish anyway"."""
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    form = PublishForm(
        request.POST or None,
        teacher=request.user,
        initial={"classes": list(lesson.classes.all())},
    )
    if request.method == "POST" and request.POST.get("action") == "unpublish":
        services.lesson_unpublish(lesson=lesson, user=request.user)
        messages.success(request, _("The lesson is a draft again; students no longer see it."))
        return redirect("lessons:lesson_builder", pk=lesson.pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.lesson_publish(
                lesson=lesson,
                user=request.user,
                classes=form.cleaned_data["classes"],
                publish_anyway=form.cleaned_data["publish_anyway"],
            )
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(request, _("The lesson is published to the chosen classes."))
            return redirect("lessons:lesson_view", pk=lesson.pk)
    context = {
        "lesson": lesson,
        "form": form,
        "empty_sections": services.empty_sections(lesson),
        "publication": services.lesson_publication(lesson),
    }
    return render(request, "lessons/publish.html", context)


@role_required("teacher")
@require_POST
def lesson_copy(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    lesson = services.lesson_get_visible(user=request.user, pk=pk)
    copy = services.lesson_copy(lesson=lesson, teacher=request.user)
    messages.success(request, _("The lesson is copied into your drafts. Change it as you like."))
    return redirect("lessons:lesson_builder", pk=copy.pk)


@role_required("teacher")
@require_POST
def lesson_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    lesson = services.lesson_get_for_owner(user=request.user, pk=pk)
    services.lesson_delete(lesson=lesson, user=request.user)
    messages.success(request, _("The lesson was deleted."))
    if request.htmx:
        return HttpResponseClientRedirect(reverse("lessons:lesson_list"))
    return redirect("lessons:lesson_list")


# --- reading, printing, exporting -----------------------------------------------------------


def _reading(request: AuthenticatedRequest, pk: int) -> tuple[Lesson, services.LessonReading]:
    lesson = services.lesson_get_visible(user=request.user, pk=pk)
    reading = services.lesson_reading(
        lesson=lesson, user=request.user, as_students=request.GET.get("as") == "students"
    )
    return lesson, reading


@login_required
@require_GET
def lesson_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The read-only lesson (no builder script): students read the published version's
    sections meant for them; its teacher the working copy (``?as=students``: as students
    see it)."""
    lesson, reading = _reading(request, pk)
    return render(
        request,
        "lessons/lesson_view.html",
        {
            "lesson": lesson,
            "reading": reading,
            "sections": reading.sections,
            "is_owner": lesson.teacher_id == request.user.pk,
            "publication": services.lesson_publication(lesson)
            if lesson.teacher_id == request.user.pk
            else None,
        },
    )


@role_required("teacher", "student", "staff")
@require_GET
def lesson_print(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A clean A4 page for the browser's print dialog: what the reader reads."""
    lesson, reading = _reading(request, pk)
    return render(
        request,
        "lessons/print.html",
        {
            "lesson": lesson,
            "reading": reading,
            "sections": services.printed_sections(lesson=lesson, sections=reading.sections),
        },
    )


def _export(request: AuthenticatedRequest, pk: int, extension: str) -> HttpResponse:
    from soro_web.lessons.export import EmptyLessonError, lesson_docx, lesson_pdf

    lesson, reading = _reading(request, pk)
    document = services.lesson_document(lesson=lesson, reading=reading)
    try:
        content = lesson_pdf(document) if extension == "pdf" else lesson_docx(document)
    except EmptyLessonError:
        messages.error(request, _("The lesson is empty: write or draft a section first."))
        if lesson.teacher_id == request.user.pk:
            return redirect("lessons:lesson_builder", pk=lesson.pk)
        return redirect("lessons:lesson_view", pk=lesson.pk)
    content_type = (
        "application/pdf"
        if extension == "pdf"
        else "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response = HttpResponse(content, content_type=content_type)
    name = services.lesson_file_name(lesson=lesson, extension=extension, title=reading.title)
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    return response


@role_required("teacher", "student", "staff")
@require_GET
def lesson_pdf(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The lesson as PDF: students get the published version's sections meant for them."""
    return _export(request, pk, "pdf")


@role_required("teacher", "student", "staff")
@require_GET
def lesson_docx(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "docx")
