//! `--user USER[:GROUP]`: resolving the user and group (names through the image's /etc/passwd
//! and /etc/group, or numbers), and dropping to them (setgroups, setgid, setuid, in that order)
//! before any database is touched, so files created belong to that user and CMD runs as it.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User};

/// Why `--user` cannot be honoured (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("--user {0}: no such user in /etc/passwd")]
    NoUser(String),
    #[error("--user {0}: no such group in /etc/group")]
    NoGroup(String),
    #[error("--user {spec}: not running as root (uid {uid}), so the user cannot be switched")]
    NotRoot { spec: String, uid: u32 },
    #[error("--user {spec}: {step} failed: {err} (are CAP_SETUID/CAP_SETGID dropped?)")]
    Drop {
        spec: String,
        step: &'static str,
        err: nix::Error,
    },
    #[error("--user {0}: root could be regained after the switch; refusing to go on")]
    Regained(String),
}

/// Whom to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub spec: String,
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups: for a bare named user, its groups in /etc/group; none when a group
    /// is given or the user is not in /etc/passwd.
    pub groups: Vec<Gid>,
    /// The home directory from /etc/passwd, when the user is there.
    pub home: Option<String>,
}

/// Resolves `USER[:GROUP]`.
pub fn resolve(spec: &str) -> Result<Identity, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = match user_part.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)).ok().flatten(),
        Err(_) => Some(
            User::from_name(user_part)
                .ok()
                .flatten()
                .ok_or_else(|| UserError::NoUser(spec.to_string()))?,
        ),
    };
    let uid = match (&entry, user_part.parse::<u32>()) {
        (_, Ok(n)) => Uid::from_raw(n),
        (Some(e), Err(_)) => e.uid,
        (None, Err(_)) => return Err(UserError::NoUser(spec.to_string())),
    };
    let gid = match group_part {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => Gid::from_raw(n),
            Err(_) => {
                Group::from_name(g)
                    .ok()
                    .flatten()
                    .ok_or_else(|| UserError::NoGroup(spec.to_string()))?
                    .gid
            }
        },
        // A user the image does not know gets the group of its own number, not root's.
        None => entry
            .as_ref()
            .map(|e| e.gid)
            .unwrap_or(Gid::from_raw(uid.as_raw())),
    };
    // As gosu does: `user:group` means exactly that group; a bare user gets its own groups.
    let groups = match (&entry, group_part) {
        (Some(e), None) => CString::new(e.name.clone())
            .ok()
            .and_then(|name| nix::unistd::getgrouplist(&name, gid).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|g| *g != gid)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Identity {
        spec: spec.to_string(),
        uid,
        gid,
        groups,
        home: entry.map(|e| e.dir.to_string_lossy().into_owned()),
    })
}

/// Becomes `who`. A no-op when already that user; refuses when not root.
///
/// Must run before any other thread exists: it sets HOME.
pub fn become_user(who: &Identity) -> Result<(), UserError> {
    let me = nix::unistd::geteuid();
    if me == who.uid && nix::unistd::getegid() == who.gid {
        return Ok(());
    }
    if !me.is_root() {
        return Err(UserError::NotRoot {
            spec: who.spec.clone(),
            uid: me.as_raw(),
        });
    }
    let fail = |step, err| UserError::Drop {
        spec: who.spec.clone(),
        step,
        err,
    };
    nix::unistd::setgroups(&who.groups).map_err(|e| fail("setgroups", e))?;
    nix::unistd::setgid(who.gid).map_err(|e| fail("setgid", e))?;
    nix::unistd::setuid(who.uid).map_err(|e| fail("setuid", e))?;
    if !who.uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(UserError::Regained(who.spec.clone()));
    }
    // A uid the image's /etc/passwd does not know gets `/`, as Docker and gosu give it.
    let home = who.home.as_deref().unwrap_or("/");
    // SAFETY: called before any other thread is started (see the doc comment).
    unsafe { std::env::set_var("HOME", home) };
    tracing::debug!(
        "running as uid {} gid {} (groups {:?})",
        who.uid,
        who.gid,
        who.groups
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_need_no_passwd_entry() {
        let id = resolve("4242:4343").unwrap();
        assert_eq!((id.uid.as_raw(), id.gid.as_raw()), (4242, 4343));
        assert!(id.groups.is_empty());
        let id = resolve("4242").unwrap();
        assert_eq!(
            id.gid.as_raw(),
            4242,
            "an unknown user's group is its own number"
        );
    }

    #[test]
    fn names_come_from_the_system_files() {
        let id = resolve("root").unwrap();
        assert_eq!(id.uid.as_raw(), 0);
        assert_eq!(id.home.as_deref(), Some("/root"));
        assert!(matches!(
            resolve("no-such-user-xyz"),
            Err(UserError::NoUser(_))
        ));
        assert!(matches!(
            resolve("root:no-such-group-xyz"),
            Err(UserError::NoGroup(_))
        ));
    }
}
