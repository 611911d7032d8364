//! One typed configuration: built-in defaults that work on first start, then
//! a TOML file (`--config`), then `LEITSTAND_*` environment variables, then
//! command-line flags.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; when absent, SQLite in `data_dir`.
    pub database: Option<String>,
    /// Directory of the embedded database and the server key.
    pub data_dir: PathBuf,
    /// Public URL people reach the server at, used in one-time links.
    /// Defaults to `http://<listen>`. With `https://…`, cookies are `Secure`.
    pub base_url: Option<String>,
    /// The 32-byte server key (64 hex characters) that seals secrets at rest.
    /// Replicas on one PostgreSQL must share it. Default: read from (or made
    /// in) `secret_key_file`.
    pub secret_key: Option<String>,
    /// Default: `<data_dir>/secret.key`.
    pub secret_key_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: String,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Take the client address from `X-Forwarded-For` (behind a reverse proxy).
    pub trust_forwarded_for: bool,
    /// Name of the provider organisation made on first start.
    pub provider_name: String,
    /// User name of the first provider admin.
    pub admin_name: String,
    /// The agent binary served to hosts; default: `leitstand-agent` beside
    /// the server binary.
    pub agent_binary: Option<PathBuf>,
    /// Days raw samples are kept.
    pub retention_raw_days: u32,
    /// Days 1-minute rollups are kept.
    pub retention_minute_days: u32,
    /// Days 1-hour rollups are kept.
    pub retention_hour_days: u32,
    /// Batches one agent may send per second, sustained.
    pub agent_batches_per_second: f64,
    /// Batches one agent may send in a burst (a spool catching up).
    pub agent_batch_burst: u32,
    /// `off`: plain HTTP (e.g. behind a reverse proxy); `auto`: HTTPS with a
    /// private CA made on first start in `<data_dir>/tls`, which agents pin;
    /// `files`: HTTPS with `tls_cert` and `tls_key` (the provider's own).
    pub tls: String,
    /// Offer the agent build this server ships to agents that run another
    /// one; they upgrade themselves and fall back when the new one fails.
    pub agent_upgrades: bool,
    /// Certificate chain (PEM) for `tls = "files"`.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for `tls = "files"`.
    pub tls_key: Option<PathBuf>,
    /// The mail server alarms are sent through; none: no e-mail.
    pub smtp: Option<SmtpConfig>,
    /// The HTTP gateway text messages are sent through; none: no SMS.
    pub sms: Option<SmsConfig>,
    /// `[syslog]`: the SOC's syslog receiver and rules.
    pub syslog: SyslogConfig,
    /// `[vuln]`: advisory feeds of the vulnerability scanner.
    pub vuln: VulnConfig,
}

/// `[vuln]`: where the advisories come from (VULN-1). Without feeds nothing
/// is scanned.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VulnConfig {
    /// `[[vuln.feeds]]`: `name`, `kind` (`debian-tracker` or `osv`) and
    /// `location` (a file, an OSV directory, or an http(s) URL fetched into
    /// `<data_dir>/advisories/<name>`).
    pub feeds: Vec<FeedConfig>,
    /// Hours between two reads of the feeds.
    pub refresh_hours: u32,
    /// Seconds between two looks for hosts to scan.
    pub scan_interval_secs: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub name: String,
    pub kind: leitstand_vuln::FeedKind,
    pub location: String,
}

impl Default for VulnConfig {
    fn default() -> Self {
        Self { feeds: vec![], refresh_hours: 6, scan_interval_secs: 30 }
    }
}

impl VulnConfig {
    /// The feeds as the service takes them; names must be unique and safe
    /// as file names (they name the cached copy of URL feeds).
    pub fn specs(&self) -> Result<Vec<leitstand_service::FeedSpec>, ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        self.feeds
            .iter()
            .map(|f| {
                let ok = !f.name.is_empty()
                    && f.name.len() <= 64
                    && f.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok || !seen.insert(f.name.clone()) {
                    return Err(ConfigError::Invalid(format!(
                        "[vuln] feeds: name {:?} must be unique, 1-64 letters, digits, - or _",
                        f.name
                    )));
                }
                Ok(leitstand_service::FeedSpec { name: f.name.clone(), kind: f.kind, location: f.location.clone() })
            })
            .collect()
    }

    /// `LEITSTAND_VULN_FEEDS`: `name=kind:location`, separated by spaces.
    fn parse_env(v: &str) -> Result<Vec<FeedConfig>, ConfigError> {
        v.split_whitespace()
            .map(|item| {
                let bad = || ConfigError::Env("LEITSTAND_VULN_FEEDS", format!("{item:?} is not name=kind:location"));
                let (name, rest) = item.split_once('=').ok_or_else(bad)?;
                let (kind, location) = rest.split_once(':').ok_or_else(bad)?;
                let kind = leitstand_vuln::FeedKind::from_name(kind).ok_or_else(bad)?;
                Ok(FeedConfig { name: name.to_owned(), kind, location: location.to_owned() })
            })
            .collect()
    }
}

