//! Shared set-up: an engine serving `example.com` that allows every watcher,
//! and generated addresses and operations.

use cpim_engine::{Config, Decision, Engine, Input, Origin, Principal, Timestamp};
use cpim_formats::op::{SubscribeOp, TransId};
use cpim_formats::pidf::{Basic, Presence, Tuple};
use cpim_formats::uri::{Address, Scheme};

use crate::LoadError;

/// A fixed start time: the engine needs no clock, and runs are repeatable.
pub const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

pub fn engine() -> Engine {
    let mut config =
        Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow);
    config.max_subscription = 7 * 86_400;
    Engine::new(config)
}

pub fn address(local: &str, domain: &str) -> Result<Address, LoadError> {
    Address::new(local, domain).map_err(|e| LoadError::Generated {
        what: "address",
        reason: e.to_string(),
    })
}

pub fn add_user(engine: &mut Engine, user: &Address) -> Result<(), LoadError> {
    engine.handle(Input::AddUser(user.clone()), NOW)?;
    engine.drain_effects().for_each(drop);
    Ok(())
}

/// Subscribes `watcher` to `target` for a week and throws the effects away.
pub fn subscribe(
    engine: &mut Engine,
    watcher: &Address,
    target: &Address,
) -> Result<(), LoadError> {
    let op = SubscribeOp {
        watcher: watcher.to_uri(Scheme::Pres),
        target: target.to_uri(Scheme::Pres),
        duration: 7 * 86_400,
        trans_id: trans(1)?,
    };
    engine.handle(
        Input::Subscribe {
            origin: Origin(0),
            principal: Principal::Service,
            op,
        },
        NOW,
    )?;
    engine.drain_effects().for_each(drop);
    Ok(())
}

pub fn publish(who: &Address, open: bool, round: u32) -> Result<Input, LoadError> {
    let mut presence = Presence::new(who.to_uri(Scheme::Pres).to_string());
    let basic = if open { Basic::Open } else { Basic::Closed };
    presence.tuples.push(Tuple::new("device", Some(basic)));
    Ok(Input::Publish {
        origin: Origin(0),
        principal: Principal::Service,
        trans_id: trans(round.max(1))?,
        presentity: who.clone(),
        publisher: "device".into(),
        presence,
        duration: 3600,
    })
}

pub fn trans(n: u32) -> Result<TransId, LoadError> {
    TransId::new(n).map_err(|e| LoadError::Generated {
        what: "transID",
        reason: format!("{e:?}"),
    })
}
