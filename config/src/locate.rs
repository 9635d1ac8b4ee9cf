//! From a path of keys and indices (`rule[2].camera`) to the place in the TOML text where
//! that value is written, for errors found after deserialising.

use toml::de::{DeTable, DeValue};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

/// The byte offset where the value at `path` starts, or where its deepest existing parent
/// starts.
pub fn find(text: &str, path: &[Seg]) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut span = root.span();
    let root = DeValue::Table(root.into_inner());
    let mut value = &root;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => value.get(*k),
            Seg::Index(i) => value.get(*i),
        };
        match next {
            Some(v) => {
                span = v.span();
                value = v.get_ref();
            }
            None => break,
        }
    }
    Some(span.start)
}

/// Where an error inside the value spanning `span` really is: serde reports an unknown key
/// of an internally tagged table (`[camera.source]`) at the table; this finds the key's own
/// line inside it.
pub fn refine(text: &str, span: std::ops::Range<usize>, message: &str) -> usize {
    let key = message.strip_prefix("unknown field `").and_then(|rest| rest.split_once('`')).map(|(key, _)| key);
    // The table's span may cover only its header: read on to the next header.
    let (Some(key), Some(body)) = (key, text.get(span.start..)) else { return span.start };
    let mut offset = span.start;
    for (i, line) in body.split_inclusive('\n').enumerate() {
        if i > 0 && line.trim_start().starts_with('[') && offset >= span.end {
            break;
        }
        let trimmed = line.trim_start();
        if let Some(after) = trimmed.strip_prefix(key)
            && after.trim_start().starts_with('=')
        {
            return offset + (line.len() - trimmed.len());
        }
        offset += line.len();
    }
    span.start
}

/// 1-based line and column (in characters) of byte `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_found_on_its_own_line() {
        let text = "[source]\nkind = \"images\"\n  fsp = 1\n";
        let at = refine(text, 0..text.len(), "unknown field `fsp`, expected one of `fps`");
        assert_eq!(line_col(text, at), (3, 3));
        assert_eq!(refine(text, 0..text.len(), "invalid type: string"), 0);
    }

    #[test]
    fn finds_a_key_inside_the_second_table_of_an_array() {
        let text = "a = 1\n\n[[rule]]\nname = \"x\"\n\n[[rule]]\nname = \"y\"\ncamera = \"dock\"\n";
        let at = find(text, &[Seg::Key("rule"), Seg::Index(1), Seg::Key("camera")]).unwrap();
        assert_eq!(line_col(text, at), (8, 10));
        // A missing key points at its table.
        let at = find(text, &[Seg::Key("rule"), Seg::Index(0), Seg::Key("zone")]).unwrap();
        assert_eq!(line_col(text, at).0, 3);
    }
}
