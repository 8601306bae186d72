//! What the operator decides: command-line flags and the TOML file behind
//! `--config`. Flags given on the command line win over the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

/// `cpimd` command line.
#[derive(Debug, Parser)]
#[command(
    name = "cpimd",
    version,
    about = "The CPIM server: messages and presence over a native HTTP/WebSocket API"
)]
pub struct Args {
    /// A TOML file with the settings below and more (limits, TLS, policy).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the SQLite store (state and accounts).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A domain served here; repeat for several.
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// Address to listen on for HTTP (and WebSocket); port 0 picks a free one.
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<SocketAddr>,
    /// PEM certificate chain: serve HTTPS instead of HTTP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// SIP listeners, e.g. `udp:127.0.0.1:5060,tcp:127.0.0.1:5060,tls:127.0.0.1:5061`
    /// (`tls:` uses `[sip.tls]` from the config file, else --tls-cert/--tls-key).
    #[arg(long, value_name = "TRANSPORT:ADDR:PORT,...")]
    pub sip: Option<String>,
    /// A SIP next hop for another domain, `DOMAIN=udp:HOST:PORT`; repeat for
    /// several. Requests from that address are trusted as that domain's.
    #[arg(long = "sip-route", value_name = "DOMAIN=TRANSPORT:ADDR:PORT")]
    pub sip_routes: Vec<String>,
}

/// The settings in force, after the file and the flags are merged.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory of the SQLite store.
    pub data: PathBuf,
    /// Domains served here.
    pub domains: Vec<String>,
    /// HTTP listening address.
    pub http: SocketAddr,
    /// TLS, when configured.
    pub tls: Option<Tls>,
    /// Resource limits.
    pub limits: Limits,
    /// Service behaviour.
    pub service: Service,
    /// The SIP binding.
    pub sip: crate::sip::SipConfig,
}

/// Certificate and key, PEM files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// Bounds that keep one client from taking the server down.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body, bytes.
    pub body_bytes: usize,
    /// Open TCP connections at once; more wait in the kernel's backlog.
    pub connections: usize,
    /// Events queued for one WebSocket; a reader that falls this far behind
    /// is disconnected.
    pub ws_queue: usize,
    /// Open event WebSockets of one user.
    pub sessions_per_user: usize,
    /// Sustained requests per second of one token.
    pub rate_per_sec: f64,
    /// Requests one token may make in a burst above the sustained rate.
    pub rate_burst: f64,
    /// Inputs waiting for the engine; callers wait when it is full.
    pub engine_queue: usize,
    /// How long a request waits for its response before it is told the
    /// response will come on the event stream, milliseconds.
    pub response_wait_ms: u64,
}

/// How the service behaves.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    /// Shortest subscription granted, seconds.
    pub min_subscription: u32,
    /// Longest subscription granted, seconds.
    pub max_subscription: u32,
    /// Longest publication granted, seconds.
    pub max_publication: u32,
    /// Lifetime of a publication that asks for none, seconds.
    pub default_publication: u32,
    /// What a presentity's watcher gets when it set no rule: allow, deny or ask.
    pub default_policy: PolicyName,
}

/// A policy decision as written in the file and the API.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PolicyName {
    /// The watcher may see presence.
    Allow,
    /// The watcher may not.
    Deny,
    /// The presentity is asked.
    Ask,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A domain is not a valid domain name.
    #[error("domain {domain:?} is invalid: {reason}")]
    Domain { domain: String, reason: String },
    /// A value is out of range.
    #[error("{field}: {reason}")]
    Value { field: &'static str, reason: String },
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data: PathBuf::from("./cpim-data"),
            domains: vec!["localhost".to_owned()],
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            limits: Limits::default(),
            service: Service::default(),
            sip: crate::sip::SipConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: 64 * 1024,
            connections: 4096,
            ws_queue: 1024,
            sessions_per_user: 16,
            rate_per_sec: 1000.0,
            rate_burst: 2000.0,
            engine_queue: 4096,
            response_wait_ms: 10_000,
        }
    }
}

