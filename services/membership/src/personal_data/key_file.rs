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
//! # Keys written ahead
//!
//! A slot says nothing of whom its key belongs to: which member uses which slot is
//! recorded with the member's sealed contact (see the parent module), and becomes
//! durable with it. The writer thread keeps a **pool** of fresh keys already written
//! and synced; storing a contact takes one from the pool and syncs nothing, so an
//! application waits for one `fsync` only, its log append's. The pool is refilled in
//! the background, many keys per sync. Keys left unused in the pool when the process
//! stops are destroyed at the next start, never handed out again: one of them may have
//! sealed a contact whose record a crash lost.
//!
//! # Layout
//!
//! ```text
//! offset        size  field
//! 0             8     magic "CMKEYS02"
//! 8             8     reserved (zero)
//! 16 + 64 i     64    slot i:
//!   +0          1       1 = a key, 0 = free
//!   +1          3       zero
//!   +4          4       CRC-32 of the key, big-endian
//!   +8          24      zero
//!   +32         32      the key (ChaCha20-Poly1305)
//! ```
//!
//! A slot that does not check out (a write torn by a crash) is zeroed at open.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chacha20poly1305::aead::{KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key};
use tokio::sync::oneshot;

const MAGIC: &[u8; 8] = b"CMKEYS02";
const HEADER_LEN: u64 = 16;
const SLOT_LEN: usize = 64;
const LIVE: u8 = 1;
/// Keys the pool is refilled to.
const POOL_TARGET: usize = 512;
/// Below this many keys, a refill starts.
const POOL_LOW: usize = 128;

/// A slot of the key file.
pub(crate) type Slot = u64;

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

type Reply = oneshot::Sender<Result<(), KeyFileError>>;

enum Job {
    /// Write fresh keys into the pool; answer when they are synced.
    Refill(Option<Reply>),
    /// Zero these slots and sync.
    Erase(Vec<Slot>, Reply),
}

/// What the handles and the writer thread share.
struct Shared {
    /// The key of every live slot: in the pool or in use.
    keys: HashMap<Slot, Key>,
    /// Synced keys nobody uses yet.
    pool: VecDeque<Slot>,
    /// Whether a refill is queued or running.
    refilling: bool,
}

/// The members' keys: taken from a pool of synced keys, read from memory, erased
/// through the writer thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct KeyFile {
    shared: Arc<Mutex<Shared>>,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = self.lock();
        f.debug_struct("KeyFile")
            .field("keys", &shared.keys.len())
            .field("pool", &shared.pool.len())
            .finish()
    }
}

impl KeyFile {
    /// Opens (or creates) the key file at `path`. Every slot but those in `in_use` is
    /// destroyed (see the module docs), and the writer thread starts filling the pool;
    /// it ends when every handle is dropped. Blocking.
    pub(crate) fn open(path: &Path, in_use: impl Fn(Slot) -> bool) -> Result<Self, KeyFileError> {
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
        let Loaded { keys, free, slots } = load(&file, path, in_use)?;
        let shared = Arc::new(Mutex::new(Shared {
            keys,
            pool: VecDeque::new(),
            refilling: true,
        }));
        let (jobs, queue) = mpsc::channel();
        let writer = Writer {
            file,
            path: path.to_owned(),
            free,
            next: slots,
            shared: Arc::clone(&shared),
        };
        std::thread::Builder::new()
            .name("member-keys".to_owned())
            .spawn(move || writer.run(&queue))
            .map_err(io_error)?;
        let keys = KeyFile { shared, jobs };
        keys.jobs
            .send(Job::Refill(None))
            .map_err(|_| KeyFileError::Closed)?;
        Ok(keys)
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh key, already on disk, and its slot: from the pool, or, when the pool is
    /// empty, once a refill has synced new keys.
    pub(crate) async fn take(&self) -> Result<(Slot, Key), KeyFileError> {
        loop {
            let waiter = {
                let mut shared = self.lock();
                if let Some(slot) = shared.pool.pop_front() {
                    let key = shared.keys.get(&slot).copied();
                    if shared.pool.len() < POOL_LOW && !shared.refilling {
                        shared.refilling = true;
                        drop(shared);
                        self.jobs
                            .send(Job::Refill(None))
                            .map_err(|_| KeyFileError::Closed)?;
                    }
                    match key {
                        Some(key) => return Ok((slot, key)),
                        None => continue,
                    }
                }
                let (reply, answer) = oneshot::channel();
                shared.refilling = true;
                drop(shared);
                self.jobs
                    .send(Job::Refill(Some(reply)))
                    .map_err(|_| KeyFileError::Closed)?;
                answer
            };
            waiter.await.map_err(|_| KeyFileError::Closed)??;
        }
    }

    /// The key in `slot`, if it holds one.
    pub(crate) fn get(&self, slot: Slot) -> Option<Key> {
        self.lock().keys.get(&slot).copied()
    }

    /// Overwrites `slots` with zeros; returns once that is on disk.
    pub(crate) async fn erase(&self, slots: Vec<Slot>) -> Result<(), KeyFileError> {
        if slots.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Erase(slots, reply))
            .map_err(|_| KeyFileError::Closed)?;
        answer.await.map_err(|_| KeyFileError::Closed)?
    }
}

