//! Ctrl-C and SIGTERM: the first asks the running command to stop at its next safe point and
//! undo what it made; the second exits at once and says how to sweep what is left.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

use crate::error::{Error, Result};

/// Exit code of a command stopped by a signal (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Whether the user asked the command to stop. Cheap to clone and to check between steps.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
}

impl Interrupt {
    /// Starts listening for SIGINT and SIGTERM on the current tokio runtime.
    pub fn listen() -> Interrupt {
        let interrupt = Interrupt::default();
        let requested = Arc::clone(&interrupt.requested);
        tokio::spawn(async move {
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if requested.swap(true, Ordering::SeqCst) {
                    eprintln!(
                        "firedrill: interrupted twice, exiting now; run `firedrill cleanup` to \
                         remove what this command left"
                    );
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
                eprintln!("firedrill: interrupted, cleaning up (interrupt again to exit at once)");
            }
        });
        interrupt
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// `Err(Error::Interrupted)` once a stop was asked for: call between steps.
    pub fn check(&self) -> Result<()> {
        if self.is_requested() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Asks for a stop, as a signal would (used by tests and by callers giving up).
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_fails_once_a_stop_is_requested() {
        let interrupt = Interrupt::default();
        assert!(interrupt.check().is_ok());
        interrupt.clone().request();
        assert!(matches!(interrupt.check(), Err(Error::Interrupted)));
    }
}
