"""The drawing process and writer thread that keep figures off the sweep's path."""

from __future__ import annotations

import numpy as np
import pytest

from src.viz import background as rendering

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def background():
    bg = rendering.Background()
    yield bg
    bg.close()


def test_a_figure_drawn_in_the_worker_comes_back_as_png(background):
    future = background.draw(
        "sizes", rendering.png, "profiles.cluster_size_bars", np.array([0, 0, 1, 2])
    )
    assert background.result("sizes", future)[:8] == PNG_MAGIC


def test_a_failing_figure_is_recorded_not_raised(background):
    future = background.draw("broken", rendering.png, "profiles.no_such_figure")
    assert background.result("broken", future) is None
    assert any(f.startswith("broken: AttributeError") for f in background.failures)


def test_a_failing_write_is_recorded_not_raised(background):
    def explode():
        raise OSError("disk full")

    assert background.write("upload", explode).result() is None
    assert "upload: OSError: disk full" in background.failures


def test_drawing_on_a_thread_gives_the_same_png():
    bg = rendering.Background(draw_in_process=False)
    try:
        labels = np.array([0, 1, 1, 2, 2, 2])
        png = bg.result(
            "sizes", bg.draw("sizes", rendering.png, "profiles.cluster_size_bars", labels)
        )
    finally:
        bg.close()
    assert png[:8] == PNG_MAGIC
