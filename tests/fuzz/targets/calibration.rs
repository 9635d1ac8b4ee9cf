//! A camera's calibration file.
#![no_main]

use dinoedge_fuzz::{read_as, readers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| read_as(data, "dock1.calibration.toml", readers::calibration));
