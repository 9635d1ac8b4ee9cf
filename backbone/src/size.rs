//! The input size of a backbone: height × width in pixels, each a multiple of the patch
//! size, written `HxW` (`224x224`, `280x504`) on the command line.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// An input size in pixels, height first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputSize {
    pub height: usize,
    pub width: usize,
}

impl InputSize {
    pub const fn new(height: usize, width: usize) -> Self {
        Self { height, width }
    }

    /// The patch grid (rows, columns) for a patch size; both sides must be multiples of it.
    pub fn grid(&self, patch: usize) -> Result<(usize, usize), ModelError> {
        for (side, value) in [("height", self.height), ("width", self.width)] {
            if value == 0 || value % patch != 0 {
                let below = (value / patch).max(1) * patch;
                let above = (value / patch + 1) * patch;
                return Err(ModelError::InputSize {
                    size: self.to_string(),
                    reason: format!(
                        "{side} {value} is not a multiple of the patch size {patch} (try {below} or {above})"
                    ),
                });
            }
        }
        Ok((self.height / patch, self.width / patch))
    }
}

impl fmt::Display for InputSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.height, self.width)
    }
}

impl FromStr for InputSize {
    type Err = ModelError;

    /// `HxW`, or a single number for a square input.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| ModelError::InputSize { size: s.to_string(), reason: reason.to_string() };
        let parse = |part: &str| {
            part.trim()
                .parse::<usize>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| bad("expected HEIGHTxWIDTH in pixels, e.g. 224x224"))
        };
        match s.split_once(['x', 'X']) {
            Some((h, w)) => Ok(Self::new(parse(h)?, parse(w)?)),
            None => {
                let side = parse(s)?;
                Ok(Self::new(side, side))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_height_by_width_and_square_shorthand() {
        assert_eq!("280x504".parse::<InputSize>().unwrap(), InputSize::new(280, 504));
        assert_eq!("224".parse::<InputSize>().unwrap(), InputSize::new(224, 224));
        assert!("224x".parse::<InputSize>().is_err());
        assert!("0x224".parse::<InputSize>().is_err());
        assert!("big".parse::<InputSize>().is_err());
    }

    #[test]
    fn grid_requires_multiples_of_the_patch_size() {
        assert_eq!(InputSize::new(280, 504).grid(14).unwrap(), (20, 36));
        let err = InputSize::new(225, 224).grid(14).unwrap_err().to_string();
        assert!(err.contains("height 225 is not a multiple of the patch size 14"), "{err}");
        assert!(err.contains("224 or 238"), "{err}");
    }
}
