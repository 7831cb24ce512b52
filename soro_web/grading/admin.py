"""Administrators watch grading jobs here (they are started by teachers, not from the admin)."""

from django.contrib import admin
from django.http import HttpRequest

from soro_web.grading.models import GradingJob


@admin.register(GradingJob)
class GradingJobAdmin(admin.ModelAdmin):
    list_display = [
        "assignment",
        "status",
        "total",
        "graded",
        "review",
        "failed",
        "recoveries",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    readonly_fields = [field.name for field in GradingJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
