from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.corpus import BuildCancelled, CorpusBuildError
from modelops.corpus.datasheet import summary_lines
from modelops.services.corpus import corpus_build
from soro_web.management.progress import write_progress


class Command(BaseCommand):
    help = (
        "Build a Tajik pretraining corpus NAME from SOURCE files and folders (HTML, PDF, "
        "DOCX, Markdown/text, JSONL, parquet, Hugging Face datasets folders, translation "
        "catalogs) and the platform's own text: extraction, Tajik normalisation, language "
        "ID, quality rules, exact and near-duplicate removal, PII scrubbing and benchmark "
        "decontamination, written as parquet shards (train/validation) with a datasheet "
        "under SORO_CORPORA_DIR/NAME. A killed build continues with --resume."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the corpus name (letters, digits, - and _)")
        parser.add_argument("sources", nargs="*", type=Path, help="files or folders to read")
        parser.add_argument("--textbooks", action="store_true", help="add every ingested textbook")
        parser.add_argument("--curriculum", action="store_true", help="add the curriculum's topics")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="--textbooks --curriculum plus the Tajik text of installed packages "
            "(Django's catalogs; Firefox's and LibreOffice's Tajik packs after `make "
            "corpus-sources`)",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue an unfinished build of NAME (same arguments)",
        )
        parser.add_argument(
            "--text-field",
            default="text",
            help="the field holding the text in JSONL, parquet and datasets sources "
            "(default: text)",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        name: str = options["name"]
        sources: list[Path] = options["sources"]
        demo = options["demo"]
        textbooks = options["textbooks"] or demo
        curriculum = options["curriculum"] or demo
        if not sources and not (textbooks or curriculum):
            raise CommandError(
                "Give at least one SOURCE file or folder, or --textbooks, --curriculum or --demo."
            )
        for source in sources:
            if not source.exists():
                raise CommandError(f"{source}: no such file or folder.")

        def progress(stage: str, fraction: float) -> None:
            write_progress(self.stdout, fraction, stage, same_line=True)

        try:
            corpus = corpus_build(
                name=name,
                sources=sources,
                textbooks=textbooks,
                curriculum=curriculum,
                packaged=demo,
                resume=options["resume"],
                text_field=options["text_field"],
                progress=progress,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except CorpusBuildError as error:
            raise CommandError(error.message) from None
        except BuildCancelled:
            raise CommandError(
                f"The build of {name} was stopped; finished shards are kept. Continue it with "
                "the same command and --resume."
            ) from None
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted; finished shards are kept. Continue with the same command and "
                "--resume."
            ) from None
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Built {corpus.name} in {corpus.directory}"))
        for line in summary_lines(corpus.datasheet):
            self.stdout.write(line)
        for note in corpus.counts.get("packaged_missing", []):
            self.stdout.write(f"Not included: {note}")
        self.stdout.write(f"Datasheet: {corpus.directory / 'datasheet.md'}")
