//! The summary `bench/run` ends with: every figure the benchmarks left in `bench/out/*.json`,
//! each with its ratio to the reference measured in the same run, as one table, and the plot
//! `bench/out/bench.svg` (throughput and p99 per scenario). Run it after the others.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use roster_bench::{Row, out_dir, print_table};
use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Throughput bars scaled within each group (units differ between groups), p99 bars scaled
/// within each group too; a group without latencies shows none.
fn svg(groups: &[(String, Vec<Row>)], notes: &[String]) -> String {
    let (label_w, bar_w, gap, row_h) = (400.0, 300.0, 40.0, 26.0);
    let width = label_w + 2.0 * (bar_w + 130.0) + gap;
    let rows: usize = groups.iter().map(|(_, r)| r.len() + 2).sum();
    let height = 60.0 + rows as f64 * row_h + notes.len() as f64 * 16.0 + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let tx = label_w;
    let px = label_w + bar_w + 130.0 + gap;
    let _ = writeln!(
        s,
        r#"<text x="10" y="24" font-size="15" font-weight="bold">Roster benchmarks: throughput and p99 per scenario (ratios against the reference of the same run)</text>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{tx}" y="48" font-weight="bold">throughput (longer is better)</text>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{px}" y="48" font-weight="bold">p99 latency (shorter is better)</text>"#
    );
    let mut y = 60.0;
    for (group, rows) in groups {
        y += row_h;
        let _ = writeln!(
            s,
            r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
            y - 8.0,
            esc(group)
        );
        let max_rate = rows.iter().map(|r| r.rate).fold(0.0, f64::max).max(1e-9);
        let max_p99 = rows
            .iter()
            .filter_map(|r| r.p99_ms)
            .fold(0.0, f64::max)
            .max(1e-9);
        for r in rows {
            let is_ref = r.reference == r.scenario;
            let colour = if is_ref {
                "#9aa5b1"
            } else if r.scenario.contains("Roster") || r.scenario.contains("apalis") {
                "#2f6fb3"
            } else {
                "#d08c2f"
            };
            let _ = writeln!(
                s,
                r#"<text x="20" y="{}">{}</text>"#,
                y + 13.0,
                esc(&r.scenario)
            );
            let w = bar_w * r.rate / max_rate;
            let _ = writeln!(
                s,
                r#"<rect x="{tx}" y="{}" width="{w:.1}" height="{}" fill="{colour}"/>"#,
                y + 2.0,
                row_h - 8.0
            );
            let ratio = if is_ref {
                "reference".to_string()
            } else {
                format!("{:.2}x", r.ratio)
            };
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}">{:.0} {} ({ratio})</text>"#,
                tx + w + 6.0,
                y + 13.0,
                r.rate,
                esc(&r.unit)
            );
            match r.p99_ms {
                Some(p99) => {
                    let w = bar_w * p99 / max_p99;
                    let _ = writeln!(
                        s,
                        r#"<rect x="{px}" y="{}" width="{w:.1}" height="{}" fill="{colour}"/>"#,
                        y + 2.0,
                        row_h - 8.0
                    );
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{}">{p99:.1} ms</text>"#,
                        px + w + 6.0,
                        y + 13.0
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{px}" y="{}" fill="#666">n/a (batch: time to drain)</text>"##,
                        y + 13.0
                    );
                }
            }
            y += row_h;
        }
        y += row_h;
    }
    for note in notes {
        let _ = writeln!(
            s,
            r##"<text x="10" y="{y}" fill="#444">{}</text>"##,
            esc(note)
        );
        y += 16.0;
    }
    s.push_str("</svg>\n");
    s
}

fn main() -> anyhow::Result<()> {
    let dir = out_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}; run the other benchmarks first", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    let mut notes = Vec::new();
    for f in files {
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
        if let Some(c) = doc["conditions"].as_str() {
            notes.push(format!("{}: {c}", doc["bench"].as_str().unwrap_or("?")));
        }
        for v in doc["rows"].as_array().into_iter().flatten() {
            let Some(row) = Row::from_json(v) else {
                continue;
            };
            match groups.iter_mut().find(|(g, _)| *g == row.group) {
                Some((_, rows)) => rows.push(row),
                None => groups.push((row.group.clone(), vec![row])),
            }
        }
    }
    println!();
    println!("Summary of this run (each ratio against the reference of its group, same run):");
    for (group, rows) in &groups {
        println!();
        println!("{group}:");
        println!();
        print_table(rows);
    }
    let plot = dir.join("bench.svg");
    std::fs::write(&plot, svg(&groups, &notes))?;
    println!();
    for note in &notes {
        println!("{note}");
    }
    println!("plot: {}", plot.display());
    Ok(())
}
