//! The forms a SQL migration file can take, each read as its own tool reads it: where its up
//! part and down part are, which statements must be sent whole, whether it runs in a
//! transaction. One file a form; this one holds the reader they share.
//!
//! Pure, and line by line: the scan feeds each line as the file streams past (nothing of the
//! text is kept, only offsets), so a no-op start never holds a file in memory.

pub mod dbmate;
pub mod foreign;
pub mod goose;
pub mod morph;
pub mod own;
pub mod sql_migrate;
pub mod sqlx;
pub mod tern;

use std::ops::Range;

/// The form of a SQL file: whose markers it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// No markers: the whole file runs (ours, golang-migrate, Flyway, sqlx, Prisma, diesel).
    Plain,
    /// `-- migrate:up` / `-- migrate:down`.
    Dbmate,
    /// `-- +goose Up` / `-- +goose Down`.
    Goose,
    /// `-- +migrate Up` / `-- +migrate Down`.
    SqlMigrate,
    /// `---- create above / drop below ----`.
    Tern,
}

impl Form {
    /// The tool's name, as messages give it.
    pub fn tool(self) -> &'static str {
        match self {
            Form::Plain => "plain SQL",
            Form::Dbmate => "dbmate",
            Form::Goose => "goose",
            Form::SqlMigrate => "sql-migrate",
            Form::Tern => "tern",
        }
    }
}

/// One part of a file (its up part or its down part): where it is, and how it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Byte range in the file (a leading byte-order mark not counted).
    pub range: Range<usize>,
    pub no_transaction: bool,
    /// Statements to send whole (goose's and sql-migrate's `StatementBegin` / `StatementEnd`),
    /// as byte ranges in the file.
    pub whole: Vec<Range<usize>>,
    /// Holds nothing but white space and `--` comments.
    pub empty: bool,
    /// Its statements are sent one at a time, as its tool sends them (goose, sql-migrate), so
    /// that a file's own `COMMIT; CREATE INDEX CONCURRENTLY ...; BEGIN;` works as it does there.
    pub one_by_one: bool,
}

/// What a file's markers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub form: Form,
    pub up: Part,
    /// The down part the file holds itself (dbmate, goose, sql-migrate, tern sections).
    pub down: Option<Part>,
    /// `-- migrate:...` directives this tool does not know, as written (for `validate`).
    pub unknown: Vec<String>,
    /// What each `-- migrate:allow` line of the header says after `allow` (for the lint).
    pub allow: Vec<String>,
    /// Why the file must not run: it carries markers this tool does not read, or its markers
    /// do not make sense to its own tool. Never run as plain SQL instead.
    pub refused: Option<String>,
}

/// What one line says to one form's reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The up section starts after this line.
    Up { no_transaction: bool },
    /// The down section starts after this line (for tern: the up part ends before it).
    Down { no_transaction: bool },
    /// A statement to send whole starts after this line.
    Begin,
    /// ... and ends before it.
    End,
    /// The file runs outside a transaction, wherever the line is.
    NoTransaction,
    /// The file runs outside a transaction, when the line comes before the first statement.
    HeaderNoTransaction,
    /// The section the line is in (up or down) runs outside a transaction.
    PartNoTransaction,
    /// A directive of ours that we do not know (named by `validate`; in the header only).
    Unknown(String),
    /// `-- migrate:allow RULE[,RULE] [reason]`: what follows `allow` (in the header only).
    Allow(String),
    /// A marker we do not read: the file is refused with this reason.
    Refuse(String),
    /// A line its tool reads as its own but ignores (it still says whose file it is).
    Other,
}

/// What a line of a file is, for the reader: a mark of some form, SQL, or neither.
fn mark(trimmed: &str) -> Option<(Form, Mark)> {
    if !trimmed.starts_with("--") {
        return None;
    }
    if let Some(m) = tern::mark(trimmed) {
        return Some((Form::Tern, m));
    }
    if let Some(m) = goose::mark(trimmed) {
        return Some((Form::Goose, m));
    }
    if let Some(m) = sql_migrate::mark(trimmed) {
        return Some((Form::SqlMigrate, m));
    }
    if let Some(m) = dbmate::mark(trimmed) {
        return Some((Form::Dbmate, m));
    }
    if let Some(m) = own::mark(trimmed)
        .or_else(|| morph::mark(trimmed))
        .or_else(|| sqlx::mark(trimmed))
    {
        return Some((Form::Plain, m));
    }
    foreign::mark(trimmed)
        .or_else(|| foreign::near_miss(trimmed))
        .map(|m| (Form::Plain, m))
}

