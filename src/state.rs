//! Where firedrill keeps state on the host: `FIREDRILL_STATE_DIR`, else
//! `$XDG_STATE_HOME/firedrill`, else `~/.local/state/firedrill`. Fault records live in
//! `faults/`, running drills' session files in `drills/`.

use std::path::PathBuf;

pub fn dir() -> PathBuf {
    std::env::var_os("FIREDRILL_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("firedrill")))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/firedrill"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("firedrill-state"))
}
