//! Small text-formatting helpers for the human output: aligned blocks and tables, sizes,
//! durations and timestamps as an SRE reads them.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

/// `label  value` lines with the values aligned in one column.
pub fn aligned_pairs(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:<width$}  {value}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A table with a header row and columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    std::iter::once(line(headers.to_vec()))
        .chain(
            rows.iter()
                .map(|row| line(row.iter().map(String::as_str).collect())),
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// Bytes in binary units with one decimal: `512 B`, `12.3 MiB`.
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if count < 1024 {
        return format!("{count} B");
    }
    let mut value = count as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Seconds as `2h 3m 4s`; below ten seconds a fraction shows with one decimal (`3.2s`):
/// job ages are short.
pub fn seconds(value: f64) -> String {
    let value = value.max(0.0);
    if value < 10.0 && value.fract() != 0.0 {
        return format!("{value:.1}s");
    }
    humantime::format_duration(Duration::from_secs(value as u64)).to_string()
}

/// A timestamp from the agent: unix seconds become RFC 3339 (UTC), texts are shown as they are.
pub fn timestamp(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(secs) if secs >= 0 => {
                humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs as u64))
                    .to_string()
            }
            _ => n.to_string(),
        },
        other => plain(other),
    }
}

/// A JSON value as text without the quotes of a string; `-` for null.
pub fn plain(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `part / whole` as a percentage with one decimal, or `-` when `whole` is zero.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_string()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 * 1024 * 1024), "64.0 MiB");
    }

    #[test]
    fn durations_read_like_uptime() {
        assert_eq!(seconds(3.25), "3.2s");
        assert_eq!(seconds(2.0), "2s");
        assert_eq!(seconds(7384.9), "2h 3m 4s");
    }

    #[test]
    fn timestamps_from_unix_seconds_are_rfc3339() {
        assert_eq!(timestamp(&Value::from(0)), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(&Value::from("yesterday")), "yesterday");
        assert_eq!(timestamp(&Value::Null), "-");
    }

    #[test]
    fn tables_align_columns() {
        let rendered = table(
            &["ID", "STATE"],
            &[
                vec!["7".into(), "running".into()],
                vec!["1234".into(), "queued".into()],
            ],
        );
        assert_eq!(rendered, "ID    STATE\n7     running\n1234  queued");
    }

    #[test]
    fn pairs_align_values() {
        let rendered = aligned_pairs(&[("a".into(), "1".into()), ("long".into(), "2".into())]);
        assert_eq!(rendered, "a     1\nlong  2");
    }
}
