//! Who is asking: bearer tokens (RFC 6750 section 2.1) mapped to local
//! users, and a request budget per user.
//!
//! Tokens found once are kept in memory; an unknown token is looked up in
//! the account table, so an account made by `cpim user add` while the server
//! runs works at its first request. Each user found this way is also made
//! known to the engine (`Input::AddUser`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cpim_engine::Input;
use cpim_formats::uri::{Address, Uri};
use cpim_store::accounts::Accounts;

use crate::driver::Driver;

/// Authentication and rate limiting state, shared by every request.
pub struct Auth {
    data: PathBuf,
    accounts: Mutex<Option<Accounts>>,
    tokens: Mutex<HashMap<String, Address>>,
    known: Mutex<HashSet<Address>>,
    buckets: Mutex<HashMap<Address, Bucket>>,
    rate_per_sec: f64,
    burst: f64,
    driver: Driver,
}

/// Why a request is refused before it reaches the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing Authorization: Bearer token")]
    Missing,
    /// The token belongs to no account.
    #[error("unknown token")]
    Unknown,
    /// The user spent its request budget.
    #[error("rate limit exceeded: at most {0} requests per second")]
    RateLimited(f64),
    /// The account table could not be read.
    #[error("account lookup failed: {0}")]
    Backend(String),
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Auth {
    /// Reads every account of `data` and makes its user known to the engine.
    pub async fn load(
        data: PathBuf,
        driver: Driver,
        rate_per_sec: f64,
        burst: f64,
    ) -> Result<Arc<Auth>, AuthError> {
        let auth = Arc::new(Auth {
            data,
            accounts: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            known: Mutex::new(HashSet::new()),
            buckets: Mutex::new(HashMap::new()),
            rate_per_sec,
            burst,
            driver,
        });
        let users = auth
            .with_accounts(|accounts| accounts.users().map_err(|e| e.to_string()))
            .await?;
        for user in users {
            match parse_user(&user) {
                Some(address) => auth.make_known(address).await?,
                None => tracing::warn!(%user, "account name is not an address; skipped"),
            }
        }
        Ok(auth)
    }

    /// The user a request's `Authorization` header names, after charging
    /// one request to its budget.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Address, AuthError> {
        let token = header
            .and_then(|h| {
                let (scheme, token) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let cached = lock(&self.tokens).get(token).cloned();
        let user = match cached {
            Some(user) => user,
            None => {
                let owned = token.to_owned();
                let found = self
                    .with_accounts(move |accounts| {
                        accounts.user_for_token(&owned).map_err(|e| e.to_string())
                    })
                    .await?;
                let user = found
                    .as_deref()
                    .and_then(parse_user)
                    .ok_or(AuthError::Unknown)?;
                self.make_known(user.clone()).await?;
                lock(&self.tokens).insert(token.to_owned(), user.clone());
                user
            }
        };
        self.charge(&user)?;
        Ok(user)
    }

    /// Makes sure the engine knows `address` if it has an account here
    /// (made while the server runs, and not yet seen). Returns whether it
    /// is a known user.
    pub async fn ensure_user(&self, address: &Address) -> Result<bool, AuthError> {
        if lock(&self.known).contains(address) {
            return Ok(true);
        }
        let name = address.to_string();
        let exists = self
            .with_accounts(move |accounts| accounts.exists(&name).map_err(|e| e.to_string()))
            .await?;
        if exists {
            self.make_known(address.clone()).await?;
        }
        Ok(exists)
    }

    async fn make_known(&self, address: Address) -> Result<(), AuthError> {
        if lock(&self.known).contains(&address) {
            return Ok(());
        }
        match self.driver.admin(Input::AddUser(address.clone())).await {
            Ok(()) => {
                lock(&self.known).insert(address);
                Ok(())
            }
            // An account in a domain no longer served: it cannot act here.
            Err(crate::driver::DriverError::Input(error)) => {
                tracing::warn!(%error, "account not served");
                Ok(())
            }
            Err(error) => Err(AuthError::Backend(error.to_string())),
        }
    }

    fn charge(&self, user: &Address) -> Result<(), AuthError> {
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(user.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate_per_sec;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(AuthError::RateLimited(self.rate_per_sec));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// Runs `f` on the account table on a blocking thread (SQLite blocks).
    async fn with_accounts<T: Send + 'static>(
        self: &Auth,
        f: impl FnOnce(&Accounts) -> Result<T, String> + Send + 'static,
    ) -> Result<T, AuthError> {
        let data = self.data.clone();
        // The connection is taken out for the call and put back after, so
        // the mutex is never held across an await.
        let taken = lock(&self.accounts).take();
        let (accounts, result) = tokio::task::spawn_blocking(move || {
            let accounts = match taken {
                Some(accounts) => accounts,
                None => Accounts::open(&data).map_err(|e| e.to_string())?,
            };
            let result = f(&accounts);
            Ok::<_, String>((accounts, result))
        })
        .await
        .map_err(|e| AuthError::Backend(e.to_string()))?
        .map_err(AuthError::Backend)?;
        *lock(&self.accounts) = Some(accounts);
        result.map_err(AuthError::Backend)
    }
}

/// An account's user name (`local@domain`, as `Address` prints it) as an
/// address.
pub fn parse_user(user: &str) -> Option<Address> {
    Uri::parse(&format!("im:{user}"))
        .ok()
        .and_then(|uri| uri.address().cloned())
}

/// Locks a mutex, taking it over from a thread that panicked while holding
/// it (the maps stay consistent: every update is a single insert or remove).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
