//! The vulnerability worker of a replica: reads the advisory feeds at start
//! and every `refresh_hours` (URL feeds are fetched into
//! `<data_dir>/advisories/<name>` first; a failed fetch keeps the copy there),
//! and looks for hosts to scan every `scan_interval_secs`.

use crate::config::Config;
use leitstand_service::{FeedSpec, Services};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest a feed download may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Starts the worker (nothing to do without feeds).
pub fn spawn(services: Services, config: &Config) {
    if services.feed_specs().is_empty() {
        tracing::info!("no advisory feeds configured; the vulnerability scanner is idle");
        return;
    }
    let cache = config.data_dir.join("advisories");
    let refresh = Duration::from_secs(u64::from(config.vuln.refresh_hours.max(1)) * 3600);
    let scan_every = Duration::from_secs(u64::from(config.vuln.scan_interval_secs.max(1)));
    tokio::spawn(async move {
        let mut next_refresh = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(scan_every);
        loop {
            tick.tick().await;
            if tokio::time::Instant::now() >= next_refresh {
                next_refresh = tokio::time::Instant::now() + refresh;
                refresh_feeds(&services, &cache).await;
            }
            match services.scan_due_hosts().await {
                Ok(r) if r.hosts > 0 => {
                    tracing::info!(hosts = r.hosts, new = r.new, alarmed = r.alarmed, fixed = r.fixed, "hosts scanned")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "vulnerability scan failed; will retry"),
            }
        }
    });
}

/// Fetches the URL feeds, then reads every feed whose files changed.
pub async fn refresh_feeds(services: &Services, cache: &Path) {
    if let Err(e) = tokio::fs::create_dir_all(cache).await {
        tracing::warn!(error = %e, dir = %cache.display(), "advisory cache directory not made");
    }
    let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build();
    for spec in services.feed_specs().into_iter().filter(FeedSpec::is_url) {
        let result = match &client {
            Ok(c) => fetch(c, &spec, &cache.join(&spec.name)).await,
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(feed = %spec.name, error = %e, "advisory feed not fetched; the cached copy stays");
            services.feed_fetch_failed(&spec.name, &format!("{}: {e}", spec.location));
        }
    }
    let (s, dir) = (services.clone(), cache.to_owned());
    // Parsing the whole tracker takes a few seconds of CPU: off the runtime.
    match tokio::task::spawn_blocking(move || s.load_feeds(&dir)).await {
        Ok(true) => tracing::info!("advisories changed; hosts will be scanned again"),
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "advisory load panicked"),
    }
}

/// Downloads a feed next to its cached copy and renames it over only when
/// complete (bounded in size); the parser decides later whether it is good.
async fn fetch(client: &reqwest::Client, spec: &FeedSpec, to: &Path) -> Result<(), String> {
    let mut resp = client.get(&spec.location).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let part = PathBuf::from(format!("{}.part", to.display()));
    let mut file = tokio::fs::File::create(&part).await.map_err(|e| e.to_string())?;
    let mut size: u64 = 0;
    use tokio::io::AsyncWriteExt;
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        size += chunk.len() as u64;
        if size > leitstand_vuln::feed::MAX_FEED_BYTES {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(format!("larger than {} MiB", leitstand_vuln::feed::MAX_FEED_BYTES >> 20));
        }
        file.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    file.sync_all().await.map_err(|e| e.to_string())?;
    drop(file);
    tokio::fs::rename(&part, to).await.map_err(|e| e.to_string())
}
