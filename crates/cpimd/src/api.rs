//! The native HTTP API: CPIM operations (draft sections 2.4 and 3.4) as
//! JSON over HTTP, with the draft's XML notation (sections 6-9) on request.
//!
//! Every route but `/healthz`, `/metrics` and `/v1/openapi.json` needs
//! `Authorization: Bearer TOKEN`; a token acts only as its own user's `im:`
//! and `pres:` addresses. Errors are `{"error": text, "field": name|null}`
//! with a 4xx status (5xx only when the server itself fails).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use cpim_engine::{Decision, Input, PolicySubject, Principal, Reason, SubState};
use cpim_formats::op::{MessageOp, Operation, ResponseOp, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::{Basic, Contact, Note, Presence, Tuple};
use cpim_formats::uri::{Address, Scheme, Uri};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Auth, AuthError};
use crate::config::{Config, PolicyName};
use crate::driver::{Answer, Driver, DriverError, OpKind};
use crate::events;
use crate::metrics::Metrics;

/// Media type of the draft's XML notation for operations.
pub const OP_XML: &str = "application/cpim-op+xml";
/// Media type of a CPIM message (RFC 3862).
pub const MESSAGE_CPIM: &str = "message/cpim";
/// Media type of PIDF (RFC 3863).
pub const PIDF: &str = "application/pidf+xml";

/// Relays a message may pass before it is taken for a loop (draft section
/// 2.4.2).
const HOPS: u8 = 16;

/// What every handler shares.
pub struct AppState {
    pub driver: Driver,
    pub auth: Arc<Auth>,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// All routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/me", get(get_me))
        .route("/v1/messages", post(post_message))
        .route("/v1/presence/{uri}", put(put_presence).get(get_presence))
        .route(
            "/v1/subscriptions",
            post(post_subscription).delete(delete_subscription),
        )
        .route("/v1/watchers/{uri}", get(get_watchers))
        .route("/v1/policy/{uri}/watchers/{watcher}", put(put_policy))
        .route("/v1/events", get(crate::ws::events))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// An error answer: `{"error": ..., "field": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    pub fn field(status: StatusCode, field: &'static str, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: Some(field),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "field": self.field});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cpim\""),
            );
        }
        response
    }
}

