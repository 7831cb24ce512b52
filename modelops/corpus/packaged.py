"""Tajik text that ships in packages installable here, for the demo corpus.

Nothing is downloaded at run time. What was looked for and what was found (sizes measured
with ``python -m modelops.corpus.thresholds`` and the demo build, docs/training.md):

- PyPI: no package ships Tajik running text. ``udhr`` does not exist; ``tajiknlp`` ships a
  part-of-speech word list and a sentiment lexicon (words, not text); ``tajik-text-
  segmentation``, ``tjru-language-classifier``, ``tg2fa-translit`` and ``tojiki`` ship
  models and code. Django (a dependency already) ships Tajik translation catalogs.
- Debian: ``firefox-esr-l10n-tg`` (Firefox's Tajik language pack, ~105,000 words of
  interface text of which full sentences are kept) and ``libreoffice-l10n-tg``
  (LibreOffice's Tajik interface); ``tesseract-ocr-tgk`` holds a word list only. Installing
  either package pulls the whole browser or office suite, so ``make corpus-sources``
  unpacks the two ``.deb`` files without installing them into ``<var>/corpus-sources``.

Interface translations are real Tajik written by people, but software vocabulary; only
strings that read as sentences are used, and the datasheet counts them as their own
sources so a training run can weigh them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from modelops.corpus.types import SourceSpec

FIREFOX_PATTERN = "**/langpack-tg@*.xpi"
LIBREOFFICE_PATTERN = "**/resource/tg/LC_MESSAGES/*.mo"
SYSTEM_ROOTS = {
    "firefox-tg": Path("/usr/lib/firefox-esr/browser/extensions"),
    "libreoffice-tg": Path("/usr/lib/libreoffice/program"),
}


def _django_root() -> Path:
    """Where the installed Django package lies (its Tajik catalogs are data; Django itself is
    not imported: this is a Django-free core)."""
    spec = importlib.util.find_spec("django")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the django package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_sources(corpus_sources_dir: Path) -> tuple[list[SourceSpec], list[str]]:
    """The packaged Tajik sources present on this machine, and a note for each absent one.

    Looks for the Debian language packs installed (``/usr/lib/…``) or unpacked by ``make
    corpus-sources`` into ``corpus_sources_dir``."""
    sources = [
        SourceSpec(
            name="django-tg",
            path=str(_django_root()),
            include=("**/locale/tg/LC_MESSAGES/*.po",),
        )
    ]
    missing: list[str] = []
    for name, pattern, package in (
        ("firefox-tg", FIREFOX_PATTERN, "firefox-esr-l10n-tg"),
        ("libreoffice-tg", LIBREOFFICE_PATTERN, "libreoffice-l10n-tg"),
    ):
        unpacked = corpus_sources_dir / package
        for root in (SYSTEM_ROOTS[name], unpacked):
            if root.is_dir() and any(root.glob(pattern)):
                sources.append(SourceSpec(name=name, path=str(root), include=(pattern,)))
                break
        else:
            missing.append(
                f"{package} is not here (run `make corpus-sources` to unpack it into {unpacked})"
            )
    return sources, missing