/// `[syslog]`: where firewalls and servers send their logs (SOC-1, SOC-8).
/// Each listener is off unless given; port 0 picks a free one.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyslogConfig {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    /// TCP with TLS (the server's certificate); senders name their token.
    pub tls: Option<SocketAddr>,
    /// Extra Sigma rule directories (e.g. SigmaHQ's rules/linux).
    pub rule_dirs: Vec<PathBuf>,
    /// Lines per second one tenant may send, sustained and in a burst.
    pub lines_per_second: f64,
    pub burst: u32,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        let soc = leitstand_service::SocConfig::default();
        Self {
            udp: None,
            tcp: None,
            tls: None,
            rule_dirs: vec![],
            lines_per_second: soc.lines_per_second,
            burst: soc.burst,
        }
    }
}

/// `[smtp]`: where alarm mails go out.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub port: Option<u16>,
    /// `starttls` (default), `tls` (implicit TLS) or `none` (only on a
    /// trusted network, e.g. a relay on the same machine).
    #[serde(default = "default_security")]
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Sender, e.g. `Leitstand <alarm@provider.example>`.
    pub from: String,
    /// Extra CA certificate (PEM) to trust, for a relay with a private CA.
    pub ca_file: Option<PathBuf>,
}

fn default_security() -> String {
    "starttls".into()
}

/// `[sms]`: an HTTP gateway. `body` may use `{to}` and `{text}` (escaped
/// to suit `content_type`: JSON strings or form values).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_sms_body")]
    pub body: String,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Value of the `Authorization` header, e.g. `Bearer …` or `Basic …`.
    pub authorization: Option<String>,
}

fn default_method() -> String {
    "POST".into()
}

fn default_sms_body() -> String {
    r#"{"to":"{to}","text":"{text}"}"#.into()
}

