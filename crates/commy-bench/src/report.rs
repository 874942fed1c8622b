//! The results: one row per case, printed as a Markdown table for people or as JSON for scripts.

use super::stats::{show_ns, Percentiles};
use serde_json::{json, Value};

/// What one side of a case measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Figure {
    /// Nanoseconds per operation: the median over batches.
    PerOp(f64),
    /// Latency percentiles, nanoseconds.
    Latency(Percentiles),
}

impl Figure {
    fn show(self) -> String {
        match self {
            Figure::PerOp(ns) => format!("{}/op", show_ns(ns)),
            Figure::Latency(p) => format!("p50 {}, p99 {}", show_ns(p.p50), show_ns(p.p99)),
        }
    }

    fn to_json(self) -> Value {
        match self {
            Figure::PerOp(ns) => json!({"ns_per_op": ns}),
            Figure::Latency(p) => json!({"p50_ns": p.p50, "p99_ns": p.p99}),
        }
    }

    /// The headline number: ns/op, or the median.
    fn headline(self) -> f64 {
        match self {
            Figure::PerOp(ns) => ns,
            Figure::Latency(p) => p.p50,
        }
    }
}

/// One case: the SDK's figure beside its baseline from the same run.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) case: &'static str,
    pub(crate) figure: Figure,
    /// What the baseline is.
    pub(crate) baseline_name: &'static str,
    pub(crate) baseline: Figure,
    /// The aim, as the largest acceptable ratio of the headline numbers; `None` where none is set.
    pub(crate) aim: Option<f64>,
}

impl Row {
    /// Figure over baseline: the headline numbers' ratio, and the p99s' for latencies.
    fn ratios(&self) -> (f64, Option<f64>) {
        let head = self.figure.headline() / self.baseline.headline();
        match (self.figure, self.baseline) {
            (Figure::Latency(f), Figure::Latency(b)) => (head, Some(f.p99 / b.p99)),
            _ => (head, None),
        }
    }

    fn met(&self) -> Option<bool> {
        self.aim.map(|aim| self.ratios().0 <= aim)
    }

    fn show_ratio(&self) -> String {
        match self.ratios() {
            (head, Some(p99)) => format!("p50 {head:.2}x, p99 {p99:.2}x"),
            (head, None) => format!("{head:.2}x"),
        }
    }
}

/// The rows as a Markdown table, with how each figure was taken.
pub(crate) fn table(rows: &[Row], iterations: u32) -> String {
    let header = [
        "case",
        "SDK",
        "baseline (same run)",
        "baseline figure",
        "ratio",
        "aim",
        "met?",
    ];
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.case.to_owned(),
                row.figure.show(),
                row.baseline_name.to_owned(),
                row.baseline.show(),
                row.show_ratio(),
                row.aim.map_or("none set".to_owned(), |a| format!("<= {a:.1}x")),
                match row.met() {
                    Some(true) => "yes".to_owned(),
                    Some(false) => "no".to_owned(),
                    None => "-".to_owned(),
                },
            ]
        })
        .collect();
    let mut out = markdown(&header, &lines);
    out.push_str(&format!(
        "\n{iterations} samples per side and case. Per-operation figures: the median over batches of {} operations, \
         SDK and baseline batches alternating. Latencies: SDK and baseline rounds alternate (remote), or their \
         passes interleave (local watch, both processes pinned as the row says; one way = round trip / 2).\n",
        super::local::BATCH
    ));
    out
}

fn markdown(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, width)| format!(" {cell:<width$} "))
            .collect();
        format!("|{}|\n", padded.join("|"))
    };
    let mut out = line(&mut header.iter().copied());
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&format!("|{}|\n", rules.join("|")));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// The rows as JSON: raw nanoseconds, ratios and aims.
pub(crate) fn json(rows: &[Row]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let (head, p99) = row.ratios();
            json!({
                "case": row.case,
                "sdk": row.figure.to_json(),
                "baseline_name": row.baseline_name,
                "baseline": row.baseline.to_json(),
                "ratio": head,
                "ratio_p99": p99,
                "aim": row.aim,
                "met": row.met(),
            })
        })
        .collect();
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_with_an_aim() {
        let row = Row {
            case: "local read",
            figure: Figure::PerOp(24.0),
            baseline_name: "raw",
            baseline: Figure::PerOp(20.0),
            aim: Some(1.2),
        };
        assert_eq!(row.show_ratio(), "1.20x");
        assert_eq!(row.met(), Some(true));
        let text = table(&[row], 10);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("| case "), "{first}");
        assert!(text.contains("| 24.0 ns/op "), "{text}");
        assert!(text.contains("| yes "), "{text}");
    }

    #[test]
    fn latency_rows_give_both_ratios() {
        let p = |p50, p99| Figure::Latency(Percentiles { p50, p99 });
        let row = Row {
            case: "remote read",
            figure: p(30_000.0, 90_000.0),
            baseline_name: "echo",
            baseline: p(20_000.0, 30_000.0),
            aim: None,
        };
        assert_eq!(row.show_ratio(), "p50 1.50x, p99 3.00x");
        assert_eq!(row.met(), None);
        assert_eq!(json(&[row])[0]["ratio_p99"], 3.0);
    }
}
