//! Distance rules: what a rule measures in its zone of a depth map (`measure`, from the
//! nearest of its `parts`), and when that measurement raises, updates and clears an alarm
//! (`hysteresis`). Pure computation: the pipeline feeds frames in, and publishes the
//! transitions that come out.

pub mod hysteresis;
pub mod measure;
pub mod parts;

pub use hysteresis::{Tracker, Transition};
pub use measure::Measurer;
