//! PostgreSQL URLs as libpq reads them: the `postgres` crate's parser, plus the TLS parameters
//! it does not know (`sslmode=verify-ca|verify-full`, `sslrootcert=`), which are ours to read,
//! and libpq's environment (`PGHOST`, `PGPASSWORD`, the password file, ...) for what the URL
//! leaves out. The URL wins. Here too the password-free form of any URL (`redact`), which
//! splits the user info as this parser does.
//!
//! Read with the settings, as a target is resolved; the backend connects with what it holds.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

/// How the connection uses TLS (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain only.
    Disable,
    /// TLS when the server offers it, unverified; plain when the server refuses TLS.
    Prefer,
    /// TLS, unverified (verified against `sslrootcert` when one is given, as libpq does).
    Require,
    /// TLS, certificate chain verified.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

/// A read PostgreSQL URL.
#[derive(Debug, Clone)]
pub struct PgUrl {
    pub config: postgres::Config,
    pub tls: TlsMode,
    /// `sslrootcert=`: the file of trusted roots (`system`: the system's and bundled roots).
    pub root_cert: Option<PathBuf>,
    /// The database name, for the lock key and messages.
    pub dbname: String,
}

/// Why a PostgreSQL URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown}: {why}")]
pub struct PgUrlError {
    pub shown: String,
    pub why: String,
}

/// Reads a `postgres://` or `postgresql://` URL, with libpq's variables from this process's
/// environment.
pub fn parse(url: &str) -> Result<PgUrl, PgUrlError> {
    parse_with(url, &|name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    })
}

/// Reads a URL, with libpq's variables from `env`.
pub fn parse_with(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<PgUrl, PgUrlError> {
    let shown = redact(url);
    // libpq splits the user part at the last `@`; the crate at the first. A password with an
    // unencoded `@` (or `:`, `/`) is made what libpq reads.
    let encoded = encode_password(url);
    let url = encoded.as_str();
    let err = |why: String| PgUrlError {
        shown: shown.clone(),
        why,
    };
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut tls = None;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let value = percent_decode_str(v).decode_utf8_lossy().into_owned();
        match k {
            "sslmode" => tls = Some(ssl_mode(&value).map_err(err)?),
            "sslrootcert" => root_cert = Some(PathBuf::from(value)),
            _ => kept.push(kv),
        }
    }
    let mut tls = match (tls, env("PGSSLMODE")) {
        (Some(t), _) => t,
        (None, Some(v)) => ssl_mode(&v).map_err(|why| err(format!("PGSSLMODE: {why}")))?,
        (None, None) => TlsMode::Prefer,
    };
    if root_cert.is_none() {
        root_cert = env("PGSSLROOTCERT").map(PathBuf::from);
    }
    if tls == TlsMode::Require && root_cert.is_some() {
        // libpq: "if a root CA file exists, require behaves like verify-ca".
        tls = TlsMode::VerifyCa;
    }
    if let Some(path) = &root_cert
        && path.as_os_str() != "system"
    {
        std::fs::metadata(path).map_err(|e| err(format!("sslrootcert {}: {e}", path.display())))?;
    }
    let rebuilt = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: postgres::Config = rebuilt
        .parse()
        .map_err(|e: postgres::Error| err(format!("invalid PostgreSQL URL: {e}")))?;
    config.ssl_mode(match tls {
        TlsMode::Disable => postgres::config::SslMode::Disable,
        TlsMode::Prefer => postgres::config::SslMode::Prefer,
        _ => postgres::config::SslMode::Require,
    });
    fill_from_env(&mut config, env).map_err(err)?;
    if config.get_application_name().is_none() {
        config.application_name("migrate-entrypoint");
    }
    let dbname = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres")
        .to_string();
    Ok(PgUrl {
        config,
        tls,
        root_cert,
        dbname,
    })
}

/// libpq's `sslmode` values.
fn ssl_mode(value: &str) -> Result<TlsMode, String> {
    Ok(match value {
        "disable" => TlsMode::Disable,
        // libpq's `allow` tries plain first; prefer is the nearest we offer.
        "allow" | "prefer" => TlsMode::Prefer,
        "require" => TlsMode::Require,
        "verify-ca" => TlsMode::VerifyCa,
        "verify-full" => TlsMode::VerifyFull,
        other => {
            return Err(format!(
                "invalid sslmode '{other}' (expected disable, prefer, require, verify-ca or verify-full)"
            ));
        }
    })
}