impl From<DriverError> for ApiError {
    fn from(error: DriverError) -> ApiError {
        let status = match &error {
            DriverError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            DriverError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            DriverError::Input(_) => StatusCode::NOT_FOUND,
            DriverError::TooManySessions(_) => StatusCode::TOO_MANY_REQUESTS,
        };
        ApiError::new(status, error.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

/// Authenticates the request: the user its token belongs to.
pub async fn user(state: &AppState, headers: &HeaderMap) -> Result<Address, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state.auth.authenticate(header).await.map_err(|error| {
        let (status, reason) = match &error {
            AuthError::Missing | AuthError::Unknown => (StatusCode::UNAUTHORIZED, "auth"),
            AuthError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "backend"),
        };
        state.metrics.rejected.with_label_values(&[reason]).inc();
        ApiError::new(status, error.to_string())
    })
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if *state.shutdown.borrow() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "stopping"})),
        )
            .into_response();
    }
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// Who the token is: its user and the user's `im:` and `pres:` URIs.
async fn get_me(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult {
    let me = user(&state, &headers).await?;
    Ok(axum::Json(me_json(&me)).into_response())
}

/// `{"user","im","pres"}` of an address.
pub fn me_json(me: &Address) -> Value {
    json!({
        "user": me.to_string(),
        "im": me.to_uri(Scheme::Im).to_string(),
        "pres": me.to_uri(Scheme::Pres).to_string(),
    })
}

// ---------------------------------------------------------------- messages

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageRequest {
    from: Option<String>,
    to: String,
    #[serde(default = "text_plain")]
    content_type: String,
    body: String,
}

fn text_plain() -> String {
    "text/plain".to_owned()
}

async fn post_message(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let me = user(&state, &headers).await?;
    let bytes = read_body(&state, body).await?;
    let xml = wants_xml(&headers);
    let op = match media_type(&headers).as_deref() {
        Some("application/json") => {
            let request: MessageRequest = parse_json(&bytes)?;
            let from = match &request.from {
                Some(from) => parse_uri(from, "from")?,
                None => me.to_uri(Scheme::Im),
            };
            let to = parse_uri(&request.to, "to")?;
            MessageOp::new(from, to, request.content_type, request.body.into_bytes())
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?
        }
        Some(MESSAGE_CPIM) => message_from_cpim(&bytes, &me)?,
        Some(OP_XML) => xml_operation(&bytes, "message", |op| match op {
            Operation::Message(op) => Ok(op),
            other => Err(other.name()),
        })?,
        other => {
            return Err(unsupported(
                other,
                "application/json, message/cpim or application/cpim-op+xml",
            ))
        }
    };
    must_be_me(&op.source, &me, "from")?;
    if let Some(to) = op.destination.address() {
        if is_local(&state, to) {
            state.auth.ensure_user(to).await.map_err(backend)?;
        }
    }
    let principal = Principal::User(me.clone());
    let answer = request(&state, OpKind::Message, &me, None, move |origin| {
        Input::Message {
            origin,
            principal,
            op,
            hops: HOPS,
        }
    })
    .await?;
    Ok(answer_response(answer, xml, StatusCode::OK))
}

/// A raw `message/cpim` body (RFC 3862): From and To give the operation's
/// addresses; the whole message, headers, extensions and signature
/// included, is the content passed on, so nothing in it is lost.
fn message_from_cpim(bytes: &[u8], me: &Address) -> Result<MessageOp, ApiError> {
    let message = cpim_formats::message::Message::parse(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("message/cpim: {e}")))?;
    let from = match message.from() {
        Some(from) => parse_uri(from.uri(), "From")?,
        None => me.to_uri(Scheme::Im),
    };
    let to = message.to().next().ok_or_else(|| {
        ApiError::field(
            StatusCode::BAD_REQUEST,
            "To",
            "message/cpim has no To header (RFC 3862 section 3.3)",
        )
    })?;
    let to = parse_uri(to.uri(), "To")?;
    MessageOp::new(from, to, MESSAGE_CPIM, bytes.to_vec())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

// ---------------------------------------------------------------- presence

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceRequest {
    tuples: Vec<TupleRequest>,
    expires: Option<u32>,
    publisher: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TupleRequest {
    id: String,
    basic: Option<BasicName>,
    contact: Option<String>,
    priority: Option<f32>,
    note: Option<String>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BasicName {
    Open,
    Closed,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishQuery {
    expires: Option<u32>,
    publisher: Option<String>,
}

async fn put_presence(
    State(state): State<Arc<AppState>>,
    uri: Result<Path<String>, PathRejection>,
    query: Result<Query<PublishQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let me = user(&state, &headers).await?;
    let Path(uri) = uri.map_err(path_error)?;
    let Query(query) = query.map_err(query_error)?;
    let target = parse_pres(&uri, "uri")?;
    must_be_me_address(&target, &me, "uri")?;
    let bytes = read_body(&state, body).await?;
    let xml = wants_xml(&headers);
    let entity = me.to_uri(Scheme::Pres).to_string();
    let (presence, expires, publisher) = match media_type(&headers).as_deref() {
        Some("application/json") => {
            let request: PresenceRequest = parse_json(&bytes)?;
            let presence = presence_from_json(&entity, &request)?;
            (presence, request.expires, request.publisher)
        }
        Some(PIDF) | Some("application/xml") | Some("text/xml") => {
            let presence = Presence::parse(&bytes)
                .map(Presence::into_owned)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
            (presence, None, None)
        }
        // The draft has no publish operation; its notation for presence
        // itself is section 9's `<presence entityInfo=..>` with `<tuple
        // destination=.. status=..>`, read here (PIDF is taken too).
        Some(OP_XML) => {
            let document = cpim_formats::pidf::Document::parse(&bytes)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
            (document.into_presence(&entity).into_owned(), None, None)
        }
        other => {
            return Err(unsupported(
                other,
                "application/json, application/pidf+xml or application/cpim-op+xml",
            ))
        }
    };
    let duration = expires
        .or(query.expires)
        .unwrap_or(state.config.service.default_publication);
    let publisher = publisher
        .or(query.publisher)
        .unwrap_or_else(|| "api".to_owned());
    if publisher.is_empty() || publisher.len() > 128 {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "publisher",
            "publisher must be 1 to 128 bytes",
        ));
    }
    let principal = Principal::User(me.clone());
    let presentity = me.clone();
    let answer = request(&state, OpKind::Publish, &me, None, move |origin| {
        Input::Publish {
            origin,
            principal,
            trans_id: TransId::random(),
            presentity,
            publisher,
            presence,
            duration,
        }
    })
    .await?;
    Ok(answer_response(answer, xml, StatusCode::OK))
}

fn presence_from_json(
    entity: &str,
    request: &PresenceRequest,
) -> Result<Presence<'static>, ApiError> {
    if request.tuples.len() > 64 {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "tuples",
            "at most 64 tuples",
        ));
    }
    let mut presence = Presence::new(entity.to_owned());
    for t in &request.tuples {
        if !is_xml_id(&t.id) {
            return Err(ApiError::field(
                StatusCode::BAD_REQUEST,
                "tuples.id",
                format!(
                    "tuple id {:?} is not an XML ID (letter or _, then letters, digits, . - _)",
                    t.id
                ),
            ));
        }
        let basic = t.basic.map(|b| match b {
            BasicName::Open => Basic::Open,
            BasicName::Closed => Basic::Closed,
        });
        let mut tuple = Tuple::new(t.id.clone(), basic);
        xml_text("tuples.contact", t.contact.as_deref())?;
        xml_text("tuples.note", t.note.as_deref())?;
        if let Some(uri) = &t.contact {
            let mut contact = Contact::new(uri.clone());
            if let Some(p) = t.priority {
                if !(0.0..=1.0).contains(&p) {
                    return Err(ApiError::field(
                        StatusCode::BAD_REQUEST,
                        "tuples.priority",
                        "priority must be between 0 and 1 (RFC 3863 section 4.1.5)",
                    ));
                }
                contact.priority = Some(p);
            }
            tuple.contact = Some(contact);
        }
        if let Some(note) = &t.note {
            tuple.notes.push(Note::new(note.clone()));
        }
        presence.tuples.push(tuple);
    }
    xml_text("note", request.note.as_deref())?;
    if let Some(note) = &request.note {
        presence.notes.push(Note::new(note.clone()));
    }
    Ok(presence)
}

