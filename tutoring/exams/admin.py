"""Staff edit blueprints (sections as JSON) and look at the bank, tests and attempts.
Items are written in the teachers' pages or imported; versions are never edited."""

from django.contrib import admin

from tutoring.exams.models import Attempt, Blueprint, ExamTest, Item, ItemVersion


@admin.register(Blueprint)
class BlueprintAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "cluster", "minutes", "scaled_max", "is_active"]
    list_filter = ["cluster", "is_active"]


class ItemVersionInline(admin.TabularInline):
    model = ItemVersion
    extra = 0
    can_delete = False
    fields = ["number", "stem", "created_by", "created_at"]
    readonly_fields = ["number", "stem", "created_by", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["code", "type", "subject", "grade", "part", "difficulty", "status", "version"]
    list_filter = ["status", "type", "subject", "part"]
    search_fields = ["code"]
    raw_id_fields = ["topic", "current", "author", "school", "approved_by"]
    readonly_fields = ["version", "current"]
    inlines = [ItemVersionInline]


@admin.register(ExamTest)
class ExamTestAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "classroom", "minutes", "opens_at", "closes_at"]
    list_filter = ["kind"]
    raw_id_fields = ["classroom", "created_by", "blueprint"]


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["student", "test", "started_at", "deadline", "submitted_at", "scaled"]
    list_filter = ["is_auto_submitted"]
    raw_id_fields = ["student", "test"]
    readonly_fields = ["score", "max_score", "scaled", "submitted_at"]
