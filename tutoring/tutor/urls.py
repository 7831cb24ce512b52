from django.urls import path

from tutoring.tutor import views

app_name = "tutor"

urlpatterns = [
    path("tutor/", views.conversation_list, name="conversation_list"),
    path("tutor/new/", views.conversation_start, name="conversation_start"),
    path("tutor/<int:pk>/", views.conversation_detail, name="conversation_detail"),
    path("tutor/<int:pk>/stream/", views.conversation_stream, name="conversation_stream"),
    path(
        "tutor/<int:pk>/passages/<int:passage_id>/",
        views.passage_detail,
        name="passage_detail",
    ),
    path(
        "tutor/<int:pk>/replies/<int:message_pk>/insert/",
        views.reply_insert,
        name="reply_insert",
    ),
    path("tutor/students/", views.student_chats, name="student_chats"),
    path("tutor/students/<int:pk>/", views.student_chat_detail, name="student_chat_detail"),
    path("tutor/students/<int:pk>/notes/", views.note_add, name="note_add"),
]
