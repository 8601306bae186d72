//! Local accounts: who may use the server, and how each proves it.
//!
//! Every account has two secrets, both generated here and shown once:
//!
//! - a bearer **token** for the native HTTP API (RFC 6750 section 2.1). It
//!   carries 256 random bits, so only its SHA-256 is stored: a stolen file
//!   does not yield usable tokens, and no slow hash is needed because the
//!   token cannot be guessed.
//! - a **password** for the bindings that log in with one: SIP digest
//!   (RFC 7616, RFC 3261 section 22.4) and XMPP SASL (SCRAM-SHA-256, RFC
//!   7677; PLAIN, RFC 4616). The password itself is not stored. Stored
//!   instead are the digest `HA1` values (MD5 and SHA-256, realm = the
//!   user's domain) and a SCRAM-SHA-256 verifier (salt, iteration count,
//!   `StoredKey`, `ServerKey`). The risk that remains: `HA1` is
//!   password-equivalent for SIP digest in that realm, so whoever reads the
//!   file can log in over SIP as the user (this is inherent to digest
//!   authentication); the SCRAM verifier lets an attacker impersonate the
//!   *server* to XMPP clients and try passwords offline (4096 PBKDF2 rounds
//!   per guess, against 143 bits of random password).
//!
//! Accounts live in the same SQLite file as the engine's state, in a table
//! of their own, so `cpim user add` works while the server runs (WAL mode:
//! the server reads the new row at its next look-up of an unknown token).

use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::path::Path;

use md5::Digest as _;
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{params, Connection, OptionalExtension};

/// PBKDF2 rounds of the SCRAM verifier (RFC 7677 section 4 asks for at
/// least 4096).
pub const SCRAM_ITERATIONS: u32 = 4096;

/// What an account holder is told once, when the account is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccount {
    /// The user, `local@domain`.
    pub user: String,
    /// The bearer token for the native API.
    pub token: String,
    /// The password for SIP and XMPP log-in.
    pub password: String,
}

