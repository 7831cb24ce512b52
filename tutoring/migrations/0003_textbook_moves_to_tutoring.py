# Textbook moves from the curriculum app to tutoring, which owns all its behaviour. Only
# Django's picture of the models changes: the table keeps its name (curriculum_textbook) and
# no row is touched, except the content type, which follows the model (so permissions and
# admin history stay attached).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_to_tutoring(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="curriculum", model="textbook").update(
        app_label="tutoring"
    )


def content_type_to_curriculum(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="tutoring", model="textbook").update(
        app_label="curriculum"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_people_schools_classes"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("curriculum", "0002_textbook_school_and_uploader"),
        ("tutoring", "0002_edition_index_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Textbook",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("title", models.CharField(max_length=300, verbose_name="title")),
                        (
                            "language",
                            models.CharField(
                                choices=[("tg", "Tajik"), ("ru", "Russian"), ("en", "English")],
                                default="tg",
                                max_length=5,
                                verbose_name="language",
                            ),
                        ),
                        (
                            "file",
                            models.FileField(blank=True, upload_to="textbooks/%Y/", verbose_name="file"),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("uploaded", "uploaded"),
                                    ("processing", "processing"),
                                    ("ready", "ready"),
                                    ("failed", "failed"),
                                ],
                                default="uploaded",
                                max_length=20,
                                verbose_name="status",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                        (
                            "grade",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="textbooks",
                                to="curriculum.grade",
                                verbose_name="grade",
                            ),
                        ),
                        (
                            "subject",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="textbooks",
                                to="curriculum.subject",
                                verbose_name="subject",
                            ),
                        ),
                        (
                            "school",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="textbooks",
                                to="accounts.school",
                                verbose_name="school",
                            ),
                        ),
                        (
                            "uploaded_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="uploaded by",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "textbook",
                        "verbose_name_plural": "textbooks",
                        "db_table": "curriculum_textbook",
                        "ordering": ["subject__order", "grade__number", "title"],
                    },
                ),
                migrations.AlterField(
                    model_name="textbookedition",
                    name="textbook",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="editions",
                        to="tutoring.textbook",
                        verbose_name="textbook",
                    ),
                ),
                migrations.AlterField(
                    model_name="passage",
                    name="textbook",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="passages",
                        to="tutoring.textbook",
                        verbose_name="textbook",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_tutoring, content_type_to_curriculum),
    ]
