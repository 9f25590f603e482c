"""Write the synthetic shop's log to Parquet, so large runs read a file as real users do.

    python -m src.data.synthetic n_customers=1000000 output=data/synthetic_1m.parquet
    python -m src.data.synthetic n_customers=10000000 seed=3 output=/tmp/shop_10m.parquet

Keys: ``output`` (the Parquet file, required), ``chunk_customers`` (customers generated at a
time, default 1,000,000: memory stays that of one chunk), and the synthetic dataset's options
(``n_customers``, ``seed``, ``start``, ``end``, ``dirty``, ``segment_shares``; defaults as in
``DatasetConfig``). The planted segments go beside the log as ``<name>.labels.parquet``. Read
the log back with

    python -m src.run +experiment=lrfmc dataset=synthetic_parquet \\
        dataset.path=data/synthetic_1m.parquet dataset.labels=data/synthetic_1m.labels.parquet

(``conf/dataset/synthetic_parquet.yaml``: the log has the canonical column names, so it needs no
mapping).
"""

from __future__ import annotations

import ctypes
import sys
import time

from omegaconf import OmegaConf

from src.errors import SegmentationError, report_user_errors

_DEFAULT_CHUNK = 1_000_000
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters (glibc malloc.h)


def _reuse_freed_memory() -> None:
    """Let glibc keep freed blocks for reuse instead of giving each back to the kernel.

    The generator's numpy temporaries are hundreds of MB each; by default every one is a
    fresh mmap whose pages the kernel must zero again, a third of the run's CPU time at a
    million customers. Serving them from the heap reuses the pages; the peak stays that of
    the largest live set. A no-op where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    except (OSError, AttributeError):
        pass


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    from src.data.load import dataset_config
    from src.data.synthetic.generate import write_log

    args = list(sys.argv[1:] if argv is None else argv)
    bad = [a for a in args if "=" not in a]
    if bad:
        raise SegmentationError(
            f"arguments must be key=value, got {' '.join(bad)}. Example: python -m "
            "src.data.synthetic n_customers=1000000 output=synthetic_1m.parquet"
        )
    given = OmegaConf.to_container(OmegaConf.from_dotlist(args))
    output = given.pop("output", None)
    if not output:
        raise SegmentationError(
            "output=<file.parquet> is required, e.g. python -m src.data.synthetic "
            "n_customers=1000000 output=synthetic_1m.parquet"
        )
    chunk = int(given.pop("chunk_customers", _DEFAULT_CHUNK))
    cfg = dataset_config({"type": "synthetic", **given})
    _reuse_freed_memory()
    started = time.perf_counter()
    log, labels = write_log(
        output,
        n_customers=cfg.n_customers,
        seed=cfg.seed,
        start=cfg.start,
        end=cfg.end,
        dirty=cfg.dirty,
        segment_shares=dict(cfg.segment_shares) or None,
        chunk_customers=chunk,
    )
    print(
        f"wrote {log} ({log.stat().st_size / 1e6:,.1f} MB) and {labels}: {cfg.n_customers:,} "
        f"customers, seed {cfg.seed}, in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
