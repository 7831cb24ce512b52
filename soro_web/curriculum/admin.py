from django.contrib import admin

from soro_web.curriculum.models import Grade, Subject, Topic


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_ru", "name_en", "order"]
    search_fields = ["code", "name", "name_ru", "name_en"]


@admin.register(Grade)
class GradeAdmin(admin.ModelAdmin):
    list_display = ["number", "name"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "subject", "grade", "parent", "order"]
    list_filter = ["kind", "subject", "grade"]
    list_select_related = ["subject", "grade", "parent"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]
