#!/usr/bin/env python3
"""Peak memory and time of a no-op start whose folder holds a large file, ours alone, on SQLite.

A folder of 200 small migrations and one 100 MB seed migration (a million INSERT lines), all
recorded as applied (`baseline`): the start reads every file's checksum and layout as it
streams past, and the text of none. Figures: peak RSS by /usr/bin/time (the largest of a few
runs), median time by hyperfine; the same folder without the seed file for reference. A binary
given as the first argument is measured too (an older build, to compare).

Started by bench/run.sh; writes bench/results/memory.md and prints it.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its hyperfine, peak_rss, migrations and WORK)

SEED_MB = 100


def folder(with_seed):
    d = os.path.join(bench.WORK, "memory-seed" if with_seed else "memory-small")
    if os.path.isdir(d):
        return d
    os.makedirs(d)
    for i in range(1, 201):
        with open(os.path.join(d, f"{i:03d}_m.sql"), "w") as f:
            f.write(bench.body(i))
    if with_seed:
        line = "INSERT INTO seed (id, note) VALUES (1, 'a seed row with some text to make it long enough for the figure');\n"
        with open(os.path.join(d, "999_seed.sql"), "w") as f:
            f.write("CREATE TABLE seed (id INTEGER, note TEXT);\n")
            for _ in range(SEED_MB * 1024 * 1024 // len(line)):
                f.write(line)
    return d


def measure(binary, d):
    db = d + ".db"
    for p in (db, db + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    # An empty file is an empty database (baseline never creates one): every migration is
    # recorded as applied without running.
    open(db, "w").close()
    subprocess.run([binary, "baseline", "-d", f"sqlite:{db}", "-m", d], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    argv = [binary, "-d", f"sqlite:{db}", "-m", d, "--", "true"]
    return bench.hyperfine(argv, 10 if bench.QUICK else 40), bench.peak_rss(argv)


def main():
    binaries = [("ours", bench.OURS)] + [(f"given: {p}", p) for p in sys.argv[1:] if not p.startswith("--")]
    small, seed = folder(False), folder(True)
    size = sum(os.path.getsize(os.path.join(seed, f)) for f in os.listdir(seed))
    rows = []
    for name, binary in binaries:
        for label, d in (("200 migrations", small), (f"200 migrations + a {SEED_MB} MB seed file", seed)):
            t, rss = measure(binary, d)
            rows.append(f"| {name} | {label} | {bench.ms(t)} | {bench.mib(rss)} |")
    out = [
        f"Measured {subprocess.run(['date', '-u', '+%Y-%m-%d'], capture_output=True, text=True).stdout.strip()} "
        f"on {os.cpu_count()} CPUs; the seed folder holds {size / 1048576:.0f} MiB; every migration "
        "recorded as applied, so the start has nothing to do and execs `true`.",
        "",
        "| binary | folder | no-op start | peak RSS |",
        "|---|---|---:|---:|",
        *rows,
        "",
        "| target | |",
        "|---|---|",
    ]
    ours_seed = rows[1]
    rss = float(ours_seed.split("|")[4].strip().split()[0])
    out.append(f"| a no-op start with a {SEED_MB} MB file under 16 MiB RSS | {'met' if rss < 16 else '**missed**'} |")
    text = "\n".join(out) + "\n"
    results = os.path.join(bench.ROOT, "bench", "results", "memory-quick.md" if bench.QUICK else "memory.md")
    with open(results, "w") as f:
        f.write(text)
    print(text)
    return 0 if rss < 16 else 1


if __name__ == "__main__":
    sys.exit(main())
