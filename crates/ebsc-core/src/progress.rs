//! Progress on stderr: an indicatif bar on a terminal, plain log lines elsewhere (CI logs,
//! `2> file`), so a long run always shows that it is alive without filling a log with
//! carriage returns.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, log lines otherwise.
    #[default]
    Auto,
    Bar,
    Log,
    None,
}

impl ProgressMode {
    fn resolve(self) -> ProgressMode {
        match self {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Log,
            other => other,
        }
    }
}

/// How often log mode prints a line.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

struct LogState {
    position: u64,
    last_line: Instant,
    message: String,
}

pub struct Progress {
    label: String,
    total: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    log: Option<Mutex<LogState>>,
}

impl Progress {
    /// `label` prefixes every line, e.g. `prepare: decoding`; `unit` names what is counted.
    pub fn new(mode: ProgressMode, label: &str, total: u64, unit: &str) -> Progress {
        let mode = mode.resolve();
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = format!(
                "{{prefix}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}}) {{msg}}"
            );
            bar.set_style(
                ProgressStyle::with_template(&template)
                    .expect("the template is a constant with valid placeholders")
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        let log = (mode == ProgressMode::Log).then(|| {
            Mutex::new(LogState {
                position: 0,
                last_line: Instant::now(),
                message: String::new(),
            })
        });
        Progress {
            label: label.to_string(),
            total,
            started: Instant::now(),
            bar,
            log,
        }
    }

    pub fn inc(&self, delta: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(delta);
        }
        if let Some(log) = &self.log {
            let mut state = log.lock().unwrap_or_else(|e| e.into_inner());
            state.position += delta;
            if state.last_line.elapsed() >= LOG_INTERVAL {
                state.last_line = Instant::now();
                self.log_line(state.position, &state.message);
            }
        }
    }

    /// Short status shown after the counts (a loss, a learning rate).
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        if let Some(bar) = &self.bar {
            bar.set_message(message.clone());
        }
        if let Some(log) = &self.log {
            log.lock().unwrap_or_else(|e| e.into_inner()).message = message;
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(log) = &self.log {
            let state = log.lock().unwrap_or_else(|e| e.into_inner());
            self.log_line(state.position, &state.message);
        }
    }

    fn log_line(&self, position: u64, message: &str) {
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            position as f64 / seconds
        } else {
            0.0
        };
        let percent = if self.total > 0 {
            100.0 * position as f64 / self.total as f64
        } else {
            100.0
        };
        eprintln!(
            "{}: {position}/{} ({percent:.0}%, {rate:.0}/s) {message}",
            self.label, self.total
        );
    }
}

/// `3.2s`, `12m04s`, `1h02m`.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else if seconds < 3600.0 {
        let whole = seconds as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        let whole = seconds as u64;
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(3240)), "3.2s");
        assert_eq!(format_duration(Duration::from_secs(724)), "12m04s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn quiet_modes_count_without_drawing() {
        let progress = Progress::new(ProgressMode::None, "t", 10, "items");
        progress.inc(5);
        progress.set_message("loss 0.1");
        progress.finish();
    }
}
