//! Records and the trait for patch jobs (PATCH-2, PATCH-3): the tenant's
//! maintenance window, jobs of several updates for several hosts with the
//! customer's order, and each host's part with the signed action's fate.

use crate::{AuditDraft, Result, TenantScope};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::patch::{HostState, JobState};
use leitstand_domain::{HostId, TenantId, UserId};

/// A job as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPatchJob {
    pub tenant: TenantId,
    pub title: String,
    /// Every package chosen.
    pub packages: Vec<String>,
    /// Hosts in rollout order with their ring (1: pilot) and the chosen
    /// packages pending on each.
    pub hosts: Vec<(HostId, u8, Vec<String>)>,
    pub appointment: Option<Timestamp>,
    pub created_by: String,
    pub at: Timestamp,
}

/// Who ordered a job, when, from where.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOrder {
    pub user: UserId,
    pub name: String,
    pub at: Timestamp,
    pub source: String,
    /// An appointment agreed with the order (replaces the window).
    pub appointment: Option<Timestamp>,
}

/// A stored job with its hosts counted by state.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchJob {
    pub id: i64,
    pub tenant: TenantId,
    pub tenant_name: String,
    pub title: String,
    pub packages: Vec<String>,
    pub state: JobState,
    pub created_by: String,
    pub created_at: Timestamp,
    pub appointment: Option<Timestamp>,
    pub ordered_by: Option<String>,
    pub ordered_at: Option<Timestamp>,
    pub ordered_from: Option<String>,
    pub finished_at: Option<Timestamp>,
    pub hosts: u32,
    /// Hosts through (succeeded).
    pub succeeded: u32,
    /// Hosts that failed, rolled back, refused or did not answer.
    pub failed: u32,
}

/// One host's part in a job; its id is the action's id.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchJobHost {
    pub id: i64,
    pub job: i64,
    pub tenant: TenantId,
    pub host: HostId,
    pub host_name: String,
    pub ring: u8,
    pub packages: Vec<String>,
    pub state: HostState,
    pub sent_at: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// The agent's account of what happened.
    pub detail: String,
    /// Versions before and after, as the agent reported them (JSON list).
    pub changes: String,
}

/// An ordered or running job with what the planner needs (the worker's
/// read, all tenants).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveJob {
    pub job: PatchJob,
    pub hosts: Vec<PatchJobHost>,
    /// The tenant's window as stored, and its time zone.
    pub window: String,
    pub time_zone: String,
}

/// What the planner decided for a job, stored in one transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobAdvance {
    pub job: i64,
    /// The job's state the step was planned on: the step is stored only if
    /// the job and its hosts are still as read (another replica's round may
    /// have moved them on).
    pub from: JobState,
    /// Job host ids to send, valid until `not_after`.
    pub send: Vec<i64>,
    pub not_after: Option<Timestamp>,
    pub no_answer: Vec<i64>,
    pub skip: Vec<i64>,
    pub state: Option<JobState>,
    pub at: Timestamp,
}

/// A sent action not yet reported, for delivery to its host.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAction {
    pub id: i64,
    pub host: HostId,
    pub packages: Vec<String>,
    pub not_after: Timestamp,
}

/// An agent's report of an action, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub id: i64,
    pub state: HostState,
    pub detail: String,
    pub changes: String,
    pub at: Timestamp,
}

#[async_trait]
pub trait PatchStore: Send + Sync {
    /// The tenant's maintenance window as stored (empty: none).
    async fn patch_window(&self, scope: &TenantScope, tenant: TenantId) -> Result<String>;
    async fn set_patch_window(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        window: &str,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Stores a job awaiting the customer's order; every host must be the
    /// tenant's (else `NotFound`).
    async fn create_patch_job(&self, scope: &TenantScope, job: &NewPatchJob, audit: &AuditDraft) -> Result<PatchJob>;
    /// Jobs in scope, newest first.
    async fn patch_jobs(&self, scope: &TenantScope, tenant: Option<TenantId>) -> Result<Vec<PatchJob>>;
    async fn patch_job(&self, scope: &TenantScope, id: i64) -> Result<(PatchJob, Vec<PatchJobHost>)>;
    /// Records the customer's order; `Conflict` unless the job awaits one.
    async fn order_patch_job(
        &self,
        scope: &TenantScope,
        id: i64,
        order: &PatchOrder,
        audit: &AuditDraft,
    ) -> Result<PatchJob>;
    /// Cancels a job that has not ended: waiting hosts are skipped, actions
    /// already out are no longer delivered. `Conflict` once it ended.
    async fn cancel_patch_job(
        &self,
        scope: &TenantScope,
        id: i64,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<PatchJob>;
    /// Ordered and running jobs of all tenants (the worker's read).
    async fn active_patch_jobs(&self) -> Result<Vec<ActiveJob>>;
    /// Stores the planner's step with one audit entry per change, all or
    /// nothing: `false` (nothing stored) when the job or one of the hosts
    /// was no longer in the state the step was planned on.
    async fn advance_patch_job(&self, step: &JobAdvance, audits: &[AuditDraft]) -> Result<bool>;
    /// Actions sent to the host, not reported, not expired at `now`, of
    /// running jobs.
    async fn pending_actions(&self, host: HostId, now: Timestamp) -> Result<Vec<PendingAction>>;
}
