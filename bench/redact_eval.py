"""Evaluate note redaction: Veil and Microsoft Presidio on the same generated corpus.

Reports, per system: span-level recall per gold category (a gold span counts
when redactions cover all of it), precision per predicted type (a predicted
span counts when it overlaps any gold span), the share of non-PII characters
that survive, and throughput on one core (notes/s, single thread).

Presidio runs as a user would first try it for Chinese: ``presidio-analyzer``
with its predefined recognizers for language ``zh`` on a blank spaCy ``zh``
pipeline (no model to download: the blank pipeline is saved to a temporary
directory and handed to ``SpacyNlpEngine`` as a model path), plus
``PhoneRecognizer(supported_regions=["CN"], supported_language="zh")``.
tldextract, which Presidio's e-mail recognizer uses, is pointed at its bundled
suffix list so nothing touches the network.

Usage::

    python bench/redact_eval.py --notes 2000 --seed 7 --json bench/results/redact.json

The Markdown table it prints is meant for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.redact import default_redactor
from veil.redact.corpus import CATEGORIES, LabelledNote, Score, generate_corpus, score

Prediction = list[tuple[int, int, str]]
CHUNK = 50
# "Typical ~40-character notes" (the throughput goal): timed apart.
TYPICAL_LENGTHS = range(35, 46)

# Presidio's entity names, shown beside Veil's types in the precision rows.
PRESIDIO_TYPES = {
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "CREDIT_CARD": "bank_card",
    "LOCATION": "address",
    "PERSON": "name",
}


@dataclass
class SystemResult:
    name: str
    score: Score
    notes_per_second: float
    seconds: float
    typical_notes_per_second: float | None = None
    note: str = ""


def time_runs(
    predict: Callable[[str], Prediction], notes: Sequence[LabelledNote], repeats: int
) -> tuple[list[Prediction], float]:
    """Predict every note; return the predictions and the seconds one core needs for them all.

    The machine is shared, so other processes steal the CPU in bursts. Notes
    are timed in chunks of 50, each chunk `repeats` times, and the fastest run
    of each chunk counts: the sum is what one undisturbed core takes.
    """
    predictions: list[Prediction] = []
    seconds = 0.0
    for first in range(0, len(notes), CHUNK):
        chunk = notes[first : first + CHUNK]
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            chunk_predictions = [predict(note.text) for note in chunk]
            best = min(best, time.perf_counter() - started)
        predictions += chunk_predictions
        seconds += best
    return predictions, seconds


def evaluate_veil(notes: Sequence[LabelledNote], repeats: int) -> SystemResult:
    redactor = default_redactor()
    redactor.find("热身：电话13812345678，3号楼2单元1203")

    def predict(text: str) -> Prediction:
        return [(f.start, f.end, str(f.entity_type)) for f in redactor.find(text)]

    predictions, seconds = time_runs(predict, notes, repeats)
    result = SystemResult("Veil", score(notes, predictions), len(notes) / seconds, seconds)
    typical = [note for note in notes if len(note.text) in TYPICAL_LENGTHS]
    if typical:
        result.typical_notes_per_second = len(typical) / time_runs(predict, typical, repeats)[1]
    return result


def build_presidio() -> Any:
    """Return a Presidio AnalyzerEngine for ``zh`` that needs no download and no network."""
    import spacy
    import tldextract
    import tldextract.tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    # The e-mail recognizer calls tldextract, which fetches the public suffix
    # list on first use; the bundled snapshot is enough and stays offline.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    model_dir = Path(tempfile.mkdtemp(prefix="veil-spacy-zh-"))
    spacy.blank("zh").to_disk(model_dir)
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "zh", "model_name": str(model_dir)}])
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=["zh"])
    registry.load_predefined_recognizers(languages=["zh"], nlp_engine=nlp_engine)
    registry.add_recognizer(PhoneRecognizer(supported_regions=["CN"], supported_language="zh"))
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["zh"])


def evaluate_presidio(notes: Sequence[LabelledNote], repeats: int) -> SystemResult:
    try:
        analyzer = build_presidio()
    except Exception as error:
        result = SystemResult("Presidio", Score(), 0.0, 0.0)
        result.note = f"could not run: {type(error).__name__}: {error}"
        return result
    analyzer.analyze("热身 13812345678", language="zh")
    recognizers = sorted({r.name for r in analyzer.registry.recognizers})

    def predict(text: str) -> Prediction:
        return [
            (r.start, r.end, PRESIDIO_TYPES.get(r.entity_type, r.entity_type))
            for r in analyzer.analyze(text, language="zh")
        ]

    predictions, seconds = time_runs(predict, notes, repeats)
    result = SystemResult("Presidio", score(notes, predictions), len(notes) / seconds, seconds)
    result.note = "recognizers: " + ", ".join(recognizers)
    return result


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def markdown(
    results: list[SystemResult], notes: Sequence[LabelledNote], args: argparse.Namespace
) -> str:
    head = "| | " + " | ".join(r.name for r in results) + " |"
    rule = "|---|" + "---:|" * len(results)
    lines = [head, rule]
    for category in CATEGORIES:
        gold = results[0].score.gold.get(category, 0)
        cells = [percent(r.score.recall(category)) for r in results]
        lines.append(f"| recall: {category} (n={gold}) | " + " | ".join(cells) + " |")
    predicted_types = sorted({t for r in results for t in r.score.predicted})
    for kind in predicted_types:
        cells = [
            f"{percent(r.score.precision(kind))} ({r.score.predicted.get(kind, 0)})"
            for r in results
        ]
        lines.append(f"| precision: {kind} (spans) | " + " | ".join(cells) + " |")
    lines.append(
        "| non-PII characters kept | "
        + " | ".join(percent(r.score.survival) for r in results)
        + " |"
    )
    lines.append(
        "| throughput, one core (notes/s) | "
        + " | ".join(f"{r.notes_per_second:,.0f}" for r in results)
        + " |"
    )
    typical = sum(len(note.text) in TYPICAL_LENGTHS for note in notes)
    lines.append(
        f"| throughput on the {typical} notes of 35-45 characters | "
        + " | ".join(
            "n/a" if r.typical_notes_per_second is None else f"{r.typical_notes_per_second:,.0f}"
            for r in results
        )
        + " |"
    )
    mean_length = statistics.mean(len(note.text) for note in notes)
    lines.append("")
    lines.append(
        f"{len(notes)} notes, seed {args.seed}, mean length {mean_length:.1f} characters; "
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.2f} at start. "
        f"Throughput: single thread, notes timed in chunks of {CHUNK}, fastest of "
        f"{args.repeats} runs per chunk for Veil and {args.presidio_repeats} for Presidio "
        "(the machine is shared; the fastest run is the undisturbed one)."
    )
    for result in results:
        if result.note:
            lines.append(f"{result.name}: {result.note}")
    return "\n".join(lines)


def as_json(
    results: list[SystemResult], notes: Sequence[LabelledNote], args: argparse.Namespace
) -> dict[str, Any]:
    return {
        "notes": len(notes),
        "seed": args.seed,
        "mean_length": statistics.mean(len(note.text) for note in notes),
        "systems": {
            r.name: {
                "recall": {c: r.score.recall(c) for c in CATEGORIES},
                "gold": r.score.gold,
                "precision": {k: r.score.precision(k) for k in r.score.predicted},
                "predicted": r.score.predicted,
                "survival": r.score.survival,
                "notes_per_second": r.notes_per_second,
                "typical_notes_per_second": r.typical_notes_per_second,
                "seconds": r.seconds,
                "note": r.note,
                "recall_by_form": {
                    form: tally[0] / tally[1] for form, tally in sorted(r.score.by_form.items())
                },
            }
            for r in results
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=2000, help="how many notes to generate")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed")
    parser.add_argument(
        "--repeats", type=int, default=15, help="timed runs per chunk for Veil (fastest counts)"
    )
    parser.add_argument(
        "--presidio-repeats", type=int, default=3, help="timed runs per chunk for Presidio"
    )
    parser.add_argument("--no-presidio", action="store_true", help="evaluate Veil only")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--misses", type=int, default=0, help="print up to N of Veil's misses")
    args = parser.parse_args(argv)

    notes = generate_corpus(args.notes, seed=args.seed)
    results = [evaluate_veil(notes, args.repeats)]
    if not args.no_presidio:
        results.append(evaluate_presidio(notes, args.presidio_repeats))
    print(markdown(results, notes, args))
    if args.misses:
        print("\nVeil misses:", file=sys.stderr)
        for index, gold in results[0].score.misses[: args.misses]:
            text = notes[index].text
            print(
                f"  {gold.category}/{gold.form}: {text[gold.start : gold.end]!r} in {text!r}",
                file=sys.stderr,
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(as_json(results, notes, args), ensure_ascii=False, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