/// What a key file holds at open.
struct Loaded {
    /// The keys in use, by slot.
    keys: HashMap<Slot, Key>,
    /// The zeroed slots.
    free: Vec<Slot>,
    /// The number of slots.
    slots: Slot,
}

/// Reads every slot: the live ones in use are kept, every other is zeroed (a torn
/// write, or a key of the pool of a previous run). Blocking.
fn load(file: &File, path: &Path, in_use: impl Fn(Slot) -> bool) -> Result<Loaded, KeyFileError> {
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
    let count = len.saturating_sub(HEADER_LEN) / SLOT_LEN as u64;
    let mut keys = HashMap::new();
    let mut free = Vec::new();
    let mut zeroed = 0;
    let mut bytes = vec![0u8; usize::try_from(count).unwrap_or(0) * SLOT_LEN];
    file.read_exact_at(&mut bytes, HEADER_LEN)
        .map_err(io_error)?;
    for (index, slot) in bytes.chunks_exact(SLOT_LEN).enumerate() {
        let index = index as Slot;
        match decode(slot) {
            Some(key) if in_use(index) => {
                keys.insert(index, key);
            }
            _ => {
                if slot.iter().any(|byte| *byte != 0) {
                    file.write_all_at(&[0u8; SLOT_LEN], offset(index))
                        .map_err(io_error)?;
                    zeroed += 1;
                }
                free.push(index);
            }
        }
    }
    if zeroed > 0 {
        file.sync_data().map_err(io_error)?;
        tracing::info!(keys = zeroed, "destroyed member keys no member uses");
    }
    // Lowest slots first, so the file stays compact.
    free.reverse();
    Ok(Loaded {
        keys,
        free,
        slots: count,
    })
}

fn offset(slot: Slot) -> u64 {
    HEADER_LEN + slot * SLOT_LEN as u64
}

fn encode(key: &Key) -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    slot[0] = LIVE;
    slot[32..64].copy_from_slice(key.as_slice());
    let crc = crc32fast::hash(&slot[32..]);
    slot[4..8].copy_from_slice(&crc.to_be_bytes());
    slot
}

fn decode(slot: &[u8]) -> Option<Key> {
    if slot.len() != SLOT_LEN || slot[0] != LIVE {
        return None;
    }
    let stored = u32::from_be_bytes(slot[4..8].try_into().ok()?);
    if stored != crc32fast::hash(&slot[32..]) {
        return None;
    }
    Some(*Key::from_slice(&slot[32..64]))
}

struct Writer {
    file: File,
    path: PathBuf,
    /// Zeroed slots, reused before the file grows; the last is used first.
    free: Vec<Slot>,
    /// The first slot past the end of the file.
    next: Slot,
    shared: Arc<Mutex<Shared>>,
}

impl Writer {
    fn run(mut self, queue: &mpsc::Receiver<Job>) {
        while let Ok(first) = queue.recv() {
            let mut refills = Vec::new();
            let mut erasures = Vec::new();
            for job in std::iter::once(first).chain(queue.try_iter()) {
                match job {
                    Job::Refill(reply) => refills.push(reply),
                    Job::Erase(slots, reply) => erasures.push((slots, reply)),
                }
            }
            if !erasures.is_empty() {
                self.erase(erasures);
            }
            if !refills.is_empty() {
                self.refill(refills);
            }
        }
    }

