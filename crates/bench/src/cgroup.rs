//! The CPU quota: a cgroup (v1 `cpu` controller or v2 `cpu.max`) that gives
//! the function P% of one CPU, as Lambda gives a 128 MB function about 7%.
//! The function joins it before its first instruction through a `/bin/sh`
//! wrapper (pre_exec would need `unsafe`, which the workspace forbids).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

const ROOT: &str = "/sys/fs/cgroup";
/// The CFS period: quotas are fractions of 100 ms, as Lambda's are.
const PERIOD_US: u32 = 100_000;

/// A cgroup with a CPU quota, removed by `remove` (or, best effort, on drop).
#[derive(Debug)]
pub struct CpuQuota {
    pub percent: u32,
    version: &'static str,
    dir: PathBuf,
    removed: bool,
}

impl CpuQuota {
    /// Create the group; fails with what to do when no cgroup is writable,
    /// rather than measuring without the quota.
    pub fn create(percent: u32) -> Result<CpuQuota> {
        let quota_us = percent * PERIOD_US / 100;
        let root = Path::new(ROOT);
        let name = format!("lambda-bench-{}", std::process::id());
        let (version, dir) = if root.join("cgroup.controllers").exists() {
            let dir = root.join(name);
            enable_cpu_controller_v2(root)?;
            make_dir(&dir)?;
            write(&dir.join("cpu.max"), &format!("{quota_us} {PERIOD_US}"))?;
            ("v2", dir)
        } else {
            let controller = root.join("cpu");
            if !controller.join("cpu.cfs_quota_us").exists() {
                bail!(
                    "no cgroup CPU controller found: neither {ROOT}/cgroup.controllers (v2) nor \
                     {ROOT}/cpu/cpu.cfs_quota_us (v1) exists; run without --cpu-quota-percent or \
                     mount the cpu controller"
                );
            }
            let dir = controller.join(name);
            make_dir(&dir)?;
            write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &quota_us.to_string())?;
            ("v1", dir)
        };
        Ok(CpuQuota {
            percent,
            version,
            dir,
            removed: false,
        })
    }

    /// The program and arguments that run `binary` inside the group: the
    /// shell moves itself into the group, then `exec`s the binary (same pid).
    pub fn wrap(&self, binary: &Path) -> (PathBuf, Vec<String>) {
        let procs = self.dir.join("cgroup.procs");
        let script = format!(
            "echo $$ > {} && exec \"$0\" \"$@\"",
            shell_quote(&procs.display().to_string())
        );
        (
            PathBuf::from("/bin/sh"),
            vec!["-c".to_owned(), script, binary.display().to_string()],
        )
    }

    pub fn describe(&self) -> String {
        format!(
            "{}% of one CPU (cgroup {}, {})",
            self.percent,
            self.version,
            self.dir.display()
        )
    }

    /// Remove the group. Its processes must be gone; the kernel may take a
    /// moment to notice an exited one, so this retries briefly.
    pub fn remove(mut self) -> Result<()> {
        self.removed = true;
        remove_dir(&self.dir)
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        if !self.removed {
            let _ = remove_dir(&self.dir);
        }
    }
}

/// In v2 a child group only has `cpu.max` when the parent delegates `cpu`.
fn enable_cpu_controller_v2(root: &Path) -> Result<()> {
    let subtree = root.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&subtree)
        .with_context(|| format!("cannot read {}", subtree.display()))?;
    if enabled
        .split_whitespace()
        .any(|controller| controller == "cpu")
    {
        return Ok(());
    }
    write(&subtree, "+cpu").context(
        "cannot enable the cpu controller for child groups (are we root, and is the \
         cgroup v2 root free of processes?)",
    )
}

fn make_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir(dir).with_context(|| {
        format!(
            "cannot create the cgroup {} (the CPU quota needs a writable cgroup; run as root)",
            dir.display()
        )
    })
}

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value)
        .with_context(|| format!("cannot write {value:?} to {}", path.display()))
}

fn remove_dir(dir: &Path) -> Result<()> {
    let mut attempts = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) if attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot remove the cgroup {}", dir.display()));
            }
        }
    }
}

/// Single-quote for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
