from django.contrib.auth import views as auth_views
from django.urls import path

from soro_web.accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/unlock/", views.account_unlock, name="unlock"),
    path(
        "accounts/unlock-codes/<int:user_id>/",
        views.unlock_code_create,
        name="unlock_code_create",
    ),
    path("classes/join/", views.classroom_join, name="classroom_join"),
    path("classes/new/", views.classroom_create, name="classroom_create"),
    path("classes/<int:pk>/", views.classroom_detail, name="classroom_detail"),
    path(
        "classes/<int:pk>/join-code/",
        views.classroom_regenerate_code,
        name="classroom_regenerate_code",
    ),
    path("staff/teachers/", views.teacher_list, name="teacher_list"),
]
