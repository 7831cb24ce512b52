"""The home page, role dashboards and the health endpoint."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from soro_web.accounts.services import classrooms_for_user
from soro_web.http import AuthenticatedRequest, HtmxRequest
from soro_web.services import dashboard_staff_summary, health_report


@require_GET
def home(request: HtmxRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "soro_web/home.html")


@login_required
@require_GET
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    context: dict[str, object] = {"classrooms": classrooms_for_user(user=user)}
    if user.is_staff:
        context["summary"] = dashboard_staff_summary()
        template = "soro_web/dashboard_staff.html"
    elif user.is_teacher:
        template = "soro_web/dashboard_teacher.html"
    else:
        template = "soro_web/dashboard_student.html"
    return render(request, template, context)


@never_cache
@require_GET
def healthz(request: HtmxRequest) -> JsonResponse:
    report = health_report()
    if not (request.user.is_authenticated and request.user.is_staff):
        # Everyone may see which parts are up; only staff see why (hosts, errors, paths).
        report = {
            key: value if key == "ok" else {"ok": value["ok"]} for key, value in report.items()
        }
    return JsonResponse(
        report, status=200 if report["ok"] else 503, json_dumps_params={"ensure_ascii": False}
    )


FAVICON = Path(__file__).resolve().parent / "static" / "soro" / "favicon.ico"


@cache_control(max_age=86400, public=True)
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: browsers ask for it on every page, whatever the HTML says."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without a valid CSRF token (usually a page left open across a sign-in or
    a server restart): say so in the person's language and offer a way back (settings'
    ``CSRF_FAILURE_VIEW``). Django's reason is for the log, not the page."""
    template = loader.get_template("403_csrf.html")
    return HttpResponseForbidden(template.render({}, request))
