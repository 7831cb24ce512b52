from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from soro_web import views
from soro_web.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("soro_web.accounts.urls")),
    path("", include("soro_web.curriculum.urls")),
    path("", include("soro_web.lessons.urls")),
    path("", include("soro_web.grading.urls")),
    path("", include("modelops.urls")),
    path("", include("tutoring.urls")),
    path("", include("tutoring.exams.urls")),
    path("", include("tutoring.tutor.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
