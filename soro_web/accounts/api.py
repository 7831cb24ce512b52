"""API for the current user, tokens and classes."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from ninja import Router, Status

from soro_web.accounts import services
from soro_web.accounts.lockout import lockout_response
from soro_web.accounts.schemas import (
    ClassroomDetailOut,
    ClassroomIn,
    ClassroomOut,
    JoinIn,
    TokenIn,
    TokenInfoOut,
    TokenOut,
    UserOut,
)
from soro_web.http import AuthenticatedRequest, HtmxRequest
from soro_web.schema_types import Id, errors

router = Router(tags=["people and classes"])


@router.get("/me", response={200: UserOut, **errors()})
def me(request: AuthenticatedRequest):  # type: ignore[no-untyped-def]
    return request.user


@router.post("/auth/token", auth=None, response={201: TokenOut, **errors(400, 429)})
def token_create(request: HtmxRequest, payload: TokenIn):  # type: ignore[no-untyped-def]
    from axes.handlers.proxy import AxesProxyHandler

    credentials = {"username": payload.username}
    if AxesProxyHandler.is_locked(request, credentials):
        return lockout_response(request)
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        return Status(401, {"detail": _("Wrong username or password.")})
    _token, key = services.api_token_create(user=user, name=payload.name)
    return Status(201, {"token": key, "name": _token.name, "expires_at": _token.expires_at})


@router.get("/auth/tokens", response={200: list[TokenInfoOut], **errors()})
def token_list(request: AuthenticatedRequest):  # type: ignore[no-untyped-def]
    return services.api_tokens_of(user=request.user)


@router.delete("/auth/tokens/{token_id}", response={204: None, **errors(403, 404)})
def token_revoke(request: AuthenticatedRequest, token_id: Id):  # type: ignore[no-untyped-def]
    services.api_token_revoke(user=request.user, pk=token_id)
    return Status(204, None)


@router.get("/classes", response={200: list[ClassroomOut], **errors()})
def classes_list(request: AuthenticatedRequest):  # type: ignore[no-untyped-def]
    return services.classrooms_for_user(user=request.user)


@router.post("/classes", response={201: ClassroomOut, **errors(400, 403)})
def classes_create(request: AuthenticatedRequest, payload: ClassroomIn):  # type: ignore[no-untyped-def]
    classroom = services.classroom_create_by_code(
        teacher=request.user,
        name=payload.name,
        subject_code=payload.subject,
        grade_number=payload.grade,
    )
    return Status(201, classroom)


@router.post("/classes/join", response={201: ClassroomOut, **errors(400, 403)})
def classes_join(request: AuthenticatedRequest, payload: JoinIn):  # type: ignore[no-untyped-def]
    enrollment = services.classroom_join(
        student=request.user,
        join_code=payload.join_code,
        address=request.META.get("REMOTE_ADDR"),
    )
    return Status(201, enrollment.classroom)


@router.get("/classes/{classroom_id}", response={200: ClassroomDetailOut, **errors(404)})
def classes_detail(request: AuthenticatedRequest, classroom_id: Id):  # type: ignore[no-untyped-def]
    return services.classroom_get_for_teacher(user=request.user, pk=classroom_id)


@router.post("/classes/{classroom_id}/join-code", response={200: ClassroomOut, **errors(403, 404)})
def classes_regenerate_code(request: AuthenticatedRequest, classroom_id: Id):  # type: ignore[no-untyped-def]
    classroom = services.classroom_get_for_teacher(user=request.user, pk=classroom_id)
    return services.classroom_regenerate_join_code(classroom=classroom)
