//! What a reload changes: the cameras and rules removed, changed and added between the running
//! config and the new one, each known by its name (a rule by its camera's and its own). A
//! rule whose settings are all equal is unchanged and keeps its alarm state across the reload;
//! a removed or changed rule's alarm ends. A removed camera's retained status is cleared.

use std::collections::BTreeMap;
use std::fmt;

use dinoedge_config::{Camera, Config, Name, Rule};

use crate::pipeline::RuleKey;

/// The changes of one kind of thing, by key.
#[derive(Debug, PartialEq)]
pub struct Changes<K> {
    pub removed: Vec<K>,
    pub changed: Vec<K>,
    pub added: Vec<K>,
}

impl<K: Ord + Clone> Changes<K> {
    fn between<V: PartialEq>(old: BTreeMap<K, &V>, new: BTreeMap<K, &V>) -> Self {
        let mut changes = Changes { removed: Vec::new(), changed: Vec::new(), added: Vec::new() };
        for (key, before) in &old {
            match new.get(key) {
                None => changes.removed.push(key.clone()),
                Some(after) if after != before => changes.changed.push(key.clone()),
                Some(_) => {}
            }
        }
        changes.added = new.keys().filter(|k| !old.contains_key(k)).cloned().collect();
        changes
    }

    /// Removed or changed: what the running configuration loses.
    pub fn ended(&self) -> impl Iterator<Item = &K> {
        self.removed.iter().chain(&self.changed)
    }

    fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.changed.is_empty() && self.added.is_empty()
    }
}

/// The cameras and rules a reload changes.
#[derive(Debug, PartialEq)]
pub struct Diff {
    pub cameras: Changes<Name>,
    pub rules: Changes<RuleKey>,
}

impl Diff {
    pub fn between(running: &Config, next: &Config) -> Self {
        fn cameras(c: &Config) -> BTreeMap<Name, &Camera> {
            c.cameras.iter().map(|camera| (camera.name.clone(), camera)).collect()
        }
        fn rules(c: &Config) -> BTreeMap<RuleKey, &Rule> {
            c.rules.iter().map(|rule| (RuleKey::of(rule), rule)).collect()
        }
        Diff {
            cameras: Changes::between(cameras(running), cameras(next)),
            rules: Changes::between(rules(running), rules(next)),
        }
    }
}

/// `cameras: changed dock1; rules: removed dock1/a, added dock1/b`, or `no camera or rule changed`.
impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn part<K: fmt::Display>(f: &mut fmt::Formatter<'_>, what: &str, changes: &Changes<K>) -> fmt::Result {
            write!(f, "{what}:")?;
            let mut sep = " ";
            for (verb, keys) in
                [("removed", &changes.removed), ("changed", &changes.changed), ("added", &changes.added)]
            {
                if !keys.is_empty() {
                    let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
                    write!(f, "{sep}{verb} {}", names.join(" "))?;
                    sep = ", ";
                }
            }
            Ok(())
        }
        match (self.cameras.is_empty(), self.rules.is_empty()) {
            (true, true) => f.write_str("no camera or rule changed"),
            (false, true) => part(f, "cameras", &self.cameras),
            (true, false) => part(f, "rules", &self.rules),
            (false, false) => {
                part(f, "cameras", &self.cameras)?;
                f.write_str("; ")?;
                part(f, "rules", &self.rules)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, rules: &str) -> Config {
        let text = format!(
            r#"device_id = "d"
[model]
kind = "sim-truth"
[[camera]]
name = "one"
source = {{ kind = "images", path = "{dir}", fps = 10 }}
[[camera]]
name = "two"
source = {{ kind = "images", path = "{dir}", fps = 10 }}
{rules}"#,
            dir = dir.display()
        );
        dinoedge_config::parse(&text, &dir.join("d.toml")).unwrap()
    }

    fn rule(camera: &str, name: &str, alarm_below: f64) -> String {
        format!(
            "[[rule]]\nname = \"{name}\"\ncamera = \"{camera}\"\nkind = \"min_distance\"\nzone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]\nalarm_below = {alarm_below}\nclear_above = 9\n"
        )
    }

    #[test]
    fn rules_removed_changed_added_and_unchanged_are_told_apart_by_camera_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let running =
            config(dir.path(), &[rule("one", "a", 1.0), rule("one", "b", 1.0), rule("two", "a", 1.0)].concat());
        let next = config(dir.path(), &[rule("one", "b", 1.5), rule("two", "a", 1.0), rule("two", "c", 1.0)].concat());
        let diff = Diff::between(&running, &next);
        let key = |camera: &str, rule: &str| RuleKey {
            camera: camera.to_owned().try_into().unwrap(),
            rule: rule.to_owned().try_into().unwrap(),
        };
        assert_eq!(
            diff.rules,
            Changes { removed: vec![key("one", "a")], changed: vec![key("one", "b")], added: vec![key("two", "c")] }
        );
        assert_eq!(diff.cameras, Changes { removed: vec![], changed: vec![], added: vec![] });
        assert_eq!(diff.to_string(), "rules: removed one/a, changed one/b, added two/c");
        assert_eq!(diff.rules.ended().count(), 2);
        assert_eq!(Diff::between(&running, &running).to_string(), "no camera or rule changed");
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        let moved = config(&dir.path().join("elsewhere"), &[rule("one", "a", 1.0)].concat());
        assert_eq!(Diff::between(&running, &moved).cameras.changed.len(), 2, "a camera whose source moved changed");
    }
}
