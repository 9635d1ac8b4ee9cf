//! The config file: its schema and the checks after it.
#![no_main]

use dinoedge_fuzz::{read_as, readers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| read_as(data, "dinoedge.toml", readers::config));
