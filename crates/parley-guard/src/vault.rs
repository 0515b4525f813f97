//! Encryption at rest for PII originals that a bot is configured to keep for authorised
//! retrieval. Masked text goes everywhere; the original goes only into a [`Sealed`] record,
//! encrypted with XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`; 24-byte random nonces,
//! so no nonce bookkeeping) under a 32-byte key from configuration. Every record carries the
//! id of the key that sealed it, and the key id is bound into the ciphertext as associated
//! data, so a record cannot be passed off as sealed under another key.
//!
//! Key material lives in `secrecy` types: it is zeroed on drop and `Debug` prints only the
//! key id.
//!
//! # Rotating keys
//!
//! A [`Keyring`] has one *active* key, used for every new seal, and any number of *retired*
//! keys, used only to open older records.
//!
//! 1. Generate a key: 32 random bytes, base64 (`VaultKey::generate("2025-06").to_base64()`,
//!    or `head -c 32 /dev/urandom | base64`).
//! 2. In the configuration, make the new key the active one and move the previous active key
//!    to the retired list, keeping its id. Restart. New records are sealed under the new
//!    key; old records still open because their key id is found among the retired keys.
//! 3. Optionally re-encrypt old records: for each stored record where
//!    [`Keyring::needs_reseal`] is true, store [`Keyring::reseal`]'s result in its place.
//! 4. Once no stored record names the old key id, delete that key from the configuration.
//!    Records still naming it would fail to open with [`VaultError::UnknownKeyId`].
//!
//! Never reuse a key id for different key material: the id is how a record finds its key.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};

/// Length of an XChaCha20-Poly1305 nonce in bytes.
const NONCE_LEN: usize = 24;
/// Prefix of the associated data; changing the record format changes this.
const AAD_PREFIX: &[u8] = b"parley-guard/vault/v1:";

/// Everything that can go wrong building a keyring or opening a record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("vault key id {id:?} must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    InvalidKeyId { id: String },
    #[error("vault key {id:?} is not valid base64")]
    KeyNotBase64 { id: String },
    #[error("vault key {id:?} must be 32 bytes, got {len}")]
    KeyLength { id: String, len: usize },
    #[error("vault key id {id:?} appears more than once in the keyring")]
    DuplicateKeyId { id: String },
    #[error("record was sealed with key {id:?}, which is not in the keyring")]
    UnknownKeyId { id: String },
    #[error("record nonce must be {NONCE_LEN} bytes, got {len}")]
    NonceLength { len: usize },
    #[error("record does not open with key {key_id:?}: it was altered or sealed with other key material")]
    Decrypt { key_id: String },
    #[error("encryption failed")]
    Encrypt,
    #[error("opened record is not UTF-8 text")]
    NotUtf8,
}

/// One named 32-byte key.
pub struct VaultKey {
    id: String,
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn check_key_id(id: &str) -> Result<(), VaultError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(VaultError::InvalidKeyId { id: id.to_owned() })
    }
}

impl VaultKey {
    /// A key from its configured form: an id and 32 bytes in standard base64.
    pub fn from_base64(
        id: impl Into<String>,
        key_base64: &SecretString,
    ) -> Result<Self, VaultError> {
        let id = id.into();
        check_key_id(&id)?;
        let mut bytes = BASE64
            .decode(key_base64.expose_secret().trim())
            .map_err(|_| VaultError::KeyNotBase64 { id: id.clone() })?;
        let result = <[u8; 32]>::try_from(bytes.as_slice())
            .map(|key| VaultKey {
                id: id.clone(),
                key: SecretBox::new(Box::new(key)),
            })
            .map_err(|_| VaultError::KeyLength {
                id: id.clone(),
                len: bytes.len(),
            });
        bytes.zeroize();
        result
    }

    /// A fresh random key (from the OS generator).
    pub fn generate(id: impl Into<String>) -> Result<Self, VaultError> {
        let id = id.into();
        check_key_id(&id)?;
        let mut key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&key);
        key.zeroize();
        Ok(VaultKey {
            id,
            key: SecretBox::new(Box::new(bytes)),
        })
    }

    /// The key in the form [`VaultKey::from_base64`] reads, for writing into configuration.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(BASE64.encode(self.key.expose_secret()))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(*self.key.expose_secret()))
    }
}

/// A key as written in configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Read as text even when written as a number (`id = 2025`, or `…__ID=2025` in the
    /// environment, which configuration loaders parse as one).
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// 32 bytes, standard base64.
    pub key: SecretString,
}

fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    })
}

/// The vault section of configuration: the active key and the retired ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringConfig {
    pub active: KeyConfig,
    #[serde(default)]
    pub retired: Vec<KeyConfig>,
}

/// One active key that seals, any number of retired keys that only open.
#[derive(Debug)]
pub struct Keyring {
    active: VaultKey,
    retired: Vec<VaultKey>,
}

/// An encrypted original. Safe to store and log: without a key it reveals only its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub key_id: String,
    #[serde(with = "base64_bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
}

fn associated_data(key_id: &str) -> Vec<u8> {
    [AAD_PREFIX, key_id.as_bytes()].concat()
}

impl Keyring {
    pub fn new(active: VaultKey) -> Self {
        Keyring {
            active,
            retired: Vec::new(),
        }
    }

    /// Adds a key that opens old records but never seals new ones.
    pub fn with_retired(mut self, key: VaultKey) -> Result<Self, VaultError> {
        if self.key(&key.id).is_some() {
            return Err(VaultError::DuplicateKeyId { id: key.id });
        }
        self.retired.push(key);
        Ok(self)
    }

    /// The keyring described by configuration; errors name the offending key id.
    pub fn from_config(config: &KeyringConfig) -> Result<Self, VaultError> {
        let active = VaultKey::from_base64(config.active.id.clone(), &config.active.key)?;
        config
            .retired
            .iter()
            .try_fold(Keyring::new(active), |ring, k| {
                ring.with_retired(VaultKey::from_base64(k.id.clone(), &k.key)?)
            })
    }

    pub fn active_key_id(&self) -> &str {
        &self.active.id
    }

    fn key(&self, id: &str) -> Option<&VaultKey> {
        std::iter::once(&self.active)
            .chain(&self.retired)
            .find(|k| k.id == id)
    }

    /// Encrypts `plaintext` under the active key with a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> Result<Sealed, VaultError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated_data(&self.active.id);
        let ciphertext = self
            .active
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Encrypt)?;
        Ok(Sealed {
            key_id: self.active.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts a record with the key it names, active or retired.
    pub fn open(&self, sealed: &Sealed) -> Result<SecretString, VaultError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKeyId {
                id: sealed.key_id.clone(),
            })?;
        if sealed.nonce.len() != NONCE_LEN {
            return Err(VaultError::NonceLength {
                len: sealed.nonce.len(),
            });
        }
        let aad = associated_data(&sealed.key_id);
        let plaintext = key
            .cipher()
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Decrypt {
                key_id: sealed.key_id.clone(),
            })?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|e| {
                e.into_bytes().zeroize();
                VaultError::NotUtf8
            })
    }

    /// Whether a record is sealed under a key other than the active one.
    pub fn needs_reseal(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.active.id
    }

    /// The same plaintext sealed under the active key (step 3 of rotation).
    pub fn reseal(&self, sealed: &Sealed) -> Result<Sealed, VaultError> {
        let plaintext = self.open(sealed)?;
        self.seal(plaintext.expose_secret())
    }
}

mod base64_bytes {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> VaultKey {
        let b64 = SecretString::from(BASE64.encode([byte; 32]));
        VaultKey::from_base64(id, &b64).unwrap()
    }

    #[test]
    fn seal_then_open_round_trips() {
        let ring = Keyring::new(key("k1", 7));
        let sealed = ring.seal("4111 1111 1111 1111").unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert!(!sealed.ciphertext.windows(4).any(|w| w == b"4111"));
        assert_eq!(
            ring.open(&sealed).unwrap().expose_secret(),
            "4111 1111 1111 1111"
        );
        // Fresh nonce per seal: the same text never gives the same record.
        assert_ne!(ring.seal("4111 1111 1111 1111").unwrap(), sealed);
    }

    #[test]
    fn sealed_records_survive_json() {
        let ring = Keyring::new(key("k1", 7));
        let sealed = ring.seal("jane@example.com").unwrap();
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(json.contains("\"key_id\":\"k1\""));
        let back: Sealed = serde_json::from_str(&json).unwrap();
        assert_eq!(
            ring.open(&back).unwrap().expose_secret(),
            "jane@example.com"
        );
    }

