//! Reading a migration file as it streams past: its checksum, whether it is UTF-8, and its
//! layout, line by line, in a buffer of fixed size (a 100 MB seed file costs no more memory
//! than a small one). The text itself is read only when the migration runs.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::format::{Layout, Reader};
use super::{Content, Script};

/// How much of a line the layout reader sees: more than any marker needs.
const HEAD: usize = 4096;

/// SHA-256 of a text fed in pieces, with CRLF line ends read as LF.
#[derive(Default)]
pub struct Checksum {
    hasher: Sha256,
    /// The last piece ended in a CR: whether it is kept depends on the next byte.
    pending_cr: bool,
}

impl Checksum {
    pub fn update(&mut self, mut bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if std::mem::take(&mut self.pending_cr) && bytes[0] != b'\n' {
            self.hasher.update(b"\r");
        }
        // Feed the bytes in runs between CRs, dropping each CR that precedes an LF.
        while let Some(i) = bytes.iter().position(|&b| b == b'\r') {
            self.hasher.update(&bytes[..i]);
            match bytes.get(i + 1) {
                Some(b'\n') => {}
                Some(_) => self.hasher.update(b"\r"),
                None => self.pending_cr = true,
            }
            bytes = &bytes[i + 1..];
        }
        self.hasher.update(bytes);
    }

    /// Lowercase hex.
    pub fn finish(mut self) -> String {
        if self.pending_cr {
            self.hasher.update(b"\r");
        }
        hex(&self.hasher.finalize())
    }
}

/// Lowercase hex, by table (`write!` per byte was a tenth of a no-op start's instructions).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Checks UTF-8 across pieces (a character may be split between two).
#[derive(Default)]
struct Utf8 {
    carry: Vec<u8>,
    offset: usize,
    bad: Option<usize>,
}

impl Utf8 {
    fn update(&mut self, mut bytes: &[u8]) {
        if self.bad.is_some() {
            return;
        }
        if !self.carry.is_empty() {
            let need = char_len(self.carry[0]).saturating_sub(self.carry.len());
            let take = need.min(bytes.len());
            self.carry.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if take < need {
                return;
            }
            if std::str::from_utf8(&self.carry).is_err() {
                self.bad = Some(self.offset);
                return;
            }
            self.offset += self.carry.len();
            self.carry.clear();
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => self.offset += bytes.len(),
            Err(e) if e.error_len().is_none() => {
                self.carry.extend_from_slice(&bytes[e.valid_up_to()..]);
                self.offset += e.valid_up_to();
            }
            Err(e) => self.bad = Some(self.offset + e.valid_up_to()),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.bad.or((!self.carry.is_empty()).then_some(self.offset)) {
            Some(at) => Err(format!(
                "file is not UTF-8 text (invalid byte at offset {at})"
            )),
            None => Ok(()),
        }
    }
}

/// The length of the UTF-8 character a leading byte starts (1 for a byte that starts none).
fn char_len(b: u8) -> usize {
    match b {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Splits pieces into lines for the layout reader: each line's head and its byte range.
#[derive(Default)]
struct Lines {
    reader: Reader,
    head: Vec<u8>,
    start: usize,
    at: usize,
}

impl Lines {
    fn update(&mut self, mut bytes: &[u8]) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.keep(&bytes[..=i]);
            self.at += i + 1;
            self.line();
            bytes = &bytes[i + 1..];
        }
        self.keep(bytes);
        self.at += bytes.len();
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    fn line(&mut self) {
        let head = String::from_utf8_lossy(&self.head);
        self.reader.line(&head, self.start..self.at);
        self.head.clear();
        self.start = self.at;
    }

    fn finish(mut self) -> Layout {
        if self.at > self.start {
            self.line();
        }
        self.reader.finish()
    }
}

/// The buffer a scan reads files through, one for all of them (a new one per file zeroes
/// 64 KiB for each file of a no-op start).
pub struct Buffer(Vec<u8>);

impl Default for Buffer {
    fn default() -> Self {
        Buffer(vec![0u8; 64 * 1024])
    }
}

/// Reads a migration file once, streaming: its checksum and (for SQL) its layout.
pub fn scan_file(path: &Path, script: Option<Script>, buf: &mut Buffer) -> Result<Content, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut sum = Checksum::default();
    let mut utf8 = Utf8::default();
    let mut lines = Lines::default();
    let buf = &mut buf.0;
    let mut first = true;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(cannot(e)),
        };
        let mut piece = &buf[..n];
        if std::mem::take(&mut first) {
            // A byte-order mark is an editor's artefact, not SQL.
            piece = piece.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(piece);
        }
        sum.update(piece);
        if script.is_none() {
            utf8.update(piece);
            lines.update(piece);
        }
    }
    if script.is_none() {
        utf8.finish()?;
    }
    let mut layout = lines.finish();
    if script.is_some() {
        layout.up.no_transaction = true;
    }
    Ok(Content {
        checksum: sum.finish(),
        layout,
        script,
    })
}

/// A file's text, whole (a leading byte-order mark dropped), for the part that runs now.
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "file is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(bytes: &[u8]) -> Result<Content, String> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("1_x.sql");
        std::fs::write(&p, bytes).unwrap();
        scan_file(&p, None, &mut Buffer::default())
    }

    #[test]
    fn checksum_in_pieces_is_the_checksum_whole() {
        let text = b"a\r\nb\rc\r\n\r\r\nend\r";
        let whole = super::super::checksum(text);
        for cut in 0..text.len() {
            let mut c = Checksum::default();
            c.update(&text[..cut]);
            c.update(&text[cut..]);
            assert_eq!(c.finish(), whole, "cut at {cut}");
        }
        let mut c = Checksum::default();
        c.update(b"a\r");
        c.update(b"");
        c.update(b"\nb");
        assert_eq!(c.finish(), super::super::checksum(b"a\nb"));
    }

    #[test]
    fn utf8_split_between_pieces_is_utf8() {
        let text = "é ü 漢字 🦀".as_bytes();
        for cut in 0..text.len() {
            let mut u = Utf8::default();
            u.update(&text[..cut]);
            u.update(&text[cut..]);
            assert!(u.finish().is_ok(), "cut at {cut}");
        }
        let mut u = Utf8::default();
        u.update(b"ok \xff");
        assert!(u.finish().unwrap_err().contains("offset 3"));
        let mut u = Utf8::default();
        u.update(b"ends in \xe6\xbc");
        assert!(u.finish().is_err());
    }

    #[test]
    fn bom_is_not_part_of_the_text() {
        let with = scanned(b"\xEF\xBB\xBFSELECT 1;").unwrap();
        let without = scanned(b"SELECT 1;").unwrap();
        assert_eq!(with.checksum, without.checksum);
        assert_eq!(with.layout.up.range, 0..9);
    }

    #[test]
    fn non_utf8_is_an_error_of_that_file() {
        let e = scanned(b"SELECT '\xff';").unwrap_err();
        assert!(e.contains("not UTF-8"), "{e}");
    }

    #[test]
    fn layout_streamed_is_the_layout_whole() {
        let text = format!(
            "-- +goose Up\n{}\n-- +goose Down\nDROP TABLE t;\n",
            "INSERT INTO t VALUES (1);\n".repeat(10_000)
        );
        let got = scanned(text.as_bytes()).unwrap();
        assert_eq!(got.layout, super::super::format::layout(&text));
        assert_eq!(got.checksum, super::super::checksum(text.as_bytes()));
    }
}
