"""Ctrl-C inside a job: raised where the work can stop cleanly, once."""

from __future__ import annotations

import os
import signal

import pytest

from src.errors import deferred, handle_interrupts, interruptible


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_inside_a_deferred_block_is_raised_when_the_block_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt), handle_interrupts():
        with deferred():
            ctrl_c()
            reached.append("after the signal")  # e.g. the rest of Optuna's tell
        reached.append("after the block")
    assert reached == ["after the signal"]


def test_an_interruptible_point_inside_a_deferred_block_stops_at_once():
    reached = []
    with pytest.raises(KeyboardInterrupt), handle_interrupts(), deferred(), interruptible():
        ctrl_c()  # during a fit
        reached.append("fit went on")
    assert reached == []


def test_a_second_ctrl_c_while_the_job_stops_does_not_cut_its_clean_up_short():
    cleaned = []
    with pytest.raises(KeyboardInterrupt), handle_interrupts():
        try:
            ctrl_c()
        finally:
            ctrl_c()  # impatient user
            cleaned.append("parent run ended")
    assert cleaned == ["parent run ended"]


def test_a_job_that_was_not_interrupted_leaves_no_handler_behind():
    with handle_interrupts():
        installed = signal.getsignal(signal.SIGINT)
    # Back to what was there before the job: Python's own handler, or one a library installed
    # earlier in the process (Spark's SparkContext does).
    assert signal.getsignal(signal.SIGINT) is not installed
    assert callable(signal.getsignal(signal.SIGINT))
