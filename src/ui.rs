//! How long-running steps show progress: an indicatif spinner on a terminal, plain log lines
//! (one per step, on stderr) when a script or CI drives firedrill.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of one command, shown on stderr.
pub struct Progress {
    spinner: Option<ProgressBar>,
    /// Steps are not shown at all (see [`Progress::silent`]).
    silent: bool,
}

impl Progress {
    /// A spinner when stderr is a terminal (and `NO_COLOR`/`TERM=dumb` do not forbid it).
    pub fn new() -> Progress {
        let interactive =
            std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let spinner = interactive.then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .expect("the template is valid"),
            );
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        });
        Progress {
            spinner,
            silent: false,
        }
    }

    /// Shows nothing: for steps a fault takes behind the trainee's back (deploying the bad
    /// release of a `bad-release` drill must not announce itself on the drill's terminal).
    pub fn silent() -> Progress {
        Progress {
            spinner: None,
            silent: true,
        }
    }

    /// Says what firedrill is doing now.
    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        match &self.spinner {
            Some(spinner) => spinner.set_message(message),
            None if self.silent => tracing::debug!("{message}"),
            None => eprintln!("firedrill: {message}"),
        }
    }

    /// Clears the spinner so the command's result prints on a clean line.
    pub fn finish(&self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}

/// A drill's timer and live state: on a terminal, a status line (`drill 00:03:12  2 alerts
/// firing ...`) kept under the drill's output on stdout; otherwise nothing but the lines, so a
/// script reads exactly what it would read from a log.
pub struct DrillTimer {
    bar: Option<ProgressBar>,
    /// Nothing is printed (see [`DrillTimer::hidden`]).
    hidden: bool,
}

impl DrillTimer {
    pub fn new() -> DrillTimer {
        let interactive =
            std::io::stdout().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let bar = interactive.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{spinner} drill {elapsed_precise}  {msg}")
                    .expect("the template is valid"),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        DrillTimer { bar, hidden: false }
    }

    /// Prints nothing: for drills `firedrill validate` runs several at a time.
    pub fn hidden() -> DrillTimer {
        DrillTimer {
            bar: None,
            hidden: true,
        }
    }

    /// Prints a line of the drill's output above the status line.
    pub fn println(&self, line: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(line.as_ref()),
            None if self.hidden => {}
            None => println!("{}", line.as_ref()),
        }
    }

    /// Shows the live state in the status line.
    pub fn set_state(&self, state: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(state.into());
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for DrillTimer {
    fn default() -> Self {
        DrillTimer::new()
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `45s`, `2m 05s`, `1h 02m 05s`: whole seconds, zero-padded after the leading unit so a column
/// of them lines up (pages, scorecards and debriefs all write durations this way).
pub fn elapsed(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    if hours > 0 {
        format!("{hours}h {minutes:02}m {seconds:02}s")
    } else if minutes > 0 {
        format!("{minutes}m {seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

/// The sentence with its first letter in upper case.
pub fn capitalised(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_times_pad_after_the_leading_unit() {
        assert_eq!(elapsed(Duration::from_millis(900)), "0s");
        assert_eq!(elapsed(Duration::from_secs(45)), "45s");
        assert_eq!(elapsed(Duration::from_secs(125)), "2m 05s");
        assert_eq!(elapsed(Duration::from_secs(3_725)), "1h 02m 05s");
    }
}
