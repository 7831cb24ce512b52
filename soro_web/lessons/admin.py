from django.contrib import admin

from soro_web.lessons.models import Lesson, LessonSection, LessonVersion


class LessonSectionInline(admin.StackedInline):
    model = LessonSection
    extra = 0
    fields = ["position", "kind", "title", "body", "is_grounded", "citations", "revision"]
    readonly_fields = ["revision"]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["title", "teacher", "topic", "status", "duration_minutes", "updated_at"]
    list_filter = ["status", "language", "topic__subject", "topic__grade"]
    list_select_related = ["teacher", "topic"]
    search_fields = ["title", "teacher__username", "topic__name", "topic__code"]
    raw_id_fields = ["teacher", "topic", "copied_from"]
    filter_horizontal = ["classes"]
    readonly_fields = ["revision", "created_at", "updated_at", "published_at", "passage_ids"]
    inlines = [LessonSectionInline]


@admin.register(LessonVersion)
class LessonVersionAdmin(admin.ModelAdmin):
    list_display = ["lesson", "reason", "created_by", "created_at", "updated_at"]
    list_filter = ["reason"]
    list_select_related = ["lesson", "created_by"]
    raw_id_fields = ["lesson", "created_by"]
    readonly_fields = ["created_at", "updated_at"]
