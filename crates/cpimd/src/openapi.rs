//! `GET /v1/openapi.json`: the native API described in OpenAPI 3.1. Written
//! by hand (the API is small); a test checks that it is valid JSON and names
//! every route the router serves.

/// The document, served as is.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// Every (method, path) the router serves, in OpenAPI's path syntax.
#[cfg(test)]
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/me"),
    ("post", "/v1/messages"),
    ("put", "/v1/presence/{uri}"),
    ("get", "/v1/presence/{uri}"),
    ("post", "/v1/subscriptions"),
    ("delete", "/v1/subscriptions"),
    ("get", "/v1/watchers/{uri}"),
    ("put", "/v1/policy/{uri}/watchers/{watcher}"),
    ("get", "/v1/events"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_names_every_route() {
        let doc: serde_json::Value =
            serde_json::from_str(DOCUMENT).unwrap_or_else(|e| panic!("openapi.json: {e}"));
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} missing from openapi.json"
            );
        }
        let documented: usize = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .values()
                    .filter_map(|p| p.as_object())
                    .map(|p| p.keys().filter(|k| *k != "parameters").count())
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(
            documented,
            ROUTES.len(),
            "openapi.json documents a route not served"
        );
    }
}