/// Refuses a value no PIDF document can hold (a control character, say):
/// it would be written into one, and every reader, this server's own on
/// its next start among them, would refuse the document.
fn xml_text(field: &'static str, value: Option<&str>) -> Result<(), ApiError> {
    let Some((at, c)) = value.and_then(cpim_formats::pidf::first_non_xml_char) else {
        return Ok(());
    };
    Err(ApiError::field(
        StatusCode::BAD_REQUEST,
        field,
        format!(
            "U+{:04X} at byte {at} is not a character XML allows",
            u32::from(c)
        ),
    ))
}

/// XML `ID` (the PIDF tuple id's type): a name start character, then name
/// characters; restricted here to ASCII.
fn is_xml_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

async fn get_presence(
    State(state): State<Arc<AppState>>,
    uri: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult {
    let me = user(&state, &headers).await?;
    let Path(uri) = uri.map_err(path_error)?;
    let target = parse_pres(&uri, "uri")?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let wants_pidf = accept.contains(PIDF);
    // In the draft's notation a fetch that succeeds is answered with the
    // one notify it yields (section 3.4.4), one that fails with its
    // response.
    let xml = accept.contains(OP_XML) && !wants_pidf;
    if is_local(&state, &target) {
        state.auth.ensure_user(&target).await.map_err(backend)?;
    }
    // A watcher with an active subscription sees the presence it already
    // receives; a fetch (subscribe with duration 0) would end that
    // subscription (draft section 3.4.3).
    if let Some(presence) = state
        .driver
        .active_subscription(me.clone(), target.clone())
        .await?
    {
        if xml {
            return Ok(notify_response(&me, &target, TransId::random(), &presence));
        }
        return Ok(presence_response(&presence, wants_pidf, None));
    }
    let op = SubscribeOp::new(me.to_uri(Scheme::Pres), target.to_uri(Scheme::Pres), 0)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let principal = Principal::User(me.clone());
    let answer = request(
        &state,
        OpKind::Fetch,
        &me,
        Some((me.clone(), target.clone())),
        move |origin| Input::Subscribe {
            origin,
            principal,
            op,
        },
    )
    .await?;
    let presence = answer.fetched.as_ref().and_then(|n| match n.state {
        SubState::Terminated(Reason::Fetched) => n.presence.clone(),
        _ => None,
    });
    match presence {
        Some(presence) if answer.response.status == cpim_formats::op::Status::Success => {
            if xml {
                let trans_id = answer
                    .fetched
                    .as_ref()
                    .map_or_else(TransId::random, |n| n.trans_id);
                return Ok(notify_response(&me, &target, trans_id, &presence));
            }
            Ok(presence_response(
                &presence,
                wants_pidf,
                Some(&answer.response),
            ))
        }
        _ if wants_pidf => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            answer
                .response
                .reason
                .clone()
                .unwrap_or_else(|| "presence not available".to_owned()),
        )),
        _ => {
            let mut value = events::response_json(&answer.response);
            if let Some(map) = value.as_object_mut() {
                map.insert("presence".to_owned(), Value::Null);
            }
            if xml {
                return Ok(answer_response(answer, true, StatusCode::OK));
            }
            Ok(axum::Json(value).into_response())
        }
    }
}

