#!/usr/bin/env python3
"""What a rollout feels: replicas started together, a database that comes up late, many
databases. Started by bench/run.sh (after bench.py), or alone: python3 bench/rollout.py.

  replicas  N runners (1, 2, 5, 10) started at once on a fresh database whose migrations take
            about 1 s; the time until the last one finishes, against one alone (target 1.15x),
            on SQLite and on PostgreSQL in both lock modes
  db-wait   PostgreSQL started a random 0.5-3 s after `up --wait 30s`: the time from the
            server's "ready to accept connections" to our first applied migration (target
            250 ms)
  many      10,000 SQLite files (no-op, one new migration each; --jobs CPUs and 4x CPUs) and
            100 PostgreSQL databases on one server (no-op and apply; --jobs 1, 4, 16): time and
            peak RSS

Writes bench/results/rollout.md and prints it. Exits 1 when a target is missed.
"""

import datetime
import os
import random
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the throwaway PostgreSQL and the helpers)

OURS = bench.OURS
ROUNDS = 3 if bench.QUICK else 5
CPUS = os.cpu_count() or 1
SLOW_SQLITE = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
               "SELECT count(*) FROM c;\n")


def folder(name, files):
    d = os.path.join(bench.WORK, name)
    os.makedirs(d, exist_ok=True)
    for f, text in files.items():
        bench.write(os.path.join(d, f), text)
    return d


def calibrate_sqlite():
    """A recursive count that takes about one second here."""
    n = 1_000_000
    while True:
        t = time.monotonic()
        subprocess.run([bench.SQLITE3, ":memory:", SLOW_SQLITE.format(n=n)], check=True,
                       stdout=subprocess.DEVNULL)
        took = time.monotonic() - t
        if took > 0.2:
            return int(n / took)
        n *= 4


def slow_migrations(backend, sqlite_n):
    slow = "SELECT pg_sleep(1);\n" if backend == "postgres" else SLOW_SQLITE.format(n=sqlite_n)
    files = {"001_slow.sql": "CREATE TABLE slow (id INTEGER);\n" + slow}
    for i in range(2, 6):
        files[f"{i:03d}_t{i}.sql"] = f"CREATE TABLE t{i} (id INTEGER);\n"
    return folder(f"slow-{backend}", files)


def replicas(pg, sqlite_n):
    """Rows (setting, n, median seconds until the last of n finished)."""
    rows = []
    for backend, mode in (("sqlite", None), ("postgres", "advisory"), ("postgres", "table")):
        dirs = slow_migrations(backend, sqlite_n)
        for n in (1, 2, 5, 10):
            times = []
            for r in range(ROUNDS):
                if backend == "sqlite":
                    path = os.path.join(bench.WORK, f"replicas-{n}-{r}.db")
                    url = f"sqlite:{path}"
                else:
                    db = f"replicas_{mode}_{n}_{r}"
                    pg.create(db)
                    url = pg.url(db)
                argv = [OURS, "up", "-d", url, "-m", dirs]
                if mode:
                    argv += ["--lock-mode", mode]
                start = time.monotonic()
                procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                         for _ in range(n)]
                for p in procs:
                    _, err = p.communicate()
                    if p.returncode != 0:
                        sys.exit(f"replicas {backend} {mode} {n}: exit {p.returncode}: {err.decode()}")
                times.append(time.monotonic() - start)
            label = "SQLite" if backend == "sqlite" else f"PostgreSQL, {mode} lock"
            rows.append((label, n, statistics.median(times)))
            print(f"replicas: {label}, {n}: {statistics.median(times) * 1000:.0f} ms", file=sys.stderr)
    return rows


def log_time(line):
    """The UTC time at the start of a log line of ours or of the server (log_line_prefix %m)."""
    m = re.match(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d+)", line)
    if not m:
        return None
    return datetime.datetime.fromisoformat(m.group(1).replace(" ", "T")).replace(tzinfo=datetime.timezone.utc)


def db_wait(pg):
    """Seconds from the server accepting connections to our first applied migration, per round
    (the server stopped before each, started a random 0.5-3 s after ours)."""
    dirs = folder("wait", {"001_a.sql": "CREATE TABLE a (id INTEGER);\n"})
    gaps = []
    for r in range(ROUNDS):
        pg.create("late")
        pg.stop()
        log = os.path.join(pg.dir, f"log-{r}")
        argv = [OURS, "up", "--wait", "30s", "-d", pg.url("late"), "-m", dirs]
        ours = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(random.uniform(0.5, 3.0))
        opts = (f"-c listen_addresses=127.0.0.1 -p {pg.port} -c unix_socket_directories={pg.dir} "
                "-c log_timezone=UTC -c log_line_prefix='%m '")
        bench.sh(pg.as_user + [os.path.join(bench.PG_BIN, "pg_ctl"), "-D", pg.dir, "-w", "-o", opts,
                               "-l", log, "start"])
        _, err = ours.communicate(timeout=60)
        ready = next(log_time(l) for l in open(log) if "ready to accept connections" in l)
        applied = next(log_time(l) for l in err.splitlines() if "applied 001_a.sql" in l)
        gaps.append((applied - ready).total_seconds())
        print(f"db-wait: round {r}: {gaps[-1] * 1000:.0f} ms", file=sys.stderr)
    return gaps


