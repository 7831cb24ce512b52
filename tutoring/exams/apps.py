from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExamsConfig(AppConfig):
    name = "tutoring.exams"
    label = "exams"
    verbose_name = _("Exam practice")

    def ready(self) -> None:
        from soro_web.jobs import register_sweep
        from tutoring.exams.services import attempts_submit_overdue_sweep

        register_sweep("exam_attempts", attempts_submit_overdue_sweep)
