"""Load throughput of ``snyk-export load`` against DuckDB's own readers.

One run, one machine, same files:

1. generate N demo rows of a dataset and write them as the export writes CSV
   (the server's own renderer) and as Parquet (DuckDB ``COPY``);
2. raw engine: ``CREATE TABLE AS SELECT * FROM read_csv(...)`` (explicit
   catalog types, same dialect) and ``read_parquet(...)`` into a fresh
   database, with DuckDB's default settings;
3. the loader: ``load_file`` into a fresh data directory (an insert of every
   row), then the same file again (an upsert that matches every row and
   changes none), with the server's default settings (256 MB memory limit).

Each case runs in a child process whose peak resident memory is sampled.
Prints rows per second per case and the ratio loader / raw time (1.0 means
as fast as DuckDB's reader alone).

    python bench/load_bench.py [--rows 1000000] [--dataset issues]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import psutil

from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.duckdb_query import SQL_TYPES, header_line, render_record
from snyk_export.catalog import datasets
from snyk_export.demo_data import DemoSizes, build_tenant, generate
from snyk_export.ingest.loader import load_file

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def write_files(dataset: str, rows: int, directory: Path) -> tuple[Path, Path]:
    """The dataset's demo rows as an export-dialect CSV and a Parquet file."""
    backend = DuckDBBackend(directory / "source" / "db.duckdb", memory_limit="2GB")
    backend.migrate()
    sizes = DemoSizes(issues=rows, usage=rows, pr_checks=rows)
    backend.load_batches(dataset, generate(dataset, build_tenant(7), sizes, now=NOW))
    catalog = datasets()[dataset]
    names = tuple(column.name for column in catalog.columns)
    csv_path, parquet_path = (
        directory / f"{dataset}.csv",
        directory / f"{dataset}.parquet",
    )
    with backend.transaction() as cursor, csv_path.open("wb") as out:
        out.write(header_line(names))
        reader = cursor.sql(
            f'SELECT {render_record(catalog, names)} FROM "{dataset}"'
        ).to_arrow_reader(50_000)
        for batch in reader:
            out.write("".join(batch.column(0).to_pylist()).encode("utf-8"))
        cursor.execute(f"COPY \"{dataset}\" TO '{parquet_path}' (FORMAT parquet)")
    backend.close()
    return csv_path, parquet_path


def run_case(case: str, dataset: str, path: Path, directory: Path) -> dict[str, Any]:
    """One timed case, in this process; returns seconds and rows."""
    if case.startswith("raw"):
        db = duckdb.connect(str(directory / "raw.duckdb"))
        catalog = datasets()[dataset]
        if path.suffix == ".csv":
            types = {c.name: SQL_TYPES[c.type] for c in catalog.columns}
            types = {
                n: "VARCHAR" if t in ("VARCHAR[]", "JSON") else t
                for n, t in types.items()
            }
            source = (
                "read_csv(?, columns = ?, header = true, auto_detect = false, "
                "quote = '\"', escape = '\"', strict_mode = true)"
            )
            params: list[Any] = [str(path), types]
        else:
            source, params = "read_parquet(?)", [str(path)]
        start = time.perf_counter()
        db.execute(f"CREATE TABLE t AS SELECT * FROM {source}", params)
        seconds = time.perf_counter() - start
        rows = db.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
        db.close()
        return {"seconds": seconds, "rows": rows}
    backend = DuckDBBackend(directory / "data" / "snyk-export.duckdb")
    backend.migrate()
    start = time.perf_counter()
    first = load_file(backend, dataset, path)
    inserted = time.perf_counter() - start
    start = time.perf_counter()
    again = load_file(backend, dataset, path)
    matched = time.perf_counter() - start
    backend.close()
    return {
        "seconds": inserted,
        "rows": first.rows,
        "upsert_seconds": matched,
        "unchanged": again.unchanged,
    }


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Run one case in a child process, sampling its peak RSS."""
    command = [
        sys.executable,
        __file__,
        "--case",
        args.case_name,
        "--dataset",
        args.dataset,
        "--file",
        str(args.file),
        "--work",
        str(args.work),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = 0
    watched = psutil.Process(process.pid)

    def sample() -> None:
        nonlocal peak
        while process.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"case {args.case_name} failed")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dataset", default="issues", choices=list(datasets()))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.dataset, args.file, args.work)))
        return

    with tempfile.TemporaryDirectory(prefix="load-bench-") as temp:
        directory = Path(temp)
        started = time.perf_counter()
        files = write_files(args.dataset, args.rows, directory)
        elapsed = time.perf_counter() - started
        print(f"wrote {args.rows:,} {args.dataset} rows in {elapsed:.1f}s")
        for path in files:
            kind = path.suffix.lstrip(".")
            size_mb = path.stat().st_size / 2**20
            results = {}
            for name in ("raw", "loader"):
                work = directory / f"{kind}-{name}"
                work.mkdir()
                case = argparse.Namespace(
                    case_name=name, dataset=args.dataset, file=path, work=work
                )
                results[name] = child(case)
            raw, loader = results["raw"], results["loader"]
            print(
                f"{kind:8} {size_mb:7.0f} MB  "
                f"DuckDB read_{kind} {raw['rows'] / raw['seconds']:>10,.0f} rows/s "
                f"({raw['seconds']:.1f}s, peak {raw['peak_rss_mb']:.0f} MB)  "
                f"load {loader['rows'] / loader['seconds']:>10,.0f} rows/s "
                f"({loader['seconds']:.1f}s, peak {loader['peak_rss_mb']:.0f} MB)  "
                f"ratio {loader['seconds'] / raw['seconds']:.2f}  "
                f"re-load (all unchanged) "
                f"{loader['rows'] / loader['upsert_seconds']:,.0f} rows/s "
                f"({loader['upsert_seconds']:.1f}s)"
            )


if __name__ == "__main__":
    main()
