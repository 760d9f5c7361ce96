//! Reading a setting from its flag or its environment variable (or the file its `NAME_FILE`
//! names), and the value forms every setting shares: booleans, durations, closed sets.

use std::ffi::OsString;
use std::time::Duration;

use super::SettingsError;

/// Where variables come from (the process environment, or a table in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The flag's value if given, else the variable `name` or the file named by `name_FILE`.
/// An empty variable counts as unset (as compose files often leave them).
pub fn lookup(flag: Option<String>, name: &str, env: Env) -> Result<Option<String>, SettingsError> {
    if flag.is_some() {
        return Ok(flag);
    }
    let file_name = format!("{name}_FILE");
    let direct = env(name).filter(|v| !v.is_empty());
    let file = env(&file_name).filter(|v| !v.is_empty());
    let to_string = |v: OsString, n: &str| {
        v.into_string().map_err(|_| SettingsError::NotUtf8 {
            name: n.to_string(),
        })
    };
    match (direct, file) {
        (Some(_), Some(_)) => Err(SettingsError::BothSet {
            name: name.to_string(),
        }),
        (Some(v), None) => Ok(Some(to_string(v, name)?)),
        (None, Some(path)) => {
            let bytes = std::fs::read(&path).map_err(|err| SettingsError::FileUnreadable {
                name: name.to_string(),
                path: path.to_string_lossy().into_owned(),
                err,
            })?;
            let mut text = String::from_utf8(bytes).map_err(|_| SettingsError::NotUtf8 {
                name: file_name.clone(),
            })?;
            // One trailing newline is how editors and `echo` end a file, not part of the value.
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(Some(text))
        }
        (None, None) => Ok(None),
    }
}

/// A boolean setting: the flag if given, else the variable (`1/true/yes/on`, `0/false/no/off`).
pub fn boolean(given: bool, name: &str, env: Env) -> Result<bool, SettingsError> {
    if given {
        return Ok(true);
    }
    match lookup(None, name, env)? {
        None => Ok(false),
        Some(v) => parse_bool(&v).ok_or_else(|| SettingsError::Invalid {
            what: name.into(),
            value: v,
            why: "expected 1/true/yes/on or 0/false/no/off".into(),
        }),
    }
}

/// A value of a closed set: the flag if given, else the variable read with the same names
/// the flag takes; `default` when neither is set.
pub fn choice<T: clap::ValueEnum>(
    flag: Option<T>,
    name: &str,
    env: Env,
    default: T,
) -> Result<T, SettingsError> {
    if let Some(v) = flag {
        return Ok(v);
    }
    let Some(text) = lookup(None, name, env)? else {
        return Ok(default);
    };
    T::from_str(text.trim(), true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        SettingsError::Invalid {
            what: name.into(),
            value: text,
            why: format!("expected one of: {}", names.join(", ")),
        }
    })
}

/// A duration setting: the flag or variable, else `default` (a text the same parser reads).
pub fn duration(
    value: Option<String>,
    what: &str,
    default: &str,
) -> Result<Duration, SettingsError> {
    let text = value.as_deref().unwrap_or(default);
    parse_duration(text).map_err(|why| SettingsError::Invalid {
        what: what.into(),
        value: text.into(),
        why,
    })
}

/// Reads `1/true/yes/on` and `0/false/no/off`, in any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Reads `500ms`, `30s`, `5m`, `1h` (and their combinations), or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string());
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{e} (expected e.g. 500ms, 30s, 5m, 1h, or seconds)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("5m"), Duration::from_secs(300));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        assert_eq!(d("45"), Duration::from_secs(45));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn booleans() {
        for t in ["1", "true", "YES", "on"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "false", "No", "off"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("2"), None);
    }

    #[test]
    fn closed_sets_read_the_flags_names() {
        use crate::cli::Policy;
        let env = |k: &str| (k == "P").then(|| OsString::from("Abort"));
        assert_eq!(
            choice(None, "P", &env, Policy::Continue).unwrap(),
            Policy::Abort
        );
        assert_eq!(
            choice(Some(Policy::Stop), "P", &env, Policy::Continue).unwrap(),
            Policy::Stop
        );
        let bad = |k: &str| (k == "P").then(|| OsString::from("sometimes"));
        let e = choice(None, "P", &bad, Policy::Continue).unwrap_err();
        assert!(e.to_string().contains("continue, stop, abort"), "{e}");
    }
}
