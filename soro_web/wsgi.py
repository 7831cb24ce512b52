import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soro_web.settings")
application = get_wsgi_application()

if os.environ.get("SORO_LLM_PRELOAD") == "1":
    # Load the local model, the search's query encoder and indexes in the background as the
    # web process starts, so the first person to ask does not wait for them. Failures are
    # logged; generation and search report them again.
    import threading

    def _preload() -> None:
        import logging

        from modelops.services import model_preload
        from tutoring.services import search_preload

        for preload in (search_preload, model_preload):
            try:
                preload()
            except Exception:
                logging.getLogger(__name__).exception("could not run %s", preload.__name__)

    threading.Thread(target=_preload, name="model-preload", daemon=True).start()
