//! Reading, exporting and verifying the audit log (PLAT-6).

use crate::{Actor, Result, Services};
use leitstand_domain::audit::verify_chain;
use leitstand_domain::Permission;
use leitstand_store::{AuditEntry, AuditFilter};

/// One page of entries, newest first; `next` continues the listing.
#[derive(Debug)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<leitstand_domain::AuditSeq>,
}

/// The outcome of `leitstand audit verify`.
#[derive(Debug)]
pub struct ChainReport {
    pub entries: u64,
    pub error: Option<String>,
}

impl Services {
    pub async fn audit_entries(&self, actor: &Actor, filter: &AuditFilter) -> Result<AuditPage> {
        actor.require(Permission::AuditRead)?;
        if let Some(t) = filter.tenant {
            actor.require_tenant(t)?;
        }
        let entries = self.store.audit_entries(actor.scope(), filter).await?;
        let next = if entries.len() as u32 >= filter.limit { entries.last().map(|e| e.seq) } else { None };
        Ok(AuditPage { entries, next })
    }

    /// Checks the whole chain; any change, insertion or removal is named.
    /// Only provider admins (and the command line) may read the whole chain.
    pub async fn verify_audit(&self, actor: &Actor) -> Result<ChainReport> {
        actor.require(Permission::PolicyManage)?;
        let (entries, head) = self.store.audit_chain().await?;
        Ok(match verify_chain(&entries, head.as_ref().map(|(s, h)| (*s, h.as_str()))) {
            Ok(n) => ChainReport { entries: n, error: None },
            Err(e) => ChainReport { entries: entries.len() as u64, error: Some(e.to_string()) },
        })
    }
}
