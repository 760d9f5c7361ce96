#!/usr/bin/env python3
"""1,000 SQLite databases migrated by 1, 2 and 4 shards started at once (`--shard K/N`, each
with `--jobs 1`), as the pods of a Kubernetes Indexed Job would: the wall time from the first
start to the last end, and how the databases were split. On this 2-CPU machine more than two
shards share the CPUs; across machines each shard has its own. Medians of 3 runs on fresh
files. Writes bench/results/shards.md and prints it.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    ROOT, "target/x86_64-unknown-linux-musl/release/migrate-entrypoint")
DBS = 1000
MIGRATIONS = 10
RUNS = 3


def main():
    work = tempfile.mkdtemp(prefix="migrate-shards-")
    folder = os.path.join(work, "migrations")
    os.makedirs(folder)
    for i in range(1, MIGRATIONS + 1):
        with open(os.path.join(folder, f"{i:03d}_t{i}.sql"), "w") as f:
            f.write(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT);\n"
                    f"INSERT INTO t{i} (name) VALUES ('row');\n")
    data = os.path.join(work, "data")
    rows = []
    for shards in (1, 2, 4):
        times, splits = [], []
        for _ in range(RUNS):
            subprocess.run(["rm", "-rf", data], check=True)
            os.makedirs(data)
            for i in range(DBS):
                open(os.path.join(data, f"tenant{i:04d}.db"), "w").close()
            url = f"sqlite://{data}/*.db"
            started = time.time()
            runs = [subprocess.Popen([BIN, "up", "--jobs", "1", "--shard", f"{k}/{shards}", "-d", url,
                                      "-m", folder], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True) for k in range(shards)]
            counts = []
            for r in runs:
                err = r.communicate()[1]
                if r.returncode != 0:
                    sys.exit(f"shard failed:\n{err[-2000:]}")
                counts.append(sum(1 for line in err.splitlines()
                                  if f"applied {MIGRATIONS}, failed 0, pending 0" in line))
            times.append(time.time() - started)
            splits.append(counts)
        assert all(sum(c) == DBS for c in splits), splits
        rows.append(f"| {shards} | {statistics.median(times):.2f} s | {' / '.join(map(str, splits[0]))} |")
    out = "\n".join([
        f"{DBS} SQLite databases x {MIGRATIONS} migrations, each shard `up --jobs 1`, all shards "
        f"started at once; medians of {RUNS}; {os.cpu_count()} CPUs.",
        "",
        "| shards | wall time | databases per shard |",
        "|---:|---:|---|",
        *rows,
    ]) + "\n"
    with open(os.path.join(ROOT, "bench", "results", "shards.md"), "w") as f:
        f.write(out)
    print(out)


if __name__ == "__main__":
    main()
