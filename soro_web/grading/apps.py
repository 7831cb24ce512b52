from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GradingConfig(AppConfig):
    name = "soro_web.grading"
    label = "grading"
    verbose_name = _("Grading")

    def ready(self) -> None:
        from soro_web.grading.services.jobs import grading_job_sweep
        from soro_web.jobs import register_sweep

        register_sweep("grading jobs", grading_job_sweep)
