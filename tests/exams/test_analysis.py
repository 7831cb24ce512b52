"""Item analysis numbers, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from soro_web.jobs import _sweeps
from tutoring.exams.services.analysis import _point_biserial


def test_point_biserial_matches_the_hand_computation() -> None:
    # marks 1 1 0 0 against the rest of the score 3 2 1 2: cov 1, var 1 and 2 → 1/√2
    assert _point_biserial([1, 1, 0, 0], [3, 2, 1, 2]) == pytest.approx(1 / math.sqrt(2))
    assert _point_biserial([0, 0, 1, 1], [3, 2, 1, 2]) == pytest.approx(-1 / math.sqrt(2))


def test_point_biserial_is_undefined_without_spread_or_students() -> None:
    assert _point_biserial([1, 1, 1], [1, 2, 3]) is None  # everyone right
    assert _point_biserial([1, 0, 1], [2, 2, 2]) is None  # the rest is equal
    assert _point_biserial([1, 0], [2, 1]) is None  # too few


def test_the_worker_sweep_submits_overdue_attempts() -> None:
    from tutoring.exams.services import attempts_submit_overdue_sweep

    assert _sweeps["exam_attempts"] is attempts_submit_overdue_sweep
