//! `cpim parse uri`: an `im:`/`pres:` URI as one JSON object,
//! `{"scheme":..,"to":[{"local":..,"domain":..}],"headers":[[name,value],..]}`.

use cpim_formats::uri::Uri;
use serde_json::json;

use crate::CliError;

/// Parses `uri` into its JSON form; keys keep the documented order because the
/// CLI builds serde_json with `preserve_order`.
pub fn parse(uri: &str) -> Result<serde_json::Value, CliError> {
    let uri = Uri::parse(uri).map_err(|error| CliError::Invalid(error.to_string()))?;
    let to: Vec<_> = uri
        .to()
        .iter()
        .map(|address| json!({"local": address.local(), "domain": address.domain()}))
        .collect();
    Ok(json!({
        "scheme": uri.scheme().as_str(),
        "to": to,
        "headers": uri.headers(),
    }))
}
