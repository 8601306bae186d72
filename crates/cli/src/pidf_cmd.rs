//! `cpim parse pidf` and `cpim fmt pidf`.

use crate::CliError;

pub fn parse(_input: &[u8]) -> Result<serde_json::Value, CliError> {
    Err(CliError::Usage("`cpim parse pidf` is not built yet".into()))
}

pub fn fmt(_input: &[u8]) -> Result<Vec<u8>, CliError> {
    Err(CliError::Usage("`cpim fmt pidf` is not built yet".into()))
}
