from django.urls import path

from soro_web.lessons import views

app_name = "lessons"

section = "lessons/<int:pk>/sections/<int:section_pk>/"

urlpatterns = [
    path("lessons/", views.lesson_list, name="lesson_list"),
    path("lessons/new/", views.lesson_create, name="lesson_create"),
    path("lessons/library/", views.lesson_library, name="lesson_library"),
    path("lessons/<int:pk>/", views.lesson_view, name="lesson_view"),
    path("lessons/<int:pk>/edit/", views.lesson_builder, name="lesson_builder"),
    path("lessons/<int:pk>/details/", views.lesson_update, name="lesson_update"),
    path("lessons/<int:pk>/passages/", views.lesson_passages, name="lesson_passages"),
    path("lessons/<int:pk>/sections/", views.section_add, name="section_add"),
    path(section, views.section_detail, name="section_detail"),
    path(f"{section}save/", views.section_update, name="section_update"),
    path(f"{section}audience/", views.section_audience, name="section_audience"),
    path(f"{section}remove/", views.section_remove, name="section_remove"),
    path(f"{section}move/", views.section_move, name="section_move"),
    path(f"{section}draft/", views.section_draft, name="section_draft"),
    path(f"{section}proposal/", views.section_proposal, name="section_proposal"),
    path(f"{section}insert-passages/", views.section_insert_passages, name="section_insert"),
    path("lessons/<int:pk>/history/", views.lesson_history, name="lesson_history"),
    path(
        "lessons/<int:pk>/history/<int:version_pk>/restore/",
        views.lesson_version_restore,
        name="lesson_version_restore",
    ),
    path("lessons/<int:pk>/publish/", views.lesson_publish, name="lesson_publish"),
    path("lessons/<int:pk>/copy/", views.lesson_copy, name="lesson_copy"),
    path("lessons/<int:pk>/delete/", views.lesson_delete, name="lesson_delete"),
    path("lessons/<int:pk>/print/", views.lesson_print, name="lesson_print"),
    path("lessons/<int:pk>/lesson.pdf", views.lesson_pdf, name="lesson_pdf"),
    path("lessons/<int:pk>/lesson.docx", views.lesson_docx, name="lesson_docx"),
]
