//! `firedrill report <RESULT.json>... [--format md|html|json] [-o FILE]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::error::Result;
use crate::report::{self, Format};

pub fn report(paths: &[PathBuf], format: Format, output: Option<&Path>) -> Result<ExitCode> {
    let results = paths
        .iter()
        .map(|path| report::read(path))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let text = report::render(&results, format);
    let Some(path) = output else {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    super::write_atomically(path, &text, "writing the report")?;
    Ok(ExitCode::SUCCESS)
}