/// Where the reader is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Before any section marker (for plain files: the whole file).
    Before,
    Up,
    Down,
}

/// Reads a file's lines, in order, into its layout.
#[derive(Debug)]
pub struct Reader {
    form: Form,
    section: Section,
    in_header: bool,
    header_no_transaction: bool,
    no_transaction: bool,
    up: Option<Range<usize>>,
    down: Option<(usize, bool)>,
    block: Option<usize>,
    whole: Vec<Range<usize>>,
    /// SQL seen in each section: before any marker, in up, in down.
    sql_in: [bool; 3],
    unknown: Vec<String>,
    allow: Vec<String>,
    refused: Option<String>,
    /// Where the last line ended (the file's length at the end).
    end: usize,
    /// `{{` was seen (a template, for tern).
    template: bool,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            form: Form::Plain,
            section: Section::Before,
            in_header: true,
            header_no_transaction: false,
            no_transaction: false,
            up: None,
            down: None,
            block: None,
            whole: Vec::new(),
            sql_in: [false; 3],
            unknown: Vec::new(),
            allow: Vec::new(),
            refused: None,
            end: 0,
            template: false,
        }
    }
}

impl Reader {
    /// Feeds one line: `head` is its start (at least its first few hundred bytes, enough for
    /// any marker), `at` the byte range of the whole line, its line end included.
    pub fn line(&mut self, head: &str, at: Range<usize>) {
        self.end = at.end;
        if head.contains("{{") {
            self.template = true;
        }
        let trimmed = head.trim();
        let Some((form, m)) = mark(trimmed) else {
            if !(trimmed.is_empty() || trimmed.starts_with("--")) {
                self.in_header = false;
                self.sql_in[self.section as usize] = true;
            }
            return;
        };
        if form != Form::Plain {
            if self.form == Form::Plain {
                self.form = form;
            } else if self.form != form {
                self.refuse(format!(
                    "it mixes {} and {} markers: which tool's file is it?",
                    self.form.tool(),
                    form.tool()
                ));
                return;
            }
        }
        match m {
            Mark::Up { no_transaction } => {
                if self.up.is_some() {
                    self.refuse(format!("it has two {} Up markers", form.tool()));
                } else if self.section == Section::Down {
                    self.refuse(format!(
                        "its {} Up marker comes after its Down marker",
                        form.tool()
                    ));
                } else {
                    self.up = Some(at.end..usize::MAX);
                    self.section = Section::Up;
                    self.no_transaction |= no_transaction;
                }
            }
            Mark::Down { no_transaction } => {
                if self.down.is_some() {
                    self.refuse(format!("it has two {} Down markers", form.tool()));
                    return;
                }
                if self.block.is_some() {
                    self.refuse(format!(
                        "a {} StatementBegin is not ended before Down",
                        form.tool()
                    ));
                    return;
                }
                match (&mut self.up, form) {
                    (Some(up), _) => up.end = at.start,
                    // tern: everything above the line is the up part.
                    (None, Form::Tern) => self.up = Some(0..at.start),
                    (None, _) => {
                        self.refuse(format!(
                            "its {} Down marker has no Up marker before it",
                            form.tool()
                        ));
                        return;
                    }
                }
                self.down = Some((at.end, no_transaction));
                self.section = Section::Down;
            }
            Mark::Begin => match self.block {
                Some(_) => self.refuse(format!("a {} StatementBegin inside another", form.tool())),
                None => self.block = Some(at.end),
            },
            Mark::End => match self.block.take() {
                Some(start) => self.whole.push(start..at.start),
                None => self.refuse(format!(
                    "a {} StatementEnd without StatementBegin",
                    form.tool()
                )),
            },
            Mark::NoTransaction => self.no_transaction = true,
            Mark::PartNoTransaction => match (self.section, &mut self.down) {
                (Section::Down, Some((_, no_tx))) => *no_tx = true,
                _ => self.no_transaction = true,
            },
            Mark::HeaderNoTransaction if self.in_header => self.header_no_transaction = true,
            Mark::Unknown(d) if self.in_header => self.unknown.push(d),
            Mark::Allow(a) if self.in_header => self.allow.push(a),
            Mark::HeaderNoTransaction | Mark::Unknown(_) | Mark::Allow(_) => {}
            Mark::Refuse(why) => self.refuse(why),
            Mark::Other => {}
        }
    }

