//! The binary under test is the one `TEST_BINARY` names, of the architecture `.ci/run` expects
//! (`TEST_ARCH`): so that the set of tests `.ci/run` runs on the arm64 build runs on it.

use crate::common::{bare, run};

/// ELF's `e_machine` of a file: 62 for x86_64, 183 for aarch64.
fn elf_machine(path: &std::path::Path) -> u16 {
    let head = std::fs::read(path).unwrap();
    assert_eq!(
        &head[..4],
        b"\x7fELF",
        "{} is not an ELF file",
        path.display()
    );
    u16::from_le_bytes([head[18], head[19]])
}

#[test]
fn the_binary_under_test_is_of_the_expected_architecture() {
    let path = std::env::var_os("TEST_BINARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::common::BIN.into());
    let expected = match std::env::var("TEST_ARCH").as_deref() {
        Ok("aarch64") => 183,
        Ok("x86_64") | Err(_) => 62,
        Ok(other) => panic!("TEST_ARCH={other}: aarch64 or x86_64"),
    };
    assert_eq!(elf_machine(&path), expected, "{}", path.display());
    let mut c = bare();
    c.arg("--version");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("migrate-entrypoint "), "{out}");
}
