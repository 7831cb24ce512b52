from django.contrib import admin
from django.utils.translation import gettext as _

from tutoring.models import Passage, Textbook, TextbookEdition
from tutoring.services import textbook_ingest_start


@admin.register(Textbook)
class TextbookAdmin(admin.ModelAdmin):
    list_display = ["title", "subject", "grade", "language", "school", "status", "created_at"]
    list_filter = ["subject", "grade", "language", "status"]
    search_fields = ["title"]
    readonly_fields = ["status"]
    actions = ["ingest_again"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        if "file" in form.changed_data and obj.file:
            textbook_ingest_start(textbook=obj, user=request.user)
            self.message_user(
                request,
                _(
                    "%(title)s is being indexed; it stays searchable in "
                    "its previous version until then."
                )
                % {"title": obj.title},
            )

    @admin.action(description=_("Read and index the selected textbooks again"))
    def ingest_again(self, request, queryset):  # type: ignore[no-untyped-def]
        count = 0
        for textbook in queryset.exclude(file=""):
            textbook_ingest_start(textbook=textbook, user=request.user)
            count += 1
        self.message_user(
            request, _("%(count)s textbook(s) queued for indexing.") % {"count": count}
        )


@admin.register(TextbookEdition)
class TextbookEditionAdmin(admin.ModelAdmin):
    list_display = [
        "textbook",
        "status",
        "is_current",
        "progress",
        "page_count",
        "passage_count",
        "ocr_page_count",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "is_current"]
    list_select_related = ["textbook"]
    readonly_fields = [
        "status",
        "is_current",
        "progress",
        "stage",
        "error_code",
        "error",
        "source_sha256",
        "page_count",
        "ocr_page_count",
        "passage_count",
        "encoder",
        "created_at",
        "claimed_at",
        "finished_at",
    ]


@admin.register(Passage)
class PassageAdmin(admin.ModelAdmin):
    list_display = ["textbook", "page", "order", "tokens"]
    list_filter = ["textbook"]
    list_select_related = ["textbook"]
    search_fields = ["text"]
    readonly_fields = ["edition", "textbook", "page", "heading_path", "text", "order", "tokens"]