    fn refuse(&mut self, why: String) {
        self.refused.get_or_insert(why);
    }

    /// The layout of the file read so far (its end: where the last line ended).
    pub fn finish(mut self) -> Layout {
        let len = self.end;
        if self.block.is_some() {
            self.refuse(format!(
                "a {} StatementBegin is never ended",
                self.form.tool()
            ));
        }
        if self.form == Form::Tern && self.template {
            self.refuse(
                "it uses tern's templates (`{{ ... }}`), which migrate-entrypoint does not expand"
                    .into(),
            );
        }
        if matches!(self.form, Form::Goose | Form::SqlMigrate | Form::Dbmate) {
            // sql-migrate ignores what comes before its first section; goose and dbmate refuse it.
            let before_refused = self.form != Form::SqlMigrate;
            if self.up.is_none() {
                self.refuse(format!(
                    "it has {} markers but no Up marker ({} would refuse it too)",
                    self.form.tool(),
                    self.form.tool()
                ));
            } else if before_refused && self.sql_in[Section::Before as usize] {
                self.refuse(format!(
                    "it has SQL before its {} Up marker, which belongs to no section",
                    self.form.tool()
                ));
            }
        }
        let no_transaction = self.no_transaction || self.header_no_transaction;
        let one_by_one = matches!(self.form, Form::Goose | Form::SqlMigrate);
        let whole = std::mem::take(&mut self.whole);
        let within = |r: &Range<usize>| -> Vec<Range<usize>> {
            whole
                .iter()
                .filter(|w| w.start >= r.start && w.end <= r.end)
                .cloned()
                .collect()
        };
        let mut up = self.up.clone().unwrap_or(0..len);
        up.end = up.end.min(len);
        let down = self.down.map(|(start, down_no_tx)| {
            let range = start.min(len)..len;
            Part {
                whole: within(&range),
                // goose's NO TRANSACTION holds for the whole file, down part too.
                no_transaction: down_no_tx || (self.form == Form::Goose && self.no_transaction),
                empty: !self.sql_in[Section::Down as usize],
                one_by_one,
                range,
            }
        });
        let empty = if self.up.is_some() {
            !self.sql_in[Section::Up as usize]
        } else {
            !self.sql_in[Section::Before as usize]
        };
        Layout {
            form: self.form,
            up: Part {
                whole: within(&up),
                range: up,
                no_transaction,
                empty,
                one_by_one,
            },
            down,
            unknown: self.unknown,
            allow: self.allow,
            refused: self.refused,
        }
    }
}

/// The layout of a whole text (for tests, and for a file read whole).
pub fn layout(text: &str) -> Layout {
    let mut r = Reader::default();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        r.line(line, at..at + line.len());
        at += line.len();
    }
    r.finish()
}

/// The text of a part, with its whole statements as ranges in that text.
pub fn slice(text: &str, part: &Part) -> (String, Vec<Range<usize>>) {
    let r = part.range.start.min(text.len())..part.range.end.min(text.len());
    let whole = part
        .whole
        .iter()
        .map(|w| w.start - r.start..w.end - r.start)
        .collect();
    (text[r].to_string(), whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part<'a>(text: &'a str, p: &Part) -> &'a str {
        &text[p.range.clone()]
    }

    #[test]
    fn plain_file_runs_whole() {
        let t = "-- just a comment\nCREATE TABLE t (id int);\n";
        let l = layout(t);
        assert_eq!(l.form, Form::Plain);
        assert_eq!(part(t, &l.up), t);
        assert!(!l.up.no_transaction && !l.up.empty);
        assert!(l.down.is_none() && l.refused.is_none() && l.unknown.is_empty());
        assert!(layout("-- nothing\n\n").up.empty);
    }

    #[test]
    fn mixed_markers_are_refused() {
        let l = layout("-- migrate:up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n");
        assert!(l.refused.unwrap().contains("mixes dbmate and goose"));
    }
}
