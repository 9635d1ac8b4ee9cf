//! Raw V4L2 bindings: `linux/videodev2.h` as Rust, for the `v4l` crate that nokhwa's V4L2
//! backend is built on. Same items as crates.io's v4l2-sys-mit 0.3.0, whose build script
//! generated them with bindgen (and so needed libclang on every builder); here they are
//! generated once per target architecture by `generate.sh` and committed, byte for byte what
//! that build script made against the release builds' headers (zig's Linux uapi and glibc
//! 2.31 headers).
//!
//! The structs' layouts differ between targets (64-bit x86 and ARM, 32-bit ARM with a 32-bit
//! `time_t`), so each target includes its own file, and bindgen's layout tests in it (this
//! crate's unit tests; under qemu for ARM) fail if a file was made for another layout. A
//! target without a file does not build: `generate.sh` makes one, or `--no-default-features`
//! builds dinoedge without the V4L2 source.

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, deref_nullptr, clippy::all)]

#[cfg(target_arch = "x86_64")]
include!("x86_64.rs");
#[cfg(target_arch = "aarch64")]
include!("aarch64.rs");
#[cfg(target_arch = "arm")]
include!("arm.rs");

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
compile_error!(
    "no V4L2 bindings for this target architecture: add them with v4l2-sys/generate.sh, \
     or build dinoedge without the V4L2 source (--no-default-features)"
);
