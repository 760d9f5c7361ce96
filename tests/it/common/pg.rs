//! A real, throwaway PostgreSQL server for the tests: initdb + pg_ctl from the installed server
//! binaries, on a free 127.0.0.1 port in a temp dir (as the `postgres` user when the tests run
//! as root), with TLS from a certificate authority made here. Or the server of
//! `TEST_DATABASE_URL` when that is set (then TLS tests use what that server offers).
//!
//! Each test gets a database of its own. Servers started here are stopped when the test
//! process exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "Pg-Test-S3cret";

/// A running server.
pub struct Server {
    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT` (no database, no parameters).
    pub base: String,
    /// The CA that signed the server's certificate (`None` without TLS or for an outside server).
    pub ca: Option<PathBuf>,
    /// The data directory and pg_ctl, when this process started the server.
    cluster: Option<Cluster>,
}

struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    uid: Option<(u32, u32)>,
    options: String,
}

static MAIN: OnceLock<Server> = OnceLock::new();
static PLAIN: OnceLock<Server> = OnceLock::new();
/// (pg_ctl, data directory, user) of each server this process started.
type Started = (PathBuf, PathBuf, Option<(u32, u32)>);
static STARTED: Mutex<Vec<Started>> = Mutex::new(Vec::new());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The shared server (TLS on).
pub fn server() -> &'static Server {
    MAIN.get_or_init(|| match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Server {
            base: url
                .split('?')
                .next()
                .unwrap()
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(url),
            ca: None,
            cluster: None,
        },
        _ => start(true),
    })
}

/// A second server that offers no TLS.
pub fn plain_server() -> &'static Server {
    PLAIN.get_or_init(|| start(false))
}

/// A server of the test's own, which the test may stop and start.
pub fn own_server() -> Server {
    start(false)
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = glob::glob("/usr/lib/postgresql/*/bin/initdb")
        .unwrap()
        .filter_map(Result::ok)
        .map(|p| p.parent().unwrap().to_path_buf())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): install Debian's \
             `postgresql` package (apt-get install postgresql), or set TEST_DATABASE_URL"
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (uid, gid) to run the server as when we are root.
fn server_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .or_else(|| nix::unistd::User::from_uid(65534.into()).ok().flatten())
        .expect("a postgres or nobody user to run the test server as");
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

fn as_user(c: &mut Command, uid: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((u, g)) = uid {
        c.uid(u).gid(g);
    }
}

fn chown(path: &Path, uid: Option<(u32, u32)>) {
    if let Some((u, g)) = uid {
        std::os::unix::fs::chown(path, Some(u), Some(g)).unwrap();
    }
}

fn start(tls: bool) -> Server {
    let bin = bin_dir();
    let uid = server_user();
    let dir = tempfile::Builder::new()
        .prefix("me-pg-")
        .tempdir()
        .unwrap()
        .keep();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&dir, uid);
    let data = dir.join("data");
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, PASSWORD).unwrap();
    chown(&pwfile, uid);

    let mut c = Command::new(bin.join("initdb"));
    c.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-sync",
    ]);
    c.arg(format!("--pwfile={}", pwfile.display()));
    as_user(&mut c, uid);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let mut options = format!(
        "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} -c fsync=off \
         -c full_page_writes=off -c synchronous_commit=off -c max_connections=200",
        dir.display()
    );
    let mut ca_path = None;
    if tls {
        let (ca, cert, key) = certificates();
        let ca_file = dir.join("ca.crt");
        std::fs::write(&ca_file, ca).unwrap();
        for (name, text) in [("server.crt", cert), ("server.key", key)] {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            chown(&p, uid);
        }
        options.push_str(&format!(
            " -c ssl=on -c ssl_cert_file={}/server.crt -c ssl_key_file={}/server.key",
            dir.display(),
            dir.display()
        ));
        ca_path = Some(ca_file);
    }
    let cluster = Cluster {
        bin,
        data: data.clone(),
        log: dir.join("log"),
        uid,
        options,
    };
    cluster.start();
    register_stop(&cluster);
    Server {
        base: format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}"),
        ca: ca_path,
        cluster: Some(cluster),
    }
}

/// A CA, and a server certificate it signed for the name `localhost` only (so verify-full to
/// 127.0.0.1 fails on the name while verify-ca passes).
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "migrate-entrypoint test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

impl Cluster {
    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(args);
        as_user(&mut c, self.uid);
        c.output().unwrap()
    }

    fn start(&self) {
        let out = self.pg_ctl(&["-w", "-t", "60", "-o", &self.options, "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Server {
    /// The URL of a database on this server, with extra parameters.
    pub fn url_with(&self, db: &str, params: &str) -> String {
        if params.is_empty() {
            format!("{}/{db}", self.base)
        } else {
            format!("{}/{db}?{params}", self.base)
        }
    }

    /// A new, empty database of the test's own (plain connections).
    pub fn new_db(&self) -> Db {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t_{}_{n}", std::process::id());
        let mut admin = self.admin();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        Db {
            url: self.url_with(&name, "sslmode=disable"),
            name,
        }
    }

    /// A superuser connection to the `postgres` database.
    pub fn admin(&self) -> postgres::Client {
        connect(&self.url_with("postgres", "sslmode=disable"))
    }

    /// Stops this test's own server (immediately, as a crash or restart would).
    pub fn stop(&self) {
        let c = self.cluster.as_ref().expect("a server of this test's own");
        let out = c.pg_ctl(&["-m", "immediate", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts this test's own server again.
    pub fn start(&self) {
        self.cluster
            .as_ref()
            .expect("a server of this test's own")
            .start();
    }
}

/// A database of one test.
pub struct Db {
    pub name: String,
    /// Its URL (password included, sslmode=disable).
    pub url: String,
}

impl Db {
    pub fn client(&self) -> postgres::Client {
        connect(&self.url)
    }

    /// The first column of every row of a query, as text ("NULL" for null).
    pub fn column(&self, sql: &str) -> Vec<String> {
        let mut c = self.client();
        c.simple_query(sql)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => Some(
                    r.get(0)
                        .map(str::to_string)
                        .unwrap_or_else(|| "NULL".into()),
                ),
                _ => None,
            })
            .collect()
    }

    pub fn value(&self, sql: &str) -> String {
        let v = self.column(sql);
        assert_eq!(v.len(), 1, "{sql}: {v:?}");
        v[0].clone()
    }
}

pub fn connect(url: &str) -> postgres::Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match postgres::Client::connect(url, postgres::NoTls) {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot connect to the test server: {e}"),
        }
    }
}

fn register_stop(c: &Cluster) {
    let mut list = STARTED.lock().unwrap();
    if list.is_empty() {
        // SAFETY: registers a plain function to run at process exit.
        unsafe { nix::libc::atexit(stop_all) };
    }
    list.push((c.bin.join("pg_ctl"), c.data.clone(), c.uid));
}

extern "C" fn stop_all() {
    let list = STARTED.lock().unwrap_or_else(|p| p.into_inner());
    for (pg_ctl, data, uid) in list.iter() {
        let mut c = Command::new(pg_ctl);
        c.arg("-D").arg(data).args(["-m", "immediate", "stop"]);
        as_user(&mut c, *uid);
        let _ = c.output();
        if let Some(dir) = data.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `pg_dump --schema-only` of a database, from the installed server's binaries.
pub fn dump_schema(url: &str) -> String {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin/pg_dump"))
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| PathBuf::from("pg_dump"));
    let out = Command::new(bin)
        .args(["--schema-only", "--dbname"])
        .arg(url)
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
