//! The file in a worktree's git dir that says a run may be active there: the post-commit shim
//! that finds no such file returns at once, without starting git-proof.

use std::path::Path;

/// Its name, in the worktree's git dir (the hook shims test for it by this name).
pub const ACTIVE_MARKER: &str = "proof-active-run";

/// Says a run is active in this worktree; written before the run is, so a hook never misses one.
pub fn mark_active(git_dir: &Path, run_id: &str) -> std::io::Result<()> {
    std::fs::write(git_dir.join(ACTIVE_MARKER), format!("{run_id}\n"))
}

/// Says no run is active in this worktree any more.
pub fn clear_active(git_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(git_dir.join(ACTIVE_MARKER)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
