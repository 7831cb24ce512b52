"""Sign-in lockout: who is locked (a django-axes handler) and what they see (a page in the
browser with the unlock-code form, JSON from the API).

Wrong passwords are counted by django-axes per (username, address) pair and per username
(``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]``). Axes compares the
largest of those counts with one limit; here the pair is locked at ``AXES_FAILURE_LIMIT`` and
the username everywhere only at the higher ``SORO_LOGIN_USERNAME_CEILING``, so an attacker
failing at another address cannot lock the real user out (until the ceiling, which a
teacher's unlock code lifts).
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


class PairAndCeilingHandler(AxesDatabaseHandler):
    """Axes' database handler with two limits: the pair's and the username's ceiling."""

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        pair, by_username = self.failure_counts(request, credentials)
        if by_username >= settings.SORO_LOGIN_USERNAME_CEILING:
            # Reported as at least the pair limit, so axes locks the username everywhere.
            return max(pair, settings.AXES_FAILURE_LIMIT)
        return pair

    def failure_counts(self, request: Any, credentials: dict | None = None) -> tuple[int, int]:
        """Recent failures of (username, this address) and of the username from anywhere,
        in the order of ``AXES_LOCKOUT_PARAMETERS``."""
        counts = [
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        ]
        return counts[0], counts[1]


#: Wrong unlock codes one address may try for a username beyond the lockout, per cool-off.
UNLOCK_CODE_TRIES = 5


def _failure_counts(request: HttpRequest, username: str | None) -> tuple[int, int] | None:
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    if not isinstance(handler, PairAndCeilingHandler):
        return None
    return handler.failure_counts(request, {"username": username})


def unlock_tries_left(request: HttpRequest, username: str) -> bool:
    """Whether this address may still try an unlock code for ``username``."""
    counts = _failure_counts(request, username)
    return counts is None or counts[0] < settings.AXES_FAILURE_LIMIT + UNLOCK_CODE_TRIES


def is_username_locked_everywhere(request: HttpRequest, credentials: dict | None) -> bool:
    username = (credentials or {}).get("username") or request.POST.get("username")
    counts = _failure_counts(request, username)
    return counts is not None and counts[1] >= settings.SORO_LOGIN_USERNAME_CEILING


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "detail": _(
                    "Too many failed sign-in attempts for this username. "
                    "Wait %(minutes)s minutes or ask your teacher for an unlock code."
                )
                % {"minutes": minutes}
            },
            status=429,
        )
    from soro_web.accounts.forms import UnlockForm

    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = getattr(request, "soro_unlock_form", None) or UnlockForm(initial={"username": username})
    return render(
        request,
        "accounts/locked_out.html",
        {
            "minutes": minutes,
            "form": form,
            "everywhere": is_username_locked_everywhere(request, credentials),
        },
        status=429,
    )
