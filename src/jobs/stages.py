"""Wall time of each stage of a job: printed when the stage ends, kept for the run's metrics,
and, whenever a running stage has left the console silent for ``tick`` seconds, a line with
the elapsed time (and the expected time when the caller can estimate it).

Hand-written: progress libraries (tqdm, rich) draw bars for loops of known length; these
stages are single library calls (a fit on a million customers, an artifact upload) with no
loop to hook into.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from src.jobs import console


class Stages:
    """``with stages("sweep"): ...`` times one stage; ``metrics()`` has them all."""

    def __init__(
        self,
        tick: float = 15.0,
        say: Callable[[str], None] = console.say,
        silent_for: Callable[[], float] = console.silent_for,
    ):
        self.tick = tick
        self.say = say
        self.silent_for = silent_for
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, expected: float | None = None) -> Iterator[None]:
        start = time.perf_counter()
        done = threading.Event()

        def tell_while_running() -> None:
            while not done.wait(self.tick / 5):
                if self.silent_for() < self.tick:
                    continue
                elapsed = time.perf_counter() - start
                about = f" (expected about {expected:.0f} s)" if expected else ""
                self.say(f"  ... {name}: {elapsed:.0f} s so far{about}")

        ticker = threading.Thread(target=tell_while_running, name=f"stage-{name}", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            self.seconds[name] = time.perf_counter() - start
        self.say(f"  [{name}: {self.seconds[name]:.1f} s]")

    def metrics(self) -> dict[str, float]:
        """``stage_seconds.<stage>`` for every finished stage ("load, clean, features" is
        ``stage_seconds.load_clean_features``)."""
        return {
            f"stage_seconds.{'_'.join(re.findall(r'[a-z0-9]+', name.lower()))}": round(s, 3)
            for name, s in self.seconds.items()
        }
