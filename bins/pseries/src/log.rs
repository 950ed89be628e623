//! Diagnostics on stderr the way QEMU prints them: `pseries: warning:
//! <message>` for warnings, `pseries: <message>` for errors. Other levels
//! are shown with `RUST_LOG` (e.g. `RUST_LOG=spapr_machine=debug`).

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

struct QemuStyle {
    prog: String,
}

impl<S, N> FormatEvent<S, N> for QemuStyle
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        match level {
            Level::ERROR => write!(w, "{}: ", self.prog)?,
            Level::WARN => write!(w, "{}: warning: ", self.prog)?,
            _ => write!(
                w,
                "{}: {} {}: ",
                self.prog,
                level,
                event.metadata().target()
            )?,
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Installs the stderr logger for program `prog`.
pub fn init(prog: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(QemuStyle {
            prog: prog.to_string(),
        })
        .try_init();
}