/// A `<notify>` of the draft's notation carrying `presence` to `watcher`.
fn notify_response(
    watcher: &Address,
    target: &Address,
    trans_id: TransId,
    presence: &Presence<'static>,
) -> Response {
    let op = cpim_formats::op::NotifyOp {
        watcher: watcher.to_uri(Scheme::Pres),
        target: target.to_uri(Scheme::Pres),
        trans_id,
        presence: presence.clone(),
    };
    (
        [(header::CONTENT_TYPE, OP_XML)],
        Operation::Notify(op).to_xml(),
    )
        .into_response()
}

fn presence_response(presence: &Presence, pidf: bool, response: Option<&ResponseOp>) -> Response {
    if pidf {
        return ([(header::CONTENT_TYPE, PIDF)], presence.to_xml()).into_response();
    }
    let mut value = match response {
        Some(r) => events::response_json(r),
        None => json!({"status": "success", "transID": null, "reason": null}),
    };
    if let Some(map) = value.as_object_mut() {
        map.insert("presence".to_owned(), events::presence_json(presence));
    }
    axum::Json(value).into_response()
}

// ----------------------------------------------------------- subscriptions

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeRequest {
    watcher: Option<String>,
    target: String,
    duration: Option<u32>,
}

async fn post_subscription(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let me = user(&state, &headers).await?;
    let bytes = read_body(&state, body).await?;
    let xml = wants_xml(&headers);
    let op = match media_type(&headers).as_deref() {
        Some("application/json") => {
            let request: SubscribeRequest = parse_json(&bytes)?;
            let watcher = match &request.watcher {
                Some(w) => parse_pres(w, "watcher")?,
                None => me.clone(),
            };
            let target = parse_pres(&request.target, "target")?;
            SubscribeOp::new(
                watcher.to_uri(Scheme::Pres),
                target.to_uri(Scheme::Pres),
                request.duration.unwrap_or(3600),
            )
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?
        }
        Some(OP_XML) => xml_operation(&bytes, "subscribe", |op| match op {
            Operation::Subscribe(op) => Ok(op),
            other => Err(other.name()),
        })?,
        other => {
            return Err(unsupported(
                other,
                "application/json or application/cpim-op+xml",
            ))
        }
    };
    must_be_me(&op.watcher, &me, "watcher")?;
    if let Some(target) = op.target.address() {
        if is_local(&state, target) {
            state.auth.ensure_user(target).await.map_err(backend)?;
        }
    }
    let principal = Principal::User(me.clone());
    let answer = request(&state, OpKind::Subscribe, &me, None, move |origin| {
        Input::Subscribe {
            origin,
            principal,
            op,
        }
    })
    .await?;
    Ok(answer_response(answer, xml, StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsubscribeQuery {
    watcher: Option<String>,
    target: Option<String>,
}

/// The unsubscribe operation: named by the query (`?target=`), or an
/// `<unsubscribe>` of the draft's XML notation (section 8) as the body.
async fn delete_subscription(
    State(state): State<Arc<AppState>>,
    query: Result<Query<UnsubscribeQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let me = user(&state, &headers).await?;
    let Query(query) = query.map_err(query_error)?;
    let bytes = read_body(&state, body).await?;
    let xml = wants_xml(&headers);
    let op = match media_type(&headers).as_deref() {
        Some(OP_XML) => {
            if query.watcher.is_some() || query.target.is_some() {
                return Err(ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "query",
                    "an <unsubscribe> body names the watcher and target; send no query with it",
                ));
            }
            xml_operation(&bytes, "unsubscribe", |op| match op {
                Operation::Unsubscribe(op) => Ok(op),
                other => Err(other.name()),
            })?
        }
        // No body: the query names the subscription, whatever
        // Content-Type a client sent along.
        _ if bytes.is_empty() => {
            let watcher = match &query.watcher {
                Some(w) => parse_pres(w, "watcher")?,
                None => me.clone(),
            };
            let target = query.target.as_deref().ok_or_else(|| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "target",
                    "target missing: ?target=pres:... or an application/cpim-op+xml body",
                )
            })?;
            let target = parse_pres(target, "target")?;
            UnsubscribeOp::new(watcher.to_uri(Scheme::Pres), target.to_uri(Scheme::Pres))
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?
        }
        other => {
            return Err(unsupported(
                other,
                "no body (the query names the subscription) or application/cpim-op+xml",
            ))
        }
    };
    must_be_me(&op.watcher, &me, "watcher")?;
    let principal = Principal::User(me.clone());
    let answer = request(&state, OpKind::Unsubscribe, &me, None, move |origin| {
        Input::Unsubscribe {
            origin,
            principal,
            op,
        }
    })
    .await?;
    Ok(answer_response(answer, xml, StatusCode::OK))
}

