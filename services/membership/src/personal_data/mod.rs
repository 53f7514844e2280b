//! The members' personal data (their contact person), encrypted under a key of each
//! member's own, and erased by destroying that key (crypto-shredding).
//!
//! - The key comes from the key file (see `key_file`), whose slots are overwritten in
//!   place; it is on disk before it is handed out.
//! - The contact is sealed with ChaCha20-Poly1305 under that key, the member's id as
//!   associated data, and kept in the sled tree [`SEALED_TREE`] with the key's slot:
//!   `[format 2][slot: u64][nonce: 12][ciphertext]`. The plaintext exists only in memory;
//!   it is never written anywhere, never logged, never put in an event.
//! - The sealed record is written before the application's event is appended, and
//!   becomes durable with the same flush: an application answered 201 has its contact.
//! - Erasure zeroes the key's slot and syncs it; the ciphertext, which sled may keep in
//!   old segments for a while, is then unreadable for good. The record is removed from
//!   the tree too, for tidiness.
//!
//! At start, every key no sealed record names is destroyed, and
//! [`PersonalData::reconcile`] destroys the keys of members that do not exist (a crash
//! between storing an application's contact and appending it) or whose erasure is in
//! the log (a crash between the erasure's append and the key's destruction).

mod key_file;

use std::collections::HashSet;

use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, ChaCha20Poly1305, Nonce};
use circlemade_contracts::membership::MemberId;
use circlemade_eventlog::EventLog;
use uuid::Uuid;

use crate::domain::Contact;
use key_file::{KeyFile, KeyFileError, Slot};

/// The sled tree of sealed contacts, by member id.
pub const SEALED_TREE: &str = "membership.personal_data";
/// The key file, relative to the data directory.
pub const KEY_FILE: &str = "personal-data/member-keys";

const SEALED_FORMAT: u8 = 2;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 8 + NONCE_LEN;

/// Why personal data could not be stored, read or erased. Never carries the data.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersonalDataError {
    /// The key file failed.
    #[error(transparent)]
    Keys(#[from] KeyFileError),
    /// sled failed.
    #[error("sealed personal data: {0}")]
    Storage(#[from] sled::Error),
    /// A sealed contact does not open with its member's key.
    #[error("the sealed personal data of member {0} cannot be opened")]
    Damaged(Uuid),
    /// Sealing failed (it cannot, short of a bug).
    #[error("sealing personal data failed")]
    Seal,
    /// A blocking task failed.
    #[error("personal data task failed: {0}")]
    Task(String),
}

/// What the store holds for a member.
#[derive(Debug)]
pub(crate) enum Stored {
    /// Its contact, decrypted.
    Contact(Contact),
    /// No key: erased, or never stored.
    NoKey,
}

/// The members' sealed contacts and their keys. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct PersonalData {
    keys: KeyFile,
    sealed: sled::Tree,
}

impl PersonalData {
    /// Opens the tree in `log`'s database and the key file in its data directory,
    /// destroying every key no sealed contact names. Blocking.
    pub(crate) fn open(log: &EventLog) -> Result<Self, PersonalDataError> {
        let path = log.path().join(KEY_FILE);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| KeyFileError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let sealed = log.open_tree(SEALED_TREE)?;
        let mut in_use = HashSet::new();
        for entry in sealed.iter() {
            let (_, record) = entry?;
            if let Some((slot, _, _)) = split(&record) {
                in_use.insert(slot);
            }
        }
        Ok(PersonalData {
            keys: KeyFile::open(&path, |slot| in_use.contains(&slot))?,
            sealed,
        })
    }

    /// Seals `contact` under a fresh key (already on disk) and stores it for `member`,
    /// replacing (and destroying) any it had. The record becomes durable with the log's
    /// next flush: the append of the application that follows.
    pub(crate) async fn store(
        &self,
        member: MemberId,
        contact: &Contact,
    ) -> Result<(), PersonalDataError> {
        let (slot, key) = self.keys.take().await?;
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plaintext = serde_json::to_vec(contact).map_err(|_| PersonalDataError::Seal)?;
        let ciphertext = ChaCha20Poly1305::new(&key)
            .encrypt(
                &nonce,
                Payload {
                    msg: &plaintext,
                    aad: member.0.as_bytes(),
                },
            )
            .map_err(|_| PersonalDataError::Seal)?;
        drop(plaintext);
        let mut record = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        record.push(SEALED_FORMAT);
        record.extend_from_slice(&slot.to_be_bytes());
        record.extend_from_slice(&nonce);
        record.extend_from_slice(&ciphertext);
        let replaced = self.sealed.insert(member.0.as_bytes(), record)?;
        // A retried application stores its contact again: the first key goes.
        if let Some((old, _, _)) = replaced.as_deref().and_then(split) {
            self.keys.erase(vec![old]).await?;
        }
        Ok(())
    }

