//! PostgreSQL URLs as libpq reads them: the `postgres` crate's parser, plus the TLS parameters
//! it does not know (`sslmode=verify-ca|verify-full`, `sslrootcert=`), which are ours to read.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::settings::target::redact;

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

/// Reads a `postgres://` or `postgresql://` URL.
pub fn parse(url: &str) -> Result<PgUrl, PgUrlError> {
    let shown = redact(url);
    let err = |why: String| PgUrlError {
        shown: shown.clone(),
        why,
    };
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut tls = TlsMode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let value = percent_decode_str(v).decode_utf8_lossy().into_owned();
        match k {
            "sslmode" => {
                tls = match value.as_str() {
                    "disable" => TlsMode::Disable,
                    // libpq's `allow` tries plain first; prefer is the nearest we offer.
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    other => {
                        return Err(err(format!(
                            "invalid sslmode '{other}' (expected disable, prefer, require, verify-ca or verify-full)"
                        )));
                    }
                }
            }
            "sslrootcert" => root_cert = Some(PathBuf::from(value)),
            _ => kept.push(kv),
        }
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
}