/// The URL with the password part of its user info percent-encoded: everything between the
/// first `:` of the user info and the last `@` before the query (the crate, like libpq, would
/// end the user info at the first `@` and take the rest for the host; our redaction takes the
/// last, as users mean it). Such a password is named in a warning: other tools read it apart.
fn encode_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let before_query = rest.find('?').unwrap_or(rest.len());
    let Some(at) = rest[..before_query].rfind('@') else {
        return url.to_string();
    };
    let (userinfo, host) = rest.split_at(at);
    let Some((user, password)) = userinfo.split_once(':') else {
        return url.to_string();
    };
    if !password.contains(['@', '/', '?', '#']) {
        return url.to_string();
    }
    tracing::warn!(
        "the password in {} holds `@`, `/`, `?` or `#`: read up to the last `@`; percent-encode \
         them (%40, %2F, %3F, %23) so that every PostgreSQL tool reads it the same",
        redact(url)
    );
    let encoded: String = password
        .chars()
        .map(|c| match c {
            '@' | ':' | '/' | '?' | '#' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect();
    format!("{scheme}://{user}:{encoded}{host}")
}

/// What the URL leaves out, as libpq fills it: `PGHOST` (a path: the socket folder), `PGPORT`,
/// `PGUSER`, `PGDATABASE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`, and the password from
/// `PGPASSWORD` or the password file (`PGPASSFILE`, else `~/.pgpass`, used only when no one
/// else may read it). With no host at all, the local socket folder.
fn fill_from_env(
    config: &mut postgres::Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(hosts) => {
                for h in hosts.split(',') {
                    if h.starts_with('/') {
                        config.host_path(h);
                    } else {
                        config.host(h);
                    }
                }
            }
            None => {
                let folder = ["/var/run/postgresql", "/run/postgresql", "/tmp"]
                    .into_iter()
                    .find(|d| std::path::Path::new(d).is_dir())
                    .unwrap_or("/tmp");
                config.host_path(folder);
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(p) = env("PGPORT")
    {
        for port in p.split(',') {
            let port = port
                .trim()
                .parse()
                .map_err(|_| format!("PGPORT: '{port}' is no port number"))?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        let user = env("PGUSER").or_else(|| env("USER")).or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::Uid::effective())
                .ok()
                .flatten()
                .map(|u| u.name)
        });
        if let Some(u) = user {
            config.user(&u);
        }
    }
    if config.get_dbname().is_none() {
        match env("PGDATABASE") {
            Some(d) => config.dbname(&d),
            None => match config.get_user().map(str::to_string) {
                Some(u) => config.dbname(&u),
                None => config,
            },
        };
    }
    if config.get_application_name().is_none()
        && let Some(a) = env("PGAPPNAME")
    {
        config.application_name(&a);
    }
    if config.get_connect_timeout().is_none()
        && let Some(t) = env("PGCONNECT_TIMEOUT")
    {
        let secs: u64 = t
            .trim()
            .parse()
            .map_err(|_| format!("PGCONNECT_TIMEOUT: '{t}' is no number of seconds"))?;
        config.connect_timeout(std::time::Duration::from_secs(secs.max(2)));
    }
    if config.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            config.password(&p);
        } else {
            let file = env("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
            if let Some(file) = file
                && let Ok(meta) = std::fs::metadata(&file)
            {
                // libpq ignores a password file that others may read.
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        "password file {} is not used: it may be read by others (chmod 0600 it)",
                        file.display()
                    );
                } else if let Some(p) = std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|text| pgpass(&text, config))
                {
                    config.password(&p);
                }
            }
        }
    }
    Ok(())
}

/// The password a `.pgpass` text gives for this connection: the first line whose
/// `host:port:database:user` fields match (`*` matches anything; `\:` and `\\` escape).
fn pgpass(text: &str, config: &postgres::Config) -> Option<String> {
    let host = match config.get_hosts().first()? {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(_) => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or("").to_string();
    let user = config.get_user().unwrap_or("").to_string();
    let want = [host, port, db, user];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        if want.iter().zip(&fields).all(|(w, f)| f == "*" || f == w) {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("one").push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one").push(c),
        }
    }
    fields
}

