//! A script migration's `#!` line: which interpreter it names, and what keeps it from running
//! (an interpreter that is not there, a line ending in a carriage return).

use std::path::Path;

/// What a `#!` line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    /// The interpreter's path, as written.
    pub interpreter: String,
    /// For `#!/usr/bin/env NAME`, the program `env` looks for on PATH.
    pub program: Option<String>,
    /// The line ends in `\r` (a CRLF checkout): the kernel looks for `python3\r`.
    pub crlf: bool,
    /// What follows the interpreter, as one argument (as the kernel passes it).
    pub arg: Option<String>,
}

/// Reads the `#!` line at the start of `text` (`None`: there is none).
pub fn parse(text: &[u8]) -> Option<Shebang> {
    let rest = text.strip_prefix(b"#!")?;
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = String::from_utf8_lossy(&rest[..end]).into_owned();
    let crlf = line.ends_with('\r');
    let line = line.trim_end_matches('\r').trim();
    let mut words = line.split_whitespace();
    let interpreter = words.next()?.to_string();
    let arg = line[interpreter.len()..].trim();
    let arg = (!arg.is_empty()).then(|| arg.to_string());
    let program = if interpreter.rsplit('/').next() == Some("env") {
        words.find(|w| !w.starts_with('-')).map(str::to_string)
    } else {
        None
    };
    Some(Shebang {
        interpreter,
        program,
        crlf,
        arg,
    })
}

/// What keeps the script at `path` from running, by its `#!` line: `None` when the interpreter
/// (and, through `env`, the program) is there and executable.
pub fn problem(path: &Path) -> Option<String> {
    let mut head = vec![0u8; 512];
    let n = std::io::Read::read(&mut std::fs::File::open(path).ok()?, &mut head).ok()?;
    let s = parse(&head[..n])?;
    if s.crlf {
        return Some(format!(
            "its #! line ends in a carriage return (the file has CRLF line ends): the \
             interpreter `{}\\r` cannot be found; convert the file to LF line ends",
            s.interpreter
        ));
    }
    if !executable(Path::new(&s.interpreter)) {
        return Some(format!(
            "the interpreter {} named by its #! line is not there (or not executable)",
            s.interpreter
        ));
    }
    let program = s.program?;
    // Found as `env` will find it: the search CMD goes through too.
    let found = crate::process::exec::on_path(program.as_ref());
    (!found).then(|| {
        format!(
            "`{program}`, which its #! line runs through {}, is not on PATH",
            s.interpreter
        )
    })
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            parse(b"#!/usr/bin/python3\nimport os\n"),
            Some(Shebang {
                interpreter: "/usr/bin/python3".into(),
                program: None,
                crlf: false,
                arg: None,
            })
        );
        let s = parse(b"#!/usr/bin/env -S python3 -u\r\nx").unwrap();
        assert_eq!(s.program.as_deref(), Some("python3"));
        assert_eq!(s.arg.as_deref(), Some("-S python3 -u"));
        assert!(s.crlf);
        assert_eq!(parse(b"SELECT 1;"), None);
        assert_eq!(parse(b"#!\n"), None);
    }

    #[test]
    fn problems() {
        let d = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| {
            let p = d.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        assert_eq!(problem(&w("ok.sh", "#!/bin/sh\necho\n")), None);
        let e = problem(&w("py9.py", "#!/usr/bin/python9\n")).unwrap();
        assert!(e.contains("the interpreter /usr/bin/python9"), "{e}");
        let e = problem(&w("crlf.sh", "#!/bin/sh\r\necho\r\n")).unwrap();
        assert!(e.contains("carriage return"), "{e}");
        let e = problem(&w("env.py", "#!/usr/bin/env python9\n")).unwrap();
        assert!(e.contains("`python9`"), "{e}");
        assert_eq!(problem(&w("envsh.sh", "#!/usr/bin/env sh\n")), None);
    }
}
