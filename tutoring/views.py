"""Textbook upload with live progress, and search with citations."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from soro_web.forms import form_add_validation_error
from soro_web.http import AuthenticatedRequest
from soro_web.permissions import role_required
from tutoring import services
from tutoring.forms import SearchForm, TextbookUploadForm
from tutoring.models import TextbookEdition


@role_required("teacher", "staff")
@require_http_methods(["GET", "POST"])
def textbook_list(request: AuthenticatedRequest) -> HttpResponse:
    form = TextbookUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            edition = services.textbook_upload(
                user=request.user,
                title=data["title"],
                subject=data["subject"],
                grade=data["grade"],
                language=data["language"],
                upload=data["file"],
            )
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            return redirect(f"{request.path}?edition={edition.pk}")
    return render(
        request,
        "tutoring/textbook_list.html",
        {
            "form": form,
            "textbooks": services.textbooks_overview(request.user),
            "watching": watched if (watched := request.GET.get("edition", "")).isdigit() else "",
        },
    )


@role_required("teacher", "staff")
@require_GET
def edition_progress(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    try:
        edition, error_message = services.edition_for_progress(request.user, pk)
    except TextbookEdition.DoesNotExist:
        raise Http404 from None
    context = {"edition": edition, "error_message": error_message}
    response = render(request, "tutoring/textbook_list.html#edition-progress", context)
    finished = edition.status in (TextbookEdition.Status.READY, TextbookEdition.Status.FAILED)
    if request.htmx and finished:
        stop = HttpResponseStopPolling(response.content)
        return stop
    return response


@role_required("student", "teacher", "staff")
@require_GET
def search(request: AuthenticatedRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    outcome = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        page = request.GET.get("page", "")
        try:
            outcome = services.passages_search_page(
                user=request.user,
                query=data["q"],
                subject=data["subject"].code if data["subject"] else None,
                grade=data["grade"].number if data["grade"] else None,
                page=int(page) if page.isdigit() else 1,
            )
        except ValidationError as error:
            form_add_validation_error(form, error)
    # The query stays in the address (a plain GET form), so Back, a reload or a shared link
    # shows the results together with the words that found them.
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tutoring/search.html",
        {"form": form, "outcome": outcome, "query_string": query.urlencode()},
    )