def timed(argv):
    """(seconds, peak KiB) of one run."""
    start = time.monotonic()
    r = subprocess.run([bench.TIME, "-f", "%M"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    took = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"{argv[:4]}: exit {r.returncode}: {r.stderr[-2000:]}")
    return took, int(r.stderr.strip().splitlines()[-1])


def many(pg):
    """Rows (what, jobs, no-op s, no-op KiB, apply s, apply KiB)."""
    rows = []
    one = {"001_a.sql": "CREATE TABLE a (id INTEGER);\n"}
    two = dict(one, **{"002_b.sql": "CREATE TABLE b (id INTEGER);\n"})
    first, second = folder("many-1", one), folder("many-2", two)
    files = os.path.join(bench.WORK, "many-sqlite")
    os.makedirs(files)
    n = 1000 if bench.QUICK else 10000
    for i in range(n):
        open(os.path.join(files, f"db{i:05d}.db"), "w").close()
    url = f"sqlite:{files}/*.db"
    for jobs in (CPUS, 4 * CPUS):
        # Everything applied up to 001 (untimed), then a no-op, then one new migration each.
        timed([OURS, "up", "--jobs", str(jobs), "-d", url, "-m", first])
        noop = timed([OURS, "up", "--jobs", str(jobs), "-d", url, "-m", first])
        apply = timed([OURS, "up", "--jobs", str(jobs), "-d", url, "-m", second])
        rows.append((f"{n:,} SQLite files", jobs) + noop + apply)
        print(f"many: sqlite --jobs {jobs}: {rows[-1]}", file=sys.stderr)
        subprocess.run(["sh", "-c", f"for f in {files}/*.db; do : > $f; done"], check=True)
    dbs = [f"many_{i:03d}" for i in range(100)]
    for jobs in (1, 4, 16):
        for db in dbs:
            pg.create(db)
        argv = [OURS, "up", "--jobs", str(jobs)] + [a for db in dbs for a in ("-d", pg.url(db))]
        apply = timed(argv + ["-m", second])
        noop = timed(argv + ["-m", second])
        rows.append(("100 PostgreSQL databases", jobs) + noop + apply)
        print(f"many: postgres --jobs {jobs}: {rows[-1]}", file=sys.stderr)
    return rows


def main():
    sqlite_n = calibrate_sqlite()
    pg = bench.Postgres()
    try:
        reps = replicas(pg, sqlite_n)
        crowd = many(pg)
        gaps = db_wait(pg)
    finally:
        pg.stop()
    lines = ["# Rollout: replicas, a late database, many databases", "",
             f"Measured {datetime.date.today()} on {CPUS} CPUs; medians of {ROUNDS} rounds.", "",
             "Replicas started together on a fresh database whose first migration takes about 1 s:", "",
             "| setting | runners | last one done | × one alone (target ≤ 1.15×) |", "|---|---:|---:|---:|"]
    verdicts = []
    alone = {label: t for label, n, t in reps if n == 1}
    for label, n, t in reps:
        x = t / alone[label]
        lines.append(f"| {label} | {n} | {t * 1000:.0f} ms | {x:.2f}× |")
        if n > 1:
            verdicts.append((f"{label}, {n} runners ≤ 1.15× one", x <= 1.15))
    lines += ["", "PostgreSQL started 0.5-3 s after `up --wait 30s`: from the server's \"ready to accept "
              "connections\" to our first applied migration (target ≤ 250 ms):", "",
              "| rounds | median | max |", "|---:|---:|---:|",
              f"| {len(gaps)} | {statistics.median(gaps) * 1000:.0f} ms | {max(gaps) * 1000:.0f} ms |", ""]
    verdicts.append(("database up: first migration within 250 ms", max(gaps) <= 0.25))
    lines += ["Many databases (one run each; time and peak RSS):", "",
              "| databases | --jobs | no-op | peak RSS | one new migration each | peak RSS |",
              "|---|---:|---:|---:|---:|---:|"]
    for what, jobs, ns, nk, a, ak in crowd:
        lines.append(f"| {what} | {jobs} | {ns:.2f} s | {nk / 1024:.1f} MiB | {a:.2f} s | {ak / 1024:.1f} MiB |")
    lines += ["", "| target | |", "|---|---|"] + [f"| {t} | {'met' if ok else '**missed**'} |" for t, ok in verdicts]
    text = "\n".join(lines) + "\n"
    out = os.path.join(bench.ROOT, "bench", "results", "rollout-quick.md" if bench.QUICK else "rollout.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    sys.exit(0 if all(ok for _, ok in verdicts) else 1)


if __name__ == "__main__":
    main()
