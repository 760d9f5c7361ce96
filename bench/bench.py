#!/usr/bin/env python3
"""Times migrate-entrypoint and the tools users would pick instead, as whole processes.

Started by bench/run.sh, which installs the tools first. Scenarios, on SQLite and on a throwaway
PostgreSQL (password authentication, scram-sha-256, over 127.0.0.1):

  no-op    200 migrations already applied, nothing pending (ours then execs `true`)
  apply    200 small migrations (a table, an index, a row) on an empty database
  memory   peak resident memory of each run (/usr/bin/time)
  floor    `true`, `sqlite3 db 'select 1'`, `psql URL -c 'select 1'`, and the plain client
           applying the same files, one transaction each

then, for ours alone, how no-op and apply grow with 10 to 5,000 migrations and 1 to 100 SQLite
databases. Writes bench/results/results.md and bench/results/scaling.png and prints the tables.
Exits 1 when a target of issue 7 is missed.
"""

import glob
import statistics
import json
import os
import platform
import random
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, "target/x86_64-unknown-linux-musl/release/migrate-entrypoint")
CACHE = os.environ.get("BENCH_CACHE", os.path.expanduser("~/.cache/migrate-entrypoint-bench"))
QUICK = "--quick" in sys.argv
RUNS_NOOP = 10 if QUICK else 40
RUNS_APPLY = 3 if QUICK else 11
PASSWORD = "bench-pw"
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
PSQL = os.path.join(PG_BIN, "psql")
SQLITE3 = shutil.which("sqlite3")
TIME = "/usr/bin/time"

WORK = tempfile.mkdtemp(prefix="migrate-bench-")


