//! An image file: as a frame and as a background depth in millimetres.
#![no_main]

use dinoedge_fuzz::{read_as, readers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| read_as(data, "frame.png", readers::image));
