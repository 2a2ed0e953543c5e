//! One self-contained HTML page of drill results (inline CSS, no script, nothing fetched), to
//! mail or attach to a game-day ticket.

use std::cmp::Ordering;
use std::fmt::Write as _;

use super::{describe, measured, target, time_rows, ResultFile};
use crate::runbook;
use crate::score;

const STYLE: &str = "\
body { font-family: system-ui, sans-serif; color: #1f2328; line-height: 1.4; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; }
section { border-top: 2px solid #d0d7de; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
ul.reasons { margin: 0; padding-left: 1.2rem; color: #57606a; }
.total { font-size: 1.3rem; }
.grade { color: #fff; font-weight: bold; padding: 0 0.45rem; border-radius: 0.3rem; }
.grade-A, .grade-B { background: #1a7f37; }
.grade-C, .grade-D { background: #9a6700; }
.grade-F { background: #cf222e; }
.good { color: #1a7f37; }
.warn { color: #9a6700; }
.bad { color: #cf222e; }
code { font-family: ui-monospace, monospace; font-size: 0.9em; }
";

/// The page: a leaderboard when there are several results (best total first, faster
/// resolution breaking ties), then one section per result with its scorecard and timeline.
pub fn page(results: &[ResultFile]) -> String {
    let title = match results {
        [one] => format!("firedrill: {}, {}", one.scenario_title, one.trainee),
        _ => format!("firedrill: {} drill results", results.len()),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    if results.len() > 1 {
        leaderboard(&mut out, results);
    }
    for result in results {
        section(&mut out, result);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn leaderboard(out: &mut String, results: &[ResultFile]) {
    let mut ranked: Vec<&ResultFile> = results.iter().collect();
    ranked.sort_by(|a, b| {
        b.score
            .total
            .cmp(&a.score.total)
            .then_with(|| sooner(a.times.resolve_s, b.times.resolve_s))
            .then_with(|| a.session.cmp(&b.session))
    });
    out.push_str(
        "<h2>Leaderboard</h2>\n<table class=\"leaderboard\">\n<tr><th>#</th><th>trainee</th>\
         <th>scenario</th><th>score</th><th>grade</th><th>outcome</th><th>resolved in</th></tr>\n",
    );
    for (rank, result) in ranked.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td><a href=\"#{}\">{}</a></td><td>{}</td>\
             <td class=\"num\">{}</td><td><span class=\"grade grade-{}\">{}</span></td>\
             <td>{}</td><td class=\"num\">{}</td></tr>",
            rank + 1,
            escape(&anchor(result)),
            escape(&result.trainee),
            escape(&result.scenario_title),
            result.score.total,
            result.score.grade,
            result.score.grade,
            score::outcome_label(result.outcome),
            result
                .times
                .resolve_s
                .map_or_else(|| "—".to_string(), measured)
        );
    }
    out.push_str("</table>\n");
}

/// Resolved beats unresolved, and sooner beats later.
fn sooner(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn anchor(result: &ResultFile) -> String {
    format!("session-{}", result.session)
}

fn section(out: &mut String, result: &ResultFile) {
    let score = &result.score;
    let _ = writeln!(
        out,
        "<section id=\"{}\">\n<h2>{}: {}</h2>",
        escape(&anchor(result)),
        escape(&result.scenario_title),
        escape(&result.trainee)
    );
    let _ = writeln!(
        out,
        "<p class=\"total\"><strong>{}/100</strong> <span class=\"grade grade-{}\">{}</span> \
         {}</p>",
        score.total,
        score.grade,
        score.grade,
        score::outcome_label(result.outcome)
    );
    let guided = if result.guided { ", guided" } else { "" };
    let _ = writeln!(
        out,
        "<p>Scenario <code>{}</code>, runbook <a href=\"{}\"><code>{}</code></a>, session \
         <code>{}</code>, seed {}{guided}. Fault injected at {}.</p>",
        escape(&result.scenario),
        escape(&runbook::url(&result.runbook)),
        escape(&result.runbook),
        escape(&result.session),
        result.seed,
        escape(&result.fault_injected_at)
    );

    out.push_str(
        "<h3>Score</h3>\n<table>\n<tr><th>part</th><th>points</th><th>lost points</th></tr>\n",
    );
    for component in &score.components {
        let tone = match component.points {
            0 => "bad",
            points if points == component.max => "good",
            _ => "warn",
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num {tone}\">{}/{}</td><td>{}</td></tr>",
            escape(&component.name),
            component.points,
            component.max,
            reasons(&component.reasons)
        );
    }
    for deduction in &score.deductions {
        let tone = if deduction.points < 0 { "bad" } else { "good" };
        let _ = writeln!(
            out,
            "<tr><td>deduction</td><td class=\"num {tone}\">{}</td><td>{}</td></tr>",
            deduction.points,
            escape(&deduction.reason)
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>total</th><th class=\"num\">{}/100</th><th>grade {}</th></tr>\n</table>",
        score.total, score.grade
    );

    out.push_str(
        "<h3>Times</h3>\n<table>\n<tr><th>from the injection to</th><th>measured</th>\
         <th>target</th></tr>\n",
    );
    for (label, at, goal) in time_rows(result) {
        let tone = match (at, goal) {
            (Some(at), Some(goal)) if at <= goal => " good",
            (Some(_), Some(_)) => " warn",
            (None, Some(_)) => " bad",
            _ => "",
        };
        let _ = writeln!(
            out,
            "<tr><td>{label}</td><td class=\"num{tone}\">{}</td><td class=\"num\">{}</td></tr>",
            at.map_or_else(|| "never".to_string(), measured),
            goal.map_or_else(|| "—".to_string(), target)
        );
    }
    out.push_str("</table>\n");

    out.push_str(
        "<h3>Runbook procedure</h3>\n<table>\n<tr><th></th><th>step</th><th>done at</th>\
         <th>weight</th></tr>\n",
    );
    for step in &result.procedure {
        let (mark, when) = match step.done_at {
            Some(at) if step.in_order => ("<span class=\"good\">✓</span>", score::offset(at)),
            Some(at) => (
                "<span class=\"warn\">✓</span>",
                format!(
                    "{}, out of order: should follow {}",
                    score::offset(at),
                    step.should_follow.join(", ")
                ),
            ),
            None => ("<span class=\"bad\">✗</span>", "not done".to_string()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{mark}</td><td>{} (<code>{}</code>)</td><td>{}</td>\
             <td class=\"num\">{}</td></tr>",
            escape(&step.title),
            escape(&step.id),
            escape(&when),
            step.weight
        );
    }
    out.push_str("</table>\n");

    out.push_str("<h3>Timeline</h3>\n<table>\n<tr><th>time</th><th>event</th></tr>\n");
    for entry in &result.timeline {
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td></tr>",
            score::offset(entry.at),
            escape(&describe(&entry.event))
        );
    }
    out.push_str("</table>\n</section>\n");
}

fn reasons(reasons: &[String]) -> String {
    if reasons.is_empty() {
        return String::new();
    }
    let items: String = reasons
        .iter()
        .map(|r| format!("<li>{}</li>", escape(r)))
        .collect();
    format!("<ul class=\"reasons\">{items}</ul>")
}

/// Text made safe for HTML content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn two_results_make_a_page_with_a_leaderboard() {
        insta::assert_snapshot!(page(&[fixture::mitigated(), fixture::resolved()]));
    }

    #[test]
    fn the_leaderboard_ranks_by_total_then_by_the_sooner_resolution() {
        let mut fast = fixture::resolved();
        fast.session = "fast".to_string();
        let mut slow = fixture::resolved();
        slow.session = "slow".to_string();
        slow.times.resolve_s = Some(800.0);
        let page = page(&[fixture::mitigated(), slow, fast]);
        let board = page.split("</table>").next().unwrap();
        let order: Vec<usize> = ["#session-fast", "#session-slow", "#session-fd-20231114-bob"]
            .iter()
            .map(|anchor| board.find(anchor).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{board}");
    }

    #[test]
    fn one_result_has_no_leaderboard() {
        assert!(!page(&[fixture::resolved()]).contains("Leaderboard"));
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_what_the_trainee_typed() {
        let mut result = fixture::resolved();
        result.trainee = "<script>alert('x')</script>".to_string();
        let page = page(&[result]);
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        for external in ["<script", "src=", "<link", "http://", "https://"] {
            assert!(!page.contains(external), "{external}");
        }
    }
}
