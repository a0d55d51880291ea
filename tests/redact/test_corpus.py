"""The evaluation corpus, and the issue's goals checked on a small corpus (full run: bench/)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests._require import require
from veil.redact import default_redactor
from veil.redact.corpus import CATEGORIES, GoldSpan, LabelledNote, generate_corpus, score

HAS_GENERATOR_DEPS = all(
    importlib.util.find_spec(module) is not None for module in ("faker", "stdnum")
)

# The goals: recall per category, and the share of non-PII characters kept.
RECALL_GOALS = {
    "phone": 0.99,
    "id_card": 0.99,
    "bank_card": 0.99,
    "plate": 0.99,
    "email": 0.99,
    "wechat_qq": 0.99,
    "address_detail": 0.97,
    "name": 0.90,
}
SURVIVAL_GOAL = 0.98


@pytest.fixture(scope="module")
def corpus() -> list[LabelledNote]:
    require(HAS_GENERATOR_DEPS, "faker and python-stdnum (dev extra)")
    return generate_corpus(300, seed=20260101)


def test_the_corpus_is_deterministic(corpus: list[LabelledNote]) -> None:
    assert generate_corpus(300, seed=20260101) == corpus
    assert generate_corpus(300, seed=1) != corpus


def test_gold_spans_are_well_formed_and_cover_every_category(corpus: list[LabelledNote]) -> None:
    categories = set()
    for note in corpus:
        for span in note.spans:
            assert 0 <= span.start < span.end <= len(note.text)
            assert note.text[span.start : span.end].strip() == note.text[span.start : span.end]
            categories.add(span.category)
    assert categories == set(CATEGORIES)
    assert any(not note.spans for note in corpus)  # notes with nothing to redact


def test_veil_meets_the_goals_on_a_small_corpus(corpus: list[LabelledNote]) -> None:
    redactor = default_redactor()
    predictions = [
        [(f.start, f.end, str(f.entity_type)) for f in redactor.find(note.text)] for note in corpus
    ]
    result = score(corpus, predictions)
    misses = [(corpus[index].text, gold) for index, gold in result.misses]
    for category, goal in RECALL_GOALS.items():
        recall = result.recall(category)
        assert recall is not None and recall >= goal, (category, recall, misses)
    assert result.survival >= SURVIVAL_GOAL


def test_score_counts_coverage_precision_and_survival() -> None:
    note = LabelledNote("电话13812345678放门口", (GoldSpan(2, 13, "phone", "mobile"),))
    result = score([note], [[(2, 13, "phone"), (13, 14, "address")]])
    assert result.recall("phone") == 1.0
    assert result.precision("phone") == 1.0
    assert result.precision("address") == 0.0
    assert result.survival == 4 / 5  # 电话门口 kept, 放 lost
    partial = score([note], [[(2, 12, "phone")]])
    assert partial.recall("phone") == 0.0  # one digit left is not redacted


def test_redaction_needs_no_generator_dependency_at_runtime() -> None:
    check = (
        "import sys, veil.redact, veil.redact.corpus;"
        "veil.redact.default_redactor().redact('电话13812345678');"
        "assert not {'faker', 'stdnum'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", check], check=True)  # noqa: S603 -- our own code
