//! A small filesystem for the full-disk tests: a tmpfs mounted in a mount namespace of its own
//! (`unshare`, so the test's machine sees nothing of it), kept alive by a holder process while
//! this lives. The daemon runs inside the namespace (`nsenter`); the test fills and frees the
//! tmpfs through the holder's root, `/proc/<pid>/root`. Needs root, as `tools/test.sh` runs.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmallDisk {
    holder: Child,
    at: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as mount's `size=`) at `at`, made if missing.
    pub fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let script = format!(
            "mount -t tmpfs -o size={size} dinoedge-test '{}' && echo mounted && exec sleep infinity",
            at.display()
        );
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux) runs");
        let mut line = String::new();
        BufReader::new(holder.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "mounted",
            "could not mount a tmpfs in a mount namespace (the full-disk tests need root)"
        );
        SmallDisk { holder, at: at.to_path_buf() }
    }

    /// `rel` inside the tmpfs, as the test's own namespace reaches it.
    pub fn path(&self, rel: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{}", self.holder.id(), self.at.join(rel).display()))
    }

    /// `program` to be run inside the namespace, where the tmpfs is at its place.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("nsenter");
        command.args(["--target", &self.holder.id().to_string(), "--mount", "--"]).arg(program);
        command
    }

    /// Fills the tmpfs up with a file `fill` until it refuses more.
    pub fn fill(&self) {
        let mut file = std::fs::File::create(self.path("fill")).unwrap();
        let block = [0u8; 4096];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&block[..1]).is_ok() {}
    }

    /// Deletes the filling.
    pub fn free(&self) {
        std::fs::remove_file(self.path("fill")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
