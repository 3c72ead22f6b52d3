//! Locust-style durations (`30s`, `5m`, `1h30m`).
//!
//! Profiles, the command line and the web UI give run times the way Locust users write them, so
//! lv reads the same forms (plus fractions and `ms`) and writes them back compactly in reports.
//! Parsing is exact: `1.5s` is 1.5 s to the nanosecond, no floating point involved.

use std::time::Duration;

/// The forms an error message suggests.
const FORMS: &str = "expected forms like 30s, 5m, 1h30m or a number of seconds";

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Fraction digits beyond this many are ignored (they are far below a nanosecond of an hour).
const MAX_FRACTION_DIGITS: u32 = 18;

/// Why a duration string was rejected; every message quotes the input (cut short when it
/// is long, as [`crate::bounds::quote`] does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing but whitespace.
    #[error("invalid duration \"\": empty; {FORMS}")]
    Empty,
    /// Starts with a minus sign.
    #[error("invalid duration {:?}: must not be negative; {FORMS}", quote(.input))]
    Negative {
        /// The input, trimmed.
        input: String,
    },
    /// A unit other than `h`, `m`, `s` or `ms`.
    #[error(
        "invalid duration {:?}: unknown unit {:?} (use h, m, s or ms); {FORMS}",
        quote(.input),
        quote(.unit)
    )]
    UnknownUnit {
        /// The input, trimmed.
        input: String,
        /// The unit as written.
        unit: String,
    },
    /// A unit repeated or after a smaller one (`5m1h`).
    #[error(
        "invalid duration {:?}: units must go from largest to smallest, once each; {FORMS}",
        quote(.input)
    )]
    UnitOrder {
        /// The input, trimmed.
        input: String,
    },
    /// More than `Duration` can hold.
    #[error("invalid duration {:?}: too large", quote(.input))]
    Overflow {
        /// The input, trimmed.
        input: String,
    },
    /// Anything else that is not a duration.
    #[error("invalid duration {:?}: {FORMS}", quote(.input))]
    Malformed {
        /// The input, trimmed.
        input: String,
    },
}

/// The input as a message quotes it: cut short when it is long.
fn quote(text: &str) -> String {
    crate::bounds::quote(text)
}

/// Parses `90` (seconds), `30s`, `5m`, `2h`, `1h30m15s`, `1.5s` or `500ms`; units ignore case.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    let malformed = || DurationError::Malformed {
        input: input.to_owned(),
    };
    let overflow = || DurationError::Overflow {
        input: input.to_owned(),
    };
    if input.starts_with('-') {
        return Err(DurationError::Negative {
            input: input.to_owned(),
        });
    }

    let mut rest = input;
    let mut nanos: u128 = 0;
    // Rank of the last unit seen; units must strictly decrease (h=4 > m=3 > s=2 > ms=1).
    let mut last_rank = u8::MAX;
    while !rest.is_empty() {
        let (number, after_number) = split_number(rest).ok_or_else(malformed)?;
        let unit_len = after_number
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        if unit.is_empty() {
            // A bare number counts as seconds, but only when it is the whole input.
            if rest.len() != input.len() || !after_unit.is_empty() {
                return Err(malformed());
            }
        }
        let (rank, unit_nanos) = unit_of(unit).ok_or_else(|| DurationError::UnknownUnit {
            input: input.to_owned(),
            unit: unit.to_owned(),
        })?;
        if rank >= last_rank {
            return Err(DurationError::UnitOrder {
                input: input.to_owned(),
            });
        }
        last_rank = rank;
        let part = number.nanos(unit_nanos).ok_or_else(overflow)?;
        nanos = nanos.checked_add(part).ok_or_else(overflow)?;
        rest = after_unit;
    }

    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| overflow())?;
    // The remainder is below 10^9, so it fits.
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).map_err(|_| overflow())?;
    Ok(Duration::new(secs, subsec))
}

/// Formats a duration compactly (`1h30m`, `45s`, `1m0.5s`, `0s`); `parse_duration` reads it back.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let subsec = d.subsec_nanos();
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if subsec > 0 {
        let fraction = format!("{subsec:09}");
        out.push_str(&format!("{seconds}.{}s", fraction.trim_end_matches('0')));
    } else if seconds > 0 || out.is_empty() {
        out.push_str(&format!("{seconds}s"));
    }
    out
}

/// A decimal number as written: whole part and fraction digits.
struct Number<'a> {
    whole: &'a str,
    fraction: &'a str,
}

