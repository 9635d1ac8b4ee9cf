//! The outbox log: opened, an event added, opened again with the event kept.
#![no_main]

use dinoedge_fuzz::{read_as, readers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| read_as(data, "outbox/events.jsonl", readers::outbox));
