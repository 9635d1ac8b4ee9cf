//! Calibrate's points, as the TOML file and as the page's JSON body, fitted.
#![no_main]

use dinoedge_fuzz::{read_as, readers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| read_as(data, "dock1.points.toml", readers::points));
