//! `cpim parse uri`.

use crate::CliError;

pub fn parse(_uri: &str) -> Result<serde_json::Value, CliError> {
    Err(CliError::Usage("`cpim parse uri` is not built yet".into()))
}