    /// The contact of `member`, or [`Stored::NoKey`] when it has none (erased).
    pub(crate) async fn read(&self, member: MemberId) -> Result<Stored, PersonalDataError> {
        let Some(record) = self.record(member).await? else {
            return Ok(Stored::NoKey);
        };
        let damaged = || PersonalDataError::Damaged(member.0);
        let (slot, nonce, ciphertext) = split(&record).ok_or_else(damaged)?;
        let Some(key) = self.keys.get(slot) else {
            return Ok(Stored::NoKey);
        };
        let plaintext = ChaCha20Poly1305::new(&key)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: member.0.as_bytes(),
                },
            )
            .map_err(|_| damaged())?;
        let contact = serde_json::from_slice(&plaintext).map_err(|_| damaged())?;
        Ok(Stored::Contact(contact))
    }

    async fn record(&self, member: MemberId) -> Result<Option<sled::IVec>, PersonalDataError> {
        let tree = self.sealed.clone();
        Ok(
            tokio::task::spawn_blocking(move || tree.get(member.0.as_bytes()))
                .await
                .map_err(|e| PersonalDataError::Task(e.to_string()))??,
        )
    }

    /// Destroys `member`'s key (zeroed on disk and synced) and drops its sealed
    /// contact. Erasing what is already erased does nothing.
    pub(crate) async fn erase(&self, member: MemberId) -> Result<(), PersonalDataError> {
        if let Some(record) = self.record(member).await? {
            if let Some((slot, _, _)) = split(&record) {
                self.keys.erase(vec![slot]).await?;
            }
            self.sealed.remove(member.0.as_bytes())?;
        }
        Ok(())
    }

    /// Destroys the keys of members that do not exist (a crash between storing an
    /// application's contact and appending it) or whose personal data was erased (a
    /// crash between the erasure's append and the key's destruction), and drops their
    /// sealed contacts. Returns how many it destroyed.
    pub(crate) async fn reconcile(
        &self,
        existing: &HashSet<MemberId>,
        erased: &HashSet<MemberId>,
    ) -> Result<usize, PersonalDataError> {
        let tree = self.sealed.clone();
        let (existing, erased) = (existing.clone(), erased.clone());
        let doomed = tokio::task::spawn_blocking(move || {
            let mut doomed = Vec::new();
            for entry in tree.iter() {
                let (id, record) = entry?;
                let member = Uuid::from_slice(&id).ok().map(MemberId);
                let keep = member.is_some_and(|m| existing.contains(&m) && !erased.contains(&m));
                if !keep {
                    doomed.push((id, split(&record).map(|(slot, _, _)| slot)));
                }
            }
            Ok::<_, sled::Error>(doomed)
        })
        .await
        .map_err(|e| PersonalDataError::Task(e.to_string()))??;
        if doomed.is_empty() {
            return Ok(0);
        }
        self.keys
            .erase(doomed.iter().filter_map(|(_, slot)| *slot).collect())
            .await?;
        for (id, _) in &doomed {
            self.sealed.remove(id)?;
        }
        tracing::info!(
            members = doomed.len(),
            "destroyed personal data left over by an interrupted command"
        );
        Ok(doomed.len())
    }
}

/// A sealed record's slot, nonce and ciphertext.
fn split(record: &[u8]) -> Option<(Slot, &[u8], &[u8])> {
    let (&format, rest) = record.split_first()?;
    if format != SEALED_FORMAT || rest.len() < HEADER_LEN - 1 {
        return None;
    }
    let (slot, rest) = rest.split_at(8);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Some((
        Slot::from_be_bytes(slot.try_into().ok()?),
        nonce,
        ciphertext,
    ))
}
