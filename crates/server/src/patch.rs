//! The patch worker of a replica: every 30 s it plans each ordered or
//! running job against its window or appointment, so that rings start,
//! overdue hosts are given up, and jobs end. Agents fetch the signed
//! actions with their next acknowledgement.

use leitstand_service::Services;
use std::time::Duration;

/// How often jobs are planned.
pub const ROUND: Duration = Duration::from_secs(30);

pub fn spawn(services: Services) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ROUND);
        loop {
            tick.tick().await;
            match services.patch_round().await {
                Ok(r) if r != Default::default() => tracing::info!(
                    sent = r.sent,
                    no_answer = r.no_answer,
                    skipped = r.skipped,
                    finished = r.finished,
                    raced = r.raced,
                    "patch jobs advanced"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "patch round failed; will retry"),
            }
        }
    });
}
