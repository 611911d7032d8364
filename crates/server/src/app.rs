//! Application state, the router made from the registry, and serving.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::routes::{self, Kind};
use axum::http::Method;
use axum::Router;
use jiff::tz::TimeZone;
use leitstand_domain::{Permission, TenantId};
use leitstand_service::Services;
use std::collections::HashMap;
use std::sync::Arc;

/// Everything a handler may use; passed in, never global.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// (method, path pattern) → (permission, kind), from the registry.
    pub routes: Arc<HashMap<(Method, String), (Permission, Kind)>>,
    /// Turns true when the server shuts down, so open streams end.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// The server's own TLS, when it serves HTTPS.
    pub tls: Option<crate::tls::TlsInfo>,
    /// What the syslog receiver counted.
    pub syslog: Arc<crate::syslog::SyslogCounters>,
}

impl AppState {
    pub fn new(services: Services, config: Config) -> Self {
        let routes =
            routes::all().into_iter().map(|r| ((r.method, r.path.to_owned()), (r.permission, r.kind))).collect();
        Self {
            services,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            routes: Arc::new(routes),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            tls: None,
            syslog: Arc::default(),
        }
    }

    /// The time zone of a tenant; Europe/Berlin when unknown.
    pub async fn tenant_zone(&self, t: TenantId) -> TimeZone {
        self.services.tenant_zone(t).await
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for def in routes::all() {
        r = r.route(def.path, def.handler);
    }
    r.route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::http::gate))
        .fallback(crate::ops::not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(state.config.max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(crate::ops::security_headers))
        .with_state(state)
}

/// Background work every replica runs: host-down sweeps and rollups every
/// 15 s, retention every hour. All are safe to run on several replicas.
pub fn spawn_workers(services: Services) {
    tokio::spawn(async move {
        // Tenants made before a default alarm rule existed get it now.
        match services.ensure_default_rules_everywhere().await {
            Ok(n) if n > 0 => tracing::info!(added = n, "default alarm rules added"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "default alarm rules not checked; next start tries again"),
        }
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            if let Err(e) = services.sweep_hosts().await {
                tracing::warn!(error = %e, "host sweep failed; will retry");
            }
            if let Err(e) = services.roll_up().await {
                tracing::warn!(error = %e, "rollup failed; will retry");
            }
            if n.is_multiple_of(240) {
                match services.apply_retention().await {
                    Ok(gone) if gone > 0 => tracing::info!(samples = gone, "retention applied"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention failed; will retry"),
                }
                match services.soc_retention().await {
                    Ok(gone) if gone > 0 => tracing::info!(events = gone, "SOC event retention applied"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "SOC event retention failed; will retry"),
                }
            }
            n += 1;
        }
    });
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight;
/// over HTTPS when `tls` is given.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<()> {
    let stopping = state.stopping.clone();
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let Some(tls) = tls else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                let _ = stopping.send(true);
            })
            .await;
    };
    let handle = axum_server::Handle::new();
    let on_signal = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stopping.send(true);
        on_signal.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, axum_server::tls_rustls::RustlsConfig::from_config(tls))
        .handle(handle)
        .serve(app)
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
