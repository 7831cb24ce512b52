"""Pages for signing in, signing up, joining classes and managing them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from soro_web.accounts import services
from soro_web.accounts.forms import (
    ClassroomForm,
    JoinClassForm,
    StudentSignUpForm,
    TeacherForm,
    UnlockForm,
)
from soro_web.forms import form_add_validation_error
from soro_web.http import AuthenticatedRequest, HtmxRequest
from soro_web.permissions import role_required, staff_required


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


@require_http_methods(["GET", "POST"])
def signup(request: HtmxRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = StudentSignUpForm(
        request.POST or None, initial={"join_code": request.GET.get("code", "")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            student = services.student_sign_up(
                **form.cleaned_data, address=request.META.get("REMOTE_ADDR")
            )
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            login(request, student, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to Soro! You have joined your class."))
            return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@role_required("student")
@require_http_methods(["GET", "POST"])
def classroom_join(request: AuthenticatedRequest) -> HttpResponse:
    form = JoinClassForm(request.POST or None, initial={"join_code": request.GET.get("code", "")})
    if request.method == "POST" and form.is_valid():
        try:
            enrollment = services.classroom_join(
                student=request.user, **form.cleaned_data, address=request.META.get("REMOTE_ADDR")
            )
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(
                request, _("You have joined %(name)s.") % {"name": enrollment.classroom.name}
            )
            return redirect("dashboard")
    return render(request, "accounts/classroom_join.html", {"form": form})


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def classroom_create(request: AuthenticatedRequest) -> HttpResponse:
    form = ClassroomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            classroom = services.classroom_create(teacher=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(
                request,
                _("Class %(name)s is ready. Give your students the code %(code)s.")
                % {"name": classroom.name, "code": classroom.join_code},
            )
            return redirect("accounts:classroom_detail", pk=classroom.pk)
    return render(request, "accounts/classroom_form.html", {"form": form})


@role_required("teacher", "staff")
def classroom_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    classroom = services.classroom_get_for_teacher(user=request.user, pk=pk)
    roster = services.classroom_roster(classroom=classroom)
    join_url = request.build_absolute_uri(f"/accounts/signup/?code={classroom.join_code}")
    return render(
        request,
        "accounts/classroom_detail.html",
        {"classroom": classroom, "roster": roster, "join_url": join_url},
    )


@role_required("teacher", "staff")
@require_POST
def classroom_regenerate_code(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    classroom = services.classroom_get_for_teacher(user=request.user, pk=pk)
    services.classroom_regenerate_join_code(classroom=classroom)
    if request.htmx:
        return render(request, "accounts/classroom_detail.html#join-code", {"classroom": classroom})
    messages.success(
        request, _("The class has a new code: %(code)s.") % {"code": classroom.join_code}
    )
    return redirect("accounts:classroom_detail", pk=classroom.pk)


@staff_required
@require_http_methods(["GET", "POST"])
def teacher_list(request: AuthenticatedRequest) -> HttpResponse:
    form = TeacherForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            teacher = services.teacher_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_add_validation_error(form, error)
        else:
            messages.success(
                request,
                _("Teacher %(name)s can now sign in as %(username)s.")
                % {"name": teacher.display_name, "username": teacher.username},
            )
            return redirect("accounts:teacher_list")
    teachers = services.teachers_list()
    return render(
        request,
        "accounts/teacher_list.html",
        {
            "form": form,
            "teachers": teachers,
            "join_failures": services.join_failures_by_address(),
        },
    )


@require_http_methods(["GET", "POST"])
def account_unlock(request: HtmxRequest) -> HttpResponse:
    """A locked-out person enters their username and their teacher's one-time code."""
    form = UnlockForm(request.POST or None, initial={"username": request.GET.get("username", "")})
    if request.method == "POST" and form.is_valid():
        try:
            services.account_unlock(request=request, **form.cleaned_data)
        except ValidationError as error:
            form.add_error("code", error)
            # A wrong code that locks this address again makes axes' middleware answer with
            # the lockout page; it shows this form with its error.
            request.soro_unlock_form = form  # type: ignore[attr-defined]
        else:
            messages.success(request, _("Your sign-in is unlocked. Sign in with your password."))
            return redirect("accounts:login")
    return render(request, "accounts/unlock.html", {"form": form})


@role_required("teacher", "staff")
@require_POST
def unlock_code_create(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    """Make a one-time unlock code for a student (staff: anyone) and show it once."""
    person = services.unlock_code_target(by=request.user, user_id=user_id)
    unlock, code = services.unlock_code_create(by=request.user, user=person)
    response = render(
        request,
        "accounts/unlock_code.html",
        {"person": person, "code": code, "unlock": unlock},
    )
    response["Cache-Control"] = "no-store"
    return response
