//! Live host figures as server-sent events (MON-3): an event each time the
//! host's batch is stored, so pages update without reload or polling.
//!
//! This replica's ingest wakes the stream at once; a batch stored by another
//! replica is noticed by a check every 15 s.

use super::hosts::HostDto;
use crate::app::AppState;
use crate::http::{ApiError, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use leitstand_domain::{HostId, Permission as P};
use leitstand_service::Actor;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub fn routes() -> Vec<RouteDef> {
    vec![route(
        Method::GET,
        "/api/v1/hosts/{host}/live",
        P::HostsRead,
        Kind::Api,
        "Server-sent events: a `host` event (the host as in `/api/v1/hosts/{host}`) whenever it delivers.",
        live,
    )]
}

/// How often a stream checks the database for batches stored elsewhere.
const RECHECK: Duration = Duration::from_secs(15);

struct Watch {
    s: AppState,
    actor: Actor,
    id: HostId,
    rx: tokio::sync::broadcast::Receiver<HostId>,
    stop: tokio::sync::watch::Receiver<bool>,
    /// What the last event said, so only news is sent.
    last: Option<(Option<jiff::Timestamp>, &'static str)>,
}

impl Watch {
    /// Waits for the next change of the host; `None` ends the stream (shut
    /// down, host gone, access gone).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Watch)> {
        loop {
            // Woken by this replica's ingest for the host: news for sure
            // (even when the clock shows the same millisecond). Otherwise a
            // changed last-seen time or status tells of a batch elsewhere.
            let mut stored_here = false;
            if self.last.is_some() {
                tokio::select! {
                    _ = self.stop.changed() => return None,
                    got = self.rx.recv() => match got {
                        Ok(id) if id != self.id => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => stored_here = true,
                        Err(RecvError::Closed) => return None,
                    },
                    _ = tokio::time::sleep(RECHECK) => {}
                }
            }
            if *self.stop.borrow() {
                return None;
            }
            let o = self.s.services.host_overview(&self.actor, self.id).await.ok()?;
            let now = (o.host.last_seen, o.status.as_str());
            if self.last == Some(now) && !stored_here {
                continue;
            }
            self.last = Some(now);
            let data = serde_json::to_string(&HostDto::from(&o)).unwrap_or_default();
            return Some((Ok(Event::default().event("host").data(data)), self));
        }
    }
}

async fn live(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let actor = ctx.actor()?.clone();
    // Refuse at once what the actor may not see, rather than an empty stream.
    s.services.host(&actor, HostId(id)).await?;
    let watch =
        Watch { rx: s.services.stored_hosts(), stop: s.stopping.subscribe(), s, actor, id: HostId(id), last: None };
    Ok(Sse::new(futures::stream::unfold(watch, Watch::next)).keep_alive(KeepAlive::default()))
}
