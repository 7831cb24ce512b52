from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ModelopsConfig(AppConfig):
    name = "modelops"
    verbose_name = _("Language model")

    def ready(self) -> None:
        from modelops.services.jobs import model_run_sweep
        from soro_web.jobs import register_sweep

        register_sweep("model runs", model_run_sweep)
