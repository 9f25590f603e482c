"""MLproject entry points: turn MLflow's quoted parameters back into Hydra overrides.

`mlflow run` quotes every parameter, so "sweep.n_trials=5 seed=1" arrives as one argument and
an empty override list as an empty argument; a plain `python -m src.run {overrides}` breaks on
both. Each argument is split shell-style here and empty ones dropped.
"""

from __future__ import annotations

import shlex
import sys


def hydra_args(raw: list[str]) -> list[str]:
    out: list[str] = []
    for arg in raw:
        out.extend(shlex.split(arg))
    return [a for a in out if a]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "predict"):
        sys.exit("usage: python -m src.mlproject run EXPERIMENT [OVERRIDES] | predict [OVERRIDES]")
    entry, rest = argv[0], hydra_args(argv[1:])
    if entry == "run":
        if not rest:
            sys.exit("usage: python -m src.mlproject run EXPERIMENT [OVERRIDES]")
        experiment, rest = rest[0], rest[1:]
        sys.argv = [sys.argv[0], f"+experiment={experiment}", *rest]
        from src.run import main as run_main

        run_main()
    else:
        sys.argv = [sys.argv[0], *rest]
        from src.predict import main as predict_main

        predict_main()


if __name__ == "__main__":
    main()
