//! An interrupted run (Ctrl-C, SIGTERM) leaves nothing behind: the private snapshots
//! and unfinished output files it made are registered here while they exist, and
//! removed before the process exits.
//!
//! A snapshot of a large data dir is as large as the log, so one left in `$TMPDIR` by
//! every interrupted `rebuild` would soon fill it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Files and directories this run made and must not leave behind.
static SCRATCH: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Set once the run is interrupted: copies stop before their next file.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn scratch() -> MutexGuard<'static, Vec<PathBuf>> {
    SCRATCH.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A scratch path, registered for as long as the guard lives.
#[derive(Debug)]
pub(super) struct Scratch(PathBuf);

impl Scratch {
    /// Registers `path`: an interruption removes it until the guard is dropped.
    pub(super) fn register(path: &Path) -> Scratch {
        scratch().push(path.to_path_buf());
        Scratch(path.to_path_buf())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mut paths = scratch();
        if let Some(at) = paths.iter().position(|path| *path == self.0) {
            paths.swap_remove(at);
        }
    }
}

/// Whether the run was interrupted.
pub(super) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Acquire)
}

/// Waits for SIGINT or SIGTERM; returns its name. Never returns when neither can be
/// listened to.
pub(super) async fn signalled() -> &'static str {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = async {
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    terminate.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = interrupt => "SIGINT",
            () = terminate => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        interrupt.await;
        "Ctrl-C"
    }
}

/// Marks the run interrupted and removes every registered path. The work still running
/// on other threads stops at its next step or when the process exits.
pub(super) fn clean_up() {
    INTERRUPTED.store(true, Ordering::Release);
    for path in scratch().drain(..) {
        // A copy may have created one more file between listing and removing.
        for _ in 0..3 {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if removed.is_ok() || !path.exists() {
                break;
            }
        }
    }
}
