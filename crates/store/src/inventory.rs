//! Records and the trait for host inventories (INV-1 … INV-7) and the
//! events of hosts (changes, sign-ins, up/down).

use crate::{HostEvent, Result, TenantScope};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::HostId;
use leitstand_proto::inventory::SectionReport;

/// Inventory records of one ingest: sequence, when read, the reports.
#[derive(Debug, Clone, Default)]
pub struct InventoryUpdate {
    pub seq: u64,
    pub at: Timestamp,
    pub reports: Vec<SectionReport>,
}

/// A page of one section of a host's inventory.
#[derive(Debug, Clone)]
pub struct InventoryQuery {
    pub section: String,
    /// Part of the name or key, any case.
    pub text: Option<String>,
    /// 0-based.
    pub page: u32,
    /// Rows per page; `u32::MAX` asks for every row (CSV export, trees).
    pub per_page: u32,
}

/// One stored item: its host, key and the item as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryEntry {
    pub host: HostId,
    pub host_name: String,
    pub key: String,
    pub data: String,
}

#[derive(Debug, Clone)]
pub struct InventoryPage {
    pub total: u64,
    pub items: Vec<InventoryEntry>,
}

/// The state of one section of a host: when it was last read, and the
/// collector's error if its latest run failed.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionStatus {
    pub section: String,
    pub updated_at: Option<Timestamp>,
    pub error: Option<String>,
    pub error_at: Option<Timestamp>,
    pub truncated: u64,
    pub items: u64,
}

/// Items of a section across the hosts in scope, by exact name or port.
#[derive(Debug, Clone)]
pub struct InventorySearch {
    pub section: String,
    pub name: Option<String>,
    pub port: Option<u16>,
    pub limit: u32,
}

/// Events of one host or all hosts in scope, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub host: Option<HostId>,
    /// Kinds to show, e.g. `software.` for every software event, or
    /// `user.created` for one kind; empty shows all.
    pub kinds: Vec<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone)]
pub struct EventPage {
    pub total: u64,
    pub events: Vec<HostEvent>,
}

/// A host's checklist results, replacing the ones before.
#[derive(Debug, Clone)]
pub struct ChecklistUpdate {
    pub seq: u64,
    pub at: Timestamp,
    pub results: Vec<StoredCheck>,
}

/// One check's latest result on a host.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheck {
    pub id: String,
    /// `pass`, `fail`, `not_applicable`, `error`.
    pub result: String,
    pub evidence: String,
    pub checked_at: Timestamp,
}

/// How many checks of a host came out which way.
#[derive(Debug, Clone, PartialEq)]
pub struct HostChecklist {
    pub host: HostId,
    pub host_name: String,
    pub tenant: leitstand_domain::TenantId,
    pub pass: u64,
    pub fail: u64,
    pub not_applicable: u64,
    pub error: u64,
    pub checked_at: Timestamp,
}

#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// One page of a section of a host's inventory, by name.
    async fn inventory_page(&self, scope: &TenantScope, host: HostId, q: &InventoryQuery) -> Result<InventoryPage>;
    /// Every section that has been reported for the host.
    async fn inventory_sections(&self, scope: &TenantScope, host: HostId) -> Result<Vec<SectionStatus>>;
    /// Items across hosts in scope (e.g. every host with package `openssl`,
    /// or with port 3389 open), by host name.
    async fn find_inventory(&self, scope: &TenantScope, q: &InventorySearch) -> Result<Vec<InventoryEntry>>;
    /// Host events, filtered and paged.
    async fn events_page(&self, scope: &TenantScope, q: &EventQuery) -> Result<EventPage>;
    /// A host's latest checklist results, by check id.
    async fn checklist(&self, scope: &TenantScope, host: HostId) -> Result<Vec<StoredCheck>>;
    /// Counts per result for every host in scope that reported a checklist.
    async fn checklist_counts(&self, scope: &TenantScope) -> Result<Vec<HostChecklist>>;
}
