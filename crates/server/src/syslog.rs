//! The syslog receiver (SOC-1, SOC-8): UDP, TCP and TCP+TLS listeners feed
//! one intake task through a bounded queue; the task hands rounds of lines to
//! the service, which matches them to tenants, applies quotas, parses,
//! detects and stores. TCP and TLS senders wait when the queue is full (no
//! loss); UDP datagrams that find it full are counted and dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use leitstand_detect::syslog::{Framer, MAX_LINE};
use leitstand_service::{Datagram, Services};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// Lines waiting for the intake task.
const QUEUE: usize = 100_000;
/// Lines handed to the service in one round.
const ROUND: usize = 5_000;
/// Open TCP/TLS connections at most.
const MAX_CONNECTIONS: usize = 1_024;
/// How long a TLS handshake may take.
const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a TCP/TLS sender may stay silent before it is disconnected.
const IDLE: std::time::Duration = std::time::Duration::from_secs(600);

/// What the receiver counted since start (for `/metrics`).
#[derive(Default, Debug)]
pub struct SyslogCounters {
    pub received: AtomicU64,
    pub stored: AtomicU64,
    pub unknown_source: AtomicU64,
    pub over_quota: AtomicU64,
    pub malformed: AtomicU64,
    pub queue_full: AtomicU64,
    pub failed: AtomicU64,
    pub hits: AtomicU64,
}

impl SyslogCounters {
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        [
            ("received", &self.received),
            ("stored", &self.stored),
            ("unknown_source", &self.unknown_source),
            ("over_quota", &self.over_quota),
            ("malformed", &self.malformed),
            ("queue_full", &self.queue_full),
            ("failed", &self.failed),
            ("rule_hits", &self.hits),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.load(Ordering::Relaxed)))
        .collect()
    }
}

/// Where the listeners are (a port of 0 in the settings picks a free one).
#[derive(Debug, Clone, Default)]
pub struct Listening {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

/// Starts the configured listeners and the intake task.
pub async fn start(
    services: Services,
    config: &crate::config::SyslogConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
    counters: Arc<SyslogCounters>,
) -> anyhow::Result<Listening> {
    let (tx, rx) = mpsc::channel::<Datagram>(QUEUE);
    let mut listening = Listening::default();
    if let Some(addr) = config.udp {
        let socket = tokio::net::UdpSocket::bind(addr).await.with_context(|| format!("syslog UDP {addr}"))?;
        listening.udp = Some(socket.local_addr()?);
        tokio::spawn(udp(socket, tx.clone(), counters.clone()));
    }
    if let Some(addr) = config.tcp {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("syslog TCP {addr}"))?;
        listening.tcp = Some(listener.local_addr()?);
        tokio::spawn(tcp(listener, None, tx.clone(), counters.clone()));
    }
    if let Some(addr) = config.tls {
        let Some(tls) = tls else {
            anyhow::bail!("syslog over TLS ({addr}) needs the server's TLS (tls = \"auto\" or \"files\")");
        };
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("syslog TLS {addr}"))?;
        listening.tls = Some(listener.local_addr()?);
        let mut plain = (*tls).clone();
        plain.alpn_protocols.clear();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(plain));
        tokio::spawn(tcp(listener, Some(acceptor), tx.clone(), counters.clone()));
    }
    drop(tx);
    tokio::spawn(intake(services, rx, counters));
    if listening.udp.is_some() || listening.tcp.is_some() || listening.tls.is_some() {
        tracing::info!(udp = ?listening.udp, tcp = ?listening.tcp, tls = ?listening.tls, "syslog receiver listening");
    }
    Ok(listening)
}

async fn intake(services: Services, mut rx: mpsc::Receiver<Datagram>, counters: Arc<SyslogCounters>) {
    let mut round = Vec::with_capacity(ROUND);
    while rx.recv_many(&mut round, ROUND).await > 0 {
        let lines = std::mem::take(&mut round);
        let n = lines.len() as u64;
        // A round runs as its own task: should one ever panic, its lines are
        // counted as failed and the receiver goes on.
        let s = services.clone();
        let done = tokio::spawn(async move { s.ingest_syslog(lines).await })
            .await
            .unwrap_or_else(|e| Err(leitstand_service::ServiceError::Internal(format!("intake round failed: {e}"))));
        match done {
            Ok(r) => {
                counters.stored.fetch_add(r.stored, Ordering::Relaxed);
                counters.unknown_source.fetch_add(r.unknown_source, Ordering::Relaxed);
                counters.over_quota.fetch_add(r.over_quota, Ordering::Relaxed);
                counters.malformed.fetch_add(r.malformed, Ordering::Relaxed);
                counters.hits.fetch_add(r.hits, Ordering::Relaxed);
                counters.failed.fetch_add(r.failed, Ordering::Relaxed);
            }
            Err(e) => {
                counters.failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(error = %e, lines = n, "syslog lines not stored");
            }
        }
    }
}

async fn udp(socket: tokio::net::UdpSocket, tx: mpsc::Sender<Datagram>, counters: Arc<SyslogCounters>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
        counters.received.fetch_add(1, Ordering::Relaxed);
        let d = Datagram { peer: peer.ip(), bytes: buf[..n].to_vec(), truncated: n > MAX_LINE, tls: false };
        if tx.try_send(d).is_err() {
            counters.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn tcp(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    tx: mpsc::Sender<Datagram>,
    counters: Arc<SyslogCounters>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, peer)) = listener.accept().await else { continue };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "syslog connection refused: too many open");
            continue;
        };
        let (tx, counters, tls) = (tx.clone(), counters.clone(), tls.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => read_frames(stream, peer, false, tx, counters).await,
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => read_frames(s, peer, true, tx, counters).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "syslog TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "syslog TLS handshake timed out"),
                },
            }
        });
    }
}

async fn read_frames<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    tls: bool,
    tx: mpsc::Sender<Datagram>,
    counters: Arc<SyslogCounters>,
) {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // A sender silent for longer than IDLE gives its slot back.
        let n = match tokio::time::timeout(IDLE, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        for f in framer.push(&buf[..n]) {
            counters.received.fetch_add(1, Ordering::Relaxed);
            let d = Datagram { peer: peer.ip(), bytes: f.bytes, truncated: f.truncated, tls };
            if tx.send(d).await.is_err() {
                return;
            }
        }
    }
    if let Some(f) = framer.finish() {
        counters.received.fetch_add(1, Ordering::Relaxed);
        let _ = tx.send(Datagram { peer: peer.ip(), bytes: f.bytes, truncated: false, tls }).await;
    }
}