/// Replaces the password of a URL (userinfo or `password=` parameter) with `***`.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => match rest.rfind('@') {
            Some(at) => {
                let (userinfo, hostpart) = rest.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***{hostpart}"),
                    None => format!("{scheme}://{userinfo}{hostpart}"),
                }
            }
            None => head.to_string(),
        },
        None => head.to_string(),
    };
    if let Some(q) = query {
        out.push('?');
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_libpq_reads() {
        let u = parse("postgresql://app:p%40ss%2Fw@db1:5433,db2/app?options=-c%20search_path%3Dx&sslmode=verify-full").unwrap();
        assert_eq!(u.tls, TlsMode::VerifyFull);
        assert_eq!(u.config.get_password(), Some(&b"p@ss/w"[..]));
        assert_eq!(u.config.get_hosts().len(), 2);
        assert_eq!(u.config.get_ports(), [5433, 5432]);
        assert_eq!(u.config.get_options(), Some("-c search_path=x"));
        assert_eq!(u.config.get_application_name(), Some("migrate-entrypoint"));
        assert_eq!(u.dbname, "app");

        let u = parse("postgres://u@h/d?application_name=web").unwrap();
        assert_eq!(u.tls, TlsMode::Prefer);
        assert_eq!(u.config.get_application_name(), Some("web"));

        let u = parse("postgres://u@h/d?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!(u.tls, TlsMode::VerifyCa);
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn libpq_variables_fill_what_the_url_leaves_out() {
        let vars = [
            ("PGHOST", "db.internal"),
            ("PGPORT", "6432"),
            ("PGUSER", "app"),
            ("PGPASSWORD", "s3cret"),
            ("PGDATABASE", "appdb"),
            ("PGSSLMODE", "require"),
            ("PGAPPNAME", "worker"),
            ("PGCONNECT_TIMEOUT", "7"),
        ];
        let u = parse_with("postgres:///", &env(&vars)).unwrap();
        assert_eq!(
            u.config.get_hosts(),
            [postgres::config::Host::Tcp("db.internal".into())]
        );
        assert_eq!(u.config.get_ports(), [6432]);
        assert_eq!(u.config.get_user(), Some("app"));
        assert_eq!(u.config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(u.dbname, "appdb");
        assert_eq!(u.tls, TlsMode::Require);
        assert_eq!(u.config.get_application_name(), Some("worker"));
        assert_eq!(
            u.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(7))
        );
        // What the URL says wins.
        let u = parse_with(
            "postgres://u:p@h:5000/d?sslmode=disable&application_name=a",
            &env(&vars),
        )
        .unwrap();
        assert_eq!(
            u.config.get_hosts(),
            [postgres::config::Host::Tcp("h".into())]
        );
        assert_eq!(u.config.get_ports(), [5000]);
        assert_eq!(u.config.get_user(), Some("u"));
        assert_eq!(u.config.get_password(), Some(&b"p"[..]));
        assert_eq!(u.dbname, "d");
        assert_eq!(u.tls, TlsMode::Disable);
        assert_eq!(u.config.get_application_name(), Some("a"));
        // A path in PGHOST is the socket folder.
        let u = parse_with(
            "postgres:///app",
            &env(&[("PGHOST", "/run/pg"), ("PGUSER", "x")]),
        )
        .unwrap();
        assert_eq!(
            u.config.get_hosts(),
            [postgres::config::Host::Unix("/run/pg".into())]
        );
        assert_eq!(u.dbname, "app");
    }

    #[test]
    fn a_password_file_as_libpq_reads_it() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:app:wrong\ndb:5432:app:app:p\\:w\ndb:*:*:*:fallback\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let f = file.display().to_string();
        let vars = [("PGPASSFILE", f.as_str())];
        let u = parse_with("postgres://app@db/app", &env(&vars)).unwrap();
        assert_eq!(u.config.get_password(), Some(&b"p:w"[..]));
        let u = parse_with("postgres://other@db/x", &env(&vars)).unwrap();
        assert_eq!(u.config.get_password(), Some(&b"fallback"[..]));
        // Readable by others: not used.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let u = parse_with("postgres://app@db/app", &env(&vars)).unwrap();
        assert_eq!(u.config.get_password(), None);
    }

    #[test]
    fn a_password_with_at_colon_or_slash_is_read_as_libpq_reads_it() {
        let none = env(&[]);
        let u = parse_with("postgres://app:p@ss:w/rd@127.0.0.1:5433/app", &none).unwrap();
        assert_eq!(
            u.config.get_hosts(),
            [postgres::config::Host::Tcp("127.0.0.1".into())]
        );
        assert_eq!(u.config.get_password(), Some(&b"p@ss:w/rd"[..]));
        assert_eq!(u.config.get_ports(), [5433]);
        assert_eq!(u.dbname, "app");
        assert_eq!(
            redact("postgres://app:p@ss@127.0.0.1/app"),
            "postgres://app:***@127.0.0.1/app"
        );
    }

    #[test]
    fn bad_ones_say_why_without_the_password() {
        let e = parse("postgres://u:hunter2@h/d?sslmode=sometimes").unwrap_err();
        assert!(e.to_string().contains("invalid sslmode 'sometimes'"), "{e}");
        assert!(!e.to_string().contains("hunter2"));
        let e = parse("postgres://u:hunter2@h/d?sslrootcert=/no/such/ca.pem").unwrap_err();
        assert!(e.to_string().contains("sslrootcert /no/such/ca.pem"), "{e}");
        let e = parse("postgres://u:hunter2@h/d?frobnicate=1").unwrap_err();
        assert!(e.to_string().contains("invalid PostgreSQL URL"), "{e}");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn redaction() {
        let cases = [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u:p%40ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a@b@h/db", "postgres://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?password=secret&sslmode=require",
                "postgres://h/db?password=***&sslmode=require",
            ),
            (
                "postgres://u:s@h1,h2/db?PASSWORD=x",
                "postgres://u:***@h1,h2/db?PASSWORD=***",
            ),
            ("sqlite:app.db", "sqlite:app.db"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
        }
    }
}
