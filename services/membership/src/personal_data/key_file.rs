//! The members' keys, in one file of fixed slots overwritten in place, so that erasing
//! a key really removes it from the disk.
//!
//! sled, like any log-structured store, keeps an old value in its segment files long
//! after it was replaced or removed, so a key kept there would survive its erasure.
//! This file is not log-structured: each key lives in a slot of its own, at a fixed
//! offset, and erasing it writes zeros over that very slot, then `fdatasync`s. (On a
//! copy-on-write filesystem such as btrfs or ZFS, or an SSD's flash translation layer,
//! old blocks may survive on the device below the filesystem; keep the data directory
//! on an encrypted volume where that matters.)
//!
//! # Layout
//!
//! ```text
//! offset        size  field
//! 0             8     magic "CMKEYS01"
//! 8             8     reserved (zero)
//! 16 + 64 i     64    slot i:
//!   +0          1       1 = a key, 0 = free
//!   +1          3       zero
//!   +4          4       CRC-32 of bytes +16..+64, big-endian
//!   +8          8       zero
//!   +16         16      the member's id (UUID)
//!   +32         32      the member's key (ChaCha20-Poly1305)
//! ```
//!
//! A slot that does not check out (a write torn by a crash) is zeroed at open. Writes
//! go through one thread, which writes every slot waiting, then `fdatasync`s once for
//! all of them (group commit) before answering: a key is on disk when `put` returns,
//! and gone from it when `erase` returns.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, PoisonError, RwLock};

use chacha20poly1305::Key;
use tokio::sync::oneshot;
use uuid::Uuid;

const MAGIC: &[u8; 8] = b"CMKEYS01";
const HEADER_LEN: u64 = 16;
const SLOT_LEN: usize = 64;
const LIVE: u8 = 1;
/// Most writes one `fdatasync` covers.
const MAX_BATCH: usize = 1024;

/// Why the key file failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyFileError {
    /// The file could not be read or written.
    #[error("member key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The file is not a key file.
    #[error("{0} is not a member key file")]
    NotAKeyFile(PathBuf),
    /// The writer thread has stopped.
    #[error("the member key file is closed")]
    Closed,
}

enum Job {
    Put {
        member: Uuid,
        key: Key,
        reply: oneshot::Sender<Result<(), KeyFileError>>,
    },
    Erase {
        member: Uuid,
        reply: oneshot::Sender<Result<(), KeyFileError>>,
    },
}

/// The members' keys: read from memory, written through the writer thread.
#[derive(Clone)]
pub(crate) struct KeyFile {
    keys: Arc<RwLock<HashMap<Uuid, Key>>>,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("KeyFile")
            .field("keys", &keys.len())
            .finish()
    }
}

impl KeyFile {
    /// Opens (or creates) the key file at `path` and starts its writer thread, which
    /// ends when every handle is dropped. Blocking.
    pub(crate) fn open(path: &Path) -> Result<Self, KeyFileError> {
        let io_error = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error)?;
        if created {
            let mut header = [0u8; HEADER_LEN as usize];
            header[..8].copy_from_slice(MAGIC);
            file.write_all_at(&header, 0).map_err(io_error)?;
            file.sync_all().map_err(io_error)?;
            // The new file's name must survive a crash too.
            if let Some(dir) = path.parent() {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io_error)?;
            }
        }
        let (slots, keys) = load(&file, path)?;
        let keys = Arc::new(RwLock::new(keys));
        let (jobs, queue) = mpsc::channel();
        let writer = Writer {
            file,
            path: path.to_owned(),
            slots,
            keys: Arc::clone(&keys),
        };
        std::thread::Builder::new()
            .name("member-keys".to_owned())
            .spawn(move || writer.run(&queue))
            .map_err(io_error)?;
        Ok(KeyFile { keys, jobs })
    }

    /// The key of `member`, if it has one.
    pub(crate) fn get(&self, member: Uuid) -> Option<Key> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&member)
            .copied()
    }

    /// The members that have a key.
    pub(crate) fn members(&self) -> Vec<Uuid> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    /// Stores `key` as `member`'s (replacing any key it had); returns once it is on
    /// disk.
    pub(crate) async fn put(&self, member: Uuid, key: Key) -> Result<(), KeyFileError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Put { member, key, reply }, answer).await
    }

    /// Overwrites `member`'s key with zeros; returns once that is on disk. Erasing a
    /// member without a key does nothing.
    pub(crate) async fn erase(&self, member: Uuid) -> Result<(), KeyFileError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Erase { member, reply }, answer).await
    }

    async fn send(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<(), KeyFileError>>,
    ) -> Result<(), KeyFileError> {
        self.jobs.send(job).map_err(|_| KeyFileError::Closed)?;
        answer.await.map_err(|_| KeyFileError::Closed)?
    }
}

