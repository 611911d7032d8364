//! The uplink: enrolls the agent, then sends the spool's records to the
//! server in signed batches and forgets them only once acknowledged.
//!
//! The agent opens every connection; the server never connects to the host.

use crate::identity::{new_key, public_hex, Identity};
use crate::spool::Spool;
use leitstand_proto::actions::SignedAction;
use leitstand_proto::{
    Ack, AgentBuild, AgentError, AgentSettings, AgentUpgrade, Batch, EnrollRequest, EnrollResponse, Sequenced,
    PROTOCOL_VERSION,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const ENROLL_PATH: &str = "/api/agent/v1/enroll";
pub const BATCH_PATH: &str = "/api/agent/v1/batches";

/// Why a send did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No answer: the server or the network is away. Try again later.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The server refuses this agent (revoked, unknown, bad signature, clock
    /// skew). Sending again will not help; the operator must act.
    #[error("refused by the server ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The server could not take the batch (bad input, too large, overload).
    #[error("batch not accepted ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The server asks the agent to wait: it sends too fast (429) or its
    /// host awaits approval (409). The records stay in the spool.
    #[error("server asks to wait ({status}): {message}")]
    Wait { status: u16, message: String },
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn http() -> ureq::Agent {
    builder().build()
}

fn builder() -> ureq::AgentBuilder {
    ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10)).timeout(Duration::from_secs(60))
}

/// An HTTP client that, over HTTPS, trusts only the CA certificates in
/// `ca_pem` (the server's private CA: pinned), or the public roots when
/// `None`.
pub fn http_trusting(ca_pem: Option<&[u8]>) -> Result<ureq::Agent, String> {
    let Some(mut pem) = ca_pem else { return Ok(http()) };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem) {
        let cert = cert.map_err(|e| format!("CA file: {e}"))?;
        roots.add(cert).map_err(|e| format!("CA file: {e}"))?;
    }
    if roots.is_empty() {
        return Err("CA file: no certificate in it".into());
    }
    let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    Ok(builder().tls_config(std::sync::Arc::new(tls)).build())
}

fn error_of(e: ureq::Error) -> SendError {
    match e {
        ureq::Error::Status(status, resp) => {
            let message = resp
                .into_string()
                .ok()
                .and_then(|t| serde_json::from_str::<AgentError>(&t).map(|e| e.message).ok().or(Some(t)))
                .unwrap_or_default();
            if matches!(status, 401 | 403 | 404) {
                SendError::Refused { status, message }
            } else if matches!(status, 409 | 429) {
                SendError::Wait { status, message }
            } else {
                SendError::Rejected { status, message }
            }
        }
        ureq::Error::Transport(t) => SendError::Unreachable(t.to_string()),
    }
}

/// Enrolls with a single-use token: makes the key pair, registers the public
/// key, and returns the identity to save.
pub fn enroll(server: &str, token: &str, name: &str, os: &str) -> Result<(Identity, EnrollResponse), SendError> {
    enroll_with(&http(), server, token, name, os)
}

/// [`enroll`] through a given client (e.g. one from [`http_trusting`]).
pub fn enroll_with(
    http: &ureq::Agent,
    server: &str,
    token: &str,
    name: &str,
    os: &str,
) -> Result<(Identity, EnrollResponse), SendError> {
    let key = new_key();
    let req = EnrollRequest {
        token: token.to_owned(),
        name: name.to_owned(),
        os: os.to_owned(),
        public_key: public_hex(&key),
        protocol: PROTOCOL_VERSION,
    };
    let url = format!("{}{ENROLL_PATH}", server.trim_end_matches('/'));
    let resp: EnrollResponse = http
        .post(&url)
        .send_json(&req)
        .map_err(error_of)?
        .into_json()
        .map_err(|e| SendError::Rejected { status: 200, message: e.to_string() })?;
    let mut identity = Identity::new(server.trim_end_matches('/').to_owned(), resp.host_id, key);
    identity.release_key = resp.release_key.clone();
    identity.action_key = resp.action_key.clone();
    Ok((identity, resp))
}

