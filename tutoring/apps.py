from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TutoringConfig(AppConfig):
    name = "tutoring"
    verbose_name = _("Tutoring")

    def ready(self) -> None:
        # modelops may not import tutoring; tutoring hands it the textbooks for corpora.
        from modelops.services.corpus import register_corpus_source
        from tutoring.corpus_source import textbook_documents

        register_corpus_source("textbooks", textbook_documents)

        from soro_web.jobs import register_sweep
        from tutoring.services.ingestion import textbook_ingest_sweep

        register_sweep("textbook ingestion", textbook_ingest_sweep)