impl Number<'_> {
    /// The number times `unit_nanos`, truncated to whole nanoseconds; `None` on overflow.
    fn nanos(&self, unit_nanos: u128) -> Option<u128> {
        let whole: u128 = self.whole.parse().ok()?;
        let mut nanos = whole.checked_mul(unit_nanos)?;
        let digits = self.fraction.len().min(MAX_FRACTION_DIGITS as usize);
        if digits > 0 {
            let fraction: u128 = self.fraction[..digits].parse().ok()?;
            // digits <= 18, so 10^digits and fraction * unit_nanos (< 10^18 * 3.6e12) fit in u128.
            let scale = 10u128.pow(digits as u32);
            nanos = nanos.checked_add(fraction * unit_nanos / scale)?;
        }
        Some(nanos)
    }
}

/// Splits `digits[.digits]` off the front of `s`; `None` if `s` does not start that way.
fn split_number(s: &str) -> Option<(Number<'_>, &str)> {
    let whole_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if whole_len == 0 {
        return None;
    }
    let (whole, after) = s.split_at(whole_len);
    let Some(after_dot) = after.strip_prefix('.') else {
        return Some((
            Number {
                whole,
                fraction: "",
            },
            after,
        ));
    };
    let fraction_len = after_dot
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after_dot.len());
    if fraction_len == 0 {
        return None;
    }
    let (fraction, rest) = after_dot.split_at(fraction_len);
    Some((Number { whole, fraction }, rest))
}

/// Rank and length in nanoseconds of a unit (empty means seconds); `None` if unknown.
fn unit_of(unit: &str) -> Option<(u8, u128)> {
    let known: [(&str, u8, u128); 5] = [
        ("h", 4, 3600 * NANOS_PER_SEC),
        ("m", 3, 60 * NANOS_PER_SEC),
        ("s", 2, NANOS_PER_SEC),
        ("", 2, NANOS_PER_SEC),
        ("ms", 1, 1_000_000),
    ];
    known
        .into_iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(unit))
        .map(|(_, rank, nanos)| (rank, nanos))
}

#[cfg(any(test, feature = "hostile"))]
pub mod hostile;

