"""Django's own Tajik catalogue (``django/contrib/admin/locale/tg``, from Transifex, 2020)
glues words together in a few messages ("салоҳияти шумобарои азназаргузарониисаҳифаи
мазкур", "объектҳоиалоқаманди"). Our catalogue comes first in ``LOCALE_PATHS``, so the same
msgids translated here replace Django's. They are listed here, untranslated
(``gettext_noop``), only so that ``makemessages`` keeps them in ``locale/``; nothing imports
this module. The corrected Tajik and Russian texts are in ``locale/pending/site17.json``.
"""

from django.utils.translation import gettext_noop

DJANGO_ADMIN_MESSAGES = [
    gettext_noop(
        "You are authenticated as %(username)s, but are not authorized to access this page. "
        "Would you like to login to a different account?"
    ),
    gettext_noop(
        "Deleting %(class_name)s %(instance)s would require deleting the following protected "
        "related objects: %(related_objects)s"
    ),
    gettext_noop(
        "Deleting the %(object_name)s '%(escaped_object)s' would require deleting the "
        "following protected related objects:"
    ),
    gettext_noop(
        "Deleting the selected %(objects_name)s would require deleting the following "
        "protected related objects:"
    ),
    gettext_noop("Please correct the duplicate data for %(field)s."),
    gettext_noop("Please correct the duplicate values below."),
]
