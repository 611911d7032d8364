//! The command line: `up`, `serve`, `migrate`, `admin …`, `audit verify`.

use crate::app::{serve, AppState};
use crate::config::Config;
use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand};
use leitstand_domain::SystemClock;
use leitstand_service::{Actor, NewTenantInput, NewUserInput, PlanInput, SecretKey, ServiceConfig, Services};
use leitstand_store::{Store, TenantScope};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "leitstand", version, about = "Leitstand: the platform for managed IT service providers")]
pub struct Cli {
    /// TOML configuration file; `LEITSTAND_*` variables override it.
    #[arg(long, global = true, env = "LEITSTAND_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run on the embedded SQLite database in one data directory.
    Up {
        /// Data directory (default ./leitstand-data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Listen address (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run on a database given by URL: sqlite://… or postgres://…
    Serve {
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Bring the database schema up to date and exit.
    Migrate(DbArgs),
    /// Administration from the server's shell.
    Admin {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        what: Admin,
    },
    /// The audit log.
    Audit {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        what: AuditCmd,
    },
}

#[derive(Args)]
struct DbArgs {
    /// Database URL; default: SQLite in the data directory.
    #[arg(long, global = true)]
    database: Option<String>,
    /// Data directory (default ./leitstand-data).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Admin {
    /// Tenants.
    Tenant {
        #[command(subcommand)]
        what: TenantCmd,
    },
    /// Users.
    User {
        #[command(subcommand)]
        what: UserCmd,
    },
    /// Print single-use enrollment tokens for a tenant (valid 24 h), one per line.
    EnrollToken {
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
        /// How many tokens (one host each).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Create a customer tenant.
    Create {
        name: String,
        /// Security plan: basic, advanced or professional.
        #[arg(long, default_value = "basic")]
        plan: String,
        /// SOC package: none, 1, 2 or 3.
        #[arg(long, default_value = "none")]
        soc: String,
        /// Book the Managed Service Package.
        #[arg(long)]
        managed_service: bool,
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user and print their one-time invitation link.
    Create {
        name: String,
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
        /// provider_admin, soc_analyst, support_agent, customer_admin, customer_member
        #[arg(long)]
        role: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Print a new one-time invitation link for a user.
    Invite { name: String },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain; exits non-zero when an entry was changed or removed.
    Verify,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LEITSTAND_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_format == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

fn apply_db(config: &mut Config, db: &DbArgs) {
    if let Some(d) = &db.data {
        config.data_dir = d.clone();
    }
    if let Some(u) = &db.database {
        config.database = Some(u.clone());
    }
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up { data, listen } => {
            if let Some(d) = data {
                config.data_dir = d;
            }
            if let Some(l) = listen {
                config.listen = l;
            }
            config.database = None;
            run_server(config).await
        }
        Command::Serve { database, listen, data } => {
            if let Some(d) = data {
                config.data_dir = d;
            }
            if let Some(u) = database {
                config.database = Some(u);
            }
            if let Some(l) = listen {
                config.listen = l;
            }
            run_server(config).await
        }
        Command::Migrate(db) => {
            apply_db(&mut config, &db);
            open_store(&config).await?;
            println!("database schema is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin { db, what } => {
            apply_db(&mut config, &db);
            let services = services(&config).await?;
            admin(&services, what).await
        }
        Command::Audit { db, what: AuditCmd::Verify } => {
            apply_db(&mut config, &db);
            let services = services(&config).await?;
            let report = services.verify_audit(&Actor::cli_system()).await?;
            match report.error {
                None => {
                    println!("audit log intact: {} entries, hash chain verified", report.entries);
                    Ok(ExitCode::SUCCESS)
                }
                Some(e) => {
                    println!("AUDIT LOG BROKEN: {e} ({} entries read)", report.entries);
                    Ok(ExitCode::from(3))
                }
            }
        }
    }
}

/// Opens the configured store; one clear line when it cannot.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    let store: Arc<dyn Store> = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(leitstand_store_postgres::open(&url).await.map_err(store_err)?)
    } else if url.starts_with("sqlite:") {
        if config.database.is_none() {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
        }
        Arc::new(leitstand_store_sqlite::open_url(&url).await.map_err(store_err)?)
    } else {
        return Err(anyhow!(
            "unsupported database URL {}: use sqlite://… or postgres://…",
            leitstand_store_postgres::redact(&url)
        ));
    };
    Ok(store)
}

fn store_err(e: leitstand_store::StoreError) -> anyhow::Error {
    match e {
        leitstand_store::StoreError::Unavailable(m) => anyhow!(m),
        e => anyhow!("{e}"),
    }
}

/// The server key: from the config, else from its file, made on first start.
pub fn load_key(config: &Config) -> anyhow::Result<SecretKey> {
    if let Some(hex) = &config.secret_key {
        return SecretKey::from_hex(hex).ok_or_else(|| anyhow!("secret_key must be 64 hex characters"));
    }
    let path = config.secret_key_file.clone().unwrap_or_else(|| config.data_dir.join("secret.key"));
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        return SecretKey::from_hex(&text).ok_or_else(|| anyhow!("{} does not hold 64 hex characters", path.display()));
    }
    let key = SecretKey::generate();
    write_private(&path, &key.to_hex()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

pub async fn services(config: &Config) -> anyhow::Result<Services> {
    let store = open_store(config).await?;
    let key = load_key(config)?;
    let sc = ServiceConfig {
        base_url: config.base_url(),
        retention: config.retention(),
        agent_batches_per_second: config.agent_batches_per_second,
        agent_batch_burst: config.agent_batch_burst,
        agent_release: if config.agent_upgrades { shipped_agent(config) } else { None },
        soc: leitstand_service::SocConfig {
            rule_dirs: config.syslog.rule_dirs.clone(),
            lines_per_second: config.syslog.lines_per_second,
            burst: config.syslog.burst,
        },
        vuln: leitstand_service::VulnConfig { feeds: config.vuln.specs()? },
        ..ServiceConfig::default()
    };
    Ok(Services::new(store, Arc::new(SystemClock), key, sc))
}

/// The agent build this server ships, when the binary is there.
fn shipped_agent(config: &Config) -> Option<leitstand_service::AgentRelease> {
    use sha2::Digest;
    let bytes = std::fs::read(config.agent_binary_path()?).ok()?;
    Some(leitstand_service::AgentRelease {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
    })
}

async fn run_server(config: Config) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let tls = crate::tls::prepare(&config)?;
    let services = services(&config).await?;
    let invitation = services.bootstrap(&config.provider_name, &config.admin_name).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = config.base_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
    let backend = services.store().backend();
    crate::app::spawn_workers(services.clone());
    crate::vuln::spawn(services.clone(), &config);
    crate::patch::spawn(services.clone());
    let notifier = crate::notify::Notifier::new(services.clone(), &config).context("notification settings")?;
    crate::notify::spawn(Arc::new(notifier));
    let mut state = AppState::new(services.clone(), config.clone());
    crate::syslog::start(services, &config.syslog, tls.as_ref().map(|t| t.config.clone()), state.syslog.clone())
        .await
        .context("syslog receiver")?;
    state.tls = tls.as_ref().map(|t| t.info.clone());
    tracing::info!(%addr, backend, ms = started.elapsed().as_millis() as u64, "ready");
    // The secret goes to the terminal only, never to the log. A closed
    // stdout (a supervisor that does not read it) must not stop the server.
    let mut text = format!("Leitstand is ready at {base}  (database: {backend})\n");
    if let Some(t) = &tls {
        if t.info.ca_pem.is_some() {
            let ca = config.data_dir.join("tls").join("ca.pem");
            text.push_str(&format!("HTTPS with the private CA {} (agents pin it)\n", ca.display()));
        }
        if let Some(pin) = &t.info.pin {
            text.push_str(&format!("server key pin: {pin}\n"));
        }
    }
    if let Some(inv) = invitation {
        text.push_str(&format!(
            "\nFirst start: sign in as the provider admin with this one-time link.\n\
             It is valid until {} and is shown only now:\n\n    {}\n\n",
            inv.expires_at, inv.link
        ));
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
    serve(state, listener, tls.map(|t| t.config)).await?;
    Ok(ExitCode::SUCCESS)
}

async fn find_tenant(services: &Services, key: &str) -> anyhow::Result<leitstand_store::Tenant> {
    let all = services.store().tenants(&TenantScope::All).await?;
    all.into_iter()
        .find(|t| t.name == key || t.id.0.to_string() == key)
        .ok_or_else(|| anyhow!("no tenant named or numbered {key:?}"))
}

fn invalid(e: leitstand_service::ServiceError) -> anyhow::Error {
    match e {
        leitstand_service::ServiceError::Invalid(list) => anyhow!(
            "{}",
            list.iter()
                .map(|f| format!("{}: {}", f.field, crate::i18n::tr(leitstand_domain::Lang::En, f.code)))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        e => anyhow!("{e}"),
    }
}

async fn admin(services: &Services, what: Admin) -> anyhow::Result<ExitCode> {
    let actor = services.cli_actor().await.map_err(invalid)?;
    match what {
        Admin::Tenant { what: TenantCmd::Create { name, plan, soc, managed_service, time_zone } } => {
            let input = NewTenantInput { name, plan: PlanInput { security: plan, soc, managed_service }, time_zone };
            let t = services.create_tenant(&actor, &input).await.map_err(invalid)?;
            println!("created tenant {} ({}), plan {:?}", t.id, t.name, t.plan);
        }
        Admin::Tenant { what: TenantCmd::List } => {
            for t in services.tenants(&actor).await.map_err(invalid)? {
                println!(
                    "{:>5}  {:<9} {:<30} security={} soc={} managed_service={}",
                    t.id,
                    t.kind.as_str(),
                    t.name,
                    t.plan.security.as_str(),
                    t.plan.soc.as_str(),
                    t.plan.managed_service
                );
            }
        }
        Admin::User { what: UserCmd::Create { name, tenant, role, email, display_name } } => {
            let t = find_tenant(services, &tenant).await?;
            let input =
                NewUserInput { tenant: t.id, name, display_name: display_name.unwrap_or_default(), email, role };
            let (user, inv) = services.create_user(&actor, &input).await.map_err(invalid)?;
            println!("created user {} ({}) in {}", user.id, user.name, t.name);
            println!("one-time link (valid until {}):", inv.expires_at);
            println!("    {}", inv.link);
        }
        Admin::EnrollToken { tenant, count } => {
            let t = find_tenant(services, &tenant).await?;
            let mut until = None;
            for _ in 0..count {
                let token = services.create_enroll_token(&actor, t.id).await.map_err(invalid)?;
                println!("{}", token.token);
                until = Some(token.expires_at);
            }
            eprintln!(
                "single-use token{} for {} (valid until {}); on the host: leitstand-agent enroll --server {} --token <token>",
                if count > 1 { "s" } else { "" },
                t.name,
                until.map(|u| u.to_string()).unwrap_or_default(),
                services.config().base_url
            );
        }
        Admin::User { what: UserCmd::Invite { name } } => {
            let n = leitstand_domain::UserName::parse("name", &name).map_err(|e| anyhow!("{e}"))?;
            let user = services.store().user_for_sign_in(&n).await.map_err(|_| anyhow!("no user named {name:?}"))?;
            let inv = services.invite_user(&actor, user.id).await.map_err(invalid)?;
            println!("one-time link for {} (valid until {}):", user.name, inv.expires_at);
            println!("    {}", inv.link);
        }
    }
    Ok(ExitCode::SUCCESS)
}