/// What went wrong with the account table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The user name is not `local@domain`.
    #[error("user {0:?} is not of the form local@domain")]
    BadUser(String),
    /// An account with this user name exists already.
    #[error("user {0} exists already")]
    Exists(String),
    /// The system's random number generator failed.
    #[error("no randomness available for a new secret")]
    Random,
    /// Another store holds the data directory and did not finish creating
    /// its new file in time.
    #[error("{} is being created by a cpim store that holds its directory, and got no schema in time", .0.display())]
    StoreStarting(std::path::PathBuf),
    /// Opening the store (which makes sure the file is a cpim store) failed.
    #[error(transparent)]
    Store(#[from] crate::SqliteStoreError),
    /// Any other SQLite failure.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// How long a writer waits for another one (the server's commits, another
/// `cpim user add`).
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until the store that holds `path`'s directory has given the file
/// its schema, [`BUSY_WAIT`] at most.
fn wait_for_schema(path: &Path) -> Result<(), AccountError> {
    let start = std::time::Instant::now();
    loop {
        if path.exists() {
            let conn =
                Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.busy_timeout(BUSY_WAIT)?;
            let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if version > 0 {
                return Ok(());
            }
        }
        if start.elapsed() > BUSY_WAIT {
            return Err(AccountError::StoreStarting(path.to_path_buf()));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The account table of one data directory.
pub struct Accounts {
    conn: Connection,
    rng: SystemRandom,
}

impl Accounts {
    /// Opens the accounts of the store in `dir` (creating the store if
    /// needed).
    pub fn open(dir: impl AsRef<Path>) -> Result<Accounts, AccountError> {
        let path = dir.as_ref().join(crate::FILE_NAME);
        if !path.exists() {
            // The engine store creates and migrates a new file, so that an
            // account made before the server's first start does not leave a
            // file the store would take for someone else's. An existing
            // file is not opened as a store: a running server holds the
            // store's lock, and accounts are added beside it.
            match crate::SqliteStore::open(dir.as_ref()) {
                Ok(store) => drop(store),
                // A server is opening the new file this very moment: let
                // its store finish creating it.
                Err(crate::SqliteStoreError::InUse { .. }) => wait_for_schema(&path)?,
                Err(e) => return Err(e.into()),
            }
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_WAIT)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Accounts {
            conn,
            rng: SystemRandom::new(),
        })
    }

    /// Makes an account for `user` (`local@domain`, already validated and
    /// normalised by the caller) with a fresh token and password.
    pub fn add(&mut self, user: &str, now_ms: u64) -> Result<NewAccount, AccountError> {
        let (_, realm) = user
            .rsplit_once('@')
            .filter(|(local, domain)| !local.is_empty() && !domain.is_empty())
            .ok_or_else(|| AccountError::BadUser(user.to_owned()))?;
        let token = format!("cpim_{}", hex(&self.random::<32>()?));
        let password = self.password()?;
        let salt = self.random::<16>()?;
        let (stored_key, server_key) = scram_keys(&password, &salt, SCRAM_ITERATIONS);
        let ha1_md5 = hex(&md5::Md5::digest(format!("{user}:{realm}:{password}")));
        let ha1_sha256 = hex(ring::digest::digest(
            &ring::digest::SHA256,
            format!("{user}:{realm}:{password}").as_bytes(),
        )
        .as_ref());
        let inserted = self.conn.execute(
            "INSERT INTO cpim_account (user_address, token_sha256, sip_ha1_md5, \
             sip_ha1_sha256, scram_salt, scram_iterations, scram_stored_key, \
             scram_server_key, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (user_address) DO NOTHING",
            params![
                user,
                token_hash(&token),
                ha1_md5,
                ha1_sha256,
                salt.as_slice(),
                SCRAM_ITERATIONS,
                stored_key.as_slice(),
                server_key.as_slice(),
                i64::try_from(now_ms).unwrap_or(i64::MAX),
            ],
        )?;
        if inserted == 0 {
            return Err(AccountError::Exists(user.to_owned()));
        }
        Ok(NewAccount {
            user: user.to_owned(),
            token,
            password,
        })
    }

    /// The user a bearer token belongs to, if any.
    pub fn user_for_token(&self, token: &str) -> Result<Option<String>, AccountError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT user_address FROM cpim_account WHERE token_sha256 = ?1")?;
        Ok(stmt
            .query_row([token_hash(token)], |row| row.get(0))
            .optional()?)
    }

    /// Whether an account exists for `user`.
    pub fn exists(&self, user: &str) -> Result<bool, AccountError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM cpim_account WHERE user_address = ?1")?;
        Ok(stmt.exists([user])?)
    }

    /// Every account's user, sorted.
    pub fn users(&self) -> Result<Vec<String>, AccountError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT user_address FROM cpim_account ORDER BY user_address")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Checks a password given in the clear (SASL PLAIN, an admin tool)
    /// against the stored SCRAM verifier.
    pub fn check_password(&self, user: &str, password: &str) -> Result<bool, AccountError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT scram_salt, scram_iterations, scram_stored_key FROM cpim_account \
             WHERE user_address = ?1",
        )?;
        let row: Option<(Vec<u8>, u32, Vec<u8>)> = stmt
            .query_row([user], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        Ok(row.is_some_and(|(salt, iterations, stored)| {
            let (candidate, _) = scram_keys(password, &salt, iterations);
            same_bytes(&candidate, &stored)
        }))
    }

    /// The SIP digest `HA1` (MD5) of `user`, realm = its domain.
    pub fn sip_ha1_md5(&self, user: &str) -> Result<Option<String>, AccountError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sip_ha1_md5 FROM cpim_account WHERE user_address = ?1")?;
        Ok(stmt.query_row([user], |row| row.get(0)).optional()?)
    }

    fn random<const N: usize>(&self) -> Result<[u8; N], AccountError> {
        let mut bytes = [0u8; N];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| AccountError::Random)?;
        Ok(bytes)
    }

    /// 24 characters from [A-Za-z0-9], drawn without bias by rejecting bytes
    /// at or above 248 (the largest multiple of 62 that fits in a byte).
    fn password(&self) -> Result<String, AccountError> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(24);
        while out.len() < 24 {
            for byte in self.random::<32>()? {
                if byte < 248 && out.len() < 24 {
                    out.push(char::from(ALPHABET[usize::from(byte % 62)]));
                }
            }
        }
        Ok(out)
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS cpim_account (
    user_address TEXT NOT NULL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    sip_ha1_md5 TEXT NOT NULL,
    sip_ha1_sha256 TEXT NOT NULL,
    scram_salt BLOB NOT NULL,
    scram_iterations INTEGER NOT NULL,
    scram_stored_key BLOB NOT NULL,
    scram_server_key BLOB NOT NULL,
    created_ms BIGINT NOT NULL
);";

fn token_hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

/// `StoredKey` and `ServerKey` of RFC 5802 section 3 with SHA-256.
fn scram_keys(password: &str, salt: &[u8], iterations: u32) -> ([u8; 32], [u8; 32]) {
    let mut salted = [0u8; 32];
    let rounds = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &salted);
    let client_key = ring::hmac::sign(&key, b"Client Key");
    let server_key = ring::hmac::sign(&key, b"Server Key");
    let mut stored = [0u8; 32];
    stored
        .copy_from_slice(ring::digest::digest(&ring::digest::SHA256, client_key.as_ref()).as_ref());
    let mut server = [0u8; 32];
    server.copy_from_slice(server_key.as_ref());
    (stored, server)
}