#[cfg(test)]
mod tests {
    use super::hostile::{DURATIONS, NUMBERS, odd_text, re};
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn accepts_locust_forms() {
        let cases = [
            ("90", secs(90)),
            ("30s", secs(30)),
            ("5m", secs(300)),
            ("2h", secs(7200)),
            ("1h30m", secs(5400)),
            ("1h30m15s", secs(5415)),
            ("1h15s", secs(3615)),
            ("1.5s", Duration::from_millis(1500)),
            ("500ms", Duration::from_millis(500)),
            ("1m500ms", Duration::from_millis(60_500)),
            ("1.5h", secs(5400)),
            ("0.1s", Duration::from_millis(100)),
            ("  45s \n", secs(45)),
            ("1H30M", secs(5400)),
            ("500MS", Duration::from_millis(500)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("2.5", Duration::from_millis(2500)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_duration(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn rejects_with_the_right_reason() {
        let malformed = |s: &str| DurationError::Malformed { input: s.into() };
        assert_eq!(parse_duration("   "), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("-5s"),
            Err(DurationError::Negative {
                input: "-5s".into()
            })
        );
        assert_eq!(
            parse_duration("5x"),
            Err(DurationError::UnknownUnit {
                input: "5x".into(),
                unit: "x".into()
            })
        );
        for input in ["5m1h", "1s1s", "1m2m", "5ms1s"] {
            let expected = DurationError::UnitOrder {
                input: input.into(),
            };
            assert_eq!(parse_duration(input), Err(expected), "{input:?}");
        }
        for input in [
            "abc", "h", "1h 30m", "1m30", "1.s", ".5s", "1..5s", "+5s", "5s!",
        ] {
            assert_eq!(parse_duration(input), Err(malformed(input)), "{input:?}");
        }
        for input in ["99999999999999999999999h", "18446744073709551616"] {
            let expected = DurationError::Overflow {
                input: input.into(),
            };
            assert_eq!(parse_duration(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn error_message_quotes_input_and_forms() {
        let message = parse_duration("5x").err().map(|e| e.to_string());
        let expected = "invalid duration \"5x\": unknown unit \"x\" (use h, m, s or ms); \
                        expected forms like 30s, 5m, 1h30m or a number of seconds";
        assert_eq!(message.as_deref(), Some(expected));
        let message = parse_duration("soon").err().map(|e| e.to_string());
        let expected = format!("invalid duration \"soon\": {FORMS}");
        assert_eq!(message, Some(expected));
    }

    #[test]
    fn formats_compactly() {
        let cases = [
            (secs(0), "0s"),
            (secs(45), "45s"),
            (secs(90), "1m30s"),
            (secs(3600), "1h"),
            (secs(5400), "1h30m"),
            (secs(3601), "1h1s"),
            (Duration::from_millis(60_500), "1m0.5s"),
            (Duration::from_millis(250), "0.25s"),
            (Duration::from_nanos(1), "0.000000001s"),
        ];
        for (d, expected) in cases {
            assert_eq!(format_duration(d), expected);
        }
    }

    #[test]
    fn largest_duration_round_trips() {
        assert_eq!(
            parse_duration(&format_duration(Duration::MAX)),
            Ok(Duration::MAX)
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(s in any::<u64>(), n in 0u32..1_000_000_000) {
            let d = Duration::new(s, n);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn whole_seconds_round_trip(s in 0u64..1_000_000) {
            prop_assert_eq!(parse_duration(&format_duration(secs(s))), Ok(secs(s)));
            prop_assert_eq!(parse_duration(&s.to_string()), Ok(secs(s)));
        }
    }

    /// Cases of each generated-input property below.
    const HOSTILE_CASES: u32 = 4096;

    /// Units as written, known ones in odd cases and unknown ones that look alike.
    const UNITS: &[&str] = &[
        "h", "m", "s", "ms", "H", "M", "S", "MS", "mS", "", "", "us", "µs", "ns", "d", "x", "ſ",
        "K", "ｓ", "s ", " s", ".", "-", "hms",
    ];

    /// A duration as Locust users write it, one part (number or unit) at a time, with
    /// numbers at every limit.
    fn structured() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            prop::sample::select(NUMBERS).prop_map(str::to_owned),
            re("[0-9]{1,45}"),
            re("[0-9]{1,25}\\.[0-9]{1,45}"),
            (1usize..3_000).prop_map(|n| "9".repeat(n)),
            (1usize..3_000).prop_map(|n| format!("1.{}", "9".repeat(n))),
        ];
        let part = (number, prop::sample::select(UNITS)).prop_map(|(n, u)| format!("{n}{u}"));
        (
            prop::sample::select(&["", " ", "-", "+", "\t", "\u{a0}"][..]),
            prop::collection::vec(part, 1..5),
            prop::sample::select(&["", " ", "\n", "!", "\u{0}"][..]),
        )
            .prop_map(|(before, parts, after)| format!("{before}{}{after}", parts.concat()))
    }

    /// No panic; a value that formats and parses back to itself, or an error quoting the
    /// input.
    fn check_any(input: &str) -> Result<(), TestCaseError> {
        match parse_duration(input) {
            Ok(d) => {
                prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{:?}", input);
                prop_assert!(
                    input
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.'),
                    "{:?} accepted as {:?}",
                    input,
                    d
                );
            }
            Err(DurationError::Empty) => prop_assert!(input.trim().is_empty(), "{:?}", input),
            Err(err) => {
                let quoted = format!("{:?}", quote(input.trim()));
                prop_assert!(err.to_string().contains(&quoted), "{:?}: {}", input, err);
                prop_assert!(err.to_string().chars().count() < 400, "{}", err);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(HOSTILE_CASES))]

        #[test]
        fn structured_durations_never_panic_4096_cases(input in structured()) {
            check_any(&input)?;
        }

        #[test]
        fn arbitrary_durations_never_panic_4096_cases(
            input in prop_oneof![
                odd_text(),
                re("[0-9hmsHMS.\\- ]{0,40}"),
                prop::sample::select(DURATIONS).prop_map(str::to_owned),
            ],
        ) {
            check_any(&input)?;
        }
    }

    #[test]
    fn long_inputs_are_quoted_cut_short() {
        let input = "9".repeat(5_000);
        let message = parse_duration(&input).err().map(|e| e.to_string());
        let expected = format!(
            "invalid duration \"{}... (5000 characters)\": too large",
            &input[..100]
        );
        assert_eq!(message, Some(expected));
    }

    #[test]
    fn limits_of_a_duration() {
        let max = Duration::MAX;
        assert_eq!(parse_duration("18446744073709551615.999999999s"), Ok(max));
        assert_eq!(parse_duration("18446744073709551615s"), Ok(secs(u64::MAX)));
        for input in [
            "18446744073709551616s",
            "5124095576030432h",
            "18446744073709551615s1000ms",
            "340282366920938463463374607431768211456ms",
        ] {
            let expected = DurationError::Overflow {
                input: input.into(),
            };
            assert_eq!(parse_duration(input), Err(expected), "{input:?}");
        }
    }
}
