//! The HTML report's building blocks: escaping, headings, cells, rows and tables.

use std::fmt::Write as _;

/// `text` with `& < > " '` replaced by entities, safe in element content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An `<h2>` with an anchor id.
pub(super) fn heading(out: &mut String, id: &str, title: &str) {
    let _ = writeln!(out, "<h2 id=\"{id}\">{title}</h2>");
}

/// A text cell (escaped, left-aligned).
pub(super) fn text(value: &str) -> String {
    format!("<td class=\"t\">{}</td>", escape(value))
}

/// A numeric cell (right-aligned); `value` must not need escaping.
pub(super) fn num(value: impl std::fmt::Display) -> String {
    format!("<td>{value}</td>")
}

/// A table row of rendered cells.
pub(super) fn tr(class: &str, cells: &[String]) -> String {
    format!("<tr{class}>{}</tr>", cells.concat())
}

/// A table with `|`-separated `headers` (the first `text_columns` left-aligned) and rows,
/// or `empty` in a paragraph when there are no rows.
pub(super) fn table(
    out: &mut String,
    headers: &str,
    text_columns: usize,
    rows: &[String],
    empty: &str,
) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"empty\">{empty}</p>");
        return;
    }
    out.push_str("<div class=\"scroll\"><table>\n<tr>");
    for (i, header) in headers.split('|').enumerate() {
        let class = if i < text_columns { " class=\"t\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(header));
    }
    out.push_str("</tr>\n");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    out.push_str("</table></div>\n");
}