pub struct Uplink {
    identity: Identity,
    http: ureq::Agent,
    /// The settings the server pushed with its latest acknowledgement.
    settings: Option<AgentSettings>,
    /// The build offered with the latest acknowledgement, if any.
    upgrade: Option<AgentUpgrade>,
    /// Signed actions of the latest acknowledgement.
    actions: Vec<SignedAction>,
    /// The build this agent runs, told to the server with each batch.
    build: Option<AgentBuild>,
    /// Most records per batch.
    pub max_records: usize,
    /// About this many bytes of records per batch.
    pub max_bytes: usize,
}

impl Uplink {
    pub fn new(identity: Identity) -> Self {
        Self {
            identity,
            http: http(),
            settings: None,
            upgrade: None,
            actions: Vec::new(),
            build: None,
            max_records: 500,
            max_bytes: 512 * 1024,
        }
    }

    /// Tells the server which build runs, so it can offer upgrades.
    pub fn with_build(mut self, build: AgentBuild) -> Self {
        self.build = Some(build);
        self
    }

    /// The build the server offered with its latest acknowledgement.
    pub fn upgrade(&self) -> Option<&AgentUpgrade> {
        self.upgrade.as_ref()
    }

    /// The actions the server sent with its latest acknowledgement (sent
    /// again until reported; the runner runs each id once).
    pub fn actions(&self) -> &[SignedAction] {
        &self.actions
    }

    /// The client this uplink speaks through.
    pub fn http(&self) -> &ureq::Agent {
        &self.http
    }

    /// The same uplink through another client (e.g. one pinned to a CA).
    pub fn with_http(mut self, http: ureq::Agent) -> Self {
        self.http = http;
        self
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// What the server asked for in its latest acknowledgement.
    pub fn settings(&self) -> Option<&AgentSettings> {
        self.settings.as_ref()
    }

    /// The signed request of one batch: (URL, headers, body).
    pub fn prepare(&self, records: Vec<Sequenced>) -> (String, Vec<(&'static str, String)>, Vec<u8>) {
        let batch = Batch { protocol: PROTOCOL_VERSION, records, agent: self.build.clone() };
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let headers = self.identity.sign("POST", BATCH_PATH, &body, now_ms());
        (format!("{}{BATCH_PATH}", self.identity.server), headers, body)
    }

    /// Sends one batch; the answer says up to which sequence it is stored.
    pub fn send(&self, records: Vec<Sequenced>) -> Result<Ack, SendError> {
        let (url, headers, body) = self.prepare(records);
        let mut req = self.http.post(&url).set("content-type", "application/json");
        for (k, v) in &headers {
            req = req.set(k, v);
        }
        req.send_bytes(&body)
            .map_err(error_of)?
            .into_json()
            .map_err(|e| SendError::Rejected { status: 200, message: e.to_string() })
    }

    /// Sends everything the spool holds, batch by batch, acknowledging as it
    /// goes; returns how many records went.
    pub fn flush(&mut self, spool: &mut Spool) -> Result<usize, SendError> {
        let mut sent = 0;
        loop {
            let batch = spool
                .pending(self.max_records, self.max_bytes)
                .map_err(|e| SendError::Rejected { status: 0, message: format!("cannot read the spool: {e}") })?;
            if batch.is_empty() {
                return Ok(sent);
            }
            let n = batch.len();
            let ack = self.send(batch)?;
            if ack.settings.is_some() {
                self.settings = ack.settings.clone();
            }
            self.upgrade = ack.upgrade.clone();
            self.actions = ack.actions;
            spool.ack(ack.up_to).map_err(|e| SendError::Rejected { status: 0, message: format!("spool: {e}") })?;
            sent += n;
        }
    }
}
