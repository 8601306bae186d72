//! What the operator decides: served domains, routes to other servers
//! (draft section 2.4.1, step 3c/3d), subscription bounds (section 3.4.1,
//! step 4a) and default access policies.

use std::collections::HashMap;

use crate::policy::Decision;

/// The engine's configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Domains whose inboxes and presentities live here (normalised,
    /// lowercase ASCII as in `Address::domain`).
    pub local_domains: Vec<String>,
    /// Where messages and presence operations (subscribe, fetch,
    /// unsubscribe) for other domains go, by destination domain.
    pub routes: HashMap<String, Route>,
    /// Where messages and presence operations for any other domain go;
    /// `None`: they fail.
    pub default_route: Option<Route>,
    /// Shortest subscription granted, in seconds (a shorter non-zero request
    /// is raised to it).
    pub min_subscription: u32,
    /// Longest subscription granted, in seconds.
    pub max_subscription: u32,
    /// Longest publication granted, in seconds.
    pub max_publication: u32,
    /// Default access decision for watchers of presentities in a domain, when
    /// the presentity has no rule that applies.
    pub default_policy: HashMap<String, Decision>,
    /// Default access decision when neither a rule nor the domain default
    /// applies.
    pub fallback_policy: Decision,
    /// How long to wait for an authoritative answer from another server
    /// before answering `indeterminant`, in milliseconds.
    pub relay_timeout_ms: u64,
}

/// How to reach another binding or server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The driver's name for the binding or server.
    pub binding: String,
    /// Whether it gives an authoritative answer to messages (draft section
    /// 2.4.1, step 3d) rather than none (step 3c). Relayed subscribes always
    /// await an answer: a subscription exists only once the other side
    /// accepts it.
    pub answers: bool,
}

impl Config {
    /// A configuration serving `local_domains`, with no routes, subscriptions
    /// of 60 s to 1 day, publications up to 1 day, watchers asked for by
    /// default, and a 32 s wait for relay answers.
    pub fn new<I, S>(local_domains: I) -> Config
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Config {
            local_domains: local_domains
                .into_iter()
                .map(|d| d.into().to_ascii_lowercase())
                .collect(),
            routes: HashMap::new(),
            default_route: None,
            min_subscription: 60,
            max_subscription: 86_400,
            max_publication: 86_400,
            default_policy: HashMap::new(),
            fallback_policy: Decision::Ask,
            relay_timeout_ms: 32_000,
        }
    }

    /// Adds a route for messages to `domain`.
    pub fn with_route(mut self, domain: &str, binding: &str, answers: bool) -> Config {
        self.routes.insert(
            domain.to_ascii_lowercase(),
            Route {
                binding: binding.to_owned(),
                answers,
            },
        );
        self
    }

    /// Sets the default access decision for presentities of `domain`.
    pub fn with_default_policy(mut self, domain: &str, decision: Decision) -> Config {
        self.default_policy
            .insert(domain.to_ascii_lowercase(), decision);
        self
    }

    pub(crate) fn is_local(&self, domain: &str) -> bool {
        self.local_domains.iter().any(|d| d == domain)
    }

    pub(crate) fn route(&self, domain: &str) -> Option<&Route> {
        self.routes.get(domain).or(self.default_route.as_ref())
    }

    /// The granted duration for a requested non-zero one.
    pub(crate) fn clamp_subscription(&self, requested: u32) -> u32 {
        requested.clamp(
            self.min_subscription.min(self.max_subscription),
            self.max_subscription,
        )
    }
}
