//! Version comparison and the `affected` expressions of the vulnerability DB.
//!
//! Versions compare piece by piece: runs of digits numerically, runs of letters
//! alphabetically, everything else separates pieces. That orders semver, PEP 440 release
//! numbers and Debian revisions (`1.1.1n-0+deb10u3`) well enough for the entries we ship.
//!
//! Expression grammar: `*` (every version) or alternatives separated by `||`, each a
//! comma-separated list of comparators that must all hold: `<V`, `<=V`, `>V`, `>=V`, `=V`,
//! or a bare `V`, which matches V and every version below it (`3.8` matches `3.8` and
//! `3.8.18`, the way image tags name release series).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Number(u64),
    Text(String),
}

fn pieces(version: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = version.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(d) = chars.next_if(|d| d.is_ascii_digit()) {
                digits.push(d);
            }
            out.push(Piece::Number(digits.parse().unwrap_or(u64::MAX)));
        } else if c.is_ascii_alphabetic() {
            let mut text = String::new();
            while let Some(t) = chars.next_if(|t| t.is_ascii_alphabetic()) {
                text.push(t.to_ascii_lowercase());
            }
            out.push(Piece::Text(text));
        } else {
            chars.next();
        }
    }
    out
}

fn compare_pieces(a: &[Piece], b: &[Piece]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ordering = match (x, y) {
            (Piece::Number(x), Piece::Number(y)) => x.cmp(y),
            (Piece::Text(x), Piece::Text(y)) => x.cmp(y),
            // A release number sorts after a pre-release word (`1.0` > `1.0rc1` at the 3rd piece).
            (Piece::Number(_), Piece::Text(_)) => Ordering::Greater,
            (Piece::Text(_), Piece::Number(_)) => Ordering::Less,
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.len().cmp(&b.len())
}

/// Orders two versions the way the scanner's ranges do (see the module comment).
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_pieces(&pieces(a), &pieces(b))
}

/// The next patch of `version`: its last number plus one (`0.23.46` -> `0.23.47`,
/// `2.36-9+deb12u13` -> `2.36-9+deb12u14`), or `version.1` when it ends in no number.
pub fn next_patch(version: &str) -> String {
    let digits_start = version.rfind(|c: char| c.is_ascii_digit()).map(|last| {
        version[..=last]
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1)
    });
    match digits_start {
        Some(start) => {
            let end = version[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(version.len(), |i| start + i);
            let number: u64 = version[start..end].parse().unwrap_or(u64::MAX - 1);
            format!("{}{}{}", &version[..start], number + 1, &version[end..])
        }
        None => format!("{version}.1"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    Series,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    operator: Operator,
    version: Vec<Piece>,
}

impl Comparator {
    fn holds(&self, installed: &[Piece]) -> bool {
        let ordering = compare_pieces(installed, &self.version);
        match self.operator {
            Operator::Less => ordering == Ordering::Less,
            Operator::LessOrEqual => ordering != Ordering::Greater,
            Operator::Greater => ordering == Ordering::Greater,
            Operator::GreaterOrEqual => ordering != Ordering::Less,
            Operator::Equal => ordering == Ordering::Equal,
            Operator::Series => installed.starts_with(&self.version),
        }
    }
}

/// A parsed `affected` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// `None` for `*`.
    alternatives: Option<Vec<Vec<Comparator>>>,
}

impl Affected {
    pub fn parse(expression: &str) -> Result<Affected, String> {
        let expression = expression.trim();
        if expression == "*" {
            return Ok(Affected { alternatives: None });
        }
        let mut alternatives = Vec::new();
        for alternative in expression.split("||") {
            let mut comparators = Vec::new();
            for comparator in alternative.split(',') {
                comparators.push(
                    parse_comparator(comparator.trim())
                        .map_err(|e| format!("`{expression}`: {e}"))?,
                );
            }
            alternatives.push(comparators);
        }
        Ok(Affected {
            alternatives: Some(alternatives),
        })
    }

    /// True for `*`: every version the package has in the entry's release is affected.
    pub fn is_any(&self) -> bool {
        self.alternatives.is_none()
    }

    pub fn matches(&self, installed: &str) -> bool {
        let Some(alternatives) = &self.alternatives else {
            return true;
        };
        let installed = pieces(installed);
        // Versions start with a number; `latest` or a codename is not a version to compare.
        matches!(installed.first(), Some(Piece::Number(_)))
            && alternatives
                .iter()
                .any(|all| all.iter().all(|comparator| comparator.holds(&installed)))
    }
}

fn parse_comparator(text: &str) -> Result<Comparator, String> {
    let (operator, version) = [
        ("<=", Operator::LessOrEqual),
        (">=", Operator::GreaterOrEqual),
        ("<", Operator::Less),
        (">", Operator::Greater),
        ("=", Operator::Equal),
    ]
    .iter()
    .find_map(|(prefix, operator)| {
        text.strip_prefix(prefix)
            .map(|rest| (*operator, rest.trim()))
    })
    .unwrap_or((Operator::Series, text));
    let version = pieces(version);
    if version.is_empty() {
        return Err(format!("`{text}` names no version"));
    }
    Ok(Comparator { operator, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_versions_of_every_ecosystem() {
        assert_eq!(compare("3.8.18", "3.9"), Ordering::Less);
        assert_eq!(compare("4.17.21", "4.17.3"), Ordering::Greater);
        assert_eq!(
            compare("1.1.1d-0+deb10u7", "1.1.1n-0+deb10u3"),
            Ordering::Less
        );
        assert_eq!(compare("2.0rc1", "2.0.0"), Ordering::Less);
        assert_eq!(compare("18.04", "18.04"), Ordering::Equal);
    }

    #[test]
    fn next_patch_bumps_the_last_number() {
        assert_eq!(next_patch("0.23.46"), "0.23.47");
        assert_eq!(next_patch("2.36-9+deb12u13"), "2.36-9+deb12u14");
        assert_eq!(next_patch("1.36.1-3"), "1.36.1-4");
        assert_eq!(next_patch("1.0.0-rc"), "1.0.1-rc");
        assert_eq!(next_patch("git"), "git.1");
        for version in ["0.23.46", "2.36-9+deb12u13", "1.36.1-3"] {
            assert_eq!(compare(version, &next_patch(version)), Ordering::Less);
        }
    }

    #[test]
    fn expressions() {
        let range = Affected::parse(">=3.0, <3.2.14 || >=4.0, <4.0.6").unwrap();
        assert!(range.matches("3.1"));
        assert!(range.matches("4.0.5"));
        assert!(!range.matches("3.2.14"));
        assert!(!range.matches("2.2"));
        let series = Affected::parse("3.6 || 3.7 || 3.8").unwrap();
        assert!(series.matches("3.8"));
        assert!(series.matches("3.8.18"));
        assert!(!series.matches("3.80"));
        assert!(!series.matches("3.9"));
        assert!(Affected::parse("*").unwrap().is_any());
        assert!(Affected::parse("*").unwrap().matches("anything"));
        assert!(!Affected::parse("<1.0").unwrap().matches("latest"));
        assert!(Affected::parse("<").is_err());
        assert!(Affected::parse("1.0,,").is_err());
    }
}
