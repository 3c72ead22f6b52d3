//! The response-time summary family, written by hand: `prometheus-client` has no summary
//! type, and the quantiles come from lv's merged histograms, not from observations. The same
//! lines are valid in the Prometheus text format 0.0.4 and in OpenMetrics 1.0.

use std::fmt::Write as _;

/// One labelled series of the summary: quantiles, sum and count of one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Label pairs, in order (values are escaped when written).
    pub labels: Vec<(String, String)>,
    /// `(quantile, value)`: the quantile as written in the label (`"0.95"`) and its value.
    pub quantiles: Vec<(&'static str, f64)>,
    /// Sum of every observation.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// Escapes a label value as both formats require: backslash, double quote and newline.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

fn label_text(labels: &[(String, String)], extra: Option<(&str, &str)>) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape_label(value)))
        .collect();
    if let Some((key, value)) = extra {
        pairs.push(format!("{key}=\"{}\"", escape_label(value)));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

/// Appends the summary family `name` (HELP, TYPE, then each row's quantiles, `_sum` and
/// `_count`) to `out`; nothing when there are no rows.
pub fn write_summary(out: &mut String, name: &str, help: &str, rows: &[SummaryRow]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} summary");
    for row in rows {
        for (quantile, value) in &row.quantiles {
            let labels = label_text(&row.labels, Some(("quantile", quantile)));
            let _ = writeln!(out, "{name}{labels} {}", float(*value));
        }
        let labels = label_text(&row.labels, None);
        let _ = writeln!(out, "{name}_sum{labels} {}", float(row.sum));
        let _ = writeln!(out, "{name}_count{labels} {}", row.count);
    }
}

/// A sample value: finite numbers as Rust prints them, the rest as both formats spell them.
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_has_quantiles_sum_and_count_per_row() {
        let rows = [SummaryRow {
            labels: vec![("name".to_owned(), "a \"b\"\\\n".to_owned())],
            quantiles: vec![("0.5", 0.25), ("1", 1.5)],
            sum: 3.0,
            count: 4,
        }];
        let mut out = String::new();
        write_summary(&mut out, "x_seconds", "Times.", &rows);
        let expected = "# HELP x_seconds Times.\n# TYPE x_seconds summary\n\
            x_seconds{name=\"a \\\"b\\\"\\\\\\n\",quantile=\"0.5\"} 0.25\n\
            x_seconds{name=\"a \\\"b\\\"\\\\\\n\",quantile=\"1\"} 1.5\n\
            x_seconds_sum{name=\"a \\\"b\\\"\\\\\\n\"} 3\n\
            x_seconds_count{name=\"a \\\"b\\\"\\\\\\n\"} 4\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn no_rows_write_nothing_and_odd_values_are_spelled_out() {
        let mut out = String::new();
        write_summary(&mut out, "x", "h", &[]);
        assert!(out.is_empty());
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(0.000_5), "0.0005");
    }
}
