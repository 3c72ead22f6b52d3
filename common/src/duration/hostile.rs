//! Hostile inputs shared by the property tests of lv's input surfaces (durations,
//! templates, the fleet map, scenarios, load shapes): values at and beyond every limit,
//! so that generated files reach the parsers' deep paths instead of stopping at the first
//! syntax error. Every surface reads durations, which is why this lives here.

use proptest::prelude::*;

/// Numbers as text, at and beyond the limits of every integer and float type, and forms
/// that only look like numbers.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "00000000000000000000000000000001",
    "255",
    "256",
    "599",
    "600",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211455",
    "340282366920938463463374607431768211456",
    "99999999999999999999999999999999999999999999999999999999999999",
    "1e9",
    "1000000001",
    "1e308",
    "1e309",
    "-1e308",
    "1.7976931348623157e308",
    "4.9e-324",
    "1e-400",
    "0.1",
    "1.5",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "Infinity",
    "1.",
    ".5",
    "1..5",
    "1e",
    "0x10",
    "0b1",
    "0o7",
    "1_000",
    "+5",
    "٣",
    "１",
];

/// Duration texts at and beyond what a `Duration` holds.
pub const DURATIONS: &[&str] = &[
    "0s",
    "1s",
    "30s",
    "5m",
    "1h30m",
    "500ms",
    "1.5s",
    "18446744073709551615s",
    "18446744073709551616s",
    "18446744073709551615",
    "18446744073709551615.999999999s",
    "5124095576030431h",
    "5124095576030432h",
    "307445734561825860m",
    "18446744073709551615ms",
    "99999999999999999999999999999999999999999h",
    "1e308s",
    "NaNs",
    "infs",
    "-1s",
    "",
    " ",
    "1h1h",
    "0.000000000000000000000000000001s",
    "1µs",
    "1ſ",
];

/// Strings matching `pattern`, parsed once (a `&str` strategy parses its regex for every
/// value, which dominates a debug build's test time).
pub fn re(pattern: &str) -> BoxedStrategy<String> {
    proptest::string::string_regex(pattern)
        .expect("a valid regex")
        .boxed()
}

/// Odd text: empty, blank, control characters, right-to-left overrides, combining marks,
/// characters whose case mapping changes their length, astral planes, and huge strings.
pub fn odd_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "",
                " ",
                "\t",
                "\r",
                "\n",
                "\r\n",
                "\u{0}",
                "\u{7f}",
                "\u{feff}",
                "\u{202e}gnp.exe",
                "e\u{301}",
                "İ",
                "ß",
                "ǅ",
                "K",
                "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
                "\u{10ffff}",
                "\u{fffd}",
                "{{",
                "}}",
                "\"",
                "'",
                "\\",
                "#",
                ";",
                "=",
                ":",
                "[",
                "]",
            ][..]
        )
        .prop_map(str::to_owned),
        prop::sample::select(NUMBERS).prop_map(str::to_owned),
        prop::sample::select(DURATIONS).prop_map(str::to_owned),
        re("\\PC{0,24}"),
        prop::collection::vec(any::<char>(), 0..32).prop_map(String::from_iter),
        (1usize..6_000).prop_map(|n| "a".repeat(n)),
        (1usize..1_500).prop_map(|n| "é𝔘".repeat(n)),
    ]
}

/// `text` as a TOML basic string, every character a TOML parser must see escaped escaped.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML value of any type that is wrong for most keys: hostile numbers (bare, so TOML
/// reads them as integers or floats when it can), odd strings, arrays, tables, booleans
/// and dates.
pub fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NUMBERS).prop_map(str::to_owned),
        3 => odd_text().prop_map(|t| toml_string(&t)),
        2 => prop::sample::select(DURATIONS).prop_map(toml_string),
        1 => prop::sample::select(&[
            "true",
            "false",
            "[]",
            "[1, \"a\"]",
            "[[]]",
            "{}",
            "{ a = 1 }",
            "1979-05-27T07:32:00Z",
            "07:32:00",
            "'literal'",
            "'''multi\nline'''",
            "\"\"\"\n\"\"\"",
            "",
            "=",
            "\"unterminated",
        ][..])
        .prop_map(str::to_owned),
    ]
}

/// Replaces, inserts or deletes characters of `text` at the given positions (taken modulo
/// its length), so a valid document becomes almost valid.
pub fn mutate(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, op, c) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            at % chars.len()
        };
        match op % 3 {
            0 if at < chars.len() => chars[at] = c,
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ => chars.insert(at, c),
        }
    }
    chars.into_iter().collect()
}

/// Characters worth inserting into a document: its own syntax, quotes, line breaks,
/// digits, and a few odd ones.
pub fn edit() -> impl Strategy<Value = (usize, u8, char)> {
    let syntax = prop::sample::select(
        &[
            '"', '\'', '=', '[', ']', '{', '}', ',', '\n', '\r', '#', '\\', '.', '-', '9', '0',
            ' ', 'e', '\u{0}', '\u{202e}', 'é',
        ][..],
    );
    (
        any::<usize>(),
        any::<u8>(),
        prop_oneof![4 => syntax, 1 => any::<char>()],
    )
}