/// Equality whose time does not depend on where the bytes differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn add_then_look_up_by_token() {
        let dir = tempfile::tempdir().unwrap();
        let mut accounts = Accounts::open(dir.path()).unwrap();
        let alice = accounts.add("alice@example.com", 1).unwrap();
        assert!(alice.token.starts_with("cpim_"));
        assert_eq!(alice.token.len(), 5 + 64);
        assert_eq!(alice.password.len(), 24);
        assert!(alice.password.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(
            accounts.user_for_token(&alice.token).unwrap().as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(accounts.user_for_token("cpim_nope").unwrap(), None);
        assert!(accounts.exists("alice@example.com").unwrap());
        assert!(!accounts.exists("bob@example.com").unwrap());
    }

    #[test]
    fn accounts_open_beside_a_running_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let mut accounts = Accounts::open(dir.path()).unwrap();
        let alice = accounts.add("alice@example.com", 1).unwrap();
        let again = Accounts::open(dir.path()).unwrap();
        assert_eq!(
            again.user_for_token(&alice.token).unwrap().as_deref(),
            Some("alice@example.com")
        );
        drop(store);
    }

    /// A store that holds the directory while it is still creating its
    /// file (a server starting): accounts wait for its schema instead of
    /// making a file the store would then refuse as someone else's.
    #[test]
    fn accounts_wait_for_a_store_creating_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let held = crate::lock(dir.path()).unwrap();
        let path = dir.path().join(crate::FILE_NAME);
        let creator = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let mut conn = Connection::open(&path).unwrap();
            crate::schema::migrate(&mut conn).unwrap();
        });
        let mut accounts = Accounts::open(dir.path()).unwrap();
        creator.join().unwrap();
        accounts.add("alice@example.com", 1).unwrap();
        drop(held);
        // The store takes the file the accounts wrote into.
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), crate::SCHEMA_VERSION);
    }

    #[test]
    fn duplicate_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut accounts = Accounts::open(dir.path()).unwrap();
        accounts.add("alice@example.com", 1).unwrap();
        let err = accounts.add("alice@example.com", 2).unwrap_err();
        assert!(matches!(err, AccountError::Exists(ref u) if u == "alice@example.com"));
        assert_eq!(accounts.users().unwrap(), vec!["alice@example.com"]);
    }

    #[test]
    fn bad_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut accounts = Accounts::open(dir.path()).unwrap();
        for bad in ["alice", "@example.com", "alice@"] {
            let err = accounts.add(bad, 1).unwrap_err();
            assert!(
                matches!(err, AccountError::BadUser(ref u) if u == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn password_is_checked_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut accounts = Accounts::open(dir.path()).unwrap();
        let alice = accounts.add("alice@example.com", 1).unwrap();
        assert!(accounts
            .check_password("alice@example.com", &alice.password)
            .unwrap());
        assert!(!accounts
            .check_password("alice@example.com", "wrong")
            .unwrap());
        assert!(!accounts
            .check_password("bob@example.com", &alice.password)
            .unwrap());
        let file = std::fs::read(dir.path().join(crate::FILE_NAME)).unwrap();
        let found = file
            .windows(alice.password.len())
            .any(|w| w == alice.password.as_bytes());
        assert!(!found, "the clear password is in the file");
    }

    #[test]
    fn ha1_is_rfc_2617_form() {
        let dir = tempfile::tempdir().unwrap();
        let mut accounts = Accounts::open(dir.path()).unwrap();
        let alice = accounts.add("alice@example.com", 1).unwrap();
        let expected = hex(&md5::Md5::digest(format!(
            "alice@example.com:example.com:{}",
            alice.password
        )));
        assert_eq!(
            accounts.sip_ha1_md5("alice@example.com").unwrap(),
            Some(expected)
        );
    }

    #[test]
    fn scram_keys_verify_rfc_7677_exchange() {
        // RFC 7677 section 3: user "user", password "pencil".
        let salt = unhex("5b6d99689d12358eeca04b141236fa81");
        let proof = unhex("747cdb65aa56224e2352137e52d7bdcad6a0f738df30782caa69a2cfb0277554");
        let verifier = unhex("eabae24d1062db75a9451ff0b6ea7e98c8546549ff741e672d3251b2397de46e");
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let (stored, server) = scram_keys("pencil", &salt, 4096);
        // The server recovers ClientKey from the proof and checks it
        // against StoredKey (RFC 5802 section 3).
        let signature = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &stored),
            auth_message.as_bytes(),
        );
        let client_key: Vec<u8> = proof
            .iter()
            .zip(signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let digest = ring::digest::digest(&ring::digest::SHA256, &client_key);
        assert_eq!(digest.as_ref(), stored.as_slice());
        let server_signature = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &server),
            auth_message.as_bytes(),
        );
        assert_eq!(server_signature.as_ref(), verifier.as_slice());
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
