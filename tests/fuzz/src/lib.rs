//! What the cargo-fuzz targets share: the readers (`../readers.rs`, also the stable mutation
//! run's) and [`read_as`], which hands an input to a reader as the file it reads.

#[path = "../readers.rs"]
pub mod readers;

/// Writes `data` to a file named `file` (a relative path) in a fresh temporary folder and
/// reads it with `read`; the folder is removed after.
pub fn read_as(data: &[u8], file: &str, read: fn(&std::path::Path) -> bool) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("the file's folder");
    }
    std::fs::write(&path, data).expect("the input written");
    read(&path);
}
