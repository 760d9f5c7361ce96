#!/usr/bin/env python3
"""Times the declared schema (--schema), ours alone, on SQLite and on a throwaway PostgreSQL.

A 400-object schema (150 tables of 6 columns, 250 named indexes) in one schema.sql:

  no-op (today)       the database has it all; a start without --schema (the reference)
  no-op (declared)    the same start with --schema: the state row matches, nothing more
  first apply         an empty database; a start with --schema creates everything
  one-column change   the declaration has a column the database lacks; a start adds it (the
                      run reads the live schema, probes the one table that changed since the
                      last run, adds one column)
  the file run as it is   the reference for the first apply: `psql -1 -f schema.sql` (one
                      transaction), `sqlite3 db BEGIN '.read schema.sql' COMMIT`, into the emptied database

Each start execs `true` (a container start). Medians by hyperfine, peak RSS by /usr/bin/time.
Started by bench/run.sh (after bench.py); writes bench/results/declared.md and prints it.
"""

import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its Postgres, hyperfine and peak_rss)

TABLES = 150
INDEXES = 250


def schema():
    lines = []
    for t in range(TABLES):
        lines.append(f"CREATE TABLE d{t} (\n    id INTEGER PRIMARY KEY,\n    name VARCHAR(100) NOT NULL,\n"
                     f"    note TEXT,\n    amount NUMERIC(10, 2) DEFAULT 0,\n    created_at TIMESTAMP,\n"
                     f"    extra TEXT\n);\n")
    for i in range(INDEXES):
        t = i % TABLES
        col = ["name", "created_at"][i // TABLES]
        lines.append(f"CREATE INDEX d{t}_{col} ON d{t} ({col});\n")
    return "".join(lines)


def run(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {shlex.join(argv)}\n{r.stdout[-2000:]}")
    return r.stdout


def cases(first, url, empty_db, drop_column, by_hand):
    """{case: (seconds, KiB)}. `first`: a database URL for the first applies, emptied by `empty_db`
    before each; `url`: another database, applied once, for the no-op and the change (so that
    the first applies' drops leave no dead catalog rows under them); `drop_column`: argv that
    takes the column `extra` off its table d0; `by_hand(path)`: argv that runs the file as it is
    into `first`."""
    work = os.path.join(bench.WORK, "declared")
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "schema.sql")
    with open(path, "w") as f:
        f.write(schema())
    none = os.path.join(work, "migrations")
    os.makedirs(none, exist_ok=True)

    def start(u, declared=True):
        return [bench.OURS, "-d", u, "-m", none] + (["--schema", path] if declared else []) + ["--", "true"]

    out = {}
    out["first apply"] = (bench.hyperfine(start(first), bench.RUNS_APPLY, prepare=empty_db, warmup=0),
                          bench.peak_rss(start(first), prepare=empty_db))
    out["the file run as it is"] = (bench.hyperfine(by_hand(path), bench.RUNS_APPLY, prepare=empty_db, warmup=0),
                                    bench.peak_rss(by_hand(path), prepare=empty_db))
    log = run([bench.OURS, "-d", url, "-m", none, "--schema", path, "up"])
    assert "failed 0" in log, log
    out["no-op (today, no --schema)"] = (bench.hyperfine(start(url, False), bench.RUNS_NOOP, warmup=3),
                                         bench.peak_rss(start(url, False)))
    out["no-op (declared)"] = (bench.hyperfine(start(url), bench.RUNS_NOOP, warmup=3), bench.peak_rss(start(url)))
    out["one-column change"] = (bench.hyperfine(start(url), bench.RUNS_APPLY, prepare=drop_column, warmup=1),
                                bench.peak_rss(start(url), prepare=drop_column))
    # Each of those runs added the column back, and only it.
    run(drop_column)
    log = run([bench.OURS, "-d", url, "-m", none, "--schema", path, "up"])
    assert "declared schema: add column d0.extra" in log and "applied 1, failed 0" in log, log
    return out


def main():
    pg = bench.Postgres()
    results = {}
    try:
        scratch = os.path.join(bench.WORK, "first.db")
        db = os.path.join(bench.WORK, "declared.db")
        results["SQLite"] = cases(
            f"sqlite:{scratch}", f"sqlite:{db}", ["rm", "-f", scratch, scratch + "-journal"],
            [bench.SQLITE3, db, "ALTER TABLE d0 DROP COLUMN extra"],
            lambda path: [bench.SQLITE3, scratch, "BEGIN", f".read {path}", "COMMIT"])
        pg.create("first")
        pg.create("declared")
        url = pg.url("declared")
        results["PostgreSQL"] = cases(
            pg.url("first"), url, pg.reset("first"),
            [bench.PSQL, url, "-X", "-q", "-c", "ALTER TABLE d0 DROP COLUMN extra"],
            lambda path: [bench.PSQL, pg.url("first"), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", path])
    finally:
        pg.stop()
    lines = [f"# Declared schema: {TABLES} tables and {INDEXES} indexes ({TABLES + INDEXES} objects)", "",
             f"Medians of {bench.RUNS_NOOP} (no-op) and {bench.RUNS_APPLY} (apply, change) runs by hyperfine; "
             "each start execs `true`. × today: the ratio to the no-op start without --schema on the same "
             "database.", ""]
    for backend, rows in results.items():
        today = rows["no-op (today, no --schema)"][0]
        lines += [f"## {backend}", "", "| case | time | × today's no-op | peak RSS |", "|---|---:|---:|---:|"]
        for case in ("no-op (today, no --schema)", "no-op (declared)", "first apply", "the file run as it is",
                     "one-column change"):
            s, kib = rows[case]
            lines.append(f"| {case} | {bench.ms(s)} | {bench.ratio(s, today)} | {bench.mib(kib)} |")
        first, by_hand = rows["first apply"][0], rows["the file run as it is"][0]
        lines += ["", f"First apply: {bench.ratio(first, by_hand)} the file run as it is.", ""]
    text = "\n".join(lines)
    outdir = os.path.join(bench.ROOT, "bench", "results")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "declared-quick.md" if bench.QUICK else "declared.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
