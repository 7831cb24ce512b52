"""Tutoring's door for comparing short Tajik answers: the search's normalisation, then the
letters a Russian keyboard cannot type folded onto the letters it types instead."""

from __future__ import annotations

from tutoring.retrieval.normalize import normalize_tajik

# A pupil on a Russian layout types х for ҳ, ч for ҷ and so on. Folding both sides the same
# way accepts those answers; no two accepted Tajik words differ only in these letters.
_FOLD = str.maketrans({"ғ": "г", "ӣ": "и", "қ": "к", "ӯ": "у", "ҳ": "х", "ҷ": "ч", "ё": "е"})


def answer_text_key(text: str) -> str:
    """The form in which two short answers are compared: normalised as textbook search
    normalises (Unicode, invisible characters, Latin look-alike letters, Russian letters
    typed for Tajik ones), lowercased, folded for a Russian keyboard, spaces collapsed."""
    normal = normalize_tajik(text).casefold().strip(" .,;:!?«»\"'")
    return " ".join(normal.translate(_FOLD).split())
