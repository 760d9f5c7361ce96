//! Real projects' migration folders, for the format tests: Lemmy's diesel folder (346
//! migrations, PostgreSQL), as its `lemmy_db_schema` crate ships it. Fetched once by name with
//! cargo (`cargo install` brings the crate's source and then refuses, as it is a library: the
//! source stays in the registry, nothing is built), into the target folder; not kept in this
//! repository.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The crate, and the version whose folder the tests know.
const LEMMY: &str = "lemmy_db_schema@1.0.0-beta.3";

/// Lemmy's `migrations/` folder.
pub fn lemmy() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(fetch)
}

fn fetch() -> PathBuf {
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-folders-cargo");
    let find = || -> Option<PathBuf> {
        let src = home.join("registry").join("src");
        let dir = LEMMY.replace('@', "-");
        std::fs::read_dir(&src)
            .ok()?
            .filter_map(Result::ok)
            .map(|index| index.path().join(&dir).join("migrations"))
            .find(|m| m.is_dir())
    };
    if let Some(found) = find() {
        return found;
    }
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", "--quiet", LEMMY])
        .env("CARGO_HOME", &home)
        .output()
        .expect("cargo");
    find().unwrap_or_else(|| {
        panic!(
            "cannot fetch Lemmy's migrations (cargo install {LEMMY}, which downloads the \
             crate's source from the crate registry): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
