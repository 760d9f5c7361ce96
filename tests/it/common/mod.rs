//! Helpers for the end-to-end tests: the fixture (a migrations folder and a real database),
//! the built binary with a clean environment, and queries on the real database.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Instantiates a behaviour test for both backends: `both!(name, ...)` makes `name::sqlite` and
/// `name::postgres`, each calling `name(Kind::...)` of the module it is used in (which imports
/// `Kind`).
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Kind::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(super::Kind::Postgres)
            }
        }
    )*};
}

pub const BIN: &str = env!("CARGO_BIN_EXE_migrate-entrypoint");

/// The binary under test: the one cargo built, or the one `TEST_BINARY` names, run through
/// `TEST_BINARY_RUNNER` when that is set (`.ci/run` runs a set of these tests on the arm64
/// build with `TEST_BINARY_RUNNER=qemu-aarch64-static`).
pub fn binary() -> Command {
    let Some(bin) = std::env::var_os("TEST_BINARY") else {
        return Command::new(BIN);
    };
    assert!(
        Path::new(&bin).is_file(),
        "TEST_BINARY={} is not a file",
        Path::new(&bin).display()
    );
    match std::env::var_os("TEST_BINARY_RUNNER") {
        Some(runner) => {
            let mut c = Command::new(runner);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// A migrations folder and one real database: a SQLite file `dir/app.db`, or a PostgreSQL
/// database of the test's own. The one fixture of the end-to-end tests.
pub struct Case {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub migrations: PathBuf,
    /// The SQLite file (also there, unused, for a PostgreSQL case).
    pub db: PathBuf,
    /// The database's URL (password included).
    pub url: String,
    pub pg: Option<pg::Db>,
}

impl Case {
    /// A case on a SQLite file.
    pub fn sqlite() -> Case {
        Case::new(Kind::Sqlite)
    }

    /// A case of either kind, in a new temp folder.
    pub fn new(kind: Kind) -> Case {
        Case::in_dir(kind, tempfile::tempdir().unwrap())
    }

    /// A SQLite case on tmpfs when there is one (many commits; the disk's syncs are not under
    /// test).
    pub fn sqlite_on_tmpfs() -> Case {
        match tempfile::tempdir_in("/dev/shm") {
            Ok(dir) => Case::in_dir(Kind::Sqlite, dir),
            Err(_) => Case::sqlite(),
        }
    }

    fn in_dir(kind: Kind, dir: tempfile::TempDir) -> Case {
        let migrations = dir.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        let db = dir.path().join("app.db");
        let (url, pg) = match kind {
            Kind::Sqlite => (format!("sqlite:{}", db.display()), None),
            Kind::Postgres => {
                let pg = pg::server().new_db();
                (pg.url.clone(), Some(pg))
            }
        };
        Case {
            kind,
            dir,
            migrations,
            db,
            url,
            pg,
        }
    }

    /// Writes a migration file.
    pub fn write(&self, name: &str, sql: &str) -> PathBuf {
        let p = self.migrations.join(name);
        std::fs::write(&p, sql).unwrap();
        p
    }

    /// The binary with `-d` and `-m` pointing here (entrypoint mode: append `--` and CMD),
    /// and an environment free of our variables.
    pub fn cmd(&self) -> Command {
        let mut c = bare();
        c.arg("-d").arg(&self.url).arg("-m").arg(&self.migrations);
        c
    }

    /// The binary running `up` here.
    pub fn up(&self) -> Command {
        let mut c = bare();
        c.arg("up")
            .arg("-d")
            .arg(&self.url)
            .arg("-m")
            .arg(&self.migrations);
        c
    }

    /// Rows of a query on the SQLite file, each value as text ("NULL" for null).
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        query(&self.db, sql)
    }

    /// The first column of each row, as text; booleans as "1"/"0" on both backends.
    pub fn column(&self, sql: &str) -> Vec<String> {
        match &self.pg {
            None => self
                .query(sql)
                .into_iter()
                .map(|mut r| r.swap_remove(0))
                .collect(),
            Some(db) => db
                .column(sql)
                .into_iter()
                .map(|v| match v.as_str() {
                    "t" => "1".into(),
                    "f" => "0".into(),
                    _ => v,
                })
                .collect(),
        }
    }

    /// The single value of a query.
    pub fn value(&self, sql: &str) -> String {
        let v = self.column(sql);
        assert_eq!(v.len(), 1, "{sql}: {v:?}");
        v[0].clone()
    }

    /// Runs SQL on the database directly.
    pub fn execute(&self, sql: &str) {
        match &self.pg {
            None => rusqlite::Connection::open(&self.db)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Some(db) => db.client().batch_execute(sql).unwrap(),
        }
    }

    /// `(migration_name, success)` of every tracking row, in id order.
    pub fn records(&self) -> Vec<(String, bool)> {
        let names = self.column("SELECT migration_name FROM schema_migrations ORDER BY id");
        let ok = self.column("SELECT success FROM schema_migrations ORDER BY id");
        names
            .into_iter()
            .zip(ok)
            .map(|(n, s)| (n, s == "1"))
            .collect()
    }

    /// A table's columns, in order.
    pub fn columns(&self, table: &str) -> Vec<String> {
        match self.kind {
            Kind::Sqlite => self.column(&format!("SELECT name FROM pragma_table_info('{table}')")),
            Kind::Postgres => self.column(&format!(
                "SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' \
                 AND table_schema = current_schema() ORDER BY ordinal_position"
            )),
        }
    }

    pub fn has_table(&self, name: &str) -> bool {
        !self.columns(name).is_empty()
    }
}

/// Which backend a shared behaviour test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// The binary with no inherited configuration.
pub fn bare() -> Command {
    let mut c = binary();
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("MIGRATE")
            || k.starts_with("DATABASE_URL")
            || k.starts_with("MIGRATIONS_DIRS")
            || k == "NO_COLOR"
        {
            c.env_remove(&k);
        }
    }
    c
}

pub fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    // Read-write (never create): a file left by a killed run has a hot journal, which a reader
    // must be able to roll back.
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                    rusqlite::types::Value::Null => "NULL".to_string(),
                    rusqlite::types::Value::Integer(v) => v.to_string(),
                    rusqlite::types::Value::Real(v) => v.to_string(),
                    rusqlite::types::Value::Text(v) => v,
                    rusqlite::types::Value::Blob(v) => format!("{v:?}"),
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every password the tests give the binary. No output of any run may contain one.
pub const SECRETS: [&str; 5] = [
    pg::PASSWORD,
    "hunter2",
    "not-the-password",
    "p@ss/w:rd",
    "p%40ss%2Fw%3Ard",
];

/// Panics when a password shows in output.
pub fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(
            !text.contains(s),
            "a password ({s}) leaked into {what}:\n{text}"
        );
    }
}

