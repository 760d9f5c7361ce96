#!/usr/bin/python3
"""Deploy behind a long transaction (issue 24), and what `up` of 200 pending migrations costs.

Started by bench/run.sh, or alone: /usr/bin/python3 bench/long_transaction.py [--quick]
[--binary PATH] (PATH also from MIGRATE_BENCH_BINARY; default: the static musl build).
Needs psycopg 3 (Debian's python3-psycopg, in /usr/bin/python3: the script re-runs itself there
when the python3 it was started with has none), hyperfine, and dbmate in $BENCH_CACHE/dbmate
(bench/run.sh installs it; without it, dbmate's rows say "not installed").

  stall     On a throwaway PostgreSQL (bench.Postgres), a table `users` of 10,000 rows. A reader
            runs `SELECT count(*) FROM users` every 50 ms, each on its own (autocommit), and
            records each query's latency. A blocker (application_name "nightly-report") reads
            `users` in a transaction it keeps open for 8 s. 1 s after it opened, the deploy
            starts: `ALTER TABLE users ADD COLUMN email text;`, run by ours with the defaults
            (`up`, --ddl-lock-timeout 500ms, --ddl-retry-for 10m), by dbmate (`up`) and by
            `psql -v ON_ERROR_STOP=1 -f`. The stall is the longest reader query started between
            the deploy's start and the column's appearance (target for ours: lock timeout +
            100 ms); the catch-up is the time from the blocker's COMMIT (taken just before it is
            sent) to the column being visible in pg_attribute (polled every 5 ms on a connection
            of its own; target for ours: 1 s). Each runner ROUNDS times, in a shuffled order.
  up 200    200 pending migrations (a CREATE TABLE and its index, or an ALTER TABLE ADD COLUMN
            on a table that was there before the run), median of interleaved single runs by
            hyperfine; and a no-op start (everything applied, execs `true`). When the binary's
            --help has --lint, the same with --lint off, and the lint's cost in per cent
            (target: up ≤ 5%, no-op unchanged).

Writes bench/results/long_transaction.md (--quick: long_transaction-quick.md) and prints it.
Exits 1 when a target is missed.
"""

import os
import sys

try:
    import psycopg
except ImportError:
    # Debian's psycopg 3 lives in the system Python; a pyenv or venv python3 may not see it.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("long_transaction.py needs psycopg 3: apt-get install python3-psycopg")

import datetime
import random
import re
import shutil
import statistics
import subprocess
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the throwaway PostgreSQL and the helpers)


def option(name, env):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return os.environ.get(env) or None


OURS = option("--binary", "MIGRATE_BENCH_BINARY") or bench.OURS
DBMATE = bench.DBMATE
PSQL = bench.PSQL
QUICK = bench.QUICK
ROUNDS = 2 if QUICK else 3
ROWS = 10_000
READ_EVERY = 0.050
BLOCKER_OPEN = 8.0  # seconds the blocker's transaction stays open
DEPLOY_AFTER = 1.0  # seconds after the blocker opened that the deploy starts
LOCK_TIMEOUT = 0.5  # ours' default --ddl-lock-timeout
MIGRATION = "ALTER TABLE users ADD COLUMN email text;\n"
RUNNERS = ["ours", "dbmate", "psql"]
UP_RUNS = 5 if QUICK else 9
NOOP_RUNS = 10 if QUICK else 30


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the deploy behind a blocker


def folders():
    """The one migration in each runner's form: {runner: path}."""
    base = os.path.join(bench.WORK, "long")
    bench.write(f"{base}/ours/001_users_email.sql", MIGRATION)
    bench.write(f"{base}/dbmate/20260101000001_users_email.sql", "-- migrate:up\n" + MIGRATION + "\n-- migrate:down\n")
    bench.write(f"{base}/psql/users_email.sql", MIGRATION)
    return {r: os.path.join(base, r) for r in RUNNERS}


