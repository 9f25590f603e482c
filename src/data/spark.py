"""The Spark engine (``dataset.engine=spark``): the same reading, cleaning rules and features
as the polars engine, in the PySpark DataFrame API, for logs that outgrow one machine.

The dataset's ``path`` (a file, folder or glob Spark can read: CSV, CSV.gz, Parquet) or
``table`` (a catalog table, e.g. on Databricks) is read by Spark; ids, numbers and dates are
converted with the rules of ``src.data.convert``; the cleaning rules of ``src.data.cleaning``
run as Spark filters with their counts; the per-customer aggregates of ``src.data.features``
are one ``groupBy``. Only the per-customer table (one row per customer) comes back to the
driver, where ``features.finish_features`` turns it into the feature table, so both engines
share the definitions of the features (money summed exactly in millionths, whole days).

It needs the optional extra ``spark`` (PySpark 4, Java 17). An active Spark session is used as
it is; without one a local session starts, bound to the loopback interface.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from src import columns as schema
from src.config.schema import (
    CleaningConfig,
    DatasetConfig,
    DatasetType,
    FeaturesConfig,
    FeatureSet,
    FrequencyDef,
    Returns,
)
from src.data import convert
from src.data.cleaning import RULES, flag_rules
from src.data.convert import (
    NULL_STRINGS,
    as_mapping,
    check_columns_exist,
    column_mapping,
)
from src.data.features import (
    AFTER,
    FUTURE,
    LAST_KEPT,
    MONEY_SCALE,
    FeaturePlan,
    end_of_today,
    feature_warnings,
    features_at_snapshot,
)
from src.errors import SegmentationError

_ID_COLUMNS = (schema.CUSTOMER_ID, schema.INVOICE_ID)
_NUMERIC_COLUMNS = (schema.QUANTITY, schema.UNIT_PRICE, schema.AMOUNT, schema.DISCOUNT)
_DATE_COLUMNS = (schema.INVOICE_DATE, schema.SIGNUP_DATE)
# strftime / polars patterns -> Java DateTimeFormatter patterns (lenient widths, as polars).
_JAVA_PATTERNS = {
    "%Y": "yyyy",
    "%m": "M",
    "%d": "d",
    "%H": "H",
    "%M": "mm",
    "%S": "ss",
    "%.f": ".SSSSSS",
    "%f": "SSSSSS",
    "T": "'T'",
}


def session():
    """The active Spark session, or a local one on the loopback interface."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SegmentationError(
            "dataset.engine=spark needs PySpark (and Java 17). Install the optional extra: "
            "pip install -e '.[spark]', or use dataset.engine=polars."
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return (
        SparkSession.builder.master("local[*]")
        .appName("customer-segmentation")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def _java_pattern(pattern: str) -> str:
    out = pattern
    for strf, java in _JAVA_PATTERNS.items():
        out = out.replace(strf, java)
    return out


def read(dataset: DatasetConfig, base_dir: str | Path | None = None):
    """The dataset's table as a Spark DataFrame of text (CSV) or typed (Parquet, table) columns."""
    spark = session()
    if dataset.table:
        return spark.table(dataset.table), dataset.table
    from src.data.load import resolve_path
    from src.data.readers import infer_format

    path = resolve_path(dataset.path, base_dir, url=dataset.url, name=dataset.name)
    fmt = infer_format(path if path.is_file() else Path(str(path) + ".csv"), dataset.format)
    if not path.is_file() and dataset.format is None and "*" not in str(path):
        files = [p for p in Path(path).iterdir() if p.is_file()] if Path(path).is_dir() else []
        fmt = infer_format(files[0]) if files else fmt
    if fmt == "parquet":
        return spark.read.parquet(str(path)), str(path)
    if fmt != "csv":
        raise SegmentationError(
            f"dataset.engine=spark reads CSV and Parquet files or catalog tables; {path} is "
            f"{fmt}. Convert it to Parquet, or use dataset.engine=polars."
        )
    reader = spark.read.option("header", True).option("inferSchema", False)
    reader = reader.option("sep", dataset.delimiter or ",").option("encoding", "UTF-8")
    return reader.csv(str(path)), str(path)


def _text(column):
    from pyspark.sql import functions as F

    value = F.regexp_replace(column.cast("string"), r"^\s+|\s+$", "")
    return F.when(value.isin(NULL_STRINGS), F.lit(None)).otherwise(value)


def _id(column, dtype: str):
    from pyspark.sql import functions as F

    if dtype in ("float", "double"):
        whole = F.floor(column) == column
        value = F.when(F.isnan(column), F.lit(None)).otherwise(column)
        return F.when(whole, value.cast("long").cast("string")).otherwise(value.cast("string"))
    if dtype in ("int", "bigint", "smallint", "tinyint"):
        return column.cast("string")
    return F.regexp_replace(_text(column), r"\.0+$", "")  # "" (was ".0") -> missing, below


def canonical(frame, mapping: Mapping[str, str], date_format: str | None, where: str):
    """The canonical log (``src.columns``) of a Spark DataFrame, and its conversion checks.

    Returns ``(log, checks)``: ``checks`` maps each checked canonical column to its source
    column and a condition on ``frame`` that is true where a present value did not convert.
    """
    from pyspark.sql import functions as F

    dtypes = dict(frame.dtypes)
    columns, checks = {}, {}
    for canonical_name in schema.TRANSACTION_COLUMNS:
        if canonical_name not in mapping:
            continue
        source = mapping[canonical_name]
        column, dtype = F.col(f"`{source}`"), dtypes[source]
        if canonical_name in _ID_COLUMNS:
            value = _id(column, dtype)
            columns[canonical_name] = F.when(value == "", F.lit(None)).otherwise(value)
        elif canonical_name in _NUMERIC_COLUMNS:
            if dtype == "string":
                raw = _text(column)
                number = raw.try_cast("double")
                checks[canonical_name] = (source, raw.isNotNull() & number.isNull())
            else:
                number = column.cast("double")
            columns[canonical_name] = F.when(F.isnan(number), F.lit(None)).otherwise(number)
        elif canonical_name in _DATE_COLUMNS:
            if dtype == "string":
                raw = _text(column)
                sample = [r[0] for r in frame.select(column).limit(200).collect()]
                formats = convert.date_formats(sample, date_format)
                parsed = [F.try_to_timestamp(raw, F.lit(_java_pattern(f))) for f in formats]
                date = parsed[0] if len(parsed) == 1 else F.coalesce(*parsed)
                checks[canonical_name] = (source, raw.isNotNull() & date.isNull())
            else:
                date = column.cast("timestamp")
            columns[canonical_name] = date
        else:
            text = column.cast("string")
            columns[canonical_name] = F.when(text.isin(NULL_STRINGS), F.lit(None)).otherwise(text)
    if schema.INVOICE_ID not in columns:
        columns[schema.INVOICE_ID] = F.monotonically_increasing_id().cast("string")
    if schema.AMOUNT not in columns:
        columns[schema.AMOUNT] = columns[schema.QUANTITY] * columns[schema.UNIT_PRICE]
    ordered = [c for c in schema.TRANSACTION_COLUMNS if c in columns]
    bad = [check.alias(f"_bad_{name}") for name, (_, check) in checks.items()]
    log = frame.select(*[columns[c].alias(c) for c in ordered], *bad)
    return log, checks


def _money(column):
    from pyspark.sql import functions as F

    # round() rounds half away from zero, like the polars side.
    return F.round(F.coalesce(column, F.lit(0.0)) * MONEY_SCALE).cast("long")


def customer_table(
    dataset: DatasetConfig,
    cleaning: CleaningConfig,
    features: FeaturesConfig,
    snapshot: str | pd.Timestamp | None = None,
    base_dir: str | Path | None = None,
):
    """The per-customer feature table computed by Spark (see the module docstring)."""

    from src.data.prepare import CustomerTable

    if dataset.type is not DatasetType.transactions:
        raise SegmentationError(
            f"dataset.engine=spark reads transaction logs; dataset {dataset.name!r} is "
            f"dataset.type={dataset.type.value}. Use dataset.engine=polars for per-customer tables."
        )
    frame, where = read(dataset, base_dir)
    found = list(frame.columns)
    mapping = column_mapping(
        as_mapping(dataset.columns), found, schema.TRANSACTION_COLUMNS, "transaction", where
    )
    check_columns_exist(mapping, found, where)
    log, checked = canonical(frame, mapping, dataset.date_format, where)
    log = log.persist()  # every count below reads it; the source is read once
    try:
        present = [c for c in log.columns if not c.startswith("_bad_")]
        flagged = flag_rules(pl.LazyFrame(schema=_polars_schema(present)), cleaning)
        counts, cleaned = _clean(log, cleaning, flagged, checked, frame, where)
        counts.pop("_last_kept")
        digest = str(counts.pop("_digest"))
        report = flagged.report(counts)

        def run(snap, count_after):
            plan = FeaturePlan(aggregates=None, features=features, snapshot=snap)  # type: ignore[arg-type]
            return plan, _aggregate(cleaned, features, snap, flagged.net, count_after)

        result = features_at_snapshot(run, snapshot)
    finally:
        log.unpersist()
        session().catalog.clearCache()
    report = report.with_ignored(result.ignored, result.note)
    fingerprint = hashlib.sha256(f"spark:{digest}".encode()).hexdigest()[:16]
    warnings = [*result.warnings, *feature_warnings(result.table, "transactions")]
    return CustomerTable(result.table, report, result.snapshot, warnings, fingerprint)


def _polars_schema(columns: list[str]) -> dict[str, Any]:
    dtypes = {c: pl.String for c in columns}
    dtypes.update({c: pl.Float64 for c in _NUMERIC_COLUMNS if c in dtypes})
    dtypes.update({c: pl.Datetime("us") for c in _DATE_COLUMNS if c in dtypes})
    return dtypes


def _clean(log, options: CleaningConfig, flagged, checked, frame, where: str):
    """The cleaning rules as Spark filters: (counts for ``FlaggedLog.report``, cleaned log).

    Two passes over the (persisted) log: rules 1-4 with the conversion checks, then the
    duplicates and non-product rules with the counts of what is kept.
    """
    from pyspark.sql import functions as F

    net = options.returns is Returns.net
    columns = [c for c in log.columns if not c.startswith("_bad_")]
    cancelled = F.coalesce(
        F.col(schema.INVOICE_ID).startswith(str(options.cancellation_prefix)), F.lit(False)
    )
    quantity = schema.QUANTITY if schema.QUANTITY in columns else schema.AMOUNT
    rules = {
        "missing_customer_id": F.col(schema.CUSTOMER_ID).isNull(),
        "cancellations": F.lit(False) if net else cancelled,
        "non_positive_quantity": (
            (F.col(quantity) == 0) | F.col(quantity).isNull()
            if net
            else ~F.coalesce(F.col(quantity) > 0, F.lit(False))
        ),
        "non_positive_price": ~F.coalesce(F.col(schema.UNIT_PRICE) > 0, F.lit(False))
        if schema.UNIT_PRICE in columns
        else F.lit(False),
    }
    returns = F.lit(False)
    if net and "cancellations" not in flagged.skipped:
        returns = returns | cancelled
    if net and "non_positive_quantity" not in flagged.skipped:
        returns = returns | F.coalesce(F.col(quantity) < 0, F.lit(False))
    alive, aggs = F.lit(True), [F.count(F.lit(1)).alias("_rows")]
    for rule in [r for r in RULES[:4] if r not in flagged.skipped]:
        aggs.append(F.sum((alive & rules[rule]).cast("long")).alias(f"_drop_{rule}"))
        alive = alive & ~rules[rule]
    aggs.append(F.count_distinct(F.col(schema.CUSTOMER_ID)).alias("_customers"))
    aggs.append(F.sum(alive.cast("long")).alias("_alive"))
    # Order-independent digest of the raw lines, for the data fingerprint.
    aggs.append(F.sum(F.xxhash64(*columns).cast("decimal(38,0)")).alias("_digest"))
    aggs += [F.sum(F.col(f"_bad_{c}").cast("long")).alias(f"_bad_{c}") for c in checked]
    counts = log.agg(*aggs).collect()[0].asDict()
    for name, (source, check) in checked.items():
        if counts.pop(f"_bad_{name}"):
            bad = frame.filter(check).select(F.col(f"`{source}`")).limit(5).collect()
            raise SegmentationError(
                f"column {source!r} ({name}) of {where} has {counts.get(name, 'some')} value(s) "
                f"that do not convert, e.g. {convert.examples(r[0] for r in bad)}. Numbers must "
                "use '.' as decimal point; dates one style per column (or give "
                "dataset.date_format)."
            )
    kept = log.select(*columns, *([returns.alias(schema.IS_RETURN)] if net else [])).filter(alive)
    alive_rows = counts.pop("_alive")
    if "duplicates" not in flagged.skipped:
        kept = kept.dropDuplicates(columns)
    kept = kept.persist()  # counted below, then aggregated
    product = F.lit(False)
    if "non_product_codes" not in flagged.skipped:
        codes = [str(c) for c in options.non_product_codes]
        product = F.coalesce(F.col(schema.STOCK_CODE).isin(codes), F.lit(False))
    out = (
        kept.agg(
            F.count(F.lit(1)).alias("_after_duplicates"),
            F.sum(product.cast("long")).alias("_drop_non_product_codes"),
        )
        .collect()[0]
        .asDict()
    )
    counts["_drop_duplicates"] = alive_rows - out.pop("_after_duplicates")
    counts["_drop_non_product_codes"] = out["_drop_non_product_codes"] or 0
    final = kept.filter(~product)
    if flagged.matched:
        cancels = rules["cancellations"] if "cancellations" not in flagged.skipped else F.lit(False)
        if "non_positive_quantity" not in flagged.skipped:
            cancels = cancels | rules["non_positive_quantity"]
        final, matched = _match_cancellations(log.select(*columns), cancels, final, columns)
        counts.update(matched)
    out = (
        final.agg(
            F.count_distinct(F.col(schema.CUSTOMER_ID)).alias("_customers_out"),
            F.max(F.col(schema.INVOICE_DATE)).alias("_last_kept"),
            *([F.sum(F.col(schema.IS_RETURN).cast("long")).alias("_returns")] if net else []),
        )
        .collect()[0]
        .asDict()
    )
    counts.update({k: (v or 0) if k != "_last_kept" else v for k, v in out.items()})
    return counts, final


def _match_cancellations(log, removed, kept, columns: list[str]):
    """returns=match (``src.data.cleaning``) in Spark: (kept lines after matching, counts).

    ``removed``: the lines rules 2 and 3 remove; the cancelling ones among them are taken back
    from ``kept`` by customer and product, latest purchase first, in the order and with the
    arithmetic of ``cleaning._match_cancellations`` (so both engines give the same lines).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from src.data.cleaning import _UNIT_TOLERANCE, MATCHED, match_keys, match_order

    units = schema.QUANTITY if schema.QUANTITY in columns else schema.AMOUNT
    keys = match_keys(columns)
    date = F.col(schema.INVOICE_DATE)
    cancelling = (
        log.filter(
            removed
            & F.coalesce(F.col(units) < 0, F.lit(False))
            & F.col(schema.CUSTOMER_ID).isNotNull()
            & date.isNotNull()
        )
        .dropDuplicates(columns)
        .persist()
    )
    per_key = cancelling.groupBy(*keys).agg(
        F.sum(-F.col(units)).alias("_cancelled_units"),
        F.max(date).alias("_last_cancel"),
        F.count(F.lit(1)).alias("_cancel_lines"),
    )
    # Keys renamed on one side: both sides come from the same log, and Spark would otherwise
    # resolve the two key columns to one (a condition that is always true).
    side = {k: f"_key_{k}" for k in keys}
    renamed = per_key.select(
        *[F.col(k).alias(side[k]) for k in keys], *per_key.columns[len(keys) :]
    )
    on = [F.col(k).eqNullSafe(F.col(side[k])) for k in keys]
    joined = kept.join(renamed, on=on, how="left").drop(*side.values())
    eligible = F.coalesce(date <= F.col("_last_cancel"), F.lit(False))
    bought = F.when(eligible, F.col(units)).otherwise(F.lit(0.0))
    # The later purchases are the rows before this one in the reversed order: a growing frame,
    # which Spark sums incrementally (a frame up to the partition's end is summed anew per row).
    latest_first = [F.col(c).desc_nulls_last() for c in match_order(columns)]
    later_rows = (
        Window.partitionBy(*keys).orderBy(*latest_first).rowsBetween(Window.unboundedPreceding, -1)
    )
    every_row = Window.partitionBy(*keys)
    step = joined.withColumn("_eligible", eligible).withColumn("_bought_units", bought)
    step = step.withColumn(
        "_later_units", F.coalesce(F.sum("_bought_units").over(later_rows), F.lit(0.0))
    ).withColumn("_key_bought", F.sum("_bought_units").over(every_row))
    cancelled = F.coalesce(F.col("_cancelled_units"), F.lit(0.0))
    step = step.withColumn(
        "_taken",
        F.least(F.col("_bought_units"), F.greatest(cancelled - F.col("_later_units"), F.lit(0.0))),
    ).persist()
    left = F.col("_bought_units") - F.col("_taken")
    gone = F.col("_eligible") & (left <= _UNIT_TOLERANCE)
    reduced = F.col("_eligible") & ~gone & (F.col("_taken") > _UNIT_TOLERANCE)
    numbers = step.agg(
        F.sum(gone.cast("long")).alias(f"_drop_{MATCHED}"),
        F.sum(reduced.cast("long")).alias("_reduced"),
    ).collect()[0]
    bought_per_key = step.groupBy(*keys).agg(F.max("_key_bought").alias("_key_bought"))
    bought_per_key = bought_per_key.select(*[F.col(k).alias(side[k]) for k in keys], "_key_bought")
    on = [F.col(k).eqNullSafe(F.col(side[k])) for k in keys]
    unmatched = (
        per_key.join(bought_per_key, on=on, how="left")
        .filter(
            F.col("_cancelled_units")
            > F.coalesce(F.col("_key_bought"), F.lit(0.0)) + _UNIT_TOLERANCE
        )
        .agg(F.sum("_cancel_lines"))
        .collect()[0][0]
    )
    share = left / F.col("_bought_units")
    changed = {units: F.when(reduced, left).otherwise(F.col(units))}
    if units != schema.AMOUNT and schema.AMOUNT in columns:
        changed[schema.AMOUNT] = F.when(reduced, F.col(schema.AMOUNT) * share).otherwise(
            F.col(schema.AMOUNT)
        )
    kept_columns = list(kept.columns)
    final = step.filter(~gone).select(
        *[changed[c].alias(c) if c in changed else F.col(c) for c in kept_columns]
    )
    counts = {
        f"_drop_{MATCHED}": numbers[0] or 0,
        "_reduced": numbers[1] or 0,
        "_unmatched": unmatched or 0,
    }
    return final, counts


def _aggregate(
    cleaned, features: FeaturesConfig, snapshot, net: bool, count_after: bool
) -> pl.DataFrame:
    """The per-customer aggregates of ``features.plan_features``, computed by Spark."""
    from pyspark.sql import functions as F

    present = cleaned.columns
    date = F.col(schema.INVOICE_DATE)
    kept = [F.max(date).alias(LAST_KEPT)]
    if count_after and snapshot is not None:
        late = {AFTER: snapshot, FUTURE: end_of_today()}
        kept += [
            F.sum((date >= F.lit(t.to_pydatetime())).cast("long")).alias(c) for c, t in late.items()
        ]
    by_customer = cleaned.groupBy(schema.CUSTOMER_ID).agg(*kept)
    before = date.isNotNull() if snapshot is None else date < F.lit(snapshot.to_pydatetime())
    lines = cleaned.filter(before & F.col(schema.CUSTOMER_ID).isNotNull())
    buy = ~F.coalesce(F.col(schema.IS_RETURN), F.lit(False)) if net else F.lit(True)
    purchases = lines.filter(buy)
    invoice = F.col(schema.INVOICE_ID)
    aggs = [
        F.max(date).alias("_last"),
        F.count_distinct(invoice).alias("_orders"),
    ]
    if features.frequency is FrequencyDef.days:
        aggs.append(F.count_distinct(F.to_date(date)).alias("_days"))
    lrfmc = features.name is FeatureSet.lrfmc
    if lrfmc:
        aggs.append(F.min(date).alias("_first"))
        if schema.SIGNUP_DATE in present:
            aggs.append(F.min(F.col(schema.SIGNUP_DATE)).alias("_signup"))
    spend = lines.groupBy(schema.CUSTOMER_ID).agg(
        F.sum(_money(F.col(schema.AMOUNT))).alias("_spend")
    )
    per_customer = by_customer.join(
        purchases.groupBy(schema.CUSTOMER_ID).agg(*aggs), on=schema.CUSTOMER_ID, how="left"
    ).join(spend, on=schema.CUSTOMER_ID, how="left")
    if lrfmc:
        orders = (
            purchases.filter(invoice.isNotNull())
            .groupBy(schema.CUSTOMER_ID, schema.INVOICE_ID)
            .agg(F.sum(_money(F.col(schema.DISCOUNT))).alias("_disc"))
            .groupBy(schema.CUSTOMER_ID)
            .agg(F.sum((F.col("_disc") > 0).cast("long")).alias("_discounted"))
        )
        per_customer = per_customer.join(orders, on=schema.CUSTOMER_ID, how="left")
    table = pl.from_pandas(per_customer.toPandas())
    casts = {"_orders": pl.UInt32, "_days": pl.UInt32, "_spend": pl.Int64, "_discounted": pl.UInt32}
    casts |= {AFTER: pl.Int64, FUTURE: pl.Int64}
    casts = {c: t for c, t in casts.items() if c in table.columns}
    dates = [c for c in ("_last", "_first", "_signup", LAST_KEPT) if c in table.columns]
    return table.with_columns(
        *[pl.col(c).cast(t) for c, t in casts.items()],
        *[pl.col(c).cast(pl.Datetime("us")) for c in dates],
        pl.col(schema.CUSTOMER_ID).cast(pl.String),
    )