def sh(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# ---------------------------------------------------------------- PostgreSQL, throwaway


class Postgres:
    """A cluster of our own on a free 127.0.0.1 port; password (scram-sha-256) over TCP."""

    def __init__(self):
        self.dir = os.path.join(WORK, "pg")
        os.makedirs(self.dir)
        pw = os.path.join(WORK, "pgpass")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        self.as_user = []
        if os.geteuid() == 0:
            # initdb refuses root: the cluster belongs to the postgres user.
            shutil.chown(WORK, "postgres")
            for p in (self.dir, pw):
                shutil.chown(p, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        sh(self.as_user + [os.path.join(PG_BIN, "initdb"), "-D", self.dir, "-U", "bench", "-A", "scram-sha-256",
                           "--pwfile", pw, "--no-sync"])
        # max_locks_per_transaction: dropping a schema of 5,000 tables and their indexes locks each.
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} "
                "-c fsync=on -c max_locks_per_transaction=2048")
        sh(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.dir, "-w", "-o", opts, "-l",
                           os.path.join(self.dir, "log"), "start"])

    def url(self, db):
        return f"postgres://bench:{PASSWORD}@127.0.0.1:{self.port}/{db}"

    def admin(self, *sql):
        argv = [PSQL, self.url("postgres"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        for s in sql:
            argv += ["-c", s]
        return argv

    def create(self, db):
        subprocess.run(self.admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}"),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def reset(self, db):
        """The command that empties database `db` (a hyperfine --prepare). Not DROP/CREATE DATABASE:
        copying the template writes megabytes whose flushing would land in the timed run; the
        CHECKPOINT flushes what the drop wrote, for the same reason."""
        return [PSQL, self.url(db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "DROP SCHEMA IF EXISTS public CASCADE",
                "-c", "DROP SCHEMA IF EXISTS sqitch CASCADE", "-c", "CREATE SCHEMA public", "-c", "CHECKPOINT"]

    def connect_time(self, db):
        """pgbench's average time to open a connection (libpq, in a process already started)."""
        r = subprocess.run([os.path.join(PG_BIN, "pgbench"), "-n", "-C", "-T", "3", "-f", "/dev/stdin",
                            self.url(db)], input="select 1;\n", text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        for line in r.stdout.splitlines():
            if line.startswith("average connection time"):
                return float(line.split("=")[1].split()[0]) / 1000
        return None

    def stop(self):
        subprocess.run(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.dir, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- migrations in each tool's form


def body(i):
    return (f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT);\n"
            f"CREATE INDEX t{i}_name ON t{i} (name);\n"
            f"INSERT INTO t{i} (id, name, created_at) VALUES (1, 'row {i}', CURRENT_TIMESTAMP);\n")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def migrations(n):
    """Folders for n migrations in every tool's form; returns {tool: path}."""
    base = os.path.join(WORK, f"m{n}")
    if os.path.isdir(base):
        return {t: os.path.join(base, t) for t in os.listdir(base)}
    w = max(3, len(str(n)))
    plain = []
    plan = ["%syntax-version=1.0.0", "%project=bench", ""]
    for i in range(1, n + 1):
        b = body(i)
        write(f"{base}/ours/{i:0{w}d}_table_{i}.sql", b)
        write(f"{base}/sqlx/{i:0{w}d}_table_{i}.sql", b)
        write(f"{base}/refinery/V{i}__table_{i}.sql", b)
        write(f"{base}/yoyo/{i:0{w}d}_table_{i}.sql", b)
        write(f"{base}/dbmate/{i:0{w}d}_table_{i}.sql", "-- migrate:up\n" + b + "\n-- migrate:down\n")
        for engine in ("sqlite", "pg"):
            write(f"{base}/sqitch-{engine}/deploy/table_{i}.sql", "BEGIN;\n" + b + "COMMIT;\n")
        plan.append(f"table_{i} 2026-01-01T00:00:00Z Bench <bench@example.com> # table {i}")
        plain.append("BEGIN;\n" + b + "COMMIT;\n")
    write(f"{base}/plain/all.sql", "".join(plain))
    for engine, client in (("sqlite", SQLITE3), ("pg", PSQL)):
        d = f"{base}/sqitch-{engine}"
        write(f"{d}/sqitch.plan", "\n".join(plan) + "\n")
        write(f"{d}/sqitch.conf",
              f"[core]\n\tengine = {engine}\n\tplan_file = sqitch.plan\n\ttop_dir = .\n"
              f"[engine \"{engine}\"]\n\tclient = {client}\n[user]\n\tname = Bench\n\temail = bench@example.com\n")
    return migrations(n)


# ---------------------------------------------------------------- the tools


def tool_path(*parts):
    p = os.path.join(CACHE, *parts)
    return p if os.access(p, os.X_OK) else None


SQLX = tool_path("sqlx-cli", "bin", "sqlx")
REFINERY = tool_path("refinery_cli", "bin", "refinery")
YOYO = tool_path("yoyo", "bin", "yoyo")
DBMATE = tool_path("dbmate", "bin", "dbmate")
SQITCH = shutil.which("sqitch")


def sqlite_url(tool, path):
    return {"ours": f"sqlite:{path}", "sqlx": f"sqlite://{path}", "refinery": f"sqlite://{path}",
            "yoyo": f"sqlite:///{path}", "sqitch": f"db:sqlite:{path}", "dbmate": f"sqlite:{path}"}[tool]


def pg_url(tool, pg, db):
    u = pg.url(db)
    if tool == "yoyo":
        return u.replace("postgres://", "postgresql://", 1)
    if tool == "sqitch":
        return "db:pg" + u[len("postgres"):]
    if tool == "dbmate":
        # dbmate (lib/pq) requires TLS unless told; this throwaway server has none.
        return u + "?sslmode=disable"
    return u


def command(tool, url, dirs, noop):
    """argv of one (installed) tool migrating `url` from its folder."""
    if tool == "ours":
        argv = [OURS, "-d", url, "-m", dirs["ours"]]
        # The no-op start is a container start: migrate, then exec the CMD.
        return argv + (["--", "true"] if noop else ["up"])
    if tool == "sqlx":
        return [SQLX, "migrate", "run", "--source", dirs["sqlx"], "--database-url", url]
    if tool == "refinery":
        return ["env", f"DB_URI={url}", REFINERY, "migrate", "-e", "DB_URI", "-p", dirs["refinery"]]
    if tool == "yoyo":
        return [YOYO, "apply", "--batch", "--no-config-file", "--database", url, dirs["yoyo"]]
    if tool == "sqitch":
        engine = "pg" if url.startswith("db:pg") else "sqlite"
        return [SQITCH, "--chdir", dirs[f"sqitch-{engine}"], "deploy", "--target", url]
    if tool == "dbmate":
        return [DBMATE, "--url", url, "--migrations-dir", dirs["dbmate"], "--no-dump-schema", "up"]
    raise ValueError(tool)


PEERS = ["dbmate", "sqlx", "refinery", "yoyo", "sqitch"]
INSTALLED = {"dbmate": DBMATE, "sqlx": SQLX, "refinery": REFINERY, "yoyo": YOYO, "sqitch": SQITCH}

# ---------------------------------------------------------------- measuring


def hyperfine(argv, runs, prepare=None, warmup=1):
    """Median seconds of argv over runs, or None when it fails."""
    out = os.path.join(WORK, "hf.json")
    cmd = ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
           "--export-json", out]
    if prepare:
        cmd += ["--prepare", shlex.join(prepare)]
    cmd.append(shlex.join(argv))
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(f"  failed: {shlex.join(argv)}\n    {r.stderr.strip()[-400:]}", file=sys.stderr)
        return None
    with open(out) as f:
        return json.load(f)["results"][0]["median"]


def peak_rss(argv, prepare=None, times=3):
    """The largest peak resident set over a few runs, in KiB."""
    best = 0
    for _ in range(times):
        if prepare:
            subprocess.run(prepare, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run([TIME, "-f", "%M"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode != 0:
            return None
        best = max(best, int(r.stderr.strip().splitlines()[-1]))
    return best


def reset_sqlite(path):
    # An empty file is an empty SQLite database; every tool is given one (sqlx will not create it).
    # sync: the last run's writes are flushed before, not during, the timed one.
    return ["sh", "-c", f"rm -f {shlex.quote(path)} {shlex.quote(path)}-journal && : > {shlex.quote(path)} && sync"]


def ensure(argv, prepare=None):
    if prepare:
        subprocess.run(prepare, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(f"  setup failed: {shlex.join(argv)}\n    {r.stdout.strip()[-400:]}", file=sys.stderr)
    return r.returncode == 0


# ---------------------------------------------------------------- scenarios


def interleaved(jobs, rounds):
    """Median apply seconds of each job {name: (argv, prepare)}, run one after another in each
    round, in an order shuffled every round (seeded, so a rerun runs the same orders). The
    server and the disk drift over minutes (catalog growth, checkpoints, autovacuum): timing
    each tool in a block of its own put that drift between tools (one run measured refinery
    552 ms and ours 722 ms; alternated, the same build and server measured ours 554 ms,
    refinery 657 ms). Shuffled rather than turned: turning keeps the cyclic order, so the same
    tool always ran right after sqitch's five seconds of DDL and the background work it leaves."""
    times = {name: [] for name in jobs}
    names = list(jobs)
    order = random.Random(7)
    for _ in range(rounds):
        for name in order.sample(names, len(names)):
            argv, prep = jobs[name]
            times[name].append(hyperfine(argv, 1, prepare=prep, warmup=0))
    return {name: None if None in t else statistics.median(t) for name, t in times.items()}


def plain_apply(backend, pg, dirs, name):
    """(argv, prepare) of the plain client applying the files of `dirs`, one transaction each,
    to a database of its own called `name`."""
    if backend == "sqlite":
        path = os.path.join(WORK, f"{name}.db")
        return [SQLITE3, path, f".read {dirs['plain']}/all.sql"], reset_sqlite(path)
    pg.create(name)
    return ([PSQL, pg.url(name), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", f"{dirs['plain']}/all.sql"],
            pg.reset(name))


def compare(backend, pg):
    """Rows (tool, noop s, noop KiB, apply s, apply KiB) on one backend, floors included."""
    dirs = migrations(200)
    rows = {}
    setups = {}
    for tool in ["ours"] + PEERS:
        if tool != "ours" and not INSTALLED[tool]:
            rows[tool] = None
            continue
        if backend == "sqlite":
            path = os.path.join(WORK, f"{tool}.db")
            url = sqlite_url(tool, path)
            prep = reset_sqlite(path)
        else:
            db = f"bench_{tool}"
            pg.create(db)
            url = pg_url(tool, pg, db)
            prep = pg.reset(db)
        setups[tool] = (command(tool, url, dirs, noop=False), command(tool, url, dirs, noop=True), prep)
    # The floors: the plain clients (select 1 on the database ours migrated; the same files).
    if backend == "sqlite":
        select = [SQLITE3, os.path.join(WORK, "ours.db"), "select 1"]
        plain = plain_apply(backend, pg, dirs, "plain")
        client = "sqlite3"
    else:
        select = [PSQL, pg.url("bench_ours"), "-X", "-q", "-c", "select 1"]
        plain = plain_apply(backend, pg, dirs, "bench_plain")
        client = "psql"

    print(f"{backend}: apply, {RUNS_APPLY} rounds of {', '.join(setups)}, {client}", file=sys.stderr)
    jobs = {tool: (apply, prep) for tool, (apply, _, prep) in setups.items()}
    jobs[client] = plain
    applied = interleaved(jobs, RUNS_APPLY)

    for tool, (apply, noop, prep) in setups.items():
        print(f"{backend}: {tool} no-op", file=sys.stderr)
        a_rss = peak_rss(apply, prepare=prep, times=1)
        n = n_rss = None
        if ensure(apply, prepare=prep):
            n = hyperfine(noop, RUNS_NOOP, warmup=3)
            n_rss = peak_rss(noop)
        rows[tool] = (n, n_rss, applied[tool], a_rss)
        if tool == "ours" and n is not None:
            # The same no-op without the exec of the CMD, which the floors below do not pay.
            rows["ours, no CMD to exec (`up`)"] = (hyperfine(apply, RUNS_NOOP, warmup=3), NA, NA, NA)
    if backend == "sqlite":
        # What a no-op start cannot avoid and `select 1` does not do: parse the schema of 200
        # tables and 200 indexes to read the tracking table.
        records = [SQLITE3, os.path.join(WORK, "ours.db"), "select count(*) from schema_migrations"]
        rows["sqlite3 reading the records"] = (hyperfine(records, RUNS_NOOP, warmup=3), peak_rss(records), NA, NA)
    else:
        # What no client can go below: opening a connection (pgbench -C, libpq, no process start).
        rows["connection alone (pgbench -C)"] = (pg.connect_time("bench_ours"), NA, NA, NA)
    rows[f"{client} (floor)"] = (hyperfine(select, RUNS_NOOP, warmup=3), peak_rss(select),
                                 applied[client], peak_rss(plain[0], prepare=plain[1], times=1))
    return rows


def scaling(pg):
    """Seconds of no-op and apply by migration count (ours, and the plain client applying the
    same files, to tell our growth from the database's), and by SQLite database count (ours).
    A by-count row: n, SQLite apply, SQLite no-op, PostgreSQL apply, PostgreSQL no-op, sqlite3
    apply, psql apply, then dbmate's SQLite apply, no-op, PostgreSQL apply, no-op (None when it
    is not installed)."""
    by_count = []
    for n in (10, 100, 1000, 5000):
        print(f"scaling: {n} migrations", file=sys.stderr)
        dirs = migrations(n)
        runs = 3 if n >= 1000 else 5
        row, plains, dbmate = [n], [], []
        for backend in ("sqlite", "postgres"):
            jobs = {}
            for tool in ("ours", "dbmate"):
                if tool == "dbmate" and not DBMATE:
                    continue
                if backend == "sqlite":
                    path = os.path.join(WORK, f"scale{n}-{tool}.db")
                    url, prep = sqlite_url(tool, path), reset_sqlite(path)
                else:
                    pg.create(f"scale{n}_{tool}")
                    url, prep = pg_url(tool, pg, f"scale{n}_{tool}"), pg.reset(f"scale{n}_{tool}")
                jobs[tool] = (command(tool, url, dirs, noop=False), prep, command(tool, url, dirs, noop=True))
            plain = plain_apply(backend, pg, dirs, f"scale{n}_plain")
            applied = interleaved({t: (a, p) for t, (a, p, _) in jobs.items()} | {"plain": plain}, runs)
            plains.append(applied["plain"])
            for tool, (apply, prep, noop) in jobs.items():
                ensure(apply, prepare=prep)
                times = [applied[tool], hyperfine(noop, RUNS_NOOP, warmup=2)]
                (row if tool == "ours" else dbmate).extend(times)
            if "dbmate" not in jobs:
                dbmate.extend([None, None])
        by_count.append(row + plains + dbmate)
    by_dbs = []
    dirs = migrations(100)
    for k in (1, 10, 100):
        print(f"scaling: {k} databases", file=sys.stderr)
        folder = os.path.join(WORK, f"dbs{k}")
        files = " ".join(shlex.quote(os.path.join(folder, f"app{i}.db")) for i in range(k))
        prep = ["sh", "-c", f"rm -rf {shlex.quote(folder)} && mkdir -p {shlex.quote(folder)} && touch {files}"]
        url = f"sqlite:{folder}/*.db"
        apply = command("ours", url, dirs, noop=False)
        a = hyperfine(apply, 3, prepare=prep, warmup=0)
        ensure(apply, prepare=prep)
        n = hyperfine(command("ours", url, dirs, noop=True), RUNS_NOOP, warmup=2)
        by_dbs.append((k, n, a))
    return by_count, by_dbs


# ---------------------------------------------------------------- report


NA = "n/a"


def ms(s):
    return "" if s is NA else "failed" if s is None else f"{s * 1000:.1f} ms"


def mib(k):
    return "" if k is NA else "failed" if k is None else f"{k / 1024:.1f} MiB"


def ratio(a, b):
    return "" if a in (None, NA) or b in (None, NA) else f"{a / b:.2f}×"


def size(path):
    return f"{os.path.getsize(path) / 1048576:.1f} MiB" if path and os.path.exists(path) else "n/a"


def report(results, by_count, by_dbs, true_s):
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"medians of {RUNS_NOOP} (no-op) and {RUNS_APPLY} (apply) runs by hyperfine; "
        f"`true` alone: {ms(true_s)}. Peers are timed without a CMD to exec (ours execs `true`).",
        "",
    ]
    verdicts = []
    for backend, rows in results.items():
        floor_name = [k for k in rows if k.endswith("(floor)")][0]
        floor = rows[floor_name]
        lines += [f"**{'SQLite' if backend == 'sqlite' else 'PostgreSQL'}** (200 migrations; "
                  f"floor: `{floor_name.split()[0]}` running `select 1`, and applying the same files "
                  "one transaction each)", "",
                  "| tool | no-op start | × floor | peak RSS | apply 200 | × floor | peak RSS |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for tool, r in rows.items():
            if r is None:
                lines.append(f"| {tool} | not installed | | | | | |")
                continue
            n, nk, a, ak = r
            lines.append(f"| {tool} | {ms(n)} | {ratio(n, floor[0])} | {mib(nk)} | {ms(a)} | "
                         f"{ratio(a, floor[2])} | {mib(ak)} |")
        lines.append("")
        ours = rows["ours"]
        limit = 1.5 if backend == "sqlite" else 0.5
        peers = [r for t, r in rows.items() if r and t in PEERS]
        verdicts += [
            (f"{backend}: no-op ≤ {limit}× {floor_name.split()[0]}",
             ours[0] is not None and floor[0] is not None and ours[0] <= limit * floor[0]),
            (f"{backend}: apply ≤ 1.05× the plain client",
             ours[2] is not None and floor[2] is not None and ours[2] <= 1.05 * floor[2]),
            (f"{backend}: apply faster than every peer",
             ours[2] is not None and all(p[2] is None or ours[2] < p[2] for p in peers)),
            (f"{backend}: no-op faster than every peer",
             ours[0] is not None and all(p[0] is None or ours[0] < p[0] for p in peers)),
            (f"{backend}: peak RSS < 8 MiB", all(k is not None and k < 8 * 1024 for k in (ours[1], ours[3]))),
        ]
    verdicts.append(("static binary < 5 MiB", os.path.getsize(OURS) < 5 * 1048576))
    lines += ["Binary sizes: " + ", ".join(
        f"{name} {size(p)}" for name, p in
        (("ours (static, musl)", OURS), ("dbmate", DBMATE), ("sqlx", SQLX), ("refinery", REFINERY))) +
              "; yoyo and sqitch are Python and Perl programs.", ""]
    lines += ["| target | |", "|---|---|"] + [f"| {t} | {'met' if ok else '**missed**'} |" for t, ok in verdicts]
    if by_count:
        lines += ["", "Scaling (one database; ours, and the plain client applying the same files):", "",
                  "| migrations | SQLite apply | `sqlite3` apply | SQLite no-op | PostgreSQL apply | `psql` apply "
                  "| PostgreSQL no-op |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r[0]} | " + " | ".join(ms(r[i]) for i in (1, 5, 2, 3, 6, 4)) + " |" for r in by_count]
        lines += ["", "dbmate at the same counts (its SQLite apply and no-op, PostgreSQL apply and no-op):", "",
                  "| migrations | SQLite apply | SQLite no-op | PostgreSQL apply | PostgreSQL no-op |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {r[0]} | " + " | ".join(ms(r[i]) for i in (7, 8, 9, 10)) + " |" for r in by_count]
        lines += ["", "| SQLite databases × 100 migrations | apply | no-op |", "|---:|---:|---:|"]
        lines += [f"| {k} | {ms(a)} | {ms(n)} |" for k, n, a in by_dbs]
    return "\n".join(lines) + "\n", verdicts


def plot(by_count, by_dbs, out):
    data = os.path.join(WORK, "scaling.dat")
    with open(data, "w") as f:
        for r in by_count:
            f.write(" ".join(str(x if x is not None else "NaN") for x in r) + "\n")
    data2 = os.path.join(WORK, "dbs.dat")
    with open(data2, "w") as f:
        for k, n, a in by_dbs:
            f.write(f"{k} {a if a is not None else 'NaN'} {n if n is not None else 'NaN'}\n")
    script = f"""
set terminal pngcairo size 1000,420 font ",10"
set output "{out}"
set multiplot layout 1,2
set logscale xy
set grid
set key top left
set xlabel "migrations"
set ylabel "seconds (median)"
set title "one database"
plot "{data}" u 1:2 w lp t "SQLite apply", "" u 1:3 w lp t "SQLite no-op", \\
     "" u 1:4 w lp t "PostgreSQL apply", "" u 1:5 w lp t "PostgreSQL no-op", \\
     "" u 1:6 w l dt 3 lc 1 t "sqlite3 apply (same files)", "" u 1:7 w l dt 3 lc 3 t "psql apply (same files)", \\
     "" u 1:($1*0.001) w l dt 2 lc rgb "gray" t "linear (1 ms per migration)"
set xlabel "SQLite databases (100 migrations each)"
set title "many databases (--jobs = CPUs)"
plot "{data2}" u 1:2 w lp t "apply", "" u 1:3 w lp t "no-op"
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    for p in (OURS, SQLITE3, PSQL):
        if not p or not os.path.exists(p):
            sys.exit(f"missing: {p}")
    pg = Postgres()
    try:
        true_s = hyperfine(["true"], RUNS_NOOP, warmup=3)
        results = {"sqlite": compare("sqlite", None), "postgres": compare("postgres", pg)}
        by_count, by_dbs = ([], []) if QUICK else scaling(pg)
    finally:
        pg.stop()
    outdir = os.path.join(ROOT, "bench", "results")
    os.makedirs(outdir, exist_ok=True)
    text, verdicts = report(results, by_count, by_dbs, true_s)
    if by_count:
        plot(by_count, by_dbs, os.path.join(outdir, "scaling.png"))
    # A quick run does not replace the full results the README quotes.
    with open(os.path.join(outdir, "results-quick.md" if QUICK else "results.md"), "w") as f:
        f.write(text)
    print(text)
    shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(0 if all(ok for _, ok in verdicts) else 1)


if __name__ == "__main__":
    main()
