//! `GET /v1/openapi.json` describes the API, and every path it names is
//! served (a request without a token gets 401 or an answer, never "no such
//! route").

use serde_json::Value;

use crate::harness::{data_dir, Server};

#[test]
fn every_documented_route_is_served() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = crate::harness::http();
        let doc: Value = http
            .get(format!("{}/v1/openapi.json", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 10);
        for (path, item) in paths {
            let concrete = path
                .replace("{uri}", "pres:alice@example.com")
                .replace("{watcher}", "pres:bob@example.com");
            for method in item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
            {
                let response = http
                    .request(
                        method.to_uppercase().parse().unwrap(),
                        format!("{}{concrete}", server.url),
                    )
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                assert!(status != 404 && status != 405, "{method} {path}: {status}");
                let open = ["/healthz", "/metrics", "/v1/openapi.json"].contains(&path.as_str());
                assert_eq!(status == 401, !open, "{method} {path}: {status}");
            }
        }
    });
}
