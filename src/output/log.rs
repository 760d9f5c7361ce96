//! The stderr log: text or JSON lines, filtered by `MIGRATE_LOG` / `--log-level`.
//!
//! Text lines read `TIME LEVEL database: message`; every message is written to stand on its
//! own, so the text form shows only the message and the database. JSON lines carry every field.

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::progress;
use crate::settings::LogFormat;

/// Whether colour is wanted on a stream that is a terminal: `NO_COLOR` set to anything but the
/// empty string turns it off (no-color.org).
pub fn colour_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global logger. Fails on a filter that does not parse (the logger is then
/// installed with `info`, so that the failure itself is logged in the chosen format).
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    use tracing_subscriber::prelude::*;
    // `Targets` reads `info` and `migrate_entrypoint=trace,warn` as EnvFilter does, without the
    // regex engine that span and field filters would pull into the binary.
    let (targets, bad) = match filter.parse::<Targets>() {
        Ok(t) => (t, Ok(())),
        Err(e) => (
            Targets::new().with_default(Level::INFO),
            Err(format!("invalid log filter '{filter}': {e}")),
        ),
    };
    let filter = targets;
    // The progress line's stderr: a log line first clears the progress line when one is shown.
    let layer = tracing_subscriber::fmt::layer().with_writer(progress::Stderr);
    let registry = tracing_subscriber::registry();
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && colour_wanted();
            registry
                .with(layer.event_format(Text { colour }).with_filter(filter))
                .init();
        }
        LogFormat::Json => {
            let layer = layer
                .json()
                .with_target(false)
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false);
            registry.with(layer.with_filter(filter)).init();
        }
    }
    bad
}

/// The text line format.
struct Text {
    colour: bool,
}

#[derive(Default)]
struct Fields {
    message: String,
    database: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "database" => self.database = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "database" => self.database = Some(format!("{value:?}").trim_matches('"').to_string()),
            _ => {}
        }
    }
}

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        SystemTime.format_time(&mut w)?;
        let level = *event.metadata().level();
        let (name, code) = match level {
            Level::ERROR => ("ERROR", "31"),
            Level::WARN => ("WARN ", "33"),
            Level::INFO => ("INFO ", "32"),
            Level::DEBUG => ("DEBUG", "34"),
            Level::TRACE => ("TRACE", "35"),
        };
        if self.colour {
            write!(w, " \x1b[{code}m{name}\x1b[0m ")?;
        } else {
            write!(w, " {name} ")?;
        }
        if let Some(db) = f.database {
            write!(w, "{db}: ")?;
        }
        writeln!(w, "{}", f.message)
    }
}