impl Default for Service {
    fn default() -> Service {
        Service {
            min_subscription: 60,
            max_subscription: 86_400,
            max_publication: 86_400,
            default_publication: 3_600,
            default_policy: PolicyName::Ask,
        }
    }
}

impl Config {
    /// Reads the file named by `--config` (if any), then applies the flags.
    pub fn load(args: &Args) -> Result<Config, ConfigError> {
        let mut config = match &args.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(data) = &args.data {
            config.data.clone_from(data);
        }
        if !args.domains.is_empty() {
            config.domains.clone_from(&args.domains);
        }
        if let Some(http) = args.http {
            config.http = http;
        }
        if let Some(sip) = &args.sip {
            config.sip.listen = Some(sip.clone());
        }
        for route in &args.sip_routes {
            let (domain, next_hop) = route.split_once('=').unwrap_or((route, ""));
            config.sip.route.push(crate::sip::SipRoute {
                domain: domain.trim().to_owned(),
                next_hop: next_hop.trim().to_owned(),
            });
        }
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            config.tls = Some(Tls {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        config.check()
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    /// Normalises the domains (as `im:` addresses do) and checks the limits.
    fn check(mut self) -> Result<Config, ConfigError> {
        if self.domains.is_empty() {
            return Err(ConfigError::Value {
                field: "domains",
                reason: "at least one domain must be served".to_owned(),
            });
        }
        for domain in &mut self.domains {
            let address =
                cpim_formats::uri::Address::new("x", domain).map_err(|e| ConfigError::Domain {
                    domain: domain.clone(),
                    reason: e.to_string(),
                })?;
            *domain = address.domain().to_owned();
        }
        let limits = &self.limits;
        let positive = [
            ("limits.body_bytes", limits.body_bytes),
            ("limits.connections", limits.connections),
            ("limits.ws_queue", limits.ws_queue),
            ("limits.sessions_per_user", limits.sessions_per_user),
            ("limits.engine_queue", limits.engine_queue),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(ConfigError::Value {
                    field,
                    reason: "must be at least 1".to_owned(),
                });
            }
        }
        if !(limits.rate_per_sec > 0.0 && limits.rate_burst >= 1.0) {
            return Err(ConfigError::Value {
                field: "limits.rate_per_sec",
                reason: "rate must be positive and burst at least 1".to_owned(),
            });
        }
        if self.service.min_subscription > self.service.max_subscription {
            return Err(ConfigError::Value {
                field: "service.min_subscription",
                reason: "is above service.max_subscription".to_owned(),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::parse_from(std::iter::once("cpimd").chain(list.iter().copied()))
    }

    #[test]
    fn no_flags_serve_localhost_on_8080() {
        let config = Config::load(&args(&[])).unwrap();
        assert_eq!(config.domains, vec!["localhost"]);
        assert_eq!(config.http.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data, PathBuf::from("./cpim-data"));
        assert!(config.tls.is_none());
    }

    #[test]
    fn flags_win_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cpimd.toml");
        std::fs::write(
            &file,
            "domains = [\"Example.COM\"]\nhttp = \"127.0.0.1:9000\"\n[limits]\nws_queue = 7\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let config = Config::load(&args(&["--config", path])).unwrap();
        assert_eq!(config.domains, vec!["example.com"]);
        assert_eq!(config.limits.ws_queue, 7);
        let config = Config::load(&args(&["--config", path, "--http", "127.0.0.1:0"])).unwrap();
        assert_eq!(config.http.port(), 0);
        assert_eq!(config.limits.ws_queue, 7);
    }

    #[test]
    fn unknown_key_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cpimd.toml");
        std::fs::write(&file, "domian = [\"x\"]\n").unwrap();
        let err = Config::load(&args(&["--config", file.to_str().unwrap()])).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("domian"), "{err}");

        std::fs::write(&file, "[limits]\nws_queue = 0\n").unwrap();
        let err = Config::load(&args(&["--config", file.to_str().unwrap()])).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Value {
                    field: "limits.ws_queue",
                    ..
                }
            ),
            "{err}"
        );

        let err = Config::load(&args(&["--domain", "bad domain"])).unwrap_err();
        assert!(matches!(err, ConfigError::Domain { .. }), "{err}");
    }
}
