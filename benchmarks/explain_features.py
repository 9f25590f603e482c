"""Print the polars query plan that ``python -m src.features ... streaming=true`` collects.

The plan is that of ``src.data.prepare.customer_table``'s one query (read, clean, aggregate),
as ``LazyFrame.explain(engine="streaming")`` shows it, for any options of the command line:

    python benchmarks/explain_features.py dataset=synthetic_parquet \\
        dataset.path=/tmp/shop_20k.parquet features=lrfmc cleaning.returns=drop

The query also runs (on the given file), so use a small log: the plan does not depend on size
(give ``partitions=1``-sized logs; a log split into customer partitions prints one plan each).
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import OmegaConf

from src.config import compose_config
from src.data import readers
from src.data.prepare import customer_table


def main(overrides: list[str]) -> None:
    collect = readers.LogScan._collect_on_path

    def explained(self, query, keys=(), **kwargs):
        queries = query(self.frame)
        for plan in queries if isinstance(queries, list) else [queries]:
            print(plan.explain(engine="streaming"))
        return collect(self, query, keys, **kwargs)

    readers.LogScan._collect_on_path = explained
    cfg = compose_config("config", *overrides)
    customer_table(
        OmegaConf.to_object(cfg.dataset),
        OmegaConf.to_object(cfg.cleaning),
        OmegaConf.to_object(cfg.features),
        cfg.snapshot_date,
        base_dir=Path.cwd(),
        streaming=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
