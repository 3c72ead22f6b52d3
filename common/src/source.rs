//! Locating errors in source text, so messages can name the file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

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

/// One step of a path into a TOML document: a key of a table or an index of an array
/// (an array of tables, `[[user]]`, included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// A key of a table.
    Name(&'a str),
    /// An index of an array.
    Index(usize),
}

/// Where every value of a TOML document is: the document read a second time with only the
/// spans kept, so a loader can point an error at the line of any key after checking the
/// typed content (which keeps no spans of its own).
#[derive(Debug, Clone, Default)]
pub struct SpanTree {
    root: Option<Spanned<Node>>,
}

/// A value with the spans of its children.
#[derive(Debug, Clone)]
enum Node {
    Table(BTreeMap<String, Spanned<Node>>),
    Array(Vec<Spanned<Node>>),
    Leaf,
}

impl SpanTree {
    /// The spans of `text`; empty when it is not TOML (its parse error says where then).
    pub fn parse(text: &str) -> SpanTree {
        SpanTree {
            root: toml::from_str::<Spanned<Node>>(text).ok(),
        }
    }

    /// The span of the value at `path`, or of its deepest ancestor that exists (a key that
    /// is absent, e.g. a default, points at its table). For an element of an array of
    /// tables (`[[user.task]]`) the span is its header; the document's root has none.
    pub fn span(&self, path: &[Key<'_>]) -> Option<Range<usize>> {
        let mut node = self.root.as_ref()?;
        let mut found = None;
        for key in path {
            let child = match (node.get_ref(), key) {
                (Node::Table(table), Key::Name(name)) => table.get(*name),
                (Node::Array(items), Key::Index(index)) => items.get(*index),
                _ => None,
            };
            let Some(child) = child else { break };
            found = Some(child.span());
            node = child;
        }
        found
    }

    /// The 1-based line of [`SpanTree::span`] in `text` (the text this tree was parsed from).
    pub fn line(&self, text: &str, path: &[Key<'_>]) -> Option<usize> {
        self.span(path).map(|span| line_col(text, span.start).0)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut table = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            // Dates and times arrive as a table of one private key.
            if key.starts_with("$__") {
                map.next_value::<IgnoredAny>()?;
                return Ok(Node::Leaf);
            }
            table.insert(key, map.next_value::<Spanned<Node>>()?);
        }
        Ok(Node::Table(table))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_trees_find_the_line_of_any_key() {
        let text = "# c\n[[user]]\nname = \"A\"\nwait = { between = [1, 2] }\n\n[[user.task]]\n\
                    requires = [\"x\",\n  \"y\"]\n\n[[user.task.step]]\npath = \"/a\"\n\n\
                    [user.task.step.json]\na = 1\nb = { c = \"{{ x }}\" }\nwhen = 1979-05-27\n";
        let tree = SpanTree::parse(text);
        let line = |path: &[Key<'_>]| tree.line(text, path);
        use Key::{Index as I, Name as N};
        assert_eq!(line(&[N("user"), I(0)]), Some(2));
        assert_eq!(line(&[N("user"), I(0), N("wait")]), Some(4));
        assert_eq!(line(&[N("user"), I(0), N("task"), I(0)]), Some(6));
        assert_eq!(
            line(&[N("user"), I(0), N("task"), I(0), N("requires"), I(1)]),
            Some(8)
        );
        let step = [N("user"), I(0), N("task"), I(0), N("step"), I(0)];
        assert_eq!(line(&step), Some(10));
        assert_eq!(line(&[&step[..], &[N("path")]].concat()), Some(11));
        // An absent key points at its table.
        assert_eq!(line(&[&step[..], &[N("method")]].concat()), Some(10));
        let deep = [&step[..], &[N("json"), N("b"), N("c")]].concat();
        assert_eq!(line(&deep), Some(15));
        assert_eq!(line(&[N("nothing")]), None);
        assert_eq!(SpanTree::parse("a = ").line("a = ", &[N("a")]), None);
    }

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