// ------------------------------------------------------- watchers, policy

async fn get_watchers(
    State(state): State<Arc<AppState>>,
    uri: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult {
    let me = user(&state, &headers).await?;
    let Path(uri) = uri.map_err(path_error)?;
    let target = parse_pres(&uri, "uri")?;
    must_be_me_address(&target, &me, "uri")?;
    let now = crate::driver::now();
    let list = state.driver.watchers(me.clone()).await?;
    let watchers: Vec<Value> = list
        .watchers
        .iter()
        .map(|w| {
            json!({
                "watcher": events::pres(&w.watcher),
                "status": match w.status {
                    cpim_engine::SubscriptionStatus::Active => "active",
                    _ => "pending",
                },
                "expires": w.expires.secs_after(now),
            })
        })
        .collect();
    let pending: Vec<Value> = list
        .pending
        .iter()
        .map(|(watcher, since)| {
            json!({
                "watcher": events::pres(watcher),
                "since_ms": since.as_millis(),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "presentity": events::pres(&me),
        "watchers": watchers,
        "requests": pending,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyRequest {
    decision: Option<PolicyName>,
}

async fn put_policy(
    State(state): State<Arc<AppState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let me = user(&state, &headers).await?;
    let Path((uri, watcher)) = path.map_err(path_error)?;
    let target = parse_pres(&uri, "uri")?;
    must_be_me_address(&target, &me, "uri")?;
    let watcher = parse_pres(&watcher, "watcher")?;
    let bytes = read_body(&state, body).await?;
    if media_type(&headers).as_deref() != Some("application/json") {
        return Err(unsupported(
            media_type(&headers).as_deref(),
            "application/json",
        ));
    }
    let request: PolicyRequest = parse_json(&bytes)?;
    let decision = request.decision.map(|d| match d {
        PolicyName::Allow => Decision::Allow,
        PolicyName::Deny => Decision::Deny,
        _ => Decision::Ask,
    });
    state
        .driver
        .admin(Input::SetPolicy {
            presentity: me.clone(),
            subject: PolicySubject::Watcher(watcher.to_string()),
            decision,
        })
        .await?;
    Ok(axum::Json(json!({
        "presentity": events::pres(&me),
        "watcher": events::pres(&watcher),
        "decision": request.decision,
    }))
    .into_response())
}

// ----------------------------------------------------------------- helpers

/// Sends a request to the engine and waits for the response; past the
/// configured wait the caller is told the response will come on its event
/// stream (a deferred response).
async fn request(
    state: &AppState,
    kind: OpKind,
    me: &Address,
    fetch: Option<(Address, Address)>,
    make: impl FnOnce(cpim_engine::Origin) -> Input + Send + 'static,
) -> Result<Answer, ApiError> {
    let rx = state.driver.request(kind, me.clone(), fetch, make).await?;
    let wait = Duration::from_millis(state.config.limits.response_wait_ms);
    let mut answer = match tokio::time::timeout(wait, rx).await {
        Ok(Ok(answer)) => answer?,
        Ok(Err(_)) => return Err(DriverError::Stopped.into()),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::ACCEPTED,
                "no response yet: it will come on /v1/events as {\"op\":\"response\"}",
            ))
        }
    };
    // A message is delivered once it is written to a recipient's socket; if
    // every inbox it went to closed before that, it was not delivered.
    if !answer.acks.is_empty() {
        let acks = std::mem::take(&mut answer.acks);
        let mut delivered = false;
        for ack in acks {
            if let Ok(Ok(())) = tokio::time::timeout(wait, ack).await {
                delivered = true;
            }
        }
        if !delivered {
            answer.response.status = cpim_formats::op::Status::Failure;
            answer.response.reason = Some("the recipient's inbox closed before delivery".into());
        }
    }
    Ok(answer)
}

fn answer_response(answer: Answer, xml: bool, status: StatusCode) -> Response {
    if xml {
        let text = Operation::Response(answer.response).to_xml();
        return (status, [(header::CONTENT_TYPE, OP_XML)], text).into_response();
    }
    (status, axum::Json(events::response_json(&answer.response))).into_response()
}

/// Reads the body up to the configured limit.
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.config.limits.body_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        state.metrics.rejected.with_label_values(&["size"]).inc();
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {limit} bytes"),
        )
    })
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    Some(essence)
}

