//! `cpim parse op`: a CPIM operation in the draft's XML notation
//! (draft-ietf-impp-cpim-02 sections 6-9) printed as its JSON shape
//! (documented in `cpim_formats::op`).

use cpim_formats::op::Operation;

use crate::CliError;

pub fn parse(input: &[u8]) -> Result<serde_json::Value, CliError> {
    match Operation::from_xml(input) {
        Ok(op) => Ok(op.to_json()),
        // One line on stderr, whatever the parser's text holds.
        Err(error) => Err(CliError::Invalid(
            error.to_string().replace(['\r', '\n'], " "),
        )),
    }
}
