# The Textbook model now lives in tutoring (tutoring/migrations/0003): only Django's picture
# of the models changes here; the table and its rows stay as they are.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("curriculum", "0002_textbook_school_and_uploader"),
        ("tutoring", "0003_textbook_moves_to_tutoring"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Textbook")],
            database_operations=[],
        ),
    ]
