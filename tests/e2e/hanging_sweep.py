"""`python -m src.run` whose first fit hangs, for the test that kills a worker mid-trial.

Run as ``python -m tests.e2e.hanging_sweep <src.run overrides>`` with ``$HANG_FILE`` set: the
first configuration this process fits writes its trial's parameters to that file and then waits
to be killed. The trial is RUNNING with every parameter suggested and the heartbeat thread
beating, exactly what a worker dying in the middle of a long fit leaves behind, without the
test having to catch a short fit in the act.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import src.sweep.objective as objective
from src.run import main

_fit = objective.run_trial


def _hang_in_first_fit(features, X_eval, choice, *args, **kwargs):
    marker = Path(os.environ["HANG_FILE"])
    if not marker.exists():
        marker.write_text(json.dumps({"pid": os.getpid(), "choice": str(choice)}))
        time.sleep(3600)  # killed here by the test
    return _fit(features, X_eval, choice, *args, **kwargs)


objective.run_trial = _hang_in_first_fit

if __name__ == "__main__":
    main()
