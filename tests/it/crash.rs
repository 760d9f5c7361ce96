//! Crash consistency: runs killed with SIGKILL at random moments (before, during and after a
//! migration's statements and its record), 50 kills per backend. After every kill: no success
//! row without its change, no change without its success row, nothing applied twice. At the
//! end, a run completes every migration exactly once.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Case, Kind, run};

const MIGRATIONS: usize = 40;
const KILLS: usize = 50;

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn new_case(kind: Kind) -> Case {
    let c = Case::new(kind);
    let slow = match kind {
        Kind::Sqlite => {
            "WITH RECURSIVE w(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM w WHERE x < 150000) SELECT count(*) FROM w;"
        }
        Kind::Postgres => "SELECT pg_sleep(0.01);",
    };
    c.write(
        "001_counter.sql",
        "CREATE TABLE counter (n INTEGER NOT NULL);",
    );
    for i in 2..=MIGRATIONS {
        // The change is made in two steps with work between them, so kills land inside.
        c.write(
            &format!("{i:03}_step.sql"),
            &format!(
                "CREATE TABLE t{i} (id INTEGER);\n{slow}\nINSERT INTO counter VALUES ({i});\n"
            ),
        );
    }
    c
}

/// The invariants; returns how many migrations are applied.
fn check(c: &Case, seed: u64) -> usize {
    if c.kind == Kind::Sqlite && !c.db.exists() {
        // Killed before the file was created: nothing can have happened yet.
        return 0;
    }
    let tables: Vec<String> = match c.kind {
        Kind::Sqlite => c.column("SELECT name FROM sqlite_master WHERE type = 'table'"),
        Kind::Postgres => c.column(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
        ),
    };
    let has = |t: &str| tables.iter().any(|x| x == t);
    if !has("schema_migrations") {
        assert!(!has("counter"), "seed {seed}: a change without its record");
        return 0;
    }
    let rows = c.column("SELECT migration_name || ' ' || CASE WHEN success THEN 'ok' ELSE 'failed' END FROM schema_migrations");
    let failed: Vec<&String> = rows.iter().filter(|r| r.ends_with(" failed")).collect();
    assert!(
        failed.is_empty(),
        "seed {seed}: a kill is not a failure: {failed:?}"
    );
    let applied: Vec<String> = rows
        .iter()
        .filter_map(|r| r.strip_suffix(" ok").map(str::to_string))
        .collect();
    assert_eq!(
        has("counter"),
        applied.contains(&"001_counter.sql".to_string()),
        "seed {seed}: 001"
    );
    if !has("counter") {
        return applied.len();
    }
    let counted: Vec<String> = c.column("SELECT n FROM counter ORDER BY n");
    for i in 2..=MIGRATIONS {
        let name = format!("{i:03}_step.sql");
        let times = counted.iter().filter(|n| **n == i.to_string()).count();
        let recorded = applied.contains(&name);
        assert!(times <= 1, "seed {seed}: {name} ran {times} times");
        assert_eq!(
            recorded,
            times == 1,
            "seed {seed}: {name}: recorded {recorded}, change there {}",
            times == 1
        );
        assert_eq!(
            recorded,
            has(&format!("t{i}")),
            "seed {seed}: {name}: half applied"
        );
    }
    applied.len()
}

fn crash(kind: Kind) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("{kind:?}: seed {seed}");
    let mut rng = Rng(seed);
    let mut kills = 0;
    let mut progressed = 0;
    let mut cases = 0;
    while kills < KILLS {
        let c = new_case(kind);
        cases += 1;
        let mut before = 0;
        while kills < KILLS {
            let child: Child = c
                .up()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(rng.next(120)));
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait_with_output();
            kills += 1;
            let now = check(&c, seed);
            if now > before {
                progressed += 1;
            }
            before = now;
            if now == MIGRATIONS {
                break;
            }
        }
        // Whatever the kills left, one run completes it, each migration exactly once.
        let started = Instant::now();
        let (code, _, err) = run(c.up());
        assert_eq!(code, 0, "seed {seed}: {err}");
        eprintln!("seed {seed}: completed in {:?}", started.elapsed());
        assert_eq!(check(&c, seed), MIGRATIONS, "seed {seed}");
    }
    eprintln!(
        "{kind:?}: {kills} kills over {cases} databases, {progressed} of them after some progress; nothing lost or doubled"
    );
}

#[test]
fn sigkill_at_random_points_on_sqlite() {
    crash(Kind::Sqlite);
}

#[test]
fn sigkill_at_random_points_on_postgres() {
    crash(Kind::Postgres);
}