fn wants_xml(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // XML when asked for, or when the request was XML and JSON was not
    // asked for by name.
    accept.contains(OP_XML)
        || (media_type(headers).as_deref() == Some(OP_XML) && !accept.contains("application/json"))
}

fn unsupported(got: Option<&str>, expected: &str) -> ApiError {
    ApiError::field(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
        format!(
            "Content-Type {} is not accepted here; send {expected}",
            got.unwrap_or("(none)")
        ),
    )
}

fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

fn parse_uri(text: &str, field: &'static str) -> Result<Uri, ApiError> {
    Uri::parse(text).map_err(|e| {
        ApiError::field(
            StatusCode::BAD_REQUEST,
            field,
            format!("{field}: invalid URI {text:?}: {e}"),
        )
    })
}

/// A `pres:` (or `im:`) URI naming one address.
fn parse_pres(text: &str, field: &'static str) -> Result<Address, ApiError> {
    let uri = parse_uri(text, field)?;
    uri.address().cloned().ok_or_else(|| {
        ApiError::field(
            StatusCode::BAD_REQUEST,
            field,
            format!("{field}: {text:?} must name exactly one address"),
        )
    })
}

fn must_be_me(uri: &Uri, me: &Address, field: &'static str) -> Result<(), ApiError> {
    match uri.address() {
        Some(address) => must_be_me_address(address, me, field),
        None => Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            field,
            format!("{field} must name exactly one address"),
        )),
    }
}

