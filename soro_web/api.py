"""The one NinjaAPI. Each app adds a tagged Router; errors are answered here, centrally."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.parser import Parser
from ninja.security import HttpBearer, django_auth

from soro_web.accounts.services import api_token_authenticate


class BearerToken(HttpBearer):
    """``Authorization: Bearer soro_…`` for clients that are not a browser."""

    def authenticate(self, request: HttpRequest, token: str):  # type: ignore[no-untyped-def]
        user = api_token_authenticate(key=token)
        if user is not None:
            request.user = user
        return user


class JsonObjectParser(Parser):
    """Every request body of this API is a JSON object. Ninja's schemas would read a list or
    a number as an object with every field missing (``[null, null]`` started a chat); this
    refuses them like any unreadable body, with 400."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("the body is not a JSON object")
        return data


api = NinjaAPI(
    parser=JsonObjectParser(),
    title="Soro API",
    version="1",
    urls_namespace="api",
    # Bearer first: it answers None without a header, so browsers fall through to the
    # CSRF-checked session; with it first, a token client's POST would fail the CSRF check.
    auth=[BearerToken(), django_auth],
    docs_url="/docs",
    description="Soro's HTTP API. Browsers use their session (with the CSRF header); other "
    "clients send `Authorization: Bearer <token>` from `POST /api/auth/token`.",
)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    if hasattr(error, "error_dict"):
        detail: object = error.message_dict
    else:
        detail = error.messages
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    message = str(error) or _("You may not do this.")
    return api.create_response(request, {"detail": message}, status=403)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": str(error) or _("Not found.")}, status=404)


def _register_routers() -> None:
    from soro_web.accounts.api import router as accounts_router
    from soro_web.curriculum.api import router as curriculum_router

    api.add_router("/", accounts_router)
    api.add_router("/curriculum", curriculum_router)

    from soro_web.lessons.api import router as lessons_router

    api.add_router("/", lessons_router)

    from tutoring.api import router as tutoring_router

    api.add_router("/", tutoring_router)

    from tutoring.exams.api import router as exams_router

    api.add_router("/", exams_router)

    from tutoring.tutor.api import router as tutor_router

    api.add_router("/", tutor_router)


_register_routers()
