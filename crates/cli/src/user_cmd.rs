//! `cpim user add USER@DOMAIN --data DIR`: makes an account in a server's
//! data directory (the server may be running: the account table lives in
//! the same SQLite file, in WAL mode, and the server looks up tokens it has
//! not seen).

use std::path::PathBuf;

use clap::Subcommand;
use cpim_formats::uri::Uri;
use cpim_store::accounts::{AccountError, Accounts};
use serde_json::{json, Value};

use crate::CliError;

/// Account administration.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make an account; prints {"user","token","password"} once.
    Add {
        /// The user's address, local@domain (the domain must be served).
        #[arg(value_name = "USER@DOMAIN")]
        user: String,
        /// The server's data directory.
        #[arg(long, value_name = "DIR", default_value = "./cpim-data")]
        data: PathBuf,
    },
    /// List the accounts of a data directory.
    List {
        /// The server's data directory.
        #[arg(long, value_name = "DIR", default_value = "./cpim-data")]
        data: PathBuf,
    },
}

/// Runs a user command.
pub fn run(command: UserCommand) -> Result<Value, CliError> {
    match command {
        UserCommand::Add { user, data } => add(&user, &data),
        UserCommand::List { data } => {
            let accounts = Accounts::open(&data).map_err(store_error)?;
            let users = accounts.users().map_err(store_error)?;
            Ok(json!({ "users": users }))
        }
    }
}

fn add(user: &str, data: &std::path::Path) -> Result<Value, CliError> {
    // The account name is the address's canonical form, so that the token
    // acts as exactly the address the server sees in operations.
    let text = user
        .strip_prefix("im:")
        .or_else(|| user.strip_prefix("pres:"))
        .unwrap_or(user);
    let uri = Uri::parse(&format!("im:{text}"))
        .map_err(|e| CliError::Invalid(format!("user {user:?} is not an address: {e}")))?;
    let address = uri
        .address()
        .ok_or_else(|| CliError::Invalid(format!("user {user:?} must be one address")))?;
    if !uri.headers().is_empty() {
        return Err(CliError::Invalid(format!(
            "user {user:?} must not carry ?headers"
        )));
    }
    let mut accounts = Accounts::open(data).map_err(store_error)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let account = accounts
        .add(&address.to_string(), now)
        .map_err(store_error)?;
    Ok(json!({
        "user": account.user,
        "token": account.token,
        "password": account.password,
    }))
}

fn store_error(error: AccountError) -> CliError {
    CliError::Invalid(error.to_string())
}