def deploy_argv(runner, pg, db, dirs):
    if runner == "ours":
        return [OURS, "up", "-d", pg.url(db), "-m", dirs["ours"]]
    if runner == "dbmate":
        return [DBMATE, "--url", pg.url(db) + "?sslmode=disable", "--migrations-dir", dirs["dbmate"],
                "--no-dump-schema", "up"]
    return [PSQL, pg.url(db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", os.path.join(dirs["psql"], "users_email.sql")]


def connect(pg, db, app, autocommit=True):
    return psycopg.connect(pg.url(db), application_name=app, autocommit=autocommit)


def round_of(runner, pg, dirs, r):
    """One deploy behind the blocker: a dict of what was seen, times in seconds."""
    db = f"lt_{runner}_{r}"
    pg.create(db)
    with connect(pg, db, "bench-setup") as c:
        c.execute("CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL)")
        c.execute(f"INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, {ROWS}) i")
        c.execute("VACUUM ANALYZE users")

    stop = threading.Event()
    reads = []  # (started, seconds), monotonic
    seen = {}

    reader_conn = connect(pg, db, "bench-reader")
    poll_conn = connect(pg, db, "bench-poll")
    blocker_conn = connect(pg, db, "nightly-report", autocommit=False)

    def reader():
        tick = time.monotonic()
        while not stop.is_set():
            t0 = time.monotonic()
            reader_conn.execute("SELECT count(*) FROM users").fetchone()
            reads.append((t0, time.monotonic() - t0))
            tick += READ_EVERY
            # The next query on the next 50 ms tick; after a stalled one, at once (no burst).
            tick = max(tick, time.monotonic())
            time.sleep(max(0.0, tick - time.monotonic()))

    def blocker():
        blocker_conn.execute("SELECT count(*) FROM users").fetchone()
        seen["blocker_open"] = time.monotonic()
        opened.set()
        time.sleep(BLOCKER_OPEN)
        seen["commit"] = time.monotonic()
        blocker_conn.commit()

    def poll():
        q = ("SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
             "WHERE c.relname = 'users' AND a.attname = 'email' AND NOT a.attisdropped")
        while not stop.is_set():
            t = time.monotonic()
            if poll_conn.execute(q).fetchone()[0]:
                seen["applied"] = t
                return
            time.sleep(0.005)

    opened = threading.Event()
    threads = [threading.Thread(target=f, daemon=True) for f in (reader, blocker, poll)]
    threads[0].start()
    time.sleep(0.3)  # the reader's latency before anything is in the way
    threads[1].start()
    opened.wait(10)
    threads[2].start()
    time.sleep(max(0.0, seen["blocker_open"] + DEPLOY_AFTER - time.monotonic()))
    seen["deploy"] = time.monotonic()
    proc = subprocess.Popen(deploy_argv(runner, pg, db, dirs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=BLOCKER_OPEN + 20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\n(killed: no exit 20 s after the blocker's end)"
    seen["exit"] = time.monotonic()
    threads[1].join(BLOCKER_OPEN + 5)
    threads[2].join(5)
    time.sleep(0.2)
    stop.set()
    threads[0].join(10)
    for c in (reader_conn, poll_conn, blocker_conn):
        c.close()

    applied = seen.get("applied")
    end = applied if applied is not None else seen["exit"]
    before = [s for t0, s in reads if t0 < seen["blocker_open"]]
    during = [(t0, s) for t0, s in reads if seen["deploy"] <= t0 <= end]
    stalled = sum(s for _, s in during if s > 0.02)
    attempts = len(re.findall(r"gave up waiting for a lock", err))
    res = {
        "runner": runner, "rc": proc.returncode, "stderr": err, "stdout": out,
        "remaining": seen["commit"] - seen["deploy"],
        "stall": max((s for _, s in during), default=None),
        "baseline": statistics.median(before) if before else None,
        "catch_up": None if applied is None else applied - seen["commit"],
        "exit_after_commit": seen["exit"] - seen["commit"],
        "stalled_share": stalled / max(1e-9, end - seen["deploy"]),
        "reads_during": len(during),
        "window": end - seen["deploy"],
        "attempts": attempts,
        "names_blocker": "nightly-report" in err,
    }
    log(f"{runner} round {r}: rc {proc.returncode}, stall {ms(res['stall'])}, catch-up {ms(res['catch_up'])}, "
        f"exit {ms(res['exit_after_commit'])} after the commit, {attempts} retries logged, "
        f"readers stalled {res['stalled_share'] * 100:.0f}% of {res['window']:.2f} s")
    if proc.returncode != 0:
        log(f"  {runner} failed:\n{err[-2000:]}")
    return res


def deploys(pg):
    dirs = folders()
    runners = [r for r in RUNNERS if r != "dbmate" or DBMATE]
    order = random.Random(24)
    results = {r: [] for r in runners}
    for r in range(ROUNDS):
        for runner in order.sample(runners, len(runners)):
            results[runner].append(round_of(runner, pg, dirs, r))
    return results


# ---------------------------------------------------------------- up of 200, and the lint's cost


def lint_flag():
    """Where --lint goes, or None when this binary has none: before the subcommand when the
    entrypoint's --help lists it, else after `up` when `up --help` does."""
    top = subprocess.run([OURS, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    if re.search(r"--lint\b", top):
        return "global"
    up = subprocess.run([OURS, "up", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    if re.search(r"--lint\b", up):
        return "up"
    return None


def many_folder(n=200):
    """n small migrations: odd ones a table and its index, even ones a column on `base`, a table
    that was there before the run (so a linter has something to look at)."""
    d = os.path.join(bench.WORK, f"up{n}")
    for i in range(1, n + 1):
        if i % 2:
            text = (f"CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL);\n"
                    f"CREATE INDEX t{i}_name ON t{i} (name);\n")
        else:
            text = f"ALTER TABLE base ADD COLUMN c{i} text;\n"
        bench.write(f"{d}/{i:03d}_m{i}.sql", text)
    return d


def reset(pg, db):
    return [PSQL, pg.url(db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "DROP SCHEMA IF EXISTS public CASCADE",
            "-c", "CREATE SCHEMA public",
            "-c", "CREATE TABLE base (id bigint PRIMARY KEY); INSERT INTO base SELECT generate_series(1, 1000)",
            "-c", "CHECKPOINT"]


def up_costs(pg):
    """{(what, lint): seconds} of `up` with 200 pending and of a no-op start; lint is "default"
    and, when the binary has --lint, "off"."""
    where = lint_flag()
    d = many_folder()
    variants = {"default": []}
    if where:
        variants["off"] = ["--lint", "off"]
    jobs, noops = {}, {}
    for name, extra in variants.items():
        db = f"up200_lint_{name}"
        pg.create(db)
        pre = extra if where == "global" else []
        post = extra if where == "up" else []
        jobs[name] = ([OURS] + pre + ["up"] + post + ["-d", pg.url(db), "-m", d], reset(pg, db))
        noops[name] = [OURS] + pre + ["-d", pg.url(db), "-m", d, "--", "true"]
    log(f"up 200: {UP_RUNS} interleaved rounds of {', '.join(variants)}" + ("" if where else " (no --lint here)"))
    applied = bench.interleaved(jobs, UP_RUNS)
    out = {}
    for name in variants:
        out[("up", name)] = applied[name]
        argv, prep = jobs[name]
        bench.ensure(argv, prepare=prep)
        out[("noop", name)] = bench.hyperfine(noops[name], NOOP_RUNS, warmup=3)
    return where, out


# ---------------------------------------------------------------- report


def ms(s):
    return "n/a" if s is None else f"{s * 1000:.0f} ms"


def med_max(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a", "n/a"
    return ms(statistics.median(values)), ms(max(values))


def report(results, where, costs):
    label = {"ours": "ours (defaults: lock timeout 500ms, retry for 10m)", "dbmate": "dbmate", "psql": "psql -f"}
    lines = ["# Deploy behind a long transaction", "",
             f"Measured {datetime.date.today()} on {os.cpu_count()} CPUs, PostgreSQL "
             f"{os.path.basename(os.path.dirname(bench.PG_BIN))}, `{os.path.basename(OURS)}` "
             f"({os.path.getsize(OURS):,} bytes). `users` has {ROWS:,} rows; a reader runs "
             f"`SELECT count(*) FROM users` every {READ_EVERY * 1000:.0f} ms (autocommit); a blocker "
             f"(`nightly-report`) reads `users` and keeps its transaction open {BLOCKER_OPEN:.0f} s; the deploy "
             f"(`{MIGRATION.strip()}`) starts {DEPLOY_AFTER:.0f} s after it opened, so "
             f"{BLOCKER_OPEN - DEPLOY_AFTER:.0f} s before its COMMIT. {ROUNDS} rounds per runner, shuffled.", "",
             "- **stall**: the longest reader query started while the migration was pending (from the deploy's "
             "start to the column's appearance)",
             "- **catch-up**: from the blocker's COMMIT to the column visible in `pg_attribute` (polled every 5 ms)",
             "- **readers stalled**: the share of that time spent in reader queries slower than 20 ms",
             "- **retries**: the lock-timeout retries the runner logged", "",
             "| runner | stall, median | stall, max | catch-up, median | catch-up, max | exit after COMMIT, max "
             "| readers stalled | retries | log names the blocker | exit codes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    verdicts = []
    for runner, rs in results.items():
        sm, sx = med_max([r["stall"] for r in rs])
        cm, cx = med_max([r["catch_up"] for r in rs])
        _, ex = med_max([r["exit_after_commit"] for r in rs])
        share = statistics.median(r["stalled_share"] for r in rs)
        retries = "–" if runner != "ours" else "/".join(str(r["attempts"]) for r in rs)
        names = "–" if runner != "ours" else ("yes" if all(r["names_blocker"] for r in rs) else "**no**")
        codes = ", ".join(str(r["rc"]) for r in rs)
        lines.append(f"| {label[runner]} | {sm} | {sx} | {cm} | {cx} | {ex} | {share * 100:.0f}% | {retries} "
                     f"| {names} | {codes} |")
    base = [r["baseline"] for rs in results.values() for r in rs if r["baseline"] is not None]
    rem = [r["remaining"] for rs in results.values() for r in rs]
    lines += ["", f"A reader query with nothing in the way: {ms(statistics.median(base))} (median of the rounds' "
              f"medians). The blocker's remaining time at the deploy's start: {ms(min(rem))} to {ms(max(rem))}.", ""]
    ours = results.get("ours", [])
    stall_ok = bool(ours) and all(r["stall"] is not None and r["stall"] <= LOCK_TIMEOUT + 0.1 for r in ours)
    catch_ok = bool(ours) and all(r["catch_up"] is not None and r["catch_up"] <= 1.0 for r in ours)
    verdicts += [(f"ours: stall ≤ lock timeout + 100 ms ({ms(LOCK_TIMEOUT + 0.1)}), every round", stall_ok),
                 ("ours: catch-up ≤ 1 s, every round", catch_ok),
                 ("ours: exit 0 and the log names the blocker, every round",
                  bool(ours) and all(r["rc"] == 0 and r["names_blocker"] for r in ours))]
    ex = next((r for r in ours if r["attempts"]), None)
    if ex:
        warn = [l for l in ex["stderr"].splitlines() if "gave up waiting" in l]
        lines += ["A retry as ours logged it (the first of one round):", "", "```", warn[0][:600], "```", ""]

    lines += ["## `up` with 200 pending migrations, and a no-op start", "",
              f"200 files on PostgreSQL (odd: a table and its index; even: a column on a table that was there before "
              f"the run), `up` on an emptied schema: median of {UP_RUNS} interleaved single runs by hyperfine; "
              f"no-op start (all applied, execs `true`): median of {NOOP_RUNS} runs.", ""]
    if where:
        lines += ["| | default (`--lint warn`) | `--lint off` | the lint's cost |", "|---|---:|---:|---:|"]
        for what, title in (("up", "`up`, 200 pending"), ("noop", "no-op start")):
            on, off = costs[(what, "default")], costs[(what, "off")]
            cost = "n/a" if None in (on, off) else f"{(on - off) / off * 100:+.1f}%"
            lines.append(f"| {title} | {bench.ms(on)} | {bench.ms(off)} | {cost} |")
        up_on, up_off = costs[("up", "default")], costs[("up", "off")]
        verdicts.append(("lint: up of 200 ≤ 5% slower than --lint off",
                         None not in (up_on, up_off) and up_on <= 1.05 * up_off))
    else:
        lines += ["| | time |", "|---|---:|",
                  f"| `up`, 200 pending | {bench.ms(costs[('up', 'default')])} |",
                  f"| no-op start | {bench.ms(costs[('noop', 'default')])} |", "",
                  "This binary's `--help` has no `--lint`: the lint's cost is not measured (the row appears when "
                  "it has)."]
    lines += ["", "| target | |", "|---|---|"] + [f"| {t} | {'met' if ok else '**missed**'} |" for t, ok in verdicts]
    return "\n".join(lines) + "\n", verdicts


def main():
    for p in (OURS, PSQL):
        if not p or not os.path.exists(p):
            sys.exit(f"missing: {p}")
    if not shutil.which("hyperfine"):
        sys.exit("missing: hyperfine")
    if not DBMATE:
        log("dbmate not installed (bench/run.sh installs it): its rows are left out")
    started = time.monotonic()
    pg = bench.Postgres()
    try:
        results = deploys(pg)
        where, costs = up_costs(pg)
    finally:
        pg.stop()
    text, verdicts = report(results, where, costs)
    out = os.path.join(bench.ROOT, "bench", "results", "long_transaction-quick.md" if QUICK else "long_transaction.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    log(f"long_transaction.py took {time.monotonic() - started:.0f} s")
    shutil.rmtree(bench.WORK, ignore_errors=True)
    sys.exit(0 if all(ok for _, ok in verdicts) else 1)


if __name__ == "__main__":
    main()
