//! Patch jobs (PATCH-2, PATCH-3): the tenant's maintenance window, jobs of
//! several pending updates for several hosts, the customer's order, the
//! worker's round that starts rings inside the window or at the agreed
//! appointment, and the signed actions handed to agents with their
//! acknowledgements (DESIGN invariant 5: the rules are checked before
//! signing, each step is audited).

use crate::{Actor, Result, ServiceError, Services};
use ed25519_dalek::Signer;
use jiff::Timestamp;
use leitstand_domain::patch::{self, JobHost, JobState, MaintenanceWindow};
use leitstand_domain::{HostId, Lang, Permission, TenantId};
use leitstand_proto::actions::{is_package_name, Action, SignedAction};
use leitstand_proto::inventory::{Item, Update};
use leitstand_store::{AuditDraft, InventorySearch, JobAdvance, NewPatchJob, PatchJob, PatchJobHost, PatchOrder};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Most hosts and packages in one job.
pub const MAX_JOB_HOSTS: usize = 500;
pub const MAX_JOB_PACKAGES: usize = 500;
/// An appointment lies at most this many days ahead.
const MAX_APPOINTMENT_DAYS: i64 = 366;

/// A job as a person planned it in the form or the API.
#[derive(Clone, Debug)]
pub struct JobInput {
    pub tenant: TenantId,
    pub title: String,
    pub hosts: Vec<HostId>,
    pub packages: Vec<String>,
    /// The host that goes first (ring 1); the first host by name when
    /// `None`.
    pub pilot: Option<HostId>,
    /// `YYYY-MM-DDTHH:MM` in the tenant's time zone, or empty: the window.
    pub appointment: String,
}

/// A host with pending updates, as the job form offers it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostUpdates {
    pub host: HostId,
    pub name: String,
    pub release: Option<String>,
    /// Past its vendor's end of support: flagged, never patched (PATCH-4).
    pub out_of_support: bool,
    pub updates: Vec<Update>,
}

/// One pending package across the tenant's hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingPackage {
    pub name: String,
    pub hosts: u32,
    pub security: bool,
}

/// What a tenant could patch now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PatchCandidates {
    pub hosts: Vec<HostUpdates>,
    pub packages: Vec<PendingPackage>,
}

/// What one worker round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchRound {
    pub sent: u32,
    pub no_answer: u32,
    pub skipped: u32,
    pub finished: u32,
    /// Steps not stored because another replica's round had taken them.
    pub raced: u32,
}

impl Services {
    /// The tenant's maintenance window, in `lang`'s day names (empty: none).
    pub async fn patch_window(&self, actor: &Actor, tenant: TenantId, lang: Lang) -> Result<String> {
        actor.require(Permission::HostsRead)?;
        actor.require_tenant(tenant)?;
        let stored = self.store.patch_window(actor.scope(), tenant).await?;
        Ok(MaintenanceWindow::parse(&stored).map(|w| w.describe(lang)).unwrap_or(stored))
    }

    /// Sets the tenant's window from the SLA, e.g. `Di 22:00-02:00`
    /// (provider administrators); returns it as stored (English day names).
    pub async fn set_patch_window(&self, actor: &Actor, tenant: TenantId, text: &str) -> Result<String> {
        actor.require(Permission::TenantsManage)?;
        actor.require_tenant(tenant)?;
        let window = MaintenanceWindow::parse(text).map_err(|_| ServiceError::field("window", "error-patch-window"))?;
        let stored = window.describe(Lang::En);
        let audit = actor.audit(
            self.now(),
            "patch.window",
            Some(tenant),
            format!("tenant:{tenant}"),
            json!({"window": stored}),
        );
        self.store.set_patch_window(actor.scope(), tenant, &stored, &audit).await?;
        Ok(stored)
    }

