//! The largest values lv accepts for a run, from any surface (flags, profile files, the web
//! form, shapes), and deadline arithmetic that cannot overflow. A value past a bound is an
//! error that names the field; a deadline past [`FAR_FUTURE`] is clamped, never a panic.

use std::ops::Add;
use std::time::Duration;

/// Most users one run may have over all workers (a million measured; see docs/scaling.md).
pub const MAX_USERS: u32 = 10_000_000;

/// Fastest spawn rate, users started per second over all workers.
pub const MAX_SPAWN_RATE: f64 = 1_000_000.0;

/// Longest run time: 30 days.
pub const MAX_RUN_TIME: Duration = Duration::from_secs(30 * 86_400);

/// Longest host name (RFC 1035's 253 characters).
pub const MAX_HOSTNAME_LEN: usize = 253;

/// Characters of an offending value quoted back in an error message.
pub const QUOTE_CHARS: usize = 100;

/// A deadline this far ahead stands for "never": what [`later`] clamps to (100 years).
pub const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `at + after`, with `after` clamped to [`FAR_FUTURE`] so that no value can overflow.
pub fn later<I: Add<Duration, Output = I>>(at: I, after: Duration) -> I {
    at + after.min(FAR_FUTURE)
}

/// `value` as an error message quotes it: at most [`QUOTE_CHARS`] characters, then
/// `... (N characters)` when it was longer.
pub fn quote(value: &str) -> String {
    let chars = value.chars().count();
    if chars <= QUOTE_CHARS {
        return value.to_owned();
    }
    let head: String = value.chars().take(QUOTE_CHARS).collect();
    format!("{head}... ({chars} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn later_clamps_what_would_overflow() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert_eq!(later(now, Duration::MAX), now + FAR_FUTURE);
    }

    #[test]
    fn quotes_are_short() {
        assert_eq!(quote("abc"), "abc");
        let long = "é".repeat(1_000_000);
        let quoted = quote(&long);
        assert!(quoted.starts_with(&"é".repeat(QUOTE_CHARS)), "{quoted}");
        assert!(quoted.ends_with("... (1000000 characters)"), "{quoted}");
        assert!(quoted.chars().count() < QUOTE_CHARS + 30);
    }
}
