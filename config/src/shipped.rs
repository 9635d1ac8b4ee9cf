//! The config a package installs (`examples/dock.toml`, the Debian conffile), and its rules as
//! a site uses them: as shipped, and with the lines the file suggests uncommented. The tests and
//! `dinoedge bench alarms` measure these, so what they measure is what sites run.

/// The shipped config's text.
pub const SHIPPED: &str = include_str!("../examples/dock.toml");

/// A rule of the shipped config: its name and its `[[rule]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedRule {
    pub name: String,
    pub table: String,
}

/// The dock rule as shipped (`forks-near-dock`, geometry alone), the same with its
/// `objects = ["forklift"]` uncommented (named `forks-near-dock-classes`), and the commented
/// `person-near-forklift` rule uncommented.
pub fn rules() -> Vec<ShippedRule> {
    let dock = table_of(SHIPPED, "name = \"forks-near-dock\"").expect("the shipped config has its dock rule");
    let classes = dock.replacen("# objects = [\"forklift\"]", "objects = [\"forklift\"]", 1).replacen(
        "\"forks-near-dock\"",
        "\"forks-near-dock-classes\"",
        1,
    );
    let (_, commented) =
        SHIPPED.split_once("# A person too close to a forklift").expect("the shipped config has its person rule");
    let person: String = commented
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start()))
        .collect();
    [("forks-near-dock", dock), ("forks-near-dock-classes", classes), ("person-near-forklift", person)]
        .into_iter()
        .map(|(name, table)| ShippedRule { name: name.to_string(), table })
        .collect()
}

/// The `[[rule]]` table of `text` that holds the line `key`, up to the first blank line.
fn table_of(text: &str, key: &str) -> Option<String> {
    let at = text.find(key)?;
    let start = text[..at].rfind("[[rule]]")?;
    let end = text[at..].find("\n\n").map_or(text.len(), |e| at + e);
    Some(format!("{}\n", &text[start..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_read_as_the_rules_they_are() {
        let rules = rules();
        for rule in &rules {
            let table: toml::Table = toml::from_str(&rule.table).unwrap_or_else(|e| panic!("{e}\n{}", rule.table));
            let read = table["rule"].as_array().unwrap();
            assert_eq!(read.len(), 1, "{}", rule.table);
            assert_eq!(read[0]["name"].as_str(), Some(rule.name.as_str()));
        }
        assert!(!rules[0].table.contains("\nobjects") && rules[1].table.contains("\nobjects = [\"forklift\"]"));
        assert!(rules[2].table.contains("kind = \"object_distance\""));
    }
}
