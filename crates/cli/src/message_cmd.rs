//! `cpim parse message` and `cpim fmt message`.

use crate::CliError;

pub fn parse(_input: &[u8], _understand: &[String]) -> Result<serde_json::Value, CliError> {
    Err(CliError::Usage(
        "`cpim parse message` is not built yet".into(),
    ))
}

pub fn fmt(_input: &[u8]) -> Result<Vec<u8>, CliError> {
    Err(CliError::Usage(
        "`cpim fmt message` is not built yet".into(),
    ))
}
