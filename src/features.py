"""The per-customer feature table from the command line:
``python -m src.features dataset=online_retail output=features.parquet``.

Any ``dataset``/``cleaning``/``features`` option or key of ``conf/`` can be given as for
``python -m src.run`` (``dataset=transactions dataset.path=orders.parquet``,
``cleaning=classic``, ``features=lrfmc``, ``snapshot_date=2011-12-10``); plus ``output`` (a
``.parquet`` or ``.csv`` file, required), ``streaming=true`` (polars' streaming engine, for
logs larger than memory) and ``partitions=<n>`` (split the customers into n parts, one pass
over the log each; default: one part per 20,000,000 lines). The log is read, cleaned and
aggregated in one query per part; only the per-customer table is kept. The cleaning counts and
any data warnings are printed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from src.errors import SegmentationError, report_user_errors

_OWN_KEYS = ("output", "streaming", "partitions")


def _split(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    own, overrides = {}, []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SegmentationError(
                f"arguments must be key=value, got {arg!r}. Example: python -m src.features "
                "dataset=online_retail output=features.parquet"
            )
        if key in _OWN_KEYS:
            own[key] = value
        else:
            overrides.append(arg)
    return own, overrides


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from src.config import compose_config
    from src.data.prepare import customer_table

    own, overrides = _split(list(sys.argv[1:] if argv is None else argv))
    output = own.get("output")
    if not output or Path(output).suffix not in (".parquet", ".csv"):
        raise SegmentationError(
            "output=<file> is required and must end in .parquet or .csv, e.g. "
            "python -m src.features dataset=online_retail output=features.parquet"
        )
    try:
        cfg = compose_config("config", *overrides)
        dataset = OmegaConf.to_object(cfg.dataset)
        cleaning = OmegaConf.to_object(cfg.cleaning)
        features = OmegaConf.to_object(cfg.features)
    except (HydraException, OmegaConfBaseException) as exc:
        cause = exc.__cause__ or exc
        raise SegmentationError(f"bad option: {str(cause).strip().splitlines()[0]}") from None
    partitions = own.get("partitions")
    if partitions is not None and not partitions.strip().isdigit():
        raise SegmentationError(
            f"partitions={partitions} is not a whole number. Give the number of parts to split "
            "the customers into, e.g. partitions=8, or leave it out."
        )
    started = time.perf_counter()
    clock = {"pass": 1, "started": started, "last": 0}

    def progress(done: int, parts: int) -> None:
        # Counting starts again when the log is read a second time (its latest lines lie past
        # the snapshot the first pass found): that pass is timed from where the first ended.
        now = time.perf_counter()
        if done <= clock["last"]:
            clock.update({"pass": clock["pass"] + 1, "started": clock["ended"]})
        clock.update({"last": done, "ended": now})
        spent = now - clock["started"]
        left = spent / done * (parts - done)
        again = f" (pass {clock['pass']})" if clock["pass"] > 1 else ""
        print(
            f"customer partition {done}/{parts}{again} done in {spent:.0f} s; about "
            f"{left:.0f} s left",
            flush=True,
        )

    table = customer_table(
        dataset,
        cleaning,
        features,
        cfg.snapshot_date,
        base_dir=Path.cwd(),
        streaming=own.get("streaming", "false").lower() in ("1", "true", "yes"),
        partitions=None if partitions is None else int(partitions),
        progress=progress,
    )
    if table.cleaning is not None:
        for step in table.cleaning.steps:
            print(f"cleaning {step.rule:<28} -{step.rows_removed:>11,}  -> {step.rows_out:,} rows")
    for warning in table.warnings:
        print(f"warning: {warning}")
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = table.features.reset_index()
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    snapshot = "" if table.snapshot is None else f" at snapshot {table.snapshot.date()}"
    parts = f" ({table.partitions} customer partitions)" if table.partitions > 1 else ""
    print(
        f"wrote {path}: {len(frame):,} customers x {len(table.features.columns)} features"
        f"{snapshot} in {time.perf_counter() - started:.1f} s{parts}"
    )


if __name__ == "__main__":
    main()
