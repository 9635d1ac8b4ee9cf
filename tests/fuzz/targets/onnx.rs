//! A backbone ONNX file, loaded as the daemon loads its model.
#![no_main]

use dinoedge_fuzz::{read_as, readers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| read_as(data, "backbone.onnx", readers::onnx));
