//! The conformance suite: one set of checks every backend must pass. Each
//! backend's tests call [`run`] on a fresh, empty store.

use crate::*;
use leitstand_domain::host::HostStatus;
use leitstand_domain::{Role, SecurityPlan, SocPackage, TenantName};
use leitstand_proto::inventory::{Item, Listener, Package, Section, SectionReport};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// An audit draft for tests.
pub fn draft(action: &str, tenant: Option<TenantId>) -> AuditDraft {
    AuditDraft {
        at: at(0),
        actor_user: None,
        actor_name: "conformance".into(),
        tenant,
        action: action.into(),
        target: String::new(),
        source: "test".into(),
        detail: "{}".into(),
    }
}

/// A new customer tenant on the default plan, for tests.
pub fn new_tenant(name: &str) -> NewTenant {
    NewTenant {
        name: TenantName::parse("n", name).expect("tenant name"),
        plan: Plan::default(),
        time_zone: "Europe/Berlin".into(),
        at: at(1),
    }
}

fn name(s: &str) -> UserName {
    UserName::parse("name", s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Runs every check; panics with a message naming the first that fails.
pub async fn run(store: &dyn Store) {
    let (provider, admin) = bootstrap_runs_once(store).await;
    let (a, b) = tenants_are_scoped(store).await;
    users_are_scoped(store, &a, &b).await;
    invitations_are_single_use(store, &admin).await;
    sessions_and_tokens(store, &admin).await;
    totp_and_recovery_codes(store, &admin).await;
    throttle_and_settings(store).await;
    hosts_enrol_once_and_ingest_idempotently(store, &a, &b).await;
    hosts_are_listed_approved_and_rolled_up(store, &a, &b).await;
    inventories_keep_state_and_make_change_events(store, &a, &b).await;
    events_raise_alerts_grouped_per_rule_and_host(store, &a, &b).await;
    thresholds_timeline_and_outbox(store, &a, &b).await;
    soc_intake_triage_and_retention(store, &a, &b).await;
    vulnerability_scans_keep_findings_and_alarm(store, &a, &b).await;
    patch_jobs_are_ordered_sent_and_reported(store, &admin, &a, &b).await;
    audit_chain_holds(store, &provider, &a, &b).await;
    store.ping().await.expect("ping");
    store.integrity_check().await.expect("integrity check");
}

async fn bootstrap_runs_once(store: &dyn Store) -> (Tenant, User) {
    assert!(store.provider().await.expect("provider").is_none());
    let b = Bootstrap {
        provider_name: TenantName::parse("n", "Provider GmbH").expect("name"),
        admin: name("admin"),
        invite_hash: "bootstrap-invite".into(),
        invite_expires: at(3600),
        at: at(0),
    };
    let (tenant, user) = store.bootstrap(&b, &draft("setup.bootstrap", None)).await.expect("bootstrap").expect("first");
    assert_eq!(tenant.kind, TenantKind::Provider);
    assert_eq!(user.role, Role::ProviderAdmin);
    assert!(user.password_hash.is_none());
    assert!(store.bootstrap(&b, &draft("setup.bootstrap", None)).await.expect("second").is_none());
    assert_eq!(store.provider().await.expect("provider").map(|t| t.id), Some(tenant.id));
    (tenant, user)
}

async fn tenants_are_scoped(store: &dyn Store) -> (Tenant, Tenant) {
    let new = |n: &str| NewTenant {
        name: TenantName::parse("n", n).expect("name"),
        plan: Plan { security: SecurityPlan::Advanced, soc: SocPackage::P2, managed_service: true },
        time_zone: "Europe/Berlin".into(),
        at: at(1),
    };
    let a = store.create_tenant(&new("Kunde A"), &draft("tenant.create", None)).await.expect("create a");
    let b = store.create_tenant(&new("Kunde B"), &draft("tenant.create", None)).await.expect("create b");
    assert!(matches!(
        store.create_tenant(&new("Kunde A"), &draft("tenant.create", None)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(a.plan.security, SecurityPlan::Advanced);
    let only_a = TenantScope::one(a.id);
    assert!(matches!(store.tenant(&only_a, b.id).await, Err(StoreError::NotFound)), "tenant outside scope");
    let seen: Vec<_> = store.tenants(&only_a).await.expect("list").into_iter().map(|t| t.id).collect();
    assert_eq!(seen, vec![a.id]);
    assert_eq!(store.tenants(&TenantScope::All).await.expect("all").len(), 3);
    assert!(store.tenants(&TenantScope::Only(vec![])).await.expect("none").is_empty());
    let plan = Plan { security: SecurityPlan::Professional, soc: SocPackage::P3, managed_service: false };
    assert!(matches!(
        store.set_plan(&only_a, b.id, &plan, &draft("tenant.plan", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
    let changed = store.set_plan(&only_a, a.id, &plan, &draft("tenant.plan", Some(a.id))).await.expect("plan");
    assert_eq!(changed.plan, plan);
    (changed, b)
}

async fn users_are_scoped(store: &dyn Store, a: &Tenant, b: &Tenant) {
    let new = |tenant: TenantId, n: &str| NewUser {
        tenant,
        name: name(n),
        display_name: n.to_uppercase(),
        email: None,
        role: Role::CustomerAdmin,
        at: at(2),
    };
    let scope_a = TenantScope::one(a.id);
    let ua = store.create_user(&scope_a, &new(a.id, "anna"), &draft("user.create", Some(a.id))).await.expect("anna");
    assert!(
        matches!(
            store.create_user(&scope_a, &new(b.id, "bert"), &draft("user.create", Some(b.id))).await,
            Err(StoreError::NotFound)
        ),
        "creating a user in a tenant outside the scope"
    );
    let ub = store
        .create_user(&TenantScope::All, &new(b.id, "bert"), &draft("user.create", Some(b.id)))
        .await
        .expect("bert");
    assert!(matches!(
        store.create_user(&scope_a, &new(a.id, "anna"), &draft("user.create", Some(a.id))).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(store.user(&scope_a, ub.id).await, Err(StoreError::NotFound)));
    let listed: Vec<_> = store.users(&scope_a).await.expect("users").into_iter().map(|u| u.id).collect();
    assert_eq!(listed, vec![ua.id]);
    assert_eq!(store.user_for_sign_in(&name("bert")).await.expect("sign-in lookup").id, ub.id);
    store.set_disabled(&scope_a, ua.id, true, &draft("user.disable", Some(a.id))).await.expect("disable");
    assert!(store.user_for_auth(ua.id).await.expect("auth lookup").disabled);
    assert!(matches!(
        store.set_disabled(&scope_a, ub.id, true, &draft("user.disable", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
    store.set_lang(ub.id, Lang::En, &draft("user.lang", Some(b.id))).await.expect("lang");
    assert_eq!(store.user_for_auth(ub.id).await.expect("bert").lang, Some(Lang::En));
    store.set_assignments(ub.id, &[a.id, b.id], &draft("user.assign", None)).await.expect("assign");
    assert_eq!(store.assignments(ub.id).await.expect("assignments"), vec![a.id, b.id]);
}

async fn invitations_are_single_use(store: &dyn Store, admin: &User) {
    assert_eq!(store.invite("bootstrap-invite", at(10)).await.expect("invite").user, admin.id);
    assert!(matches!(store.invite("bootstrap-invite", at(4000)).await, Err(StoreError::NotFound)), "expired");
    let id = store.redeem_invite("bootstrap-invite", at(10), "hash-1", &draft("user.invite_redeemed", None)).await;
    assert_eq!(id.expect("redeem"), admin.id);
    assert!(matches!(
        store.redeem_invite("bootstrap-invite", at(11), "hash-2", &draft("user.invite_redeemed", None)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.user_for_auth(admin.id).await.expect("admin").password_hash.as_deref(), Some("hash-1"));
    let i = NewInvite { token_hash: "second".into(), user: admin.id, expires_at: at(100), created_at: at(20) };
    store.create_invite(&i, &draft("user.invite", None)).await.expect("invite again");
    store.set_password(admin.id, "hash-3", &draft("user.password", None)).await.expect("password");
}

async fn sessions_and_tokens(store: &dyn Store, admin: &User) {
    let s = NewSession {
        token_hash: "session-1".into(),
        user: admin.id,
        csrf: "csrf".into(),
        created_at: at(30),
        expires_at: at(30 + 3600),
        source: "127.0.0.1".into(),
    };
    store.create_session(&s).await.expect("session");
    store.create_session(&NewSession { token_hash: "session-2".into(), ..s.clone() }).await.expect("session 2");
    assert_eq!(store.session("session-1").await.expect("get").user, admin.id);
    store.touch_session("session-1", at(40)).await.expect("touch");
    assert_eq!(store.session("session-1").await.expect("get").last_seen, at(40));
    store.delete_user_sessions(admin.id, Some("session-1")).await.expect("others");
    assert!(matches!(store.session("session-2").await, Err(StoreError::NotFound)));
    store.delete_session("session-1").await.expect("delete");
    assert!(matches!(store.session("session-1").await, Err(StoreError::NotFound)));

    let t = NewApiToken {
        user: admin.id,
        label: "CI".into(),
        token_hash: "token-hash".into(),
        prefix: "lst_abcd".into(),
        created_at: at(50),
        expires_at: None,
    };
    let token = store.create_token(&t, &draft("token.create", None)).await.expect("token");
    assert_eq!(store.token_by_hash("token-hash", at(60)).await.expect("by hash").id, token.id);
    assert_eq!(store.tokens(admin.id).await.expect("list")[0].last_used, Some(at(60)));
    store.revoke_token(admin.id, token.id, &draft("token.revoke", None)).await.expect("revoke");
    assert!(matches!(store.token_by_hash("token-hash", at(70)).await, Err(StoreError::NotFound)));
    assert!(store.tokens(admin.id).await.expect("list").is_empty());
}

async fn totp_and_recovery_codes(store: &dyn Store, admin: &User) {
    let e = TotpEnrolment { secret_sealed: "sealed".into(), recovery_hashes: vec!["r1".into(), "r2".into()] };
    store.set_totp(admin.id, Some(&e), &draft("user.totp_enable", None)).await.expect("totp");
    let u = store.user_for_auth(admin.id).await.expect("admin");
    assert!(u.totp_enabled());
    assert_eq!(u.recovery_left, 2);
    assert!(store.use_recovery_code(admin.id, "r1", &draft("auth.recovery", None)).await.expect("r1"));
    assert!(!store.use_recovery_code(admin.id, "r1", &draft("auth.recovery", None)).await.expect("r1 again"));
    store.set_totp_last_step(admin.id, 42).await.expect("step");
    let u = store.user_for_auth(admin.id).await.expect("admin");
    assert_eq!((u.recovery_left, u.totp_last_step), (1, 42));
    store.set_totp(admin.id, None, &draft("user.totp_disable", None)).await.expect("off");
    assert!(!store.user_for_auth(admin.id).await.expect("admin").totp_enabled());
}

async fn throttle_and_settings(store: &dyn Store) {
    for s in 0..3 {
        store.record_failure("user:anna", at(100 + s)).await.expect("failure");
    }
    assert_eq!(store.failures_since("user:anna", at(101)).await.expect("count"), 2);
    store.clear_failures("user:anna").await.expect("clear");
    assert_eq!(store.failures_since("user:anna", at(0)).await.expect("count"), 0);
    assert_eq!(store.setting("totp.required_for_staff").await.expect("get"), None);
    store.set_setting("totp.required_for_staff", "true", &draft("policy.set", None)).await.expect("set");
    store.set_setting("totp.required_for_staff", "false", &draft("policy.set", None)).await.expect("set again");
    assert_eq!(store.setting("totp.required_for_staff").await.expect("get").as_deref(), Some("false"));
}

fn sample(name: &str, at_s: i64, value: f64) -> StoredSample {
    StoredSample { name: name.into(), labels: "{\"cpu\":\"total\"}".into(), at: at(at_s), value }
}

async fn hosts_enrol_once_and_ingest_idempotently(store: &dyn Store, a: &Tenant, b: &Tenant) {
    let token = NewEnrollToken { tenant: a.id, token_hash: "enrol-a".into(), created_at: at(0), expires_at: at(600) };
    store.create_enroll_token(&token, &draft("host.enroll_token", Some(a.id))).await.expect("token");
    let late = NewEnrollToken { token_hash: "enrol-late".into(), expires_at: at(5), ..token.clone() };
    store.create_enroll_token(&late, &draft("host.enroll_token", Some(a.id))).await.expect("token");
    let new = |key: &str| NewHost { name: "web-01".into(), os: "Debian 12".into(), public_key: key.into(), at: at(10) };
    let host = store.enroll("enrol-a", &new("key-1"), &draft("host.enroll", None)).await.expect("enrol");
    assert_eq!(host.tenant, a.id, "the token binds the host to its tenant");
    assert!(matches!(
        store.enroll("enrol-a", &new("key-2"), &draft("host.enroll", None)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.enroll("enrol-late", &new("key-3"), &draft("host.enroll", None)).await,
        Err(StoreError::NotFound)
    ));
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    assert!(matches!(store.host(&sb, host.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.hosts(&sa).await.expect("hosts").len(), 1);
    assert!(store.hosts(&sb).await.expect("hosts").is_empty());

    assert!(store.use_nonce(host.id, "n1", at(20), at(0)).await.expect("nonce"));
    assert!(!store.use_nonce(host.id, "n1", at(21), at(0)).await.expect("replay"), "a nonce works once");
    assert!(store.use_nonce(host.id, "n1", at(400), at(100)).await.expect("forgotten"));

    let batch = IngestBatch {
        host: host.id,
        records: vec![(1, vec![sample("cpu", 30, 10.0)]), (2, vec![sample("cpu", 40, 20.0), sample("load1", 40, 0.5)])],
        at: at(41),
        sequenced: true,
        max_series: 3,
        glance: None,
        address: None,
        agent: None,
        inventory: vec![],
        events: vec![],
        checklist: None,
        action_reports: vec![],
    };
    assert_eq!(store.ingest(&batch).await.expect("ingest").up_to, 2);
    assert_eq!(store.ingest(&batch).await.expect("retry").up_to, 2, "a retried batch is acknowledged again");
    let again = IngestBatch {
        records: vec![(2, vec![sample("cpu", 40, 99.0)]), (3, vec![sample("cpu", 50, 30.0)])],
        ..batch.clone()
    };
    assert_eq!(store.ingest(&again).await.expect("overlap").up_to, 3);
    // Two series exist; the limit of three lets one more in and refuses the rest.
    let wide = IngestBatch {
        records: vec![(4, vec![sample("new_a", 60, 1.0), sample("new_b", 60, 2.0), sample("new_c", 60, 3.0)])],
        ..batch.clone()
    };
    let o = store.ingest(&wide).await.expect("wide");
    assert_eq!((o.up_to, o.refused_series), (4, 2));
    assert_eq!(store.metric_names(&sa, host.id).await.expect("names"), vec!["cpu", "load1", "new_a"]);
    // Pushed samples carry no sequence and do not move the acknowledgement.
    let pushed = IngestBatch { records: vec![(0, vec![sample("cpu", 70, 40.0)])], sequenced: false, ..batch };
    assert_eq!(store.ingest(&pushed).await.expect("push").up_to, 4);
    let cpu = store.samples(&sa, host.id, "cpu", at(0), at(100)).await.expect("samples");
    let values: Vec<f64> = cpu.iter().map(|s| s.value).collect();
    assert_eq!(values, vec![10.0, 20.0, 30.0, 40.0], "no duplicates, no rewrites");
    assert!(store.samples(&sb, host.id, "cpu", at(0), at(100)).await.expect("other tenant").is_empty());

    // Down once after the silence, up again when heard.
    // Last heard at 41 s; ten-second interval: silence allowed up to 101 s.
    assert!(store.mark_down(at(100)).await.expect("sweep").is_empty(), "not yet");
    let down = store.mark_down(at(110)).await.expect("sweep");
    assert_eq!(down.iter().map(|e| (e.host, e.kind.as_str())).collect::<Vec<_>>(), vec![(host.id, "host.down")]);
    assert!(store.mark_down(at(115)).await.expect("again").is_empty(), "marked once");
    let heard = IngestBatch {
        host: host.id,
        records: vec![(5, vec![sample("load1", 120, 1.0)])],
        at: at(120),
        sequenced: true,
        max_series: 3,
        glance: None,
        address: None,
        agent: None,
        inventory: vec![],
        events: vec![],
        checklist: None,
        action_reports: vec![],
    };
    store.ingest(&heard).await.expect("heard");
    let events = store.host_events(&sa, host.id, 10).await.expect("events");
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), vec!["host.up", "host.down"]);
    assert!(events[0].detail.contains("down_for_seconds"));
    assert!(store.host_events(&sb, host.id, 10).await.expect("other tenant").is_empty());
    assert_eq!(
        store.delete_samples_before(Resolution::Raw, at(35)).await.expect("retention"),
        1,
        "only the sample at 30 s was older"
    );
    assert!(store.host_for_agent(host.id).await.expect("host").last_seen.is_some());

    assert!(matches!(
        store.revoke_host(&sb, host.id, &draft("host.revoke", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
    store.revoke_host(&sa, host.id, &draft("host.revoke", Some(a.id))).await.expect("revoke");
    assert!(store.host_for_agent(host.id).await.expect("host").revoked);
}

fn report(section: Section, full: bool, items: Vec<Item>, removed: &[&str]) -> SectionReport {
    SectionReport {
        section,
        full,
        items,
        removed: removed.iter().map(|r| (*r).to_owned()).collect(),
        error: None,
        truncated: 0,
        more: false,
    }
}

fn package(name: &str, version: &str) -> Item {
    Item::Package(Package {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source: String::new(),
        source_version: String::new(),
        origin: String::new(),
        manager: "dpkg".into(),
    })
}

fn listener(port: u16) -> Item {
    Item::Listener(Listener { protocol: "tcp".into(), address: "0.0.0.0".into(), port, pid: None, process: "d".into() })
}

async fn inventories_keep_state_and_make_change_events(store: &dyn Store, a: &Tenant, b: &Tenant) {
    let host = enrolled(store, a, "inv-01").await;
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    let send = |seq: u64, at_s: i64, reports: Vec<SectionReport>| IngestBatch {
        inventory: vec![InventoryUpdate { seq, at: at(at_s), reports }],
        ..batch_at(host.id, seq, vec![], at_s)
    };
    // The first snapshot is the baseline: state, no events.
    let first = send(
        1,
        20,
        vec![
            report(Section::Software, true, vec![package("curl", "7.88"), package("vim", "9.0")], &[]),
            report(Section::Ports, true, vec![listener(22)], &[]),
        ],
    );
    store.ingest(&first).await.expect("snapshot");
    store.ingest(&first).await.expect("retry");
    let sa_ref = &sa;
    let events = |q: EventQuery| async move { store.events_page(sa_ref, &q).await.expect("events") };
    let all = EventQuery { host: Some(host.id), per_page: 50, ..EventQuery::default() };
    assert_eq!(events(all.clone()).await.total, 0, "a baseline makes no events");
    let page = |section: &str, text: Option<&str>| InventoryQuery {
        section: section.into(),
        text: text.map(str::to_owned),
        page: 0,
        per_page: 50,
    };
    let sw = store.inventory_page(&sa, host.id, &page("software", None)).await.expect("software");
    assert_eq!(sw.items.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(), ["curl:amd64", "vim:amd64"]);
    assert_eq!(store.inventory_page(&sa, host.id, &page("software", Some("VI"))).await.expect("search").total, 1);
    assert_eq!(store.inventory_page(&sb, host.id, &page("software", None)).await.expect("other").total, 0);

    // A delta: one update, one install, one removal, a new port.
    let delta = send(
        2,
        30,
        vec![
            report(Section::Software, false, vec![package("curl", "7.89"), package("nginx", "1.22")], &["vim:amd64"]),
            report(Section::Ports, false, vec![listener(3389)], &[]),
        ],
    );
    store.ingest(&delta).await.expect("delta");
    store.ingest(&delta).await.expect("retried delta is not applied twice");
    let e = events(all.clone()).await;
    let mut kinds: Vec<&str> = e.events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["port.opened", "software.installed", "software.removed", "software.updated"]);
    let updated = e.events.iter().find(|e| e.kind == "software.updated").expect("updated");
    assert!(updated.detail.contains("7.89"), "{}", updated.detail);
    let sw_only = EventQuery { kinds: vec!["software.".into()], ..all.clone() };
    assert_eq!(events(sw_only).await.total, 3);
    let old = EventQuery { until: Some(at(25)), ..all.clone() };
    assert_eq!(events(old).await.total, 0);
    assert_eq!(store.events_page(&sb, &all).await.expect("other tenant").total, 0);

    // A full snapshot in two parts removes only what neither part had.
    let part = |more| SectionReport { more, ..report(Section::Software, true, vec![package("curl", "7.89")], &[]) };
    let second = SectionReport { items: vec![package("nginx", "1.22")], ..part(false) };
    store.ingest(&send(3, 40, vec![part(true)])).await.expect("part one");
    assert_eq!(store.inventory_page(&sa, host.id, &page("software", None)).await.expect("mid").total, 2);
    store.ingest(&send(4, 40, vec![second])).await.expect("part two");
    assert_eq!(store.inventory_page(&sa, host.id, &page("software", None)).await.expect("after").total, 2);
    assert_eq!(events(all.clone()).await.total, 4, "nothing new");

    // Across hosts: who has port 3389 open, who has curl.
    let by_port = InventorySearch { section: "ports".into(), name: None, port: Some(3389), limit: 100 };
    let found = store.find_inventory(&sa, &by_port).await.expect("port");
    assert_eq!(found.iter().map(|f| f.host_name.as_str()).collect::<Vec<_>>(), ["inv-01"]);
    assert!(store.find_inventory(&sb, &by_port).await.expect("other tenant").is_empty());
    let by_name = InventorySearch { section: "software".into(), name: Some("CURL".into()), port: None, limit: 100 };
    assert_eq!(store.find_inventory(&sa, &by_name).await.expect("name").len(), 1);

    // A failing collector keeps the last state and shows its error.
    let broken = SectionReport {
        error: Some("users: /etc/passwd: denied".into()),
        ..report(Section::Users, false, vec![], &[])
    };
    store.ingest(&send(5, 50, vec![broken])).await.expect("error report");
    let sections = store.inventory_sections(&sa, host.id).await.expect("sections");
    let users = sections.iter().find(|s| s.section == "users").expect("users");
    assert!(users.error.as_deref().is_some_and(|e| e.contains("passwd")) && users.updated_at.is_none());
    let software = sections.iter().find(|s| s.section == "software").expect("software");
    assert_eq!((software.items, software.error.as_deref()), (2, None));
    assert!(store.inventory_sections(&sb, host.id).await.expect("other").is_empty());

    // Checklist results replace the ones before.
    let check = |id: &str, result: &str| StoredCheck {
        id: id.into(),
        result: result.into(),
        evidence: format!("{id} seen"),
        checked_at: at(60),
    };
    let mut batch = send(6, 60, vec![]);
    batch.checklist = Some(ChecklistUpdate {
        seq: 6,
        at: at(60),
        results: vec![check("a", "pass"), check("b", "fail"), check("c", "pass")],
    });
    store.ingest(&batch).await.expect("checklist");
    let mut batch = send(7, 70, vec![]);
    batch.checklist = Some(ChecklistUpdate {
        seq: 7,
        at: at(70),
        results: vec![check("a", "pass"), check("b", "pass"), check("d", "not_applicable")],
    });
    store.ingest(&batch).await.expect("newer checklist");
    let got = store.checklist(&sa, host.id).await.expect("checklist");
    assert_eq!(
        got.iter().map(|c| (c.id.as_str(), c.result.as_str())).collect::<Vec<_>>(),
        [("a", "pass"), ("b", "pass"), ("d", "not_applicable")]
    );
    let counts = store.checklist_counts(&sa).await.expect("counts");
    let mine = counts.iter().find(|c| c.host == host.id).expect("host counted");
    assert_eq!((mine.pass, mine.fail, mine.not_applicable, mine.error), (2, 0, 1, 0));
    assert!(store.checklist(&sb, host.id).await.expect("other").is_empty());
    assert!(store.checklist_counts(&sb).await.expect("other").iter().all(|c| c.host != host.id));
}

async fn events_raise_alerts_grouped_per_rule_and_host(store: &dyn Store, a: &Tenant, b: &Tenant) {
    use leitstand_domain::alert::{AlertState, RuleKind, Severity};
    let host = enrolled(store, a, "alert-01").await;
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    let rules = [
        NewAlertRule {
            key: Some("user-created".into()),
            name: "user-created".into(),
            severity: Severity::Medium,
            kind: RuleKind::Event { kinds: vec!["user.created".into()] },
            imminent: false,
        },
        NewAlertRule {
            key: Some("failed-login".into()),
            name: "failed-login".into(),
            severity: Severity::Low,
            kind: RuleKind::Event { kinds: vec!["auth.".into()] },
            imminent: false,
        },
    ];
    assert_eq!(store.ensure_rules(a.id, &rules, at(0)).await.expect("rules"), 2);
    assert_eq!(store.ensure_rules(a.id, &rules, at(1)).await.expect("again"), 0, "added once");
    let stored = store.alert_rules(&sa, a.id).await.expect("rules");
    assert_eq!(stored.len(), 2);
    assert!(store.alert_rules(&sb, a.id).await.expect("other").is_empty());

    let event = |seq: u64, at_s: i64, kind: &str| IngestBatch {
        events: vec![(seq, vec![NewHostEvent { at: at(at_s), kind: kind.into(), detail: format!("{{\"n\":{seq}}}") }])],
        ..batch_at(host.id, seq, vec![], at_s)
    };
    store.ingest(&event(1, 20, "auth.login_failed")).await.expect("one");
    store.ingest(&event(1, 20, "auth.login_failed")).await.expect("retry counts nothing");
    store.ingest(&event(2, 30, "auth.login_failed")).await.expect("two");
    store.ingest(&event(3, 40, "user.created")).await.expect("three");
    store.ingest(&event(4, 45, "software.installed")).await.expect("no rule");
    let q = AlertQuery { host: Some(host.id), limit: 50, ..AlertQuery::default() };
    let alerts = store.alerts(&sa, &q).await.expect("alerts");
    assert_eq!(
        alerts.iter().map(|x| (x.severity, x.count, x.state)).collect::<Vec<_>>(),
        [(Severity::Medium, 1, AlertState::Open), (Severity::Low, 2, AlertState::Open)],
        "most severe first; repeats counted on one alert"
    );
    assert_eq!(alerts[1].detail, "{\"n\":2}", "the newest occurrence's facts");
    assert!(store.alerts(&sb, &q).await.expect("other").is_empty());

    // Resolved: the next occurrence opens a new alert.
    let failed = alerts[1].id;
    let done = store
        .set_alert_state(&sa, failed, AlertState::Resolved, None, at(50), &draft("alert.resolve", Some(a.id)))
        .await
        .expect("resolve");
    assert_eq!((done.state, done.resolved_at), (AlertState::Resolved, Some(at(50))));
    assert!(matches!(
        store.set_alert_state(&sb, failed, AlertState::Open, None, at(51), &draft("alert.open", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
    store.ingest(&event(5, 60, "auth.invalid_user")).await.expect("again");
    let open = AlertQuery { states: vec![AlertState::Open], ..q.clone() };
    let now_open = store.alerts(&sa, &open).await.expect("open");
    assert_eq!(now_open.len(), 2);
    assert!(now_open.iter().all(|x| x.id != failed));

    // A rule switched off raises nothing.
    let rule = stored.iter().find(|r| r.key.as_deref() == Some("user-created")).expect("rule");
    let off =
        store.set_rule_flags(&sa, rule.id, false, true, &draft("alert_rule.update", Some(a.id))).await.expect("off");
    assert!(!off.enabled);
    store.ingest(&event(6, 70, "user.created")).await.expect("four");
    let created = store.alerts(&sa, &q).await.expect("alerts");
    assert_eq!(created.iter().find(|x| x.rule == rule.id).map(|x| x.count), Some(1), "not counted while off");
}

async fn thresholds_timeline_and_outbox(store: &dyn Store, a: &Tenant, b: &Tenant) {
    use leitstand_domain::alert::{Direction, RuleKind, Severity};
    use leitstand_domain::notify::{Channel, Policy};
    let host = enrolled(store, a, "disk-01").await;
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    let rule = NewAlertRule {
        key: Some("disk-full".into()),
        name: "disk-full".into(),
        severity: Severity::Critical,
        kind: RuleKind::Threshold {
            metric: "fs_used_percent".into(),
            labels: [("mount".to_owned(), "/".to_owned())].into(),
            direction: Direction::Above,
            value: 99.0,
            for_secs: 60,
            recover: 95.0,
        },
        imminent: true,
    };
    store.ensure_rules(a.id, &[rule], at(0)).await.expect("rule");
    let fs = |at_s: i64, v: f64, mount: &str| StoredSample {
        name: "fs_used_percent".into(),
        labels: format!("{{\"mount\":\"{mount}\"}}"),
        at: at(at_s),
        value: v,
    };
    store.ingest(&batch_at(host.id, 1, vec![fs(100, 100.0, "/"), fs(100, 100.0, "/var")], 100)).await.expect("one");
    let disk = AlertQuery { host: Some(host.id), limit: 10, ..AlertQuery::default() };
    assert!(store.alerts(&sa, &disk).await.expect("none").is_empty(), "not a minute yet; /var is not watched");
    store.ingest(&batch_at(host.id, 2, vec![fs(130, 99.5, "/")], 130)).await.expect("two");
    store.ingest(&batch_at(host.id, 2, vec![fs(130, 99.5, "/")], 130)).await.expect("retry changes nothing");
    store.ingest(&batch_at(host.id, 3, vec![fs(160, 99.9, "/")], 160)).await.expect("three");
    let open = store.alerts(&sa, &disk).await.expect("open");
    assert_eq!(open.len(), 1, "fired after a minute (trackers kept between batches)");
    let alert = open[0].clone();
    assert_eq!((alert.flag, alert.host_name.as_deref()), (Some(AlertFlag::Imminent), Some("disk-01")));
    assert!(store.alerts(&sb, &disk).await.expect("b").is_empty());
    let first_note = store.latest_note(&sa).await.expect("latest");
    assert!(first_note > 0);
    assert_eq!(store.latest_note(&sb).await.expect("b latest"), 0, "notes are scoped");

    // Timeline: a comment and an assignment, audited, scoped.
    let note = store
        .add_note(&sa, alert.id, NoteKind::Comment, "Platte voll", at(170), &draft("alert.comment", Some(a.id)))
        .await
        .expect("note");
    assert_eq!(note.body, "Platte voll");
    assert!(store.add_note(&sb, alert.id, NoteKind::Comment, "x", at(170), &draft("x", Some(b.id))).await.is_err());
    let kinds: Vec<String> =
        store.alert_notes(&sa, alert.id).await.expect("notes").into_iter().map(|n| n.kind).collect();
    assert_eq!(kinds, ["opened", "flagged", "comment"]);
    let q = AlertQuery { noted_after: Some(first_note), limit: 10, ..AlertQuery::default() };
    assert_eq!(store.alerts(&sa, &q).await.expect("changed").len(), 1, "the live stream sees the comment");

    // Policy and contacts, scoped.
    assert_eq!(store.notify_policy(&sa, a.id).await.expect("default"), Policy::default());
    let quiet = Policy { quiet: Some((1320, 420)), escalate_after_mins: 15, unanswered_hours: 48 };
    store.set_notify_policy(&sa, a.id, &quiet, &draft("notify.policy", Some(a.id))).await.expect("policy");
    assert_eq!(store.notify_policy(&sa, a.id).await.expect("policy"), quiet);
    assert!(store.set_notify_policy(&sb, a.id, &quiet, &draft("x", Some(b.id))).await.is_err());
    let contact = NewContact {
        name: "Bereitschaft".into(),
        channel: Channel::Webhook,
        address: "https://hooks.example/x".into(),
        language: Lang::De,
        min_severity: Severity::High,
        rules: vec![alert.rule],
        level: 0,
        enabled: true,
        secret: Some("ab".repeat(32)),
    };
    let c = store.save_contact(&sa, a.id, None, &contact, at(180), &draft("notify.contact_create", Some(a.id))).await;
    let c = c.expect("contact");
    assert_eq!((c.rules.clone(), c.secret.clone()), (vec![alert.rule], Some("ab".repeat(32))));
    let renamed = NewContact { name: "Nacht".into(), secret: None, ..contact.clone() };
    let d = draft("notify.contact_update", Some(b.id));
    assert!(store.save_contact(&sb, b.id, Some(c.id), &renamed, at(181), &d).await.is_err(), "B cannot change A's");
    let d = draft("notify.contact_update", Some(a.id));
    let c2 = store.save_contact(&sa, a.id, Some(c.id), &renamed, at(181), &d).await.expect("renamed");
    assert_eq!((c2.name.as_str(), c2.secret.is_some()), ("Nacht", true), "the key stays");
    assert!(store.contacts(&sb, a.id).await.expect("b").is_empty());

    // The outbox: queued once per level, leased, failed with retry, sent.
    let fresh = store.open_alerts(true, 100).await.expect("new");
    assert!(fresh.iter().any(|x| x.id == alert.id));
    assert!(store.queue_notifications(&alert, 0, &[(c.id, at(200))], &[], at(200)).await.expect("queue"));
    assert!(!store.queue_notifications(&alert, 0, &[(c.id, at(200))], &[], at(200)).await.expect("again"));
    assert!(!store.open_alerts(true, 100).await.expect("new").iter().any(|x| x.id == alert.id));
    assert!(store.claim_notifications(at(199), at(400), 10).await.expect("early").is_empty(), "not due yet");
    let taken = store.claim_notifications(at(200), at(400), 10).await.expect("claim");
    assert_eq!(taken.len(), 1);
    assert!(store.claim_notifications(at(201), at(400), 10).await.expect("leased").is_empty(), "leased");
    let ids = [taken[0].id];
    store.notifications_failed(&ids, "smtp: refused", Some(at(230)), at(201)).await.expect("failed");
    let pending = NotificationQuery { state: Some(NotificationState::Pending), limit: 10, ..Default::default() };
    let log = store.notifications(&sa, &pending).await.expect("log");
    assert_eq!((log[0].attempts, log[0].last_error.as_deref()), (1, Some("smtp: refused")));
    assert!(store.notifications(&sb, &pending).await.expect("b log").is_empty());
    store.notifications_held(&ids, at(240)).await.expect("held");
    assert!(store.claim_notifications(at(235), at(500), 10).await.expect("held").is_empty());
    let again = store.claim_notifications(at(240), at(500), 10).await.expect("again");
    store.notifications_sent(&[again[0].id], at(241)).await.expect("sent");
    assert_eq!(store.messages_sent_since(c.id, at(0)).await.expect("count"), 1);
    assert_eq!(store.messages_sent_since(c.id, at(300)).await.expect("later"), 0);
    assert!(!store.flag_alert(&alert, AlertFlag::Unanswered, at(250)).await.expect("flag"), "flagged once");

    // Recovery below 95 % resolves it; the trend counts it on its day.
    store.ingest(&batch_at(host.id, 4, vec![fs(300, 90.0, "/")], 300)).await.expect("recover");
    assert!(store
        .alerts(&sa, &AlertQuery { states: vec![leitstand_domain::alert::AlertState::Open], ..disk.clone() })
        .await
        .expect("open")
        .is_empty());
    let trend = store.alert_trend(&sa, at(0), 3_600_000).await.expect("trend");
    assert!(trend.iter().any(|(_, s, n)| *s == Severity::Critical && *n >= 1), "{trend:?}");
    assert!(store.alert_trend(&sb, at(0), 0).await.expect("b trend").is_empty());
    assert!(!store.event_trend(&sa, at(0), 0).await.expect("events").is_empty());
}

/// A host of tenant `t`, enrolled with a token of its own.
async fn enrolled(store: &dyn Store, t: &Tenant, name: &str) -> Host {
    let hash = format!("enrol-{name}");
    let token = NewEnrollToken { tenant: t.id, token_hash: hash.clone(), created_at: at(0), expires_at: at(600) };
    store.create_enroll_token(&token, &draft("host.enroll_token", Some(t.id))).await.expect("token");
    let new = NewHost { name: name.into(), os: "Debian 12".into(), public_key: format!("key-{name}"), at: at(10) };
    store.enroll(&hash, &new, &draft("host.enroll", None)).await.expect("enrol")
}

fn batch_at(host: HostId, seq: u64, samples: Vec<StoredSample>, at_s: i64) -> IngestBatch {
    IngestBatch {
        host,
        records: vec![(seq, samples)],
        at: at(at_s),
        sequenced: true,
        max_series: 100,
        glance: None,
        address: None,
        agent: None,
        inventory: vec![],
        events: vec![],
        checklist: None,
        action_reports: vec![],
    }
}

async fn hosts_are_listed_approved_and_rolled_up(store: &dyn Store, a: &Tenant, b: &Tenant) {
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    // Tenant B approves new hosts and collects every 60 s.
    let policy = HostPolicy { interval_secs: 60, require_approval: true };
    assert!(matches!(
        store.set_host_policy(&sa, b.id, &policy, &draft("host.policy", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
    store.set_host_policy(&sb, b.id, &policy, &draft("host.policy", Some(b.id))).await.expect("policy");
    assert_eq!(store.host_policy(&sb, b.id).await.expect("policy"), policy);
    assert_eq!(store.host_policy(&sa, a.id).await.expect("default"), HostPolicy::default());
    let mut ids = vec![];
    for (i, name) in ["db-02", "Web-10", "web-03"].iter().enumerate() {
        let tenant = if i == 0 { b.id } else { a.id };
        let hash = format!("list-{i}");
        let t = NewEnrollToken { tenant, token_hash: hash.clone(), created_at: at(0), expires_at: at(600) };
        store.create_enroll_token(&t, &draft("host.enroll_token", Some(tenant))).await.expect("token");
        let new =
            NewHost { name: (*name).into(), os: "Debian 12".into(), public_key: format!("list-key-{i}"), at: at(1) };
        ids.push(store.enroll(&hash, &new, &draft("host.enroll", None)).await.expect("enrol"));
    }
    let (pending, web10, web03) = (&ids[0], &ids[1], &ids[2]);
    assert!(pending.pending, "tenant B approves new hosts");
    assert_eq!(pending.effective_interval_secs, 60);
    assert!(!web10.pending);
    assert_eq!(web10.effective_interval_secs, leitstand_domain::host::DEFAULT_INTERVAL_SECS);

    let glance = Glance { cpu_percent: Some(90.0), mem_percent: Some(20.0), disk_percent: None };
    let mut b1 = batch_at(web10.id, 1, vec![sample("cpu", 30, 1.0)], 30);
    b1.glance = Some(glance);
    b1.address = Some("192.0.2.10".into());
    b1.agent = Some(("0.1.0".into(), "ab".repeat(32)));
    store.ingest(&b1).await.expect("ingest");
    let seen = store.host(&sa, web10.id).await.expect("host");
    assert_eq!((seen.glance, seen.address.as_deref()), (glance, Some("192.0.2.10")));
    assert_eq!(seen.agent_version.as_deref(), Some("0.1.0"));
    assert_eq!(seen.agent_sha256, Some("ab".repeat(32)));
    // A batch without figures keeps the last ones.
    store.ingest(&batch_at(web10.id, 2, vec![], 31)).await.expect("ingest");
    assert_eq!(store.host(&sa, web10.id).await.expect("host").glance, glance);

    let q = |text: Option<&str>, status, sort| HostQuery {
        text: text.map(str::to_owned),
        status,
        sort,
        page: 0,
        per_page: 10,
        now: Some(at(40)),
    };
    let names = |p: HostPage| p.hosts.into_iter().map(|h| h.name).collect::<Vec<_>>();
    let all = store.host_page(&TenantScope::All, &q(None, None, HostSort::Name)).await.expect("page");
    let mine: Vec<String> =
        names(all).into_iter().filter(|n| ["db-02", "Web-10", "web-03"].contains(&n.as_str())).collect();
    assert_eq!(mine, vec!["db-02", "web-03", "Web-10"], "by name, case-blind");
    let web = store.host_page(&sa, &q(Some("WEB-1"), None, HostSort::Name)).await.expect("filter");
    assert_eq!((web.total, names(web)), (1, vec!["Web-10".to_owned()]));
    let by_addr = store.host_page(&sa, &q(Some("192.0.2"), None, HostSort::Name)).await.expect("address");
    assert_eq!(names(by_addr), vec!["Web-10"]);
    let literal = store.host_page(&sa, &q(Some("web_"), None, HostSort::Name)).await.expect("literal _");
    assert_eq!(literal.total, 0, "_ is matched literally");
    let up = store.host_page(&sa, &q(None, Some(HostStatus::Up), HostSort::Name)).await.expect("up");
    assert_eq!(names(up), vec!["Web-10"]);
    let waiting = store.host_page(&sa, &q(None, Some(HostStatus::Waiting), HostSort::Name)).await.expect("waiting");
    assert!(names(waiting).contains(&"web-03".to_owned()));
    let pend = store.host_page(&sb, &q(None, Some(HostStatus::Pending), HostSort::Name)).await.expect("pending");
    assert_eq!(names(pend), vec!["db-02"]);
    let by_cpu = store.host_page(&sa, &q(Some("web"), None, HostSort::Cpu)).await.expect("cpu");
    assert_eq!(names(by_cpu), vec!["Web-10", "web-01", "web-03"], "highest first, unknown last");
    let paged = store
        .host_page(&sa, &HostQuery { per_page: 1, page: 1, ..q(Some("web"), None, HostSort::Name) })
        .await
        .expect("page 2");
    assert_eq!((paged.total, names(paged)), (3, vec!["web-03".to_owned()]));
    let counts = store.host_counts(&sb, at(40)).await.expect("counts");
    assert_eq!((counts.total, counts.pending, counts.up), (1, 1, 0));
    let later = store.host_counts(&sa, at(200)).await.expect("counts");
    assert!(later.down >= 1 && later.up == 0, "silent past the allowed silence: {later:?}");

    assert!(matches!(
        store.approve_host(&sa, pending.id, &draft("host.approve", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
    store.approve_host(&sb, pending.id, &draft("host.approve", Some(b.id))).await.expect("approve");
    assert!(!store.host(&sb, pending.id).await.expect("host").pending);
    assert!(matches!(
        store.approve_host(&sb, pending.id, &draft("host.approve", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
    store.set_host_interval(&sa, web03.id, Some(30), &draft("host.interval", Some(a.id))).await.expect("interval");
    let h = store.host(&sa, web03.id).await.expect("host");
    assert_eq!((h.interval_secs, h.effective_interval_secs), (Some(30), 30));
    assert!(matches!(
        store.set_host_interval(&sb, web03.id, None, &draft("host.interval", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));

    // Rollups: minutes from samples, hours from minutes; again is the same.
    let base = at(0).as_second();
    let h0 = (base / 3600 + 10) * 3600 - base; // at(h0) starts an hour
    let samples = vec![sample("temp", h0 + 5, 10.0), sample("temp", h0 + 50, 20.0), sample("temp", h0 + 65, 60.0)];
    store.ingest(&batch_at(web03.id, 1, samples, h0 + 70)).await.expect("ingest");
    assert!(store.roll_up(100).await.expect("roll up") >= 1);
    assert_eq!(store.roll_up(100).await.expect("nothing left"), 0);
    let range = (at(h0 - 60), at(h0 + 7200));
    let minutes = store.rollups(&sa, web03.id, "temp", Resolution::Minute, range.0, range.1).await.expect("minutes");
    let m: Vec<(i64, u64, f64, f64, f64)> =
        minutes.iter().map(|r| (r.at.as_second() - base, r.count, r.mean, r.min, r.max)).collect();
    assert_eq!(m, vec![(h0, 2, 15.0, 10.0, 20.0), (h0 + 60, 1, 60.0, 60.0, 60.0)]);
    // A late sample for the first minute arrives: both buckets follow.
    store.ingest(&batch_at(web03.id, 2, vec![sample("temp", h0 + 30, 30.0)], h0 + 80)).await.expect("late");
    store.roll_up(100).await.expect("roll up");
    let hours = store.rollups(&sa, web03.id, "temp", Resolution::Hour, range.0, range.1).await.expect("hours");
    assert_eq!(hours.len(), 1);
    assert_eq!((hours[0].count, hours[0].mean, hours[0].min, hours[0].max), (4, 30.0, 10.0, 60.0));
    let raw = store.rollups(&sa, web03.id, "temp", Resolution::Raw, range.0, range.1).await.expect("raw");
    assert_eq!(raw.len(), 4);
    assert!(store.rollups(&sb, web03.id, "temp", Resolution::Hour, range.0, range.1).await.expect("b").is_empty());
    assert!(store.delete_samples_before(Resolution::Minute, at(h0 + 60)).await.expect("minutes") >= 1);
    let kept = store.rollups(&sa, web03.id, "temp", Resolution::Minute, range.0, range.1).await.expect("minutes");
    assert_eq!(kept.iter().map(|r| r.at.as_second() - base).collect::<Vec<_>>(), vec![h0 + 60]);
    assert!(store.delete_samples_before(Resolution::Hour, at(h0 + 1)).await.expect("hours") >= 1);
    assert!(store.rollups(&sa, web03.id, "temp", Resolution::Hour, range.0, range.1).await.expect("h").is_empty());
    assert_eq!(store.rollups(&sa, web03.id, "temp", Resolution::Raw, range.0, range.1).await.expect("raw").len(), 4);
    // Values keep every bit, whatever their size (-0 comes back as 0).
    let values = [1e300, -0.5, 1e-7, 123_456_789.125, 5.0, f64::MIN_POSITIVE, -1.5e-300];
    let odd: Vec<StoredSample> =
        values.iter().enumerate().map(|(i, v)| sample("odd", h0 + 100 + i as i64, *v)).collect();
    store.ingest(&batch_at(web03.id, 3, odd, h0 + 200)).await.expect("odd values");
    let back = store.samples(&sa, web03.id, "odd", range.0, range.1).await.expect("read");
    assert_eq!(back.iter().map(|s| s.value.to_bits()).collect::<Vec<_>>(), values.map(f64::to_bits).to_vec());
}

async fn audit_chain_holds(store: &dyn Store, provider: &Tenant, a: &Tenant, b: &Tenant) {
    store.append_audit(&draft("auth.sign_in_failed", None)).await.expect("append");
    let (chain, head) = store.audit_chain().await.expect("chain");
    assert!(chain.len() > 15, "every change above wrote an entry, got {}", chain.len());
    let head = head.expect("head");
    assert_eq!(leitstand_domain::audit::verify_chain(&chain, Some((head.0, head.1.as_str()))), Ok(chain.len() as u64));
    let only_a = store
        .audit_entries(&TenantScope::one(a.id), &AuditFilter { limit: 1000, ..Default::default() })
        .await
        .expect("scoped");
    assert!(!only_a.is_empty());
    assert!(only_a.iter().all(|e| e.tenant == Some(a.id)), "only tenant A's entries");
    let creates = store
        .audit_entries(
            &TenantScope::All,
            &AuditFilter { action: Some("tenant.".into()), limit: 1000, ..Default::default() },
        )
        .await
        .expect("filtered");
    assert!(creates.iter().all(|e| e.action.starts_with("tenant.")));
    assert!(creates.iter().any(|e| e.tenant == Some(b.id)));
    assert!(creates.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let page = store
        .audit_entries(&TenantScope::All, &AuditFilter { limit: 2, before: Some(AuditSeq(5)), ..Default::default() })
        .await
        .expect("page");
    assert_eq!(page.iter().map(|e| e.seq.0).collect::<Vec<_>>(), vec![4, 3]);
    let underscore = store
        .audit_entries(
            &TenantScope::All,
            &AuditFilter { action: Some("user_".into()), limit: 10, ..Default::default() },
        )
        .await
        .expect("escaped");
    assert!(underscore.is_empty(), "_ is matched literally");
    let _ = provider;
}

async fn soc_intake_triage_and_retention(store: &dyn Store, a: &Tenant, b: &Tenant) {
    use leitstand_domain::alert::{AlertState, RuleKind, Severity};
    use leitstand_domain::notify::Channel;
    use leitstand_domain::soc::{IndicatorKind, Verdict};
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    let rule = NewAlertRule {
        key: Some("soc-detection".into()),
        name: "soc-detection".into(),
        severity: Severity::High,
        kind: RuleKind::Soc,
        imminent: false,
    };
    store.ensure_rules(a.id, &[rule], at(0)).await.expect("soc rule");
    // Senders are scoped; the receiver's table has every enabled one.
    let src = |name: &str, address: &str| NewSyslogSource {
        name: name.into(),
        address: Some(address.into()),
        hostname: None,
        token_hash: Some(format!("hash-{name}")),
        enabled: true,
    };
    let fw_a =
        store.save_syslog_source(&sa, a.id, None, &src("fw-a", "192.0.2.1"), at(0), &draft("s", Some(a.id))).await;
    let fw_a = fw_a.expect("source a");
    store
        .save_syslog_source(&sb, b.id, None, &src("fw-b", "192.0.2.2"), at(0), &draft("s", Some(b.id)))
        .await
        .expect("b");
    assert!(store.save_syslog_source(&sb, a.id, None, &src("x", "192.0.2.3"), at(0), &draft("s", None)).await.is_err());
    assert_eq!(store.syslog_sources(&sb, None).await.expect("b's").len(), 1);
    assert_eq!(store.all_syslog_sources().await.expect("all").len(), 2);
    // An intake: three events, two hits of one rule and group, one of another.
    let event = |n: i64| NewSocEvent {
        source: Some(fw_a.id),
        host: None,
        at: at(100 + n),
        dataset: "sshd".into(),
        category: "authentication".into(),
        action: Some("ssh_login".into()),
        outcome: Some("failure".into()),
        user: Some("root".into()),
        source_ip: Some("198.51.100.23".into()),
        host_name: Some("web1".into()),
        message: format!("Failed password {n}"),
        event: "{}".into(),
    };
    let hit = |event: usize, rule: &str, group: &str| NewSocHit {
        event,
        rule_id: rule.into(),
        title: format!("rule {rule}"),
        severity: Severity::High,
        group: group.into(),
        detail: format!("{{\"title\":\"rule {rule}\"}}"),
        related: None,
    };
    let intake = SocIntake {
        tenant: Some(a.id),
        events: vec![event(1), event(2), event(3)],
        hits: vec![hit(0, "r1", "source.ip=198.51.100.23"), hit(1, "r1", "source.ip=198.51.100.23"), hit(2, "r2", "g")],
        counters: vec![("received".into(), 3), ("stored".into(), 3)],
        seen_sources: vec![fw_a.id],
        received_at: Some(at(200)),
    };
    store.soc_intake(&intake).await.expect("intake");
    store
        .soc_intake(&SocIntake {
            tenant: Some(b.id),
            events: vec![event(9)],
            hits: vec![hit(0, "r1", "x")],
            ..intake.clone()
        })
        .await
        .expect("b has no soc rule: events only");
    let q = AlertQuery { soc: true, limit: 10, ..Default::default() };
    let alerts = store.alerts(&sa, &q).await.expect("alerts");
    assert_eq!(alerts.len(), 2);
    let r1 = alerts.iter().find(|x| x.soc_rule.as_deref() == Some("r1")).expect("r1");
    assert_eq!(r1.count, 2, "repeats are grouped");
    assert!(store.alerts(&sb, &q).await.expect("b").is_empty());
    let evidence = store
        .soc_events(&sa, &SocEventQuery { alert: Some(r1.id), limit: 10, ..Default::default() })
        .await
        .expect("evidence");
    assert_eq!(evidence.len(), 2);
    let theirs = SocEventQuery { tenant: Some(a.id), limit: 10, ..Default::default() };
    assert!(store.soc_events(&sb, &theirs).await.expect("scoped").is_empty());
    assert_eq!(store.soc_events(&TenantScope::All, &theirs).await.expect("all").len(), 3);
    let counters = store.soc_counters(&sa, a.id, 0).await.expect("counters");
    assert!(counters.iter().any(|(_, k, n)| k == "stored" && *n == 3));
    let seen = store.syslog_sources(&sa, Some(a.id)).await.expect("seen");
    assert_eq!(seen[0].last_seen_at, Some(at(200)));
    // Rule choices change the version; custom rules are kept per tenant.
    assert_eq!(store.soc_rules_version(a.id).await.expect("v"), 0);
    store.set_soc_rule(&sa, a.id, "r1", false, &draft("r", Some(a.id))).await.expect("off");
    store
        .save_custom_rule(&sa, a.id, "c1", "Mine", "title: Mine", true, at(5), &draft("r", Some(a.id)))
        .await
        .expect("c");
    assert_eq!(store.soc_rules_version(a.id).await.expect("v"), 2);
    let choices = store.soc_rule_choices(&sa, a.id).await.expect("choices");
    assert_eq!(choices.choices, vec![("r1".to_string(), false)]);
    assert_eq!(choices.custom.len(), 1);
    assert_eq!(choices.retention_days, DEFAULT_RETENTION_DAYS);
    assert!(store.soc_rule_choices(&sb, a.id).await.is_err());
    assert!(store.set_soc_rule(&sb, a.id, "r1", true, &draft("r", None)).await.is_err());
    // Triage and a recommendation queued to a contact.
    let user = store.users(&TenantScope::All).await.expect("users")[0].id;
    let t = Triage { severity: Some(Severity::Critical), class: Some("brute_force".into()), verdict: None };
    assert!(store.triage_alert(&sb, r1.id, &t, user, at(300), &draft("t", None)).await.is_err());
    store.triage_alert(&sa, r1.id, &t, user, at(300), &draft("t", Some(a.id))).await.expect("triage");
    let contact = NewContact {
        name: "IT".into(),
        channel: Channel::Email,
        address: "it@a.example".into(),
        language: leitstand_domain::Lang::De,
        min_severity: Severity::Critical,
        rules: vec![],
        level: 0,
        enabled: true,
        secret: None,
    };
    let c = store.save_contact(&sa, a.id, None, &contact, at(0), &draft("c", Some(a.id))).await.expect("contact");
    let note = store.recommend(&sa, r1.id, user, "Patch it", &[c.id], at(301), &draft("r", Some(a.id))).await;
    let note = note.expect("recommend");
    let queued = store
        .notifications(&sa, &NotificationQuery { alert: Some(r1.id), limit: 10, ..Default::default() })
        .await
        .expect("queued");
    assert!(queued.iter().any(|n| n.note == Some(note) && n.contact == c.id));
    let done = Triage { verdict: Some(Verdict::TruePositive), ..Triage::default() };
    store.triage_alert(&sa, r1.id, &done, user, at(302), &draft("t", Some(a.id))).await.expect("close");
    let closed = store.alert(&sa, r1.id).await.expect("closed");
    assert_eq!((closed.state, closed.severity), (AlertState::Resolved, Severity::Critical));
    assert_eq!((closed.soc_verdict, closed.soc_class.as_deref()), (Some(Verdict::TruePositive), Some("brute_force")));
    let kinds: Vec<String> = store.alert_notes(&sa, r1.id).await.expect("notes").into_iter().map(|n| n.kind).collect();
    for k in ["reprioritised", "reclassified", "recommendation", "closed"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    let usage = store.soc_usage(at(0), at(1000)).await.expect("usage");
    let ua = usage.iter().find(|u| u.tenant == a.id).expect("a");
    assert_eq!((ua.alerts, ua.handled), (2, 1));
    // The provider's indicators.
    let i = store.add_indicator(IndicatorKind::Ip, "198.51.100.23", "scanner", at(0), &draft("i", None)).await;
    let i = i.expect("indicator");
    let found = store.matching_indicators(&["198.51.100.23".into(), "x".into()]).await.expect("match");
    assert_eq!(found.iter().map(|x| x.id).collect::<Vec<_>>(), vec![i.id]);
    store.remove_indicator(i.id, &draft("i", None)).await.expect("remove");
    assert!(store.remove_indicator(i.id, &draft("i", None)).await.is_err());
    // Retention: 90 days after receipt, with the evidence links.
    store.set_soc_retention(&sb, b.id, 365, &draft("k", Some(b.id))).await.expect("b keeps longer");
    let day = 86_400;
    assert_eq!(store.soc_retention(at(200 + 89 * day)).await.expect("not yet"), 0);
    assert_eq!(store.soc_retention(at(200 + 91 * day)).await.expect("gone"), 3, "A's three; B keeps its one");
    let evidence = store
        .soc_events(&sa, &SocEventQuery { alert: Some(r1.id), limit: 10, ..Default::default() })
        .await
        .expect("evidence");
    assert!(evidence.is_empty());
    assert_eq!(
        store
            .soc_events(&sb, &SocEventQuery { tenant: Some(b.id), limit: 10, ..Default::default() })
            .await
            .expect("b")
            .len(),
        1
    );
}

fn update(name: &str, security: bool) -> Item {
    Item::Update(leitstand_proto::inventory::Update {
        name: name.into(),
        arch: "amd64".into(),
        installed: "1.0-1".into(),
        candidate: "1.0-1+deb12u1".into(),
        origin: "deb.debian.org/debian-security bookworm-security/main".into(),
        security,
        manager: "dpkg".into(),
    })
}

fn finding(cve: &str, score: Option<u32>, state: &str) -> NewFinding {
    NewFinding {
        cve: cve.into(),
        package: "openssh".into(),
        binaries: "openssh-server".into(),
        installed: "1:9.2p1-2+deb12u1".into(),
        fixed: (state == "fix_available").then(|| "1:9.2p1-2+deb12u3".into()),
        state: state.into(),
        note: String::new(),
        advisory: None,
        score_tenths: score,
        vector: None,
        severity: match score {
            Some(s) if s >= 70 => "high".into(),
            Some(_) => "medium".into(),
            None => "unknown".into(),
        },
        title: format!("{cve} title"),
    }
}

async fn vulnerability_scans_keep_findings_and_alarm(store: &dyn Store, a: &Tenant, b: &Tenant) {
    let host = enrolled(store, a, "vuln-01").await;
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    let mut batch = batch_at(host.id, 1, vec![], 40);
    batch.inventory = vec![InventoryUpdate {
        seq: 1,
        at: at(40),
        reports: vec![
            report(Section::Software, true, vec![package("openssh-server", "1:9.2p1-2+deb12u1")], &[]),
            report(Section::Updates, true, vec![update("openssh-server", true), update("tzdata", false)], &[]),
        ],
    }];
    store.ingest(&batch).await.expect("software");
    let due = |targets: Vec<ScanTarget>| targets.into_iter().find(|t| t.host == host.id);
    let target = due(store.scan_targets(at(0), 100).await.expect("targets")).expect("never scanned: due");
    assert_eq!((target.tenant, target.os.as_str(), target.software_at), (a.id, "Debian 12", at(40)));

    let scan = |n: i64, findings: Vec<NewFinding>| HostScan {
        host: host.id,
        tenant: a.id,
        release: Some("Debian 12 (bookworm)".into()),
        end_of_support: Some("2028-06-30".into()),
        out_of_support: false,
        packages: 1,
        problem: None,
        findings,
        at: at(n),
        software_at: at(40),
        advisories_at: at(1),
    };
    let first = vec![finding("CVE-2024-6387", Some(81), "fix_available"), finding("CVE-2099-1", Some(50), "not_fixed")];
    let out = store.save_scan(&scan(50, first.clone())).await.expect("scan");
    assert_eq!(out, ScanOutcome { new: 2, alarmed: 1, fixed: 0, reopened: 0 }, "8.1 reaches the default 7.0");
    assert!(due(store.scan_targets(at(1), 100).await.expect("targets")).is_none(), "scanned, nothing changed");
    assert!(due(store.scan_targets(at(2), 100).await.expect("targets")).is_some(), "newer advisories");
    let q =
        EventQuery { host: Some(host.id), kinds: vec!["vulnerability.".into()], per_page: 10, ..Default::default() };
    let events = store.events_page(&sa, &q).await.expect("events");
    assert_eq!(events.total, 1);
    assert!(events.events[0].detail.contains("CVE-2024-6387") && events.events[0].detail.contains("8.1"));

    let again = store.save_scan(&scan(60, first.clone())).await.expect("rescan");
    assert_eq!(again, ScanOutcome::default(), "the same findings again change nothing");
    let fixed = store.save_scan(&scan(70, first[..1].to_vec())).await.expect("one fixed");
    assert_eq!(fixed.fixed, 1);
    let back = store.save_scan(&scan(80, first.clone())).await.expect("back");
    assert_eq!((back.new, back.reopened), (0, 1), "a finding that comes back reopens, it is not new");

    let open = FindingQuery { status: Some("open".into()), ..Default::default() };
    let page = store.vuln_findings(&sa, &open).await.expect("findings");
    assert_eq!(page.total, 2);
    assert_eq!(page.findings[0].cve, "CVE-2024-6387", "highest score first");
    assert_eq!(page.findings[0].host_name, "vuln-01");
    assert_eq!(page.findings[0].first_seen, at(50));
    assert_eq!(store.vuln_findings(&sb, &open).await.expect("other").total, 0);
    let text = FindingQuery { text: Some("2099".into()), ..Default::default() };
    assert_eq!(store.vuln_findings(&sa, &text).await.expect("text").total, 1);
    let high = FindingQuery { min_score_tenths: Some(70), ..Default::default() };
    assert_eq!(store.vuln_findings(&sa, &high).await.expect("score").total, 1);

    let id = page.findings[0].id;
    assert!(matches!(store.vuln_finding(&sb, id, at(100)).await, Err(StoreError::NotFound)));
    let acc = Acceptance { reason: "host isolated until replacement".into(), until: at(100), by: "admin".into() };
    let d = draft("vuln.accept", Some(a.id));
    assert!(matches!(store.accept_vuln_risk(&sb, id, Some(&acc), &d).await, Err(StoreError::NotFound)));
    let f = store.accept_vuln_risk(&sa, id, Some(&acc), &d).await.expect("accept");
    assert_eq!(
        (f.status.as_str(), f.accepted_reason.as_deref()),
        ("accepted", Some("host isolated until replacement"))
    );
    let at_now = |n| FindingQuery { status: Some("accepted".into()), now: Some(at(n)), ..Default::default() };
    assert_eq!(store.vuln_findings(&sa, &at_now(90)).await.expect("accepted").total, 1);
    assert_eq!(store.vuln_findings(&sa, &at_now(200)).await.expect("expired").total, 0, "past its expiry: open");
    let f = store.accept_vuln_risk(&sa, id, None, &d).await.expect("withdraw");
    assert_eq!((f.status.as_str(), f.accepted_until), ("open", None));

    let hosts = store.vuln_hosts(&sa, None).await.expect("hosts");
    let h = hosts.iter().find(|h| h.host == host.id).expect("scanned host");
    assert_eq!((h.high, h.medium, h.release.as_deref()), (1, 1, Some("Debian 12 (bookworm)")));
    assert_eq!((h.updates, h.security_updates), (2, 1), "pending updates, security apart");
    assert!(store.vuln_hosts(&sb, None).await.expect("other").iter().all(|h| h.host != host.id));

    assert_eq!(store.vuln_min_score(&sa, a.id).await.expect("default"), DEFAULT_MIN_SCORE_TENTHS);
    store.set_vuln_min_score(&sa, a.id, 90, &d).await.expect("threshold");
    assert_eq!(store.vuln_min_score(&sa, a.id).await.expect("threshold"), 90);
    assert!(store.set_vuln_min_score(&sb, a.id, 10, &d).await.is_err(), "not another tenant's");
    let later = store.save_scan(&scan(90, vec![finding("CVE-2099-2", Some(81), "fix_available")])).await.expect("scan");
    assert_eq!((later.new, later.alarmed), (1, 0), "8.1 is below the tenant's 9.0");
}

async fn patch_jobs_are_ordered_sent_and_reported(store: &dyn Store, admin: &User, a: &Tenant, b: &Tenant) {
    use leitstand_domain::patch::{HostState, JobState};
    let (sa, sb) = (TenantScope::one(a.id), TenantScope::one(b.id));
    let pilot = enrolled(store, a, "patch-01").await;
    let rest = enrolled(store, a, "patch-02").await;
    let foreign = enrolled(store, b, "patch-b").await;

    assert_eq!(store.patch_window(&sa, a.id).await.expect("window"), "");
    store.set_patch_window(&sa, a.id, "Tue 22:00-02:00", &draft("patch.window", Some(a.id))).await.expect("set");
    assert_eq!(store.patch_window(&sa, a.id).await.expect("window"), "Tue 22:00-02:00");
    assert!(matches!(store.patch_window(&sb, a.id).await, Err(StoreError::NotFound)), "other tenant's window");

    let new = |hosts: Vec<(HostId, u8, Vec<String>)>| NewPatchJob {
        tenant: a.id,
        title: "openssl".into(),
        packages: vec!["openssl".into(), "libssl3".into()],
        hosts,
        appointment: None,
        created_by: "planner".into(),
        at: at(100),
    };
    let pkgs = vec!["openssl".to_string()];
    let refused = store.create_patch_job(&sa, &new(vec![(foreign.id, 1, pkgs.clone())]), &draft("p", Some(a.id))).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "another tenant's host");
    let job = store
        .create_patch_job(
            &sa,
            &new(vec![(pilot.id, 1, pkgs.clone()), (rest.id, 2, vec!["openssl".into(), "libssl3".into()])]),
            &draft("patch.job_create", Some(a.id)),
        )
        .await
        .expect("job");
    assert_eq!((job.state, job.hosts, job.succeeded, job.failed), (JobState::AwaitingOrder, 2, 0, 0));
    assert!(store.patch_jobs(&sb, None).await.expect("jobs").is_empty(), "not seen from b");
    assert!(matches!(store.patch_job(&sb, job.id).await, Err(StoreError::NotFound)));
    assert!(store.active_patch_jobs().await.expect("active").iter().all(|j| j.job.id != job.id), "not ordered");

    let order =
        PatchOrder { user: admin.id, name: "kunde".into(), at: at(200), source: "10.0.0.9".into(), appointment: None };
    let ordered =
        store.order_patch_job(&sa, job.id, &order, &draft("patch.job_order", Some(a.id))).await.expect("order");
    assert_eq!(
        (ordered.state, ordered.ordered_by.as_deref(), ordered.ordered_at),
        (JobState::Ordered, Some("kunde"), Some(at(200)))
    );
    assert!(matches!(
        store.order_patch_job(&sa, job.id, &order, &draft("patch.job_order", Some(a.id))).await,
        Err(StoreError::Conflict(_))
    ));
    let active = store.active_patch_jobs().await.expect("active");
    let mine = active.iter().find(|j| j.job.id == job.id).expect("ordered job is active");
    assert_eq!((mine.window.as_str(), mine.time_zone.as_str()), ("Tue 22:00-02:00", "Europe/Berlin"));
    assert_eq!(mine.hosts.iter().map(|h| (h.host, h.ring)).collect::<Vec<_>>(), vec![(pilot.id, 1), (rest.id, 2)]);
    let pilot_row = mine.hosts[0].id;

    let step = JobAdvance {
        job: job.id,
        from: JobState::Ordered,
        send: vec![pilot_row],
        not_after: Some(at(1000)),
        state: Some(JobState::Running),
        at: at(300),
        ..Default::default()
    };
    let audits = [draft("patch.action_sent", Some(a.id)), draft("patch.job_state", Some(a.id))];
    let sent_audits = || async {
        let filter = AuditFilter { action: Some("patch.action_sent".into()), limit: 100, ..Default::default() };
        store.audit_entries(&TenantScope::one(a.id), &filter).await.expect("audit").len()
    };
    assert!(store.advance_patch_job(&step, &audits).await.expect("advance"), "stored");
    // A second replica that planned on the same read stores nothing, audit included.
    assert!(!store.advance_patch_job(&step, &audits).await.expect("advance"), "the job moved on");
    let running_again = JobAdvance { from: JobState::Running, state: None, ..step.clone() };
    assert!(!store.advance_patch_job(&running_again, &audits).await.expect("advance"), "the host was sent");
    assert_eq!(sent_audits().await, 1, "one audit entry for the one step stored");
    assert_eq!(store.patch_job(&sa, job.id).await.expect("job").0.state, JobState::Running);
    let pending = store.pending_actions(pilot.id, at(500)).await.expect("pending");
    assert_eq!(
        pending,
        vec![PendingAction { id: pilot_row, host: pilot.id, packages: pkgs.clone(), not_after: at(1000) }]
    );
    assert!(store.pending_actions(pilot.id, at(1001)).await.expect("pending").is_empty(), "expired");
    assert!(store.pending_actions(rest.id, at(500)).await.expect("pending").is_empty(), "ring 2 not sent");

    // The report comes with a batch: stored once; a report for another host's action is ignored.
    let outcome = |id: i64, state: HostState| ActionOutcome {
        id,
        state,
        detail: "$ apt-get install --only-upgrade openssl".into(),
        changes: r#"[{"name":"openssl","before":"3.0.15-1","after":"3.0.16-1"}]"#.into(),
        at: at(400),
    };
    let mut batch = batch_at(rest.id, 1, vec![], 400);
    batch.action_reports = vec![(1, outcome(pilot_row, HostState::Failed))];
    store.ingest(&batch).await.expect("foreign report");
    let mut batch = batch_at(pilot.id, 1, vec![], 400);
    batch.action_reports = vec![(1, outcome(pilot_row, HostState::Succeeded))];
    store.ingest(&batch).await.expect("report");
    let (after, hosts) = store.patch_job(&sa, job.id).await.expect("job");
    assert_eq!((after.state, after.succeeded, after.failed), (JobState::Running, 1, 0));
    assert_eq!((hosts[0].state, hosts[0].finished_at), (HostState::Succeeded, Some(at(400))));
    assert!(hosts[0].changes.contains("3.0.16-1") && hosts[0].detail.contains("apt-get"));
    assert_eq!(hosts[1].state, HostState::Waiting, "another host's report does not touch it");
    assert!(store.pending_actions(pilot.id, at(500)).await.expect("pending").is_empty(), "reported");

    // Cancelling skips who waits; a cancelled job cannot be cancelled again.
    let cancelled =
        store.cancel_patch_job(&sa, job.id, at(600), &draft("patch.job_cancel", Some(a.id))).await.expect("cancel");
    assert_eq!((cancelled.state, cancelled.finished_at), (JobState::Cancelled, Some(at(600))));
    let (_, hosts) = store.patch_job(&sa, job.id).await.expect("job");
    assert_eq!(hosts[1].state, HostState::Skipped);
    assert!(matches!(
        store.cancel_patch_job(&sa, job.id, at(700), &draft("patch.job_cancel", Some(a.id))).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.cancel_patch_job(&sb, job.id, at(700), &draft("patch.job_cancel", Some(b.id))).await,
        Err(StoreError::NotFound)
    ));
}