    /// The tenant's hosts with pending updates, and the packages pending
    /// across them.
    pub async fn patch_candidates(&self, actor: &Actor, tenant: TenantId) -> Result<PatchCandidates> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(Some(tenant))?;
        let search = InventorySearch { section: "updates".into(), name: None, port: None, limit: 100_000 };
        let entries = self.store.find_inventory(&scope, &search).await?;
        let support: BTreeMap<HostId, (Option<String>, bool)> = self
            .store
            .vuln_hosts(&scope, Some(tenant))
            .await?
            .into_iter()
            .map(|h| (h.host, (h.release, h.out_of_support)))
            .collect();
        let mut hosts: Vec<HostUpdates> = vec![];
        for e in entries {
            let Ok(Item::Update(u)) = serde_json::from_str::<Item>(&e.data) else { continue };
            if hosts.last().is_none_or(|h| h.host != e.host) {
                let (release, out_of_support) = support.get(&e.host).cloned().unwrap_or((None, false));
                hosts.push(HostUpdates { host: e.host, name: e.host_name, release, out_of_support, updates: vec![] });
            }
            if let Some(h) = hosts.last_mut() {
                h.updates.push(u);
            }
        }
        let mut packages: BTreeMap<String, PendingPackage> = BTreeMap::new();
        for h in hosts.iter().filter(|h| !h.out_of_support) {
            // Per package on this host: is any of its updates (one per architecture) a security one.
            let mut names: BTreeMap<&str, bool> = BTreeMap::new();
            for u in &h.updates {
                *names.entry(u.name.as_str()).or_default() |= u.security;
            }
            for (name, security) in names {
                let p = packages.entry(name.to_owned()).or_insert(PendingPackage {
                    name: name.to_owned(),
                    hosts: 0,
                    security: false,
                });
                p.hosts += 1;
                p.security |= security;
            }
        }
        Ok(PatchCandidates { hosts, packages: packages.into_values().collect() })
    }

    /// Plans a job: each host gets the chosen packages pending on it; the
    /// pilot goes first, the rest after it. It waits for the customer's
    /// order. Hosts out of support, or with none of the packages pending,
    /// are refused.
    pub async fn create_patch_job(&self, actor: &Actor, input: &JobInput) -> Result<PatchJob> {
        actor.require(Permission::HostsManage)?;
        actor.require_tenant(input.tenant)?;
        let packages: BTreeSet<String> = input.packages.iter().map(|p| p.trim().to_owned()).collect();
        if packages.is_empty() || packages.len() > MAX_JOB_PACKAGES || !packages.iter().all(|p| is_package_name(p)) {
            return Err(ServiceError::field("packages", "error-patch-packages"));
        }
        let chosen: BTreeSet<HostId> = input.hosts.iter().copied().collect();
        if chosen.is_empty() || chosen.len() > MAX_JOB_HOSTS {
            return Err(ServiceError::field("hosts", "error-patch-hosts"));
        }
        let title = input.title.trim();
        if title.chars().count() > 200 || title.chars().any(char::is_control) {
            return Err(ServiceError::field("title", "error-patch-title"));
        }
        let tz = self.tenant_zone(input.tenant).await;
        let appointment = self.appointment(&input.appointment, &tz)?;
        let candidates = self.patch_candidates(actor, input.tenant).await?;
        let mut planned: Vec<(HostId, String, Vec<String>)> = vec![];
        for id in &chosen {
            let Some(h) = candidates.hosts.iter().find(|h| h.host == *id) else {
                return Err(ServiceError::field("hosts", "error-patch-host-nothing"));
            };
            if h.out_of_support {
                return Err(ServiceError::field("hosts", "error-patch-host-unsupported"));
            }
            let chosen_here: Vec<&Update> = h.updates.iter().filter(|u| packages.contains(&u.name)).collect();
            if chosen_here.is_empty() {
                return Err(ServiceError::field("hosts", "error-patch-host-nothing"));
            }
            let mine: BTreeSet<String> = chosen_here.iter().map(|u| u.name.clone()).collect();
            planned.push((h.host, h.name.to_lowercase(), mine.into_iter().collect()));
        }
        planned.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        if let Some(pilot) = input.pilot {
            let at = planned
                .iter()
                .position(|p| p.0 == pilot)
                .ok_or_else(|| ServiceError::field("pilot", "error-patch-pilot"))?;
            let p = planned.remove(at);
            planned.insert(0, p);
        }
        let title = if title.is_empty() {
            let names: Vec<&str> = packages.iter().take(3).map(String::as_str).collect();
            let more = packages.len().saturating_sub(3);
            format!("{}{}", names.join(", "), if more > 0 { format!(" +{more}") } else { String::new() })
        } else {
            title.to_owned()
        };
        let now = self.now();
        let job = NewPatchJob {
            tenant: input.tenant,
            title: title.clone(),
            packages: packages.iter().cloned().collect(),
            hosts: planned
                .iter()
                .enumerate()
                .map(|(i, (host, _, pkgs))| (*host, if i == 0 { 1 } else { 2 }, pkgs.clone()))
                .collect(),
            appointment,
            created_by: actor.user.name.to_string(),
            at: now,
        };
        let detail = json!({
            "title": title,
            "packages": job.packages,
            "hosts": planned.iter().map(|p| p.0 .0).collect::<Vec<_>>(),
            "appointment": appointment.map(|a| a.to_string()),
        });
        let audit = actor.audit(now, "patch.job_create", Some(input.tenant), String::new(), detail);
        Ok(self.store.create_patch_job(actor.scope(), &job, &audit).await?)
    }

    /// An appointment typed as local `YYYY-MM-DDTHH:MM`: ahead, within a year.
    fn appointment(&self, text: &str, tz: &jiff::tz::TimeZone) -> Result<Option<Timestamp>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = || ServiceError::field("appointment", "error-patch-appointment");
        let local: jiff::civil::DateTime = text.replace(' ', "T").parse().map_err(|_| bad())?;
        let at = local.to_zoned(tz.clone()).map_err(|_| bad())?.timestamp();
        let now = self.now();
        if at <= now || at > now + jiff::SignedDuration::from_hours(24 * MAX_APPOINTMENT_DAYS) {
            return Err(bad());
        }
        Ok(Some(at))
    }

    pub async fn patch_jobs(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<PatchJob>> {
        actor.require(Permission::HostsRead)?;
        if let Some(t) = tenant {
            actor.require_tenant(t)?;
        }
        Ok(self.store.patch_jobs(actor.scope(), tenant).await?)
    }

    pub async fn patch_job(&self, actor: &Actor, id: i64) -> Result<(PatchJob, Vec<PatchJobHost>)> {
        actor.require(Permission::HostsRead)?;
        Ok(self.store.patch_job(actor.scope(), id).await?)
    }

    /// The customer's order (PATCH-3): only a person of the customer's own
    /// organisation who may order; recorded with name, time and address.
    /// An appointment given here replaces the window.
    pub async fn order_patch_job(&self, actor: &Actor, id: i64, appointment: &str) -> Result<PatchJob> {
        actor.require(Permission::PatchOrder)?;
        let (job, _) = self.store.patch_job(actor.scope(), id).await?;
        if actor.user.tenant != job.tenant {
            return Err(ServiceError::Forbidden);
        }
        if job.state != JobState::AwaitingOrder {
            return Err(ServiceError::field("state", "error-patch-state"));
        }
        let tz = self.tenant_zone(job.tenant).await;
        let appointment = self.appointment(appointment, &tz)?;
        let now = self.now();
        // A planned appointment that is over can no longer be ordered: give a new one.
        let planned_over =
            job.appointment.is_some_and(|a| a + jiff::SignedDuration::from_hours(patch::APPOINTMENT_HOURS) <= now);
        if appointment.is_none() && planned_over {
            return Err(ServiceError::field("appointment", "error-patch-appointment"));
        }
        let order = PatchOrder {
            user: actor.user.id,
            name: actor.user.name.to_string(),
            at: now,
            source: actor.source.clone(),
            appointment,
        };
        let detail = json!({"title": job.title, "appointment": appointment.or(job.appointment).map(|a| a.to_string())});
        let audit = actor.audit(now, "patch.job_order", Some(job.tenant), format!("patch_job:{id}"), detail);
        Ok(self.store.order_patch_job(actor.scope(), id, &order, &audit).await?)
    }

    /// Cancels a job that has not ended (the planner, or the customer's
    /// authorised person).
    pub async fn cancel_patch_job(&self, actor: &Actor, id: i64) -> Result<PatchJob> {
        let (job, _) = self.store.patch_job(actor.scope(), id).await?;
        if !actor.can(Permission::HostsManage) {
            actor.require(Permission::PatchOrder)?;
        }
        if job.state.is_final() {
            return Err(ServiceError::field("state", "error-patch-state"));
        }
        let now = self.now();
        let audit = actor.audit(
            now,
            "patch.job_cancel",
            Some(job.tenant),
            format!("patch_job:{id}"),
            json!({"title": job.title}),
        );
        Ok(self.store.cancel_patch_job(actor.scope(), id, now, &audit).await?)
    }

    /// The worker's round: every ordered or running job is planned against
    /// its window or appointment at the current time, and the step stored
    /// with an audit entry per change.
    pub async fn patch_round(&self) -> Result<PatchRound> {
        let now = self.now();
        let mut round = PatchRound::default();
        for active in self.store.active_patch_jobs().await? {
            let tz = jiff::tz::TimeZone::get(&active.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
            let window = MaintenanceWindow::parse(&active.window).unwrap_or_default();
            let opening = patch::opening(&window, active.job.appointment, &tz, now);
            let hosts: Vec<JobHost> =
                active.hosts.iter().map(|h| JobHost { ring: h.ring, state: h.state, not_after: h.not_after }).collect();
            let step = patch::plan(active.job.state, &hosts, &opening, now);
            if step == patch::Step::default() {
                continue;
            }
            let ids = |list: &[usize]| list.iter().map(|i| active.hosts[*i].id).collect::<Vec<_>>();
            let names = |list: &[usize]| list.iter().map(|i| active.hosts[*i].host_name.clone()).collect::<Vec<_>>();
            let job = &active.job;
            let system = |action: &str, detail: serde_json::Value| AuditDraft {
                at: now,
                actor_user: None,
                actor_name: "system".into(),
                tenant: Some(job.tenant),
                action: action.to_owned(),
                target: format!("patch_job:{}", job.id),
                source: "patch-worker".into(),
                detail: detail.to_string(),
            };
            let mut audits = vec![];
            if !step.send.is_empty() {
                audits.push(system(
                    "patch.action_sent",
                    json!({"hosts": names(&step.send), "not_after": step.not_after.map(|t| t.to_string())}),
                ));
            }
            if !step.no_answer.is_empty() {
                audits.push(system("patch.no_answer", json!({"hosts": names(&step.no_answer)})));
            }
            if !step.skip.is_empty() {
                audits.push(system("patch.hosts_skipped", json!({"hosts": names(&step.skip)})));
            }
            if let Some(state) = step.state {
                audits.push(system("patch.job_state", json!({"state": state.as_str()})));
            }
            let advance = JobAdvance {
                job: job.id,
                from: job.state,
                send: ids(&step.send),
                not_after: step.not_after,
                no_answer: ids(&step.no_answer),
                skip: ids(&step.skip),
                state: step.state,
                at: now,
            };
            if !self.store.advance_patch_job(&advance, &audits).await? {
                round.raced += 1;
                continue; // another replica's round took this step
            }
            round.sent += step.send.len() as u32;
            round.no_answer += step.no_answer.len() as u32;
            round.skipped += step.skip.len() as u32;
            round.finished += u32::from(step.state.is_some_and(|s| s.is_final()));
        }
        Ok(round)
    }

    /// The signed actions waiting for a host, for its acknowledgement.
    pub(crate) async fn actions_for(&self, host: HostId) -> Result<Vec<SignedAction>> {
        let pending = self.store.pending_actions(host, self.now()).await?;
        if pending.is_empty() {
            return Ok(vec![]); // the usual case: no key derived on every batch
        }
        let key = self.key.action_key();
        Ok(pending
            .into_iter()
            .map(|p| {
                let action = Action::ApplyUpdates { packages: p.packages };
                let not_after_ms = p.not_after.as_millisecond();
                let input = SignedAction::signing_input(p.id, host.0, not_after_ms, &action);
                let signature = hex::encode(key.sign(input.as_bytes()).to_bytes());
                SignedAction { id: p.id, host: host.0, not_after_ms, action, signature }
            })
            .collect())
    }

    /// The action key's public half, hex (sent at enrollment).
    pub fn action_public_key(&self) -> String {
        hex::encode(self.key.action_key().verifying_key().as_bytes())
    }
}
