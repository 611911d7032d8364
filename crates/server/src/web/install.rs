//! The install and uninstall scripts and the agent download (AGT-1): a
//! customer runs `curl -fsSL <server>/install.sh?token=… | sudo sh`.

use crate::app::AppState;
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use leitstand_domain::Permission as P;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/install.sh", P::Public, Kind::Ops, "Agent install script for an enrollment token.", install),
        route(M::GET, "/uninstall.sh", P::Public, Kind::Ops, "Agent uninstall script.", uninstall),
        route(
            M::GET,
            "/downloads/ca.pem",
            P::Public,
            Kind::Ops,
            "The server's private CA certificate, which agents pin (with `tls = \"auto\"`).",
            ca,
        ),
        route(M::GET, "/downloads/leitstand-agent", P::Public, Kind::Ops, "The agent binary (Linux x86_64).", binary),
        route(
            M::GET,
            "/downloads/leitstand-agent.deb",
            P::Public,
            Kind::Ops,
            "The agent as a Debian package for this server; `?token=` enrols at install time.",
            deb,
        ),
        route(
            M::GET,
            "/downloads/leitstand-agent.sha256",
            P::Public,
            Kind::Ops,
            "SHA-256 of the agent binary.",
            digest,
        ),
    ]
}

const INSTALL: &str = include_str!("../../scripts/install.sh");
const UNINSTALL: &str = include_str!("../../scripts/uninstall.sh");

fn script(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// Tokens are our own random base32 text; anything else never reaches a shell.
fn plausible_token(t: &str) -> bool {
    (20..=128).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

async fn install(State(s): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    if !plausible_token(&q.token) {
        return (
            StatusCode::BAD_REQUEST,
            "echo 'leitstand: the install link lacks a valid token; copy it again from the dashboard' >&2; exit 1\n",
        )
            .into_response();
    }
    let server = server_url(&s);
    script(
        INSTALL
            .replace("__SERVER__", &server)
            .replace("__TOKEN__", &q.token)
            .replace("__CURL_OPTS__", &curl_opts(&s))
            .replace("__PRIVATE_CA__", if private_ca(&s).is_some() { "yes" } else { "" }),
    )
}

/// The public URL, safe to put in a shell script.
fn server_url(s: &AppState) -> String {
    s.services.config().base_url.trim_end_matches('/').replace(['\'', '"', '\\', '$', '`'], "")
}

fn private_ca(s: &AppState) -> Option<&str> {
    s.tls.as_ref().and_then(|t| t.ca_pem.as_deref())
}

/// Extra curl options: with a private CA, skip the chain (no host trusts
/// it yet) but pin the server's key, so only this server is accepted.
fn curl_opts(s: &AppState) -> String {
    match s.tls.as_ref().and_then(|t| t.pin.as_deref()) {
        Some(pin) => format!("-k --pinnedpubkey {pin}"),
        None => String::new(),
    }
}

/// The one-line install command for a token.
pub fn install_command(s: &AppState, token: &str) -> String {
    let opts = match s.tls.as_ref().and_then(|t| t.pin.as_deref()) {
        Some(pin) => format!("-fsSLk --pinnedpubkey '{pin}'"),
        None => "-fsSL".to_owned(),
    };
    format!("curl {opts} '{}/install.sh?token={token}' | sudo sh", server_url(s))
}

async fn ca(State(s): State<AppState>) -> Response {
    match private_ca(&s) {
        Some(pem) => ([(header::CONTENT_TYPE, "application/x-pem-file")], pem.to_owned()).into_response(),
        None => (StatusCode::NOT_FOUND, "this server uses no private CA\n").into_response(),
    }
}

async fn uninstall() -> Response {
    script(UNINSTALL.to_owned())
}

async fn read_agent(s: &AppState) -> Result<Vec<u8>, Response> {
    let missing = || {
        (StatusCode::NOT_FOUND, "the agent binary is not installed on this server (set agent_binary)\n").into_response()
    };
    let path = s.config.agent_binary_path().ok_or_else(missing)?;
    tokio::fs::read(&path).await.map_err(|_| missing())
}

async fn binary(State(s): State<AppState>) -> Response {
    match read_agent(&s).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(r) => r,
    }
}

async fn deb(State(s): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    if !q.token.is_empty() && !plausible_token(&q.token) {
        return (StatusCode::BAD_REQUEST, "the token is not valid; copy the link again from the dashboard\n")
            .into_response();
    }
    let agent = match read_agent(&s).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let server = server_url(&s);
    let version = env!("CARGO_PKG_VERSION");
    let input = super::deb::DebInput {
        version,
        server: &server,
        agent: &agent,
        token: (!q.token.is_empty()).then_some(q.token.as_str()),
        ca_pem: private_ca(&s),
        mtime: s.services.now().as_second().max(0) as u64,
    };
    match super::deb::build(&input) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/vnd.debian.binary-package".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", super::deb::file_name(version))),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the agent package");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot build the package; the server log has details\n")
                .into_response()
        }
    }
}

async fn digest(State(s): State<AppState>) -> Response {
    match read_agent(&s).await {
        Ok(bytes) => format!("{}  leitstand-agent\n", hex::encode(Sha256::digest(&bytes))).into_response(),
        Err(r) => r,
    }
}
