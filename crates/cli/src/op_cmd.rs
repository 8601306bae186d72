//! `cpim parse op`.

use crate::CliError;

pub fn parse(_input: &[u8]) -> Result<serde_json::Value, CliError> {
    Err(CliError::Usage("`cpim parse op` is not built yet".into()))
}
