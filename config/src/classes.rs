//! What a pixel shows: the object classes a class head (or the simulator's truth) labels each
//! pixel with, and the sets of them a rule counts. One list for the config file, the class
//! head's logits, the class maps and the MQTT payloads: the class's index is its logit and its
//! value in a class map.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A pixel's class. The index ([`ObjectClass::index`]) is fixed: class heads and class maps
/// store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    /// A forklift or another industrial truck, forks and mast included.
    Forklift,
    /// A person.
    Person,
    /// A pallet and what stands on it (boxes, crates).
    Load,
    /// The floor.
    Floor,
    /// Anything else: walls, racks, doors, the ceiling.
    Other,
}

impl ObjectClass {
    /// Every class, in index order.
    pub const ALL: [ObjectClass; 5] =
        [ObjectClass::Forklift, ObjectClass::Person, ObjectClass::Load, ObjectClass::Floor, ObjectClass::Other];

    /// Its logit's place in a class head and its value in a class map.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The class of index `i`, if there is one.
    pub fn from_index(i: u8) -> Option<Self> {
        Self::ALL.get(usize::from(i)).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectClass::Forklift => "forklift",
            ObjectClass::Person => "person",
            ObjectClass::Load => "load",
            ObjectClass::Floor => "floor",
            ObjectClass::Other => "other",
        }
    }

    /// The known names, for error messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for ObjectClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ObjectClass {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an object class (known: {})", Self::names()))
    }
}

/// A non-empty set of classes (a rule's `objects`), written as a list of names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClassSet(u8);

impl ClassSet {
    pub fn of(class: ObjectClass) -> Self {
        Self(1 << class.index())
    }

    /// Whether a class map's value `index` is in the set.
    pub fn contains_index(self, index: u8) -> bool {
        index < 8 && self.0 & (1 << index) != 0
    }

    pub fn contains(self, class: ObjectClass) -> bool {
        self.contains_index(class.index())
    }

    /// The classes in index order.
    pub fn iter(self) -> impl Iterator<Item = ObjectClass> {
        ObjectClass::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl TryFrom<Vec<ObjectClass>> for ClassSet {
    type Error = String;

    fn try_from(classes: Vec<ObjectClass>) -> Result<Self, String> {
        if classes.is_empty() {
            return Err(format!("an empty list: name at least one class ({})", ObjectClass::names()));
        }
        Ok(Self(classes.iter().fold(0, |bits, c| bits | Self::of(*c).0)))
    }
}

impl fmt::Debug for ClassSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Display for ClassSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(ObjectClass::as_str).collect();
        f.write_str(&names.join("+"))
    }
}

impl<'de> Deserialize<'de> for ClassSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::try_from(Vec::<ObjectClass>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ClassSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_names_round_trip() {
        for (i, class) in ObjectClass::ALL.into_iter().enumerate() {
            assert_eq!(class.index() as usize, i);
            assert_eq!(ObjectClass::from_index(i as u8), Some(class));
            assert_eq!(class.as_str().parse::<ObjectClass>(), Ok(class));
        }
        assert_eq!(ObjectClass::from_index(5), None);
        let err = "pallet".parse::<ObjectClass>().unwrap_err();
        assert!(err.contains("forklift, person, load, floor, other"), "{err}");
    }

    #[test]
    fn a_set_holds_what_it_was_made_of_and_refuses_nothing() {
        let set = ClassSet::try_from(vec![ObjectClass::Person, ObjectClass::Forklift, ObjectClass::Person]).unwrap();
        assert!(set.contains(ObjectClass::Forklift) && set.contains(ObjectClass::Person));
        assert!(!set.contains(ObjectClass::Load) && !set.contains_index(200));
        assert_eq!(set.iter().collect::<Vec<_>>(), [ObjectClass::Forklift, ObjectClass::Person]);
        assert_eq!(set.to_string(), "forklift+person");
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["forklift","person"]"#);
        assert!(ClassSet::try_from(vec![]).unwrap_err().contains("at least one class"));
    }
}
