//! `cpim parse uri`: an `im:`/`pres:` URI as one JSON object,
//! `{"scheme":..,"to":[{"local":..,"domain":..}],"headers":[[name,value],..]}`.

use cpim_formats::uri::Uri;

use crate::CliError;

/// Parses `uri` and returns the JSON line to print. The object is written by
/// hand so its keys come in the documented order (`serde_json::Value` sorts
/// them).
pub fn parse(uri: &str) -> Result<Vec<u8>, CliError> {
    let uri = Uri::parse(uri).map_err(|error| CliError::Invalid(error.to_string()))?;
    let to: Vec<String> = uri
        .to()
        .iter()
        .map(|address| {
            format!(
                "{{\"local\":{},\"domain\":{}}}",
                json_string(address.local()),
                json_string(address.domain())
            )
        })
        .collect();
    let headers: Vec<String> = uri
        .headers()
        .iter()
        .map(|(name, value)| format!("[{},{}]", json_string(name), json_string(value)))
        .collect();
    let line = format!(
        "{{\"scheme\":{},\"to\":[{}],\"headers\":[{}]}}\n",
        json_string(uri.scheme().as_str()),
        to.join(","),
        headers.join(",")
    );
    Ok(line.into_bytes())
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}