/// Reads every slot; zeroes the damaged ones. Returns each member's slot and key.
fn load(file: &File, path: &Path) -> Result<(Slots, HashMap<Uuid, Key>), KeyFileError> {
    let io_error = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let len = file.metadata().map_err(io_error)?.len();
    let mut header = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut header, 0)
        .map_err(|_| KeyFileError::NotAKeyFile(path.to_owned()))?;
    if &header[..8] != MAGIC {
        return Err(KeyFileError::NotAKeyFile(path.to_owned()));
    }
    let count = (len.saturating_sub(HEADER_LEN)) / SLOT_LEN as u64;
    let mut slots = Slots::default();
    let mut keys = HashMap::new();
    let mut damaged = false;
    for index in 0..count {
        let mut slot = [0u8; SLOT_LEN];
        file.read_exact_at(&mut slot, offset(index))
            .map_err(io_error)?;
        match decode(&slot) {
            Some((member, key)) if !slots.by_member.contains_key(&member) => {
                slots.by_member.insert(member, index);
                keys.insert(member, key);
            }
            Some(_) | None => {
                if slot.iter().any(|byte| *byte != 0) {
                    // Torn by a crash, or a second slot for one member (a crash while
                    // moving it): no answer ever relied on it.
                    file.write_all_at(&[0u8; SLOT_LEN], offset(index))
                        .map_err(io_error)?;
                    damaged = true;
                }
                slots.free.push(index);
            }
        }
    }
    if damaged {
        file.sync_data().map_err(io_error)?;
        tracing::warn!(path = %path.display(), "zeroed damaged slots of the member key file");
    }
    slots.next = count;
    Ok((slots, keys))
}

fn offset(index: u64) -> u64 {
    HEADER_LEN + index * SLOT_LEN as u64
}

fn encode(member: Uuid, key: &Key) -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    slot[0] = LIVE;
    slot[16..32].copy_from_slice(member.as_bytes());
    slot[32..64].copy_from_slice(key.as_slice());
    let crc = crc32fast::hash(&slot[16..]);
    slot[4..8].copy_from_slice(&crc.to_be_bytes());
    slot
}

fn decode(slot: &[u8; SLOT_LEN]) -> Option<(Uuid, Key)> {
    if slot[0] != LIVE {
        return None;
    }
    let stored = u32::from_be_bytes(slot[4..8].try_into().ok()?);
    if stored != crc32fast::hash(&slot[16..]) {
        return None;
    }
    let member = Uuid::from_slice(&slot[16..32]).ok()?;
    Some((member, *Key::from_slice(&slot[32..64])))
}

/// Which slot holds which member's key, and which slots are free.
#[derive(Default)]
struct Slots {
    by_member: HashMap<Uuid, u64>,
    free: Vec<u64>,
    /// The first slot past the end of the file.
    next: u64,
}

struct Writer {
    file: File,
    path: PathBuf,
    slots: Slots,
    keys: Arc<RwLock<HashMap<Uuid, Key>>>,
}

/// What one job changes in memory once its write is on disk.
enum Change {
    Put(Uuid, Key, u64),
    Erased(Uuid, u64),
    Nothing,
}

impl Writer {
    fn run(mut self, queue: &mpsc::Receiver<Job>) {
        while let Ok(first) = queue.recv() {
            let mut jobs = vec![first];
            jobs.extend(queue.try_iter().take(MAX_BATCH - 1));
            self.write_batch(jobs);
        }
    }

