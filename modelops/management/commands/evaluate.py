from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from modelops.evaluation.benchmarks import BenchmarkError
from modelops.evaluation.metrics import ALL_ITEMS
from modelops.management.base import ModelCommand
from modelops.models import ModelVersion
from modelops.services.evaluation import (
    EvaluationError,
    EvaluationReport,
    RunCancelled,
    benchmark_resolve,
    evaluation_compare,
    evaluation_is_current,
    evaluation_latest,
    model_evaluate,
)


class Command(ModelCommand):
    help = (
        "Evaluate a model version on a benchmark: multiple-choice items by log-likelihood "
        "(acc and acc_norm as lm-evaluation-harness defines them), short answers by exact "
        "match, per domain and subject with 95% bootstrap intervals, plus the tokenizer's "
        "fertility on Tajik. Results are stored per version, benchmark, group and metric. "
        "--against VERSION prints both side by side with deltas (evaluating it too when it "
        "has no result on the same benchmark contents and shots)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_model_argument(parser)
        parser.add_argument(
            "--benchmark",
            required=True,
            action="append",
            help="a name (tajik_suite, english_retention, or one in SORO_BENCHMARKS_DIR), a "
            "JSONL file or a datasets directory; repeat for several",
        )
        parser.add_argument("--shots", type=int, default=0, help="solved examples per prompt")
        parser.add_argument("--against", help="another version to compare with")
        parser.add_argument("--mapping", help="JSON/YAML field mapping for a foreign dataset")
        parser.add_argument("--split", help="the split of a datasets directory")
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument(
            "--limit",
            type=int,
            help="evaluate only the first N items (the generation suite lists the held-out "
            "lesson sections first)",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        version = self.version(options["model"])
        against = self.version(options["against"]) if options["against"] else None
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        try:
            benchmarks = [
                benchmark_resolve(name, mapping=options["mapping"], split=options["split"])
                for name in options["benchmark"]
            ]
        except BenchmarkError as error:
            raise CommandError(str(error)) from None
        for benchmark in benchmarks:
            report = self._evaluate(version, benchmark, options)
            self._print_report(report)
            self._print_retention(version, benchmark.name)
            if against is not None:
                if not evaluation_is_current(
                    version=against,
                    benchmark=benchmark,
                    shots=options["shots"],
                    limit=options["limit"],
                ):
                    self.stdout.write(f"\n{against.name} has no result to compare; evaluating it.")
                    self._evaluate(against, benchmark, options)
                self._print_comparison(version, against, benchmark.name)

    def _evaluate(self, version: ModelVersion, benchmark, options) -> EvaluationReport:  # type: ignore[no-untyped-def]
        self.stdout.write(
            f"Evaluating {version.name} on {benchmark.name} ({len(benchmark)} items, "
            f"{options['shots']}-shot)"
        )
        try:
            report = model_evaluate(
                version=version,
                benchmark=benchmark,
                shots=options["shots"],
                batch_size=options["batch_size"],
                limit=options["limit"],
                progress=self.progress,
            )
        except EvaluationError as error:
            raise CommandError(str(error)) from None
        except RunCancelled:
            raise CommandError(
                "The run was cancelled from the admin; no result was stored."
            ) from None
        self.stdout.write("")
        return report

    def _print_report(self, report: EvaluationReport) -> None:
        self.stdout.write(
            f"\n{report.version} on {report.benchmark}, {report.shots}-shot, "
            f"{report.items_scored} items in {report.seconds:.1f} s "
            f"({report.items_scored / max(report.seconds, 1e-9):.2f} items/s), run #{report.run_id}"
        )
        header = f"{'group':34} {'metric':12} {'n':>4} {'value':>7}  95% interval"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for row in report.rows:
            if row.group.startswith("subject:"):
                continue
            interval = f"[{row.interval[0]:.3f}, {row.interval[1]:.3f}]" if row.interval else ""
            count = str(row.count) if row.count else ""
            self.stdout.write(
                f"{row.group:34} {row.metric:12} {count:>4} {row.value:7.3f}  {interval}"
            )
        subjects = [row for row in report.rows if row.group.startswith("subject:")]
        if subjects:
            self.stdout.write("\nper subject (acc / acc_norm / exact_match):")
            by_group: dict[str, dict[str, float]] = {}
            for row in subjects:
                by_group.setdefault(row.group, {})[row.metric] = row.value
            for group, values in sorted(by_group.items()):
                cells = "  ".join(f"{metric} {value:.3f}" for metric, value in values.items())
                self.stdout.write(f"  {group.removeprefix('subject:'):24} {cells}")

    def _print_retention(self, version: ModelVersion, benchmark: str) -> None:
        """For a quantized (or any derived) version: the share of its parent's score kept."""
        parent = version.parent
        if parent is None:
            return
        mine = evaluation_latest(version=version, benchmark=benchmark)
        theirs = evaluation_latest(version=parent, benchmark=benchmark)
        lines = []
        for metric in ("acc", "acc_norm", "exact_match"):
            key = (ALL_ITEMS, metric)
            if key in mine and key in theirs and theirs[key].value > 0:
                share = mine[key].value / theirs[key].value
                lines.append(
                    f"  {metric:12} {mine[key].value:.3f} vs {theirs[key].value:.3f} "
                    f"({share:.1%} kept)"
                )
        if lines:
            self.stdout.write(f"\nretention against the parent {parent.name}:")
            for line in lines:
                self.stdout.write(line)
        elif not theirs:
            self.stdout.write(
                f"\n(evaluate the parent {parent.name} on {benchmark} to see the share it keeps)"
            )

    def _print_comparison(
        self, version: ModelVersion, against: ModelVersion, benchmark: str
    ) -> None:
        rows = evaluation_compare(version=version, against=against, benchmark=benchmark)
        width = max(12, len(version.name), len(against.name))
        self.stdout.write(f"\n{version.name} vs {against.name} on {benchmark}")
        header = (
            f"{'group':34} {'metric':12} {version.name:>{width}} "
            f"{against.name:>{width}} {'delta':>7}"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))

        def cell(value: float | None) -> str:
            return f"{value:.3f}" if value is not None else "-"

        for row in rows:
            if row.group.startswith("subject:"):
                continue
            delta = f"{row.delta:+.3f}" if row.delta is not None else "-"
            self.stdout.write(
                f"{row.group:34} {row.metric:12} {cell(row.value):>{width}} "
                f"{cell(row.other):>{width}} {delta:>7}"
            )