fn must_be_me_address(
    address: &Address,
    me: &Address,
    field: &'static str,
) -> Result<(), ApiError> {
    if address == me {
        Ok(())
    } else {
        Err(ApiError::field(
            StatusCode::FORBIDDEN,
            field,
            format!("this token acts only as {me}, not {address}"),
        ))
    }
}

fn is_local(state: &AppState, address: &Address) -> bool {
    state.config.domains.iter().any(|d| d == address.domain())
}

fn path_error(error: PathRejection) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "path", error.body_text())
}

fn query_error(error: QueryRejection) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "query", error.body_text())
}

fn backend(error: AuthError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// Reads a request body in the draft's XML notation that must hold one kind
/// of operation; `pick` names any other kind for the error.
fn xml_operation<T>(
    bytes: &[u8],
    expected: &str,
    pick: impl FnOnce(Operation) -> Result<T, &'static str>,
) -> Result<T, ApiError> {
    let op = Operation::from_xml(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    pick(op).map_err(|other| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected a {expected} operation, got {other}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_ids() {
        assert!(is_xml_id("t1"));
        assert!(is_xml_id("_a.b-c"));
        assert!(!is_xml_id(""));
        assert!(!is_xml_id("1t"));
        assert!(!is_xml_id("a b"));
    }

    #[test]
    fn json_presence_is_checked() {
        let request: PresenceRequest = serde_json::from_str(
            r#"{"tuples":[{"id":"t1","basic":"open","contact":"im:a@b","priority":0.5,"note":"hi"}],"expires":60}"#,
        )
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
        let presence =
            presence_from_json("pres:a@b", &request).unwrap_or_else(|e| panic!("{}", e.error));
        assert_eq!(presence.tuples.len(), 1);
        assert_eq!(presence.tuples[0].status.basic, Some(Basic::Open));
        assert_eq!(presence.tuples[0].notes[0].text, "hi");

        let bad: PresenceRequest =
            serde_json::from_str(r#"{"tuples":[{"id":"t1","contact":"im:a@b","priority":2}]}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let err = presence_from_json("pres:a@b", &bad).err();
        assert_eq!(err.and_then(|e| e.field), Some("tuples.priority"));

        // Characters no XML document holds are refused by field, before
        // they reach one.
        for (json, field) in [
            (
                r#"{"tuples":[{"id":"t1","note":"a\u0000"}]}"#,
                "tuples.note",
            ),
            (
                r#"{"tuples":[{"id":"t1","contact":"im:a@b\u001b"}]}"#,
                "tuples.contact",
            ),
            (r#"{"tuples":[],"note":"\ufffe"}"#, "note"),
        ] {
            let bad: PresenceRequest = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
            let err = presence_from_json("pres:a@b", &bad).err();
            assert_eq!(err.and_then(|e| e.field), Some(field), "{json}");
        }
        let fine: PresenceRequest =
            serde_json::from_str(r#"{"tuples":[],"note":"tab\there\nnext line \u00e9"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(presence_from_json("pres:a@b", &fine).is_ok());
    }
}
