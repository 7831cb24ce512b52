from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TutorConfig(AppConfig):
    name = "tutoring.tutor"
    label = "tutor"
    verbose_name = _("Tutor")

    def ready(self) -> None:
        from django.apps import apps

        from tutoring.tutor.services.items import tutor_item_provider_register

        if apps.is_installed("tutoring.exams"):
            from tutoring.tutor.exam_items import exam_item_for_tutor

            tutor_item_provider_register("exams", exam_item_for_tutor)
