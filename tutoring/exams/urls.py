from django.urls import path

from tutoring.exams import views

app_name = "exams"

urlpatterns = [
    path("exams/", views.exams_home, name="home"),
    path("exams/practice/", views.practice_next, name="practice_next"),
    path("exams/practice/<int:pk>/", views.practice_item, name="practice_item"),
    path("exams/practice/offline/<int:pk>/", views.practice_offline, name="practice_offline"),
    path("exams/practice/offline/<int:pk>/pack.json", views.practice_pack, name="practice_pack"),
    path("exams/practice/sync/", views.practice_sync, name="practice_sync"),
    path("exams/practice/sw.js", views.practice_worker, name="practice_worker"),
    path("exams/mock/", views.mock_start, name="mock_start"),
    path("exams/attempts/<int:pk>/", views.attempt, name="attempt"),
    path(
        "exams/attempts/<int:pk>/answers/<int:position>/",
        views.attempt_answer,
        name="attempt_answer",
    ),
    path("exams/attempts/<int:pk>/submit/", views.attempt_submit, name="attempt_submit"),
    path("exams/attempts/<int:pk>/review/", views.attempt_review, name="attempt_review"),
    path("exams/questions/", views.item_list, name="item_list"),
    path("exams/questions/new/", views.item_create, name="item_create"),
    path("exams/questions/<int:pk>/", views.item_detail, name="item_detail"),
    path("exams/questions/<int:pk>/edit/", views.item_edit, name="item_edit"),
    path("exams/questions/<int:pk>/approve/", views.item_approve, name="item_approve"),
    path("exams/questions/export.<str:file_format>", views.bank_export, name="bank_export"),
    path("exams/tests/new/", views.test_assign, name="test_assign"),
    path("exams/tests/<int:pk>/start/", views.test_start, name="test_start"),
    path("exams/tests/<int:pk>/results/", views.test_results, name="test_results"),
    path("exams/tests/<int:pk>/results.csv", views.test_results_csv, name="test_results_csv"),
    path("exams/tests/<int:pk>/results.xlsx", views.test_results_xlsx, name="test_results_xlsx"),
    path(
        "exams/classes/<int:pk>/students/<int:student_pk>/",
        views.student_history,
        name="student_history",
    ),
]
