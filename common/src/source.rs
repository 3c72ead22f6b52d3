//! Locating errors in source text, so messages can name the file and line.

/// 1-based line and column of a byte offset in `text` (clamped to its end).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The 1-based line of a TOML error, when the parser reported where it happened.
pub fn toml_error_line(text: &str, err: &toml::de::Error) -> Option<usize> {
    err.span().map(|span| line_col(text, span.start).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_chars() {
        let text = "a = 1\nbé = 2\nc";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 999), (3, 2));
    }

    #[test]
    fn toml_errors_carry_their_line() {
        let text = "a = 1\nb = \n";
        let err = toml::from_str::<toml::Table>(text).expect_err("bad toml");
        assert_eq!(toml_error_line(text, &err), Some(2));
    }
}