    fn io_error(&self, source: io::Error) -> KeyFileError {
        KeyFileError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Zeroes every slot asked for, syncs once, then forgets them and answers.
    fn erase(&mut self, erasures: Vec<(Vec<Slot>, Reply)>) {
        let slots: Vec<Slot> = erasures
            .iter()
            .flat_map(|(slots, _)| slots.iter().copied())
            .collect();
        let written = slots
            .iter()
            .try_for_each(|slot| self.file.write_all_at(&[0u8; SLOT_LEN], offset(*slot)))
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            tracing::error!(path = %self.path.display(), %error, "erasing member keys failed");
            let kind = error.kind();
            for (_, reply) in erasures {
                let _ = reply.send(Err(self.io_error(io::Error::new(kind, error.to_string()))));
            }
            return;
        }
        {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            for slot in &slots {
                if shared.keys.remove(slot).is_some() {
                    self.free.push(*slot);
                }
                shared.pool.retain(|pooled| pooled != slot);
            }
        }
        for (_, reply) in erasures {
            let _ = reply.send(Ok(()));
        }
    }

    /// Writes fresh keys until the pool holds its target, syncs once, then offers them.
    fn refill(&mut self, replies: Vec<Option<Reply>>) {
        let wanted = {
            let shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            POOL_TARGET.saturating_sub(shared.pool.len()).max(1)
        };
        let mut fresh = Vec::with_capacity(wanted);
        let mut result = Ok(());
        for _ in 0..wanted {
            let slot = self.free.pop().unwrap_or_else(|| {
                let slot = self.next;
                self.next += 1;
                slot
            });
            let key = ChaCha20Poly1305::generate_key(&mut OsRng);
            if let Err(error) = self.file.write_all_at(&encode(&key), offset(slot)) {
                self.free.push(slot);
                result = Err(error);
                break;
            }
            fresh.push((slot, key));
        }
        let result = result.and_then(|()| self.file.sync_data());
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.refilling = false;
        match result {
            Ok(()) => {
                for (slot, key) in fresh {
                    shared.keys.insert(slot, key);
                    shared.pool.push_back(slot);
                }
                drop(shared);
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(error) => {
                drop(shared);
                tracing::error!(path = %self.path.display(), %error, "writing member keys failed");
                // Keys written but not known to be synced are never used.
                self.free.extend(fresh.iter().map(|(slot, _)| *slot));
                let kind = error.kind();
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(self.io_error(io::Error::new(kind, error.to_string()))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    #[tokio::test]
    async fn keys_in_use_survive_a_reopen_and_every_other_leaves_no_byte_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let (kept, erased, unused) = {
            let keys = KeyFile::open(&path, |_| false).unwrap();
            let kept = keys.take().await.unwrap();
            let erased = keys.take().await.unwrap();
            // Taken for a contact whose record a crash lost.
            let unused = keys.take().await.unwrap();
            keys.erase(vec![erased.0]).await.unwrap();
            assert_eq!(keys.get(erased.0), None);
            assert_eq!(keys.get(kept.0), Some(kept.1));
            (kept, erased, unused)
        };
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, erased.1.as_slice()));
        assert!(contains(&bytes, kept.1.as_slice()));
        assert!(contains(&bytes, unused.1.as_slice()));

        // Only the slot in use survives the reopen: the unused key and the rest of the
        // pool are destroyed, never handed out again.
        let keys = KeyFile::open(&path, |slot| slot == kept.0).unwrap();
        assert_eq!(keys.get(kept.0), Some(kept.1));
        assert_eq!(keys.get(unused.0), None);
        let fresh = keys.take().await.unwrap();
        assert_ne!(fresh.1, unused.1);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, unused.1.as_slice()));
        assert!(!contains(&bytes, erased.1.as_slice()));
        assert!(contains(&bytes, kept.1.as_slice()));
    }

    #[tokio::test]
    async fn a_torn_slot_is_zeroed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let (slot, key) = {
            let keys = KeyFile::open(&path, |_| false).unwrap();
            keys.take().await.unwrap()
        };
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&[9; 8], offset(slot) + 40).unwrap();
        drop(file);
        let keys = KeyFile::open(&path, |in_use| in_use == slot).unwrap();
        assert_eq!(keys.get(slot), None);
        assert!(!contains(
            &std::fs::read(&path).unwrap(),
            &key.as_slice()[..8]
        ));
    }

    #[tokio::test]
    async fn the_pool_refills_when_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyFile::open(&dir.path().join("keys"), |_| false).unwrap();
        let mut slots = std::collections::HashSet::new();
        for _ in 0..(POOL_TARGET + 10) {
            let (slot, _) = keys.take().await.unwrap();
            assert!(slots.insert(slot), "slot {slot} handed out twice");
        }
    }

    #[test]
    fn another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, b"not a key file at all").unwrap();
        assert!(matches!(
            KeyFile::open(&path, |_| true),
            Err(KeyFileError::NotAKeyFile(_))
        ));
    }
}
