from django.urls import path

from soro_web.grading import views

app_name = "grading"

one = "grading/<int:pk>/"

urlpatterns = [
    path("grading/", views.assignment_list, name="assignment_list"),
    path("grading/new/", views.assignment_create, name="assignment_create"),
    path("grading/from-test/", views.assignment_from_exam, name="assignment_from_exam"),
    path(one, views.assignment_detail, name="assignment_detail"),
    path(f"{one}questions/", views.question_add, name="question_add"),
    path(f"{one}questions/<int:question_pk>/rubric/", views.rubric_edit, name="rubric_edit"),
    path(f"{one}import/", views.answers_import, name="answers_import"),
    path(f"{one}grade/", views.grade_all, name="grade_all"),
    path(f"{one}progress/", views.job_progress, name="job_progress"),
    path(f"{one}cancel/", views.job_cancel, name="job_cancel"),
    path(f"{one}retry/", views.retry_failed, name="retry_failed"),
    path(f"{one}review/", views.review_queue, name="review_queue"),
    path(f"{one}review/<int:grade_pk>/", views.grade_review, name="grade_review"),
    path(f"{one}release/", views.release, name="release"),
    path(f"{one}audit/", views.audit, name="audit"),
    path(f"{one}gradebook/", views.export, name="export"),
    path("my-work/<int:pk>/", views.student_assignment, name="student_assignment"),
]
