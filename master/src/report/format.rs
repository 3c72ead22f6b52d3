//! Number, duration and time formatting for the console, the CSV, HTML and markdown reports,
//! and report file names. One home for every formatting helper, so report modules import this
//! one and never each other. Pure functions; dates are UTC in the proleptic Gregorian calendar.

use jiff::SignedDuration;
use jiff::civil::{DateTime, datetime};

/// `value` with at most `places` decimals and no trailing zeros (`12`, `2.5`, never `-0`).
pub fn decimal(value: f64, places: usize) -> String {
    let text = format!("{value:.places$}");
    let text = if places > 0 {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// Milliseconds as shown in tables: whole from 10 ms up, two decimals below.
pub fn ms(value: f64) -> String {
    if value >= 10.0 || value == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Milliseconds with up to three decimals (microsecond resolution) and no trailing zeros, as
/// machine-read files want them.
pub fn ms_precise(value: f64) -> String {
    decimal((value * 1000.0).round() / 1000.0, 6)
}

/// A ratio (0.04) as a percentage with two decimals (`4.00%`).
pub fn percent(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// A verdict's measured value in its rule's unit (`12 ms`, `4.00%`, `2.50x`).
pub fn verdict_value(metric: &str, value: f64) -> String {
    match metric {
        "avg_ms" | "p95_ms" | "p99_ms" => format!("{} ms", ms(value)),
        "failure_ratio" | "max_failure_ratio" => percent(value),
        _ => format!("{value:.2}x"),
    }
}

/// `text` cut to `width` characters, the last one an ellipsis when anything was cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Seconds as `42.5 s`, `5m 03s` or `1h 02m 03s`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 60.0 {
        return format!("{:.1} s", if seconds.is_finite() { seconds } else { 0.0 });
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time in milliseconds.
pub fn utc_timestamp(unix_ms: i64) -> String {
    utc(unix_ms).strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `YYYYMMDDTHHMMSS` (UTC) for a Unix time in milliseconds: a stamp for file names.
pub fn utc_compact(unix_ms: i64) -> String {
    utc(unix_ms).strftime("%Y%m%dT%H%M%S").to_string()
}

/// `YYYY-MM-DD-HHhMM` (UTC) for a Unix time in milliseconds: Locust's
/// `format_safe_timestamp` (which uses local time), for download names.
pub fn utc_minute(unix_ms: i64) -> String {
    utc(unix_ms).strftime("%Y-%m-%d-%Hh%M").to_string()
}

/// `HH:MM:SS UTC`, the time of day of a Unix time in milliseconds.
pub fn utc_clock(unix_ms: i64) -> String {
    utc(unix_ms).strftime("%H:%M:%S UTC").to_string()
}

/// The UTC date and time of a Unix time in milliseconds, held to years -9999..=9999. Unix
/// time gives every day 86,400 seconds, so it is a plain offset from its civil epoch.
fn utc(unix_ms: i64) -> DateTime {
    const EPOCH: DateTime = datetime(1970, 1, 1, 0, 0, 0, 0);
    EPOCH
        .checked_add(SignedDuration::from_millis(unix_ms))
        .unwrap_or(if unix_ms < 0 {
            DateTime::MIN
        } else {
            DateTime::MAX
        })
}

/// The report file name from a `--html` template: `{u}` becomes the user count, `{r}` the
/// spawn rate and `{t}` the run time, as Locust does.
pub fn report_name(template: &str, users: u32, spawn_rate: f64, run_time: &str) -> String {
    template
        .replace("{u}", &users.to_string())
        .replace("{r}", &decimal(spawn_rate, 2))
        .replace("{t}", run_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_drop_trailing_zeros() {
        assert_eq!(decimal(12.0, 2), "12");
        assert_eq!(decimal(2.50, 2), "2.5");
        assert_eq!(decimal(1.0 / 3.0, 6), "0.333333");
        assert_eq!(decimal(-0.0001, 2), "0");
        assert_eq!(decimal(0.0, 3), "0");
        assert_eq!(decimal(1234.5678, 3), "1234.568");
        assert_eq!(decimal(60.0, 0), "60", "no decimals: nothing to trim");
        assert_eq!(decimal(-0.2, 0), "0");
    }

    #[test]
    fn table_milliseconds() {
        assert_eq!(ms(0.0), "0");
        assert_eq!(ms(1.234), "1.23");
        assert_eq!(ms(9.999), "10.00");
        assert_eq!(ms(10.0), "10");
        assert_eq!(ms(1234.6), "1235");
    }

    #[test]
    fn precise_milliseconds_keep_microseconds() {
        assert_eq!(ms_precise(1.2345678), "1.235");
        assert_eq!(ms_precise(12.0), "12");
        assert_eq!(ms_precise(0.0004), "0");
        assert_eq!(ms_precise(0.001), "0.001");
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(0.04), "4.00%");
        assert_eq!(percent(0.0), "0.00%");
        assert_eq!(percent(1.0), "100.00%");
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("ATLAS /v1/chat", 6), "ATLAS…");
        assert_eq!(truncate("éééé", 3), "éé…");
        assert_eq!(truncate("abc", 0), "…");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(42.46), "42.5 s");
        assert_eq!(duration(303.0), "5m 03s");
        assert_eq!(duration(3723.0), "1h 02m 03s");
        assert_eq!(duration(f64::NAN), "0.0 s");
    }

    #[test]
    fn utc_dates_and_clocks() {
        assert_eq!(utc_timestamp(1_709_164_800_000), "2024-02-29 00:00:00 UTC");
        assert_eq!(utc_timestamp(4_102_444_800_000), "2100-01-01 00:00:00 UTC");
        assert_eq!(utc_compact(1_709_164_801_000), "20240229T000001");
        assert_eq!(
            utc_timestamp(-62_135_596_800_000),
            "0001-01-01 00:00:00 UTC"
        );
        assert_eq!(
            utc_timestamp(253_402_300_799_999),
            "9999-12-31 23:59:59 UTC"
        );
        assert_eq!(utc_timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_timestamp(951_868_799_999), "2000-02-29 23:59:59 UTC");
        assert_eq!(utc_timestamp(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(utc_clock(1_700_000_042_999), "22:14:02 UTC");
        assert_eq!(utc_clock(-1), "23:59:59 UTC");
    }

    #[test]
    fn times_past_the_calendar_are_held_at_its_ends() {
        assert_eq!(utc_timestamp(i64::MAX), "9999-12-31 23:59:59 UTC");
        assert_eq!(utc_timestamp(i64::MIN), "-9999-01-01 00:00:00 UTC");
    }

    #[test]
    fn report_name_substitutes_like_locust() {
        assert_eq!(
            report_name("r_{u}u_{r}r_{t}.html", 50, 2.5, "10m"),
            "r_50u_2.5r_10m.html"
        );
        assert_eq!(report_name("{u}-{u}.html", 3, 1.0, "1h"), "3-3.html");
        assert_eq!(report_name("plain.html", 3, 1.0, "1h"), "plain.html");
    }
}