    #[test]
    fn rotation_keeps_old_records_readable_and_reseals_them() {
        let old_ring = Keyring::new(key("2024", 1));
        let old_record = old_ring.seal("123-45-6789").unwrap();

        let ring = Keyring::new(key("2025", 2))
            .with_retired(key("2024", 1))
            .unwrap();
        assert_eq!(ring.active_key_id(), "2025");
        assert_eq!(
            ring.open(&old_record).unwrap().expose_secret(),
            "123-45-6789"
        );
        assert!(ring.needs_reseal(&old_record));

        let resealed = ring.reseal(&old_record).unwrap();
        assert_eq!(resealed.key_id, "2025");
        assert!(!ring.needs_reseal(&resealed));

        // Once the old key is dropped, only resealed records open.
        let new_only = Keyring::new(key("2025", 2));
        assert_eq!(
            new_only.open(&resealed).unwrap().expose_secret(),
            "123-45-6789"
        );
        assert_eq!(
            new_only.open(&old_record).err(),
            Some(VaultError::UnknownKeyId { id: "2024".into() })
        );
    }

    #[test]
    fn tampering_and_key_swaps_are_refused() {
        let ring = Keyring::new(key("a", 1)).with_retired(key("b", 2)).unwrap();
        let sealed = ring.seal("secret").unwrap();

        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert_eq!(
            ring.open(&flipped).err(),
            Some(VaultError::Decrypt { key_id: "a".into() })
        );

        // Relabelling the record with another key id in the ring fails authentication.
        let mut relabelled = sealed.clone();
        relabelled.key_id = "b".into();
        assert_eq!(
            ring.open(&relabelled).err(),
            Some(VaultError::Decrypt { key_id: "b".into() })
        );

        // Same id, different material (an id reused by mistake) fails too.
        let impostor = Keyring::new(key("a", 9));
        assert_eq!(
            impostor.open(&sealed).err(),
            Some(VaultError::Decrypt { key_id: "a".into() })
        );

        let mut short_nonce = sealed;
        short_nonce.nonce.truncate(12);
        assert_eq!(
            ring.open(&short_nonce).err(),
            Some(VaultError::NonceLength { len: 12 })
        );
    }

    #[test]
    fn bad_keys_are_refused_with_their_id() {
        let cases = [
            (
                "k",
                "not base64!",
                VaultError::KeyNotBase64 { id: "k".into() },
            ),
            (
                "k",
                "AAAA",
                VaultError::KeyLength {
                    id: "k".into(),
                    len: 3,
                },
            ),
            ("", "AAAA", VaultError::InvalidKeyId { id: String::new() }),
            (
                "has space",
                "AAAA",
                VaultError::InvalidKeyId {
                    id: "has space".into(),
                },
            ),
        ];
        for (id, b64, want) in cases {
            let got = VaultKey::from_base64(id, &SecretString::from(b64.to_owned()));
            assert_eq!(got.err(), Some(want), "{id:?} {b64:?}");
        }
        let dup = Keyring::new(key("a", 1)).with_retired(key("a", 2));
        assert_eq!(
            dup.err(),
            Some(VaultError::DuplicateKeyId { id: "a".into() })
        );
    }

    #[test]
    fn config_builds_a_keyring() {
        let active = BASE64.encode([3u8; 32]);
        let retired = BASE64.encode([4u8; 32]);
        let json = format!(
            r#"{{"active": {{"id": "new", "key": "{active}"}}, "retired": [{{"id": "old", "key": "{retired}"}}]}}"#
        );
        let config: KeyringConfig = serde_json::from_str(&json).unwrap();
        let ring = Keyring::from_config(&config).unwrap();
        assert_eq!(ring.active_key_id(), "new");
        let old = Keyring::new(key("old", 4)).seal("x").unwrap();
        assert_eq!(ring.open(&old).unwrap().expose_secret(), "x");
    }

    #[test]
    fn debug_never_shows_key_material() {
        let k = key("k1", 0xAB);
        let b64 = BASE64.encode([0xABu8; 32]);
        let ring = Keyring::new(k);
        let shown = format!("{ring:?}");
        assert!(shown.contains("k1"));
        assert!(!shown.contains(&b64));
        assert!(!shown.contains("171")); // 0xAB as a decimal byte
        let generated = VaultKey::generate("g").unwrap();
        let exported = generated.to_base64();
        assert!(!format!("{generated:?}").contains(exported.expose_secret()));
        assert!(!format!("{exported:?}").contains(exported.expose_secret()));
        let round = VaultKey::from_base64("g", &exported).unwrap();
        let sealed = Keyring::new(generated).seal("x").unwrap();
        assert_eq!(
            Keyring::new(round).open(&sealed).unwrap().expose_secret(),
            "x"
        );
    }
}