/// How long one run of the binary may take in a test before it counts as hung.
const HANG: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs a command, returning (exit code, stdout, stderr). A run that hangs is killed and
/// fails the test, rather than holding up the whole suite.
pub fn run(mut c: Command) -> (i32, String, String) {
    use std::process::Stdio;
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(HANG).is_err() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            return true;
        }
        false
    });
    let out = child.wait_with_output().unwrap();
    let _ = done_tx.send(());
    assert!(
        !watchdog.join().unwrap(),
        "hung for {HANG:?} and was killed: {c:?}"
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &stderr);
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Polls `f` until it holds; fails the test when `secs` seconds pass first.
pub fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether some migrate-entrypoint holds the runner lock of a SQLite file (a flock on it).
pub fn sqlite_lock_held(db: &Path) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    std::fs::File::open(db).is_ok_and(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err())
}

/// Whether this process runs as root (file modes do not stop root).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Prefixes a command so it runs as `nobody` when the tests run as root (so file modes bite).
pub fn unprivileged(mut c: Command) -> Command {
    if !is_root() {
        return c;
    }
    let mut s = Command::new("setpriv");
    s.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
    s.arg(c.get_program());
    s.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => s.env(k, v),
            None => s.env_remove(k),
        };
    }
    if let Some(d) = c.get_current_dir() {
        s.current_dir(d);
    }
    c = s;
    c
}

pub mod app_schema;
pub mod pg;
pub mod real_folders;

/// A run of the binary in the background, its stdout and stderr going to files the test can
/// watch.
pub struct Running {
    child: std::process::Child,
    stdout: tempfile::NamedTempFile,
    stderr: tempfile::NamedTempFile,
}

impl Running {
    /// Starts `c` (stdout and stderr to files).
    pub fn start(mut c: Command) -> Running {
        let stdout = tempfile::NamedTempFile::new().unwrap();
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let child = c
            .stdout(stdout.reopen().unwrap())
            .stderr(stderr.reopen().unwrap())
            .spawn()
            .unwrap();
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// What it has written to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.stdout.path()).unwrap_or_default()
    }

    /// Waits until stdout holds `needle` (at most 30 seconds).
    pub fn wait_for_stdout(&self, needle: &str) {
        wait_for(30, &format!("{needle:?} on stdout"), || {
            self.stdout().contains(needle)
        });
    }

    /// Waits until CMD says it is ready (a line `ready` on stdout).
    pub fn wait_for_stdout_line(&self) {
        self.wait_for_stdout("ready\n");
    }

    /// What it has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    /// Waits until stderr holds `needle` (at most `secs` seconds).
    pub fn wait_for_log(&self, secs: u64, needle: &str) {
        wait_for(secs, &format!("{needle:?} in the log"), || {
            self.stderr().contains(needle)
        });
    }

    /// Sends a signal.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// Waits for it to end: (exit code, stdout, stderr); a run that hangs fails the test.
    pub fn finish(mut self) -> (i32, String, String) {
        let deadline = std::time::Instant::now() + HANG;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hung for {HANG:?}: {}", self.stderr());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let out = self.stdout();
        let err = self.stderr();
        assert_no_secret("stdout", &out);
        assert_no_secret("stderr", &err);
        (status.code().unwrap_or(-1), out, err)
    }
}
