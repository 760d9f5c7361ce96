#!/usr/bin/python3
"""Deploy behind a long transaction (issue 24), and what `up` of 200 pending migrations costs.

Started by bench/run.sh, or alone: /usr/bin/python3 bench/long_transaction.py [--quick]
[--binary PATH] (PATH also from MIGRATE_BENCH_BINARY; default: the static musl build).
Needs psycopg 3 (Debian's python3-psycopg, in /usr/bin/python3: the script re-runs itself there
when the python3 it was started with has none), hyperfine, and dbmate in $BENCH_CACHE/dbmate
(bench/run.sh installs it; without it, dbmate's rows are left out).

  stall     On a throwaway PostgreSQL (bench.Postgres), a table `users` of 10,000 rows. A reader
            runs `SELECT count(*) FROM users` every 50 ms, each on its own (autocommit), and
            records each query's latency. A blocker (application_name "nightly-report") reads
            `users` in a transaction it keeps open for 8 s ± 0.5 s. 1 s after it opened, the deploy
            starts: `ALTER TABLE users ADD COLUMN email text;`, run by ours with the defaults
            (`up`, --ddl-lock-timeout 500ms, --ddl-retry-for 10m), by dbmate (`up`) and by
            `psql -v ON_ERROR_STOP=1 -f`. The stall is the longest reader query started between
            the deploy's start and the column's appearance (target for ours: lock timeout +
            100 ms); the catch-up is the time from the blocker's COMMIT (taken just before it is
            sent) to the column being visible in pg_attribute (polled every 5 ms on a connection
            of its own; target for ours: 1 s). Ours 5 rounds, the others 3 (--quick: 2 each),
            in a shuffled order, each on a fresh database.
  up 200    200 pending migrations (a CREATE TABLE and its index, or an ALTER TABLE ADD COLUMN
            on a table that was there before the run), median of interleaved single runs by
            hyperfine (wall time, and our process's CPU time); and a no-op start (everything
            applied, execs `true`), in alternating blocks of 5 runs. When the binary's
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
import json
import random
import re
import shlex
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
# Ours' catch-up depends on where the COMMIT falls in its retry cycle (a 500 ms wait, then a
# jittered pause): more rounds of ours than of the others, whose catch-up is immediate.
ROUNDS_OURS = 2 if QUICK else 5
ROWS = 10_000
READ_EVERY = 0.050
BLOCKER_OPEN = 8.0  # seconds the blocker's transaction stays open, give or take JITTER
# Where the COMMIT falls in ours' retry cycle decides its catch-up: a fixed 8 s would sample the
# same phase every round, so each round's blocker stays open 8 s ± 0.5 s (seeded).
JITTER = 0.5
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


JITTER_RNG = random.Random(8)


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

    hold = BLOCKER_OPEN + JITTER_RNG.uniform(-JITTER, JITTER)

    def blocker():
        blocker_conn.execute("SELECT count(*) FROM users").fetchone()
        seen["blocker_open"] = time.monotonic()
        opened.set()
        time.sleep(hold)
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
    for r in range(max(ROUNDS, ROUNDS_OURS)):
        due = [x for x in runners if r < (ROUNDS_OURS if x == "ours" else ROUNDS)]
        for runner in order.sample(due, len(due)):
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


def timed_once(argv, prepare, runs=1, warmup=0):
    """hyperfine's (wall, user + system) seconds of argv: medians over runs; None when it fails."""
    out = os.path.join(bench.WORK, "hf-lt.json")
    cmd = ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs), "--export-json", out]
    if prepare:
        cmd += ["--prepare", shlex.join(prepare)]
    r = subprocess.run(cmd + [shlex.join(argv)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        log(f"  failed: {shlex.join(argv)}\n    {r.stderr.strip()[-400:]}")
        return None
    with open(out) as f:
        res = json.load(f)["results"][0]
    return res["median"], res["user"] + res["system"]


def up_costs(pg):
    """{(what, lint): [(wall, cpu), ...]} of `up` with 200 pending (one per round) and of a no-op
    start (one entry: medians); lint is "default" and, when the binary has --lint, "off". Both
    variants run on the same database, emptied before each `up`, alternating in an order
    shuffled every round."""
    where = lint_flag()
    d = many_folder()
    variants = {"default": []}
    if where:
        variants["off"] = ["--lint", "off"]
    db = "up200"
    pg.create(db)
    prep = reset(pg, db)
    jobs, noops = {}, {}
    for name, extra in variants.items():
        pre = extra if where == "global" else []
        post = extra if where == "up" else []
        jobs[name] = [OURS] + pre + ["up"] + post + ["-d", pg.url(db), "-m", d]
        noops[name] = [OURS] + pre + ["-d", pg.url(db), "-m", d, "--", "true"]
    log(f"up 200: {UP_RUNS} rounds of {', '.join(variants)}" + ("" if where else " (this binary has no --lint)"))
    out = {("up", name): [] for name in variants}
    order = random.Random(200)
    for _ in range(UP_RUNS):
        for name in order.sample(list(variants), len(variants)):
            out[("up", name)].append(timed_once(jobs[name], prep))
    bench.ensure(jobs["default"], prepare=prep)
    # The no-op start too in alternating blocks of 5 runs (a block's median each).
    for name in variants:
        out[("noop", name)] = []
    for _ in range(max(1, NOOP_RUNS // 5)):
        for name in order.sample(list(variants), len(variants)):
            out[("noop", name)].append(timed_once(noops[name], None, runs=5, warmup=1))
    return where, out


# ---------------------------------------------------------------- report


def stamp(line):
    """The UTC time at the start of one of our log lines."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
    return datetime.datetime.fromisoformat(m.group(1)) if m else None


def ms(s):
    return "n/a" if s is None else f"{s * 1000:.0f} ms"


def med_max(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a", "n/a"
    return ms(statistics.median(values)), ms(max(values))


def report(results, where, costs, load):
    label = {"ours": "ours (defaults: lock timeout 500ms, retry for 10m)", "dbmate": "dbmate", "psql": "psql -f"}
    lines = ["# Deploy behind a long transaction", "",
             f"Measured {datetime.date.today()} on {os.cpu_count()} CPUs, PostgreSQL "
             f"{os.path.basename(os.path.dirname(bench.PG_BIN))}, `{os.path.basename(OURS)}` "
             f"({os.path.getsize(OURS):,} bytes), load average {load[0]:.2f} at the start and {load[1]:.2f} "
             f"at the end (1 min). `users` has {ROWS:,} rows; a reader runs "
             f"`SELECT count(*) FROM users` every {READ_EVERY * 1000:.0f} ms (autocommit); a blocker "
             f"(`nightly-report`) reads `users` and keeps its transaction open {BLOCKER_OPEN:.0f} s ± {JITTER} s "
             f"(a different point of ours' retry cycle each round); the deploy "
             f"(`{MIGRATION.strip()}`) starts {DEPLOY_AFTER:.0f} s after it opened, so about "
             f"{BLOCKER_OPEN - DEPLOY_AFTER:.0f} s before its COMMIT. {ROUNDS_OURS} rounds of ours, {ROUNDS} of each "
             "other runner, in a shuffled order, each on a fresh database.", "",
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
        gaps = []
        for r in ours:
            at = [stamp(l) for l in r["stderr"].splitlines() if "gave up waiting" in l]
            gaps += [(b - a).total_seconds() for a, b in zip(at, at[1:]) if a and b]
        lines += ["Ours' catch-up, round by round: " + ", ".join(ms(r["catch_up"]) for r in ours) +
                  ". It depends on where the COMMIT falls: during an attempt's wait the ALTER gets its lock at "
                  "once; during the pause before the next attempt (half to all of a pause that starts at 100 ms "
                  "and doubles up to 1 s) it waits for the pause's end.", ""]
        if gaps:
            lines += [f"Between two of ours' retry warnings (the next attempt's {ms(LOCK_TIMEOUT)} wait and the "
                      f"backoff before it), over all rounds: median {ms(statistics.median(gaps))}, "
                      f"{ms(min(gaps))} to {ms(max(gaps))}.", ""]
        lines += ["Ours' whole log of one round (stderr):", "", "```"]
        lines += [l[:700] for l in ex["stderr"].splitlines()] + ["```", ""]

    lines += ["## `up` with 200 pending migrations, and a no-op start", "",
              f"200 files on PostgreSQL (odd: a table and its index; even: a column on `base`, a table of 1,000 "
              f"rows that was there before the run), `up` on the database emptied before each run: {UP_RUNS} "
              f"single runs by hyperfine per variant, alternating in a shuffled order; the no-op start (all "
              f"applied, execs `true`): blocks of 5 hyperfine runs, {NOOP_RUNS} in all per variant, alternating. Wall time is mostly the server's; "
              f"CPU is ours alone (user + system of our process), which is where a linter's cost shows.", ""]

    def cell(what, name, i):
        vals = [v[i] for v in costs[(what, name)] if v is not None]
        if not vals or None in costs[(what, name)]:
            return None, "failed"
        med = statistics.median(vals)
        text = f"{med * 1000:.1f} ms"
        if len(vals) > 1:
            text += f" ({min(vals) * 1000:.0f}–{max(vals) * 1000:.0f})"
        return med, text

    names = ["default", "off"] if where else ["default"]
    def title(n, i):
        what = "wall" if i == 0 else "our CPU"
        if not where:
            return what
        return f"{what}, " + ("default (`--lint warn`)" if n == "default" else "`--lint off`")

    head = "| | " + " | ".join(title(n, i) for n in names for i in (0, 1))
    lines += [head + (" | the lint's cost, wall | the lint's cost, our CPU |" if where else " |"),
              "|---|" + "---:|" * (len(names) * 2 + (2 if where else 0))]
    for what, title in (("up", f"`up`, 200 pending (median, min–max of {UP_RUNS})"), ("noop", f"no-op start (median of {max(1, NOOP_RUNS // 5)} blocks of 5 runs)")):
        cells = {(n, i): cell(what, n, i) for n in names for i in (0, 1)}
        row = f"| {title} | " + " | ".join(cells[(n, i)][1] for n in names for i in (0, 1))
        if where:
            for i in (0, 1):
                on, off = cells[("default", i)][0], cells[("off", i)][0]
                row += " | " + ("n/a" if None in (on, off) else f"{(on - off) / off * 100:+.1f}%")
        lines.append(row + " |")
    if where:
        on, off = cell("up", "default", 0)[0], cell("up", "off", 0)[0]
        verdicts.append(("lint: up of 200 ≤ 5% slower than --lint off (wall, medians)",
                         None not in (on, off) and on <= 1.05 * off))
    else:
        lines += ["", "This binary's `--help` has no `--lint`: the lint's cost is not measured (its columns appear "
                  "when the binary has the flag; `--binary PATH` runs another build)."]
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
    load = [os.getloadavg()[0]]
    pg = bench.Postgres()
    try:
        results = deploys(pg)
        where, costs = up_costs(pg)
    finally:
        pg.stop()
    load.append(os.getloadavg()[0])
    text, verdicts = report(results, where, costs, load)
    out = os.path.join(bench.ROOT, "bench", "results", "long_transaction-quick.md" if QUICK else "long_transaction.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    log(f"long_transaction.py took {time.monotonic() - started:.0f} s")
    shutil.rmtree(bench.WORK, ignore_errors=True)
    sys.exit(0 if all(ok for _, ok in verdicts) else 1)


if __name__ == "__main__":
    main()