fn default_content_type() -> String {
    "application/json".into()
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database", &self.database.as_deref().map(leitstand_store_postgres::redact))
            .field("data_dir", &self.data_dir)
            .field("base_url", &self.base_url)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("secret_key_file", &self.secret_key_file)
            .field("log_format", &self.log_format)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("smtp", &self.smtp.as_ref().map(|m| format!("{}:{:?} ({})", m.host, m.port, m.security)))
            .field("sms", &self.sms.as_ref().map(|s| s.url.split('?').next().unwrap_or_default().to_owned()))
            .field("syslog", &self.syslog)
            .field("vuln", &self.vuln)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: None,
            data_dir: PathBuf::from("leitstand-data"),
            base_url: None,
            secret_key: None,
            secret_key_file: None,
            log_format: "text".into(),
            max_body_bytes: 1024 * 1024,
            trust_forwarded_for: false,
            provider_name: "Leitstand Provider".into(),
            admin_name: "admin".into(),
            agent_binary: None,
            retention_raw_days: 7,
            retention_minute_days: 30,
            retention_hour_days: 730,
            agent_batches_per_second: 5.0,
            agent_batch_burst: 60,
            tls: "off".into(),
            agent_upgrades: true,
            tls_cert: None,
            tls_key: None,
            smtp: None,
            sms: None,
            syslog: SyslogConfig::default(),
            vuln: VulnConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("config file {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("environment variable {0}: {1}")]
    Env(&'static str, String),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let mut c = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.into(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(p.into(), e))?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        c.vuln.specs()?;
        Ok(c)
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("LEITSTAND_LISTEN") {
            self.listen = v.parse().map_err(|e| ConfigError::Env("LEITSTAND_LISTEN", format!("{e}")))?;
        }
        if let Some(v) = get("LEITSTAND_DATABASE") {
            self.database = Some(v);
        }
        if let Some(v) = get("LEITSTAND_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("LEITSTAND_BASE_URL") {
            self.base_url = Some(v);
        }
        if let Some(v) = get("LEITSTAND_SECRET_KEY") {
            self.secret_key = Some(v);
        }
        if let Some(v) = get("LEITSTAND_SECRET_KEY_FILE") {
            self.secret_key_file = Some(v.into());
        }
        if let Some(v) = get("LEITSTAND_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("LEITSTAND_MAX_BODY_BYTES") {
            self.max_body_bytes =
                v.parse().map_err(|e| ConfigError::Env("LEITSTAND_MAX_BODY_BYTES", format!("{e}")))?;
        }
        if let Some(v) = get("LEITSTAND_AGENT_BINARY") {
            self.agent_binary = Some(v.into());
        }
        if let Some(v) = get("LEITSTAND_AGENT_BATCHES_PER_SECOND") {
            self.agent_batches_per_second = v
                .parse()
                .ok()
                .filter(|r: &f64| *r > 0.0)
                .ok_or_else(|| ConfigError::Env("LEITSTAND_AGENT_BATCHES_PER_SECOND", "a number above 0".into()))?;
        }
        if let Some(v) = get("LEITSTAND_TLS") {
            self.tls = v;
        }
        if let Some(v) = get("LEITSTAND_TLS_CERT") {
            self.tls_cert = Some(v.into());
        }
        if let Some(v) = get("LEITSTAND_TLS_KEY") {
            self.tls_key = Some(v.into());
        }
        if let Some(host) = get("LEITSTAND_SMTP_HOST") {
            let from = get("LEITSTAND_SMTP_FROM")
                .ok_or_else(|| ConfigError::Env("LEITSTAND_SMTP_FROM", "needed with LEITSTAND_SMTP_HOST".into()))?;
            let port = match get("LEITSTAND_SMTP_PORT") {
                Some(p) => Some(p.parse().map_err(|e| ConfigError::Env("LEITSTAND_SMTP_PORT", format!("{e}")))?),
                None => None,
            };
            self.smtp = Some(SmtpConfig {
                host,
                port,
                security: get("LEITSTAND_SMTP_SECURITY").unwrap_or_else(default_security),
                username: get("LEITSTAND_SMTP_USERNAME"),
                password: get("LEITSTAND_SMTP_PASSWORD"),
                from,
                ca_file: get("LEITSTAND_SMTP_CA_FILE").map(Into::into),
            });
        }
        for (var, slot) in [
            ("LEITSTAND_SYSLOG_UDP", &mut self.syslog.udp),
            ("LEITSTAND_SYSLOG_TCP", &mut self.syslog.tcp),
            ("LEITSTAND_SYSLOG_TLS", &mut self.syslog.tls),
        ] {
            if let Some(v) = get(var) {
                *slot = Some(v.parse().map_err(|e| ConfigError::Env(var, format!("{e}")))?);
            }
        }
        if let Some(v) = get("LEITSTAND_VULN_FEEDS") {
            self.vuln.feeds = VulnConfig::parse_env(&v)?;
        }
        if let Some(v) = get("LEITSTAND_SYSLOG_RULE_DIRS") {
            self.syslog.rule_dirs = std::env::split_paths(&v).collect();
        }
        if let Some(url) = get("LEITSTAND_SMS_URL") {
            self.sms = Some(SmsConfig {
                url,
                method: get("LEITSTAND_SMS_METHOD").unwrap_or_else(default_method),
                body: get("LEITSTAND_SMS_BODY").unwrap_or_else(default_sms_body),
                content_type: get("LEITSTAND_SMS_CONTENT_TYPE").unwrap_or_else(default_content_type),
                authorization: get("LEITSTAND_SMS_AUTHORIZATION"),
            });
        }
        if let Some(v) = get("LEITSTAND_TRUST_FORWARDED_FOR") {
            self.trust_forwarded_for = matches!(v.as_str(), "1" | "true" | "yes");
        }
        Ok(())
    }

    /// Where the agent binary served to hosts is: the configured path, else
    /// `leitstand-agent` beside the server binary (or one directory up).
    pub fn agent_binary_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.agent_binary {
            return Some(p.clone());
        }
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        [dir.join("leitstand-agent"), dir.parent()?.join("leitstand-agent")].into_iter().find(|p| p.is_file())
    }

    /// The retention the service applies; each at least one day.
    pub fn retention(&self) -> leitstand_service::Retention {
        let days = |d: u32| jiff::SignedDuration::from_hours(i64::from(d.max(1)) * 24);
        leitstand_service::Retention {
            raw: days(self.retention_raw_days),
            minute: days(self.retention_minute_days),
            hour: days(self.retention_hour_days),
        }
    }

    pub fn base_url(&self) -> String {
        let scheme = if self.tls == "off" { "http" } else { "https" };
        self.base_url.clone().unwrap_or_else(|| format!("{scheme}://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    pub fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("leitstand.db").display()))
    }

    /// Secure cookies when people reach the server over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.base_url().starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_and_defaults() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:9000\"\nadmin_name = \"root\"").unwrap();
        assert_eq!(c.listen.port(), 9000);
        c.apply_env(|k| (k == "LEITSTAND_LISTEN").then(|| "0.0.0.0:9100".to_owned())).unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.admin_name, "root");
        assert!(c.apply_env(|k| (k == "LEITSTAND_LISTEN").then(|| "nonsense".to_owned())).is_err());
    }

    #[test]
    fn unknown_keys_are_refused_and_secrets_redacted() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let c = Config {
            secret_key: Some("00".repeat(32)),
            database: Some("postgres://u:hunter2@db/x".into()),
            ..Config::default()
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains(&"00".repeat(32)));
    }
}
