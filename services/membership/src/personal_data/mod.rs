//! The members' personal data (their contact person), encrypted under a key of each
//! member's own, and erased by destroying that key (crypto-shredding).
//!
//! - The contact is sealed with ChaCha20-Poly1305 under a fresh random key, the
//!   member's id as associated data, and kept in the sled tree [`SEALED_TREE`]:
//!   `[format 1][nonce: 12][ciphertext]`. The plaintext exists only in memory; it is
//!   never written anywhere, never logged, never put in an event.
//! - The key goes to the key file (see `key_file`), whose slots are overwritten in place.
//! - Erasure zeroes the key's slot and syncs it; the ciphertext, which sled may keep in
//!   old segments for a while, is then unreadable for good. It is removed from the tree
//!   too, for tidiness.
//!
//! A contact is stored before the application's event is appended, so a crash in
//! between can leave a key with no member: [`PersonalData::reconcile`] destroys such
//! keys at start, and those of members whose erasure is in the log (a crash between
//! the erasure's append and the key's destruction).

mod key_file;

use std::collections::HashSet;

use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, ChaCha20Poly1305, Nonce};
use circlemade_contracts::membership::MemberId;
use circlemade_eventlog::EventLog;
use uuid::Uuid;

use crate::domain::Contact;
use key_file::{KeyFile, KeyFileError};

/// The sled tree of sealed contacts, by member id.
pub const SEALED_TREE: &str = "membership.personal_data";
/// The key file, relative to the data directory.
pub const KEY_FILE: &str = "personal-data/member-keys";

const SEALED_FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;

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
    /// Opens the tree in `log`'s database and the key file in its data directory.
    /// Blocking.
    pub(crate) fn open(log: &EventLog) -> Result<Self, PersonalDataError> {
        let path = log.path().join(KEY_FILE);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| KeyFileError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        Ok(PersonalData {
            keys: KeyFile::open(&path)?,
            sealed: log.open_tree(SEALED_TREE)?,
        })
    }

    /// Seals `contact` under a new key of `member`'s and stores both; returns once the
    /// key is on disk. The sealed contact becomes durable with the log's next flush:
    /// the append of the application that follows.
    pub(crate) async fn store(
        &self,
        member: MemberId,
        contact: &Contact,
    ) -> Result<(), PersonalDataError> {
        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
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
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_FORMAT);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        self.sealed.insert(member.0.as_bytes(), sealed)?;
        self.keys.put(member.0, key).await?;
        Ok(())
    }

    /// The contact of `member`, or [`Stored::NoKey`] when its key is gone.
    pub(crate) async fn read(&self, member: MemberId) -> Result<Stored, PersonalDataError> {
        let Some(key) = self.keys.get(member.0) else {
            return Ok(Stored::NoKey);
        };
        let tree = self.sealed.clone();
        let sealed = tokio::task::spawn_blocking(move || tree.get(member.0.as_bytes()))
            .await
            .map_err(|e| PersonalDataError::Task(e.to_string()))??;
        let damaged = || PersonalDataError::Damaged(member.0);
        let sealed = sealed.ok_or_else(damaged)?;
        let (&format, rest) = sealed.split_first().ok_or_else(damaged)?;
        if format != SEALED_FORMAT || rest.len() < NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
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

    /// Destroys `member`'s key (zeroed on disk and synced) and drops its sealed
    /// contact. Erasing what is already erased does nothing.
    pub(crate) async fn erase(&self, member: MemberId) -> Result<(), PersonalDataError> {
        self.keys.erase(member.0).await?;
        self.sealed.remove(member.0.as_bytes())?;
        Ok(())
    }

    /// Destroys the keys of members that do not exist (a crash between storing an
    /// application's contact and appending it) or whose personal data was erased (a
    /// crash between the erasure's append and the key's destruction), and drops sealed
    /// contacts left without a key. Returns how many keys it destroyed.
    pub(crate) async fn reconcile(
        &self,
        existing: &HashSet<MemberId>,
        erased: &HashSet<MemberId>,
    ) -> Result<usize, PersonalDataError> {
        let mut destroyed = 0;
        for member in self.keys.members().into_iter().map(MemberId) {
            if !existing.contains(&member) || erased.contains(&member) {
                self.erase(member).await?;
                destroyed += 1;
            }
        }
        let tree = self.sealed.clone();
        let keys = self.keys.clone();
        let orphans = tokio::task::spawn_blocking(move || {
            let mut orphans = 0;
            for entry in tree.iter() {
                let (id, _) = entry?;
                let keyless = Uuid::from_slice(&id).map_or(true, |id| keys.get(id).is_none());
                if keyless {
                    tree.remove(id)?;
                    orphans += 1;
                }
            }
            Ok::<_, sled::Error>(orphans)
        })
        .await
        .map_err(|e| PersonalDataError::Task(e.to_string()))??;
        if destroyed > 0 || orphans > 0 {
            tracing::info!(
                keys = destroyed,
                sealed = orphans,
                "destroyed personal data left over by an interrupted command"
            );
        }
        Ok(destroyed)
    }
}