    /// Writes every job's slot, syncs once, then applies the changes in memory and
    /// answers. After a failed write or sync nothing is applied and every job of the
    /// batch fails.
    fn write_batch(&mut self, jobs: Vec<Job>) {
        let mut changes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut failed: Option<io::Error> = None;
        for job in jobs {
            let (change, reply) = match job {
                Job::Put { member, key, reply } => {
                    let slot = self.slot_for(member);
                    if failed.is_none()
                        && let Err(error) =
                            self.file.write_all_at(&encode(member, &key), offset(slot))
                    {
                        failed = Some(error);
                    }
                    (Change::Put(member, key, slot), reply)
                }
                Job::Erase { member, reply } => match self.slots.by_member.remove(&member) {
                    Some(slot) => {
                        if failed.is_none()
                            && let Err(error) =
                                self.file.write_all_at(&[0u8; SLOT_LEN], offset(slot))
                        {
                            failed = Some(error);
                        }
                        (Change::Erased(member, slot), reply)
                    }
                    None => (Change::Nothing, reply),
                },
            };
            changes.push(change);
            replies.push(reply);
        }
        if failed.is_none()
            && let Err(error) = self.file.sync_data()
        {
            failed = Some(error);
        }
        if let Some(error) = failed {
            tracing::error!(path = %self.path.display(), %error, "writing member keys failed");
            let kind = error.kind();
            for reply in replies {
                let _ = reply.send(Err(KeyFileError::Io {
                    path: self.path.clone(),
                    source: io::Error::new(kind, error.to_string()),
                }));
            }
            // What reached the file is unknown: read it back as the next open would.
            match load(&self.file, &self.path) {
                Ok((slots, keys)) => {
                    self.slots = slots;
                    *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
                }
                Err(error) => {
                    tracing::error!(%error, "re-reading the member key file failed");
                }
            }
            return;
        }
        {
            let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            for change in changes {
                match change {
                    Change::Put(member, key, slot) => {
                        self.slots.by_member.insert(member, slot);
                        keys.insert(member, key);
                    }
                    Change::Erased(member, slot) => {
                        // Also undoes a put of the same batch, written before it.
                        self.slots.by_member.remove(&member);
                        self.slots.free.push(slot);
                        keys.remove(&member);
                    }
                    Change::Nothing => {}
                }
            }
        }
        for reply in replies {
            let _ = reply.send(Ok(()));
        }
    }

    /// The slot `member`'s key goes to: its own, a free one, or a new one at the end.
    /// Taken at once, so two puts of one batch never share a slot.
    fn slot_for(&mut self, member: Uuid) -> u64 {
        if let Some(slot) = self.slots.by_member.get(&member) {
            return *slot;
        }
        let slot = self.slots.free.pop().unwrap_or_else(|| {
            let slot = self.slots.next;
            self.slots.next += 1;
            slot
        });
        self.slots.by_member.insert(member, slot);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        *Key::from_slice(&[byte; 32])
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    #[tokio::test]
    async fn keys_survive_a_reopen_and_an_erased_key_leaves_no_byte_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        {
            let keys = KeyFile::open(&path).unwrap();
            keys.put(a, key(0xA5)).await.unwrap();
            keys.put(b, key(0x5A)).await.unwrap();
            keys.erase(a).await.unwrap();
            assert_eq!(keys.get(a), None);
            assert_eq!(keys.get(b), Some(key(0x5A)));
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, &[0xA5; 32]));
        assert!(!contains(&bytes, a.as_bytes()));
        assert!(contains(&bytes, &[0x5A; 32]));

        let keys = KeyFile::open(&path).unwrap();
        assert_eq!(keys.get(b), Some(key(0x5A)));
        assert_eq!(keys.members(), vec![b]);
        // The freed slot is used again instead of growing the file.
        let c = Uuid::now_v7();
        keys.put(c, key(0x33)).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), HEADER_LEN + 2 * 64);
    }

    #[tokio::test]
    async fn a_torn_slot_is_zeroed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let a = Uuid::now_v7();
        {
            let keys = KeyFile::open(&path).unwrap();
            keys.put(a, key(7)).await.unwrap();
        }
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&[9; 8], HEADER_LEN + 40).unwrap();
        drop(file);
        let keys = KeyFile::open(&path).unwrap();
        assert_eq!(keys.get(a), None);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[HEADER_LEN as usize..].iter().all(|byte| *byte == 0));
    }

    #[test]
    fn another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, b"not a key file at all").unwrap();
        assert!(matches!(
            KeyFile::open(&path),
            Err(KeyFileError::NotAKeyFile(_))
        ));
    }
}
