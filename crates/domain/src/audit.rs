//! The audit chain (PLAT-6): every entry's hash covers its fields and the hash
//! of the entry before it, so a changed, inserted or removed entry breaks the
//! chain and `verify_chain` names where.

use crate::{AuditSeq, TenantId, UserId};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Hash that stands before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, before it gets its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditDraft {
    pub at: Timestamp,
    pub actor_user: Option<UserId>,
    /// User name, `system` or `cli`; kept as text so the entry outlives the user.
    pub actor_name: String,
    pub tenant: Option<TenantId>,
    /// Dotted verb, e.g. `user.create`, `auth.sign_in_failed`.
    pub action: String,
    /// What was acted on, e.g. `user:17`.
    pub target: String,
    /// Source address of the request, or `cli`.
    pub source: String,
    /// Further facts as compact JSON.
    pub detail: String,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub seq: AuditSeq,
    #[schemars(with = "String")]
    pub at: Timestamp,
    pub actor_user: Option<UserId>,
    pub actor_name: String,
    pub tenant: Option<TenantId>,
    pub action: String,
    pub target: String,
    pub source: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditDraft {
    /// Places the draft after `prev_hash` as entry `seq`.
    pub fn seal(self, seq: AuditSeq, prev_hash: &str) -> AuditEntry {
        let hash = entry_hash(seq, prev_hash, &self);
        AuditEntry {
            seq,
            at: self.at,
            actor_user: self.actor_user,
            actor_name: self.actor_name,
            tenant: self.tenant,
            action: self.action,
            target: self.target,
            source: self.source,
            detail: self.detail,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }
}

impl AuditEntry {
    fn draft(&self) -> AuditDraft {
        AuditDraft {
            at: self.at,
            actor_user: self.actor_user,
            actor_name: self.actor_name.clone(),
            tenant: self.tenant,
            action: self.action.clone(),
            target: self.target.clone(),
            source: self.source.clone(),
            detail: self.detail.clone(),
        }
    }
}

fn entry_hash(seq: AuditSeq, prev_hash: &str, d: &AuditDraft) -> String {
    let mut h = Sha256::new();
    // Length-prefixed fields, so no two different entries encode alike.
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&seq.0.to_be_bytes());
    field(&d.at.as_millisecond().to_be_bytes());
    field(&d.actor_user.map_or(-1, |u| u.0).to_be_bytes());
    field(d.actor_name.as_bytes());
    field(&d.tenant.map_or(-1, |t| t.0).to_be_bytes());
    field(d.action.as_bytes());
    field(d.target.as_bytes());
    field(d.source.as_bytes());
    field(d.detail.as_bytes());
    hex::encode(h.finalize())
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {seq}: its content was changed (hash does not match)")]
    Changed { seq: i64 },
    #[error("entry {expected} is missing (next entry found is {found})")]
    Missing { expected: i64, found: i64 },
    #[error("entry {seq}: does not follow the entry before it")]
    Relinked { seq: i64 },
    #[error("the newest entries after {last} were removed (head says {head})")]
    Truncated { last: i64, head: i64 },
}

/// Checks a whole chain in order of `seq`; `head` is the (seq, hash) the store
/// recorded last, so removing the newest entries is found too.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    head: Option<(AuditSeq, &str)>,
) -> Result<u64, ChainBreak> {
    let mut prev = GENESIS.to_owned();
    let mut expected = 1i64;
    for e in entries {
        if e.seq.0 != expected {
            return Err(ChainBreak::Missing { expected, found: e.seq.0 });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak::Relinked { seq: e.seq.0 });
        }
        if entry_hash(e.seq, &e.prev_hash, &e.draft()) != e.hash {
            return Err(ChainBreak::Changed { seq: e.seq.0 });
        }
        prev = e.hash.clone();
        expected += 1;
    }
    let last = expected - 1;
    if let Some((head_seq, head_hash)) = head {
        if head_seq.0 != last || (last > 0 && head_hash != prev) {
            return Err(ChainBreak::Truncated { last, head: head_seq.0 });
        }
    }
    Ok(last as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|i| {
                let e = AuditDraft {
                    at: Timestamp::from_second(1_700_000_000 + i).unwrap(),
                    actor_user: Some(UserId(1)),
                    actor_name: "admin".into(),
                    tenant: Some(TenantId(2)),
                    action: "user.create".into(),
                    target: format!("user:{i}"),
                    source: "127.0.0.1".into(),
                    detail: "{}".into(),
                }
                .seal(AuditSeq(i), &prev);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn head(c: &[AuditEntry]) -> Option<(AuditSeq, &str)> {
        c.last().map(|e| (e.seq, e.hash.as_str()))
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_chain(&c, head(&c)), Ok(5));
        assert_eq!(verify_chain(&[], Some((AuditSeq(0), GENESIS))), Ok(0));
    }

    #[test]
    fn changed_entry_is_found() {
        let mut c = chain(5);
        c[2].target = "user:99".into();
        let h = head(&c).map(|(s, h)| (s, h.to_owned()));
        assert_eq!(verify_chain(&c, h.as_ref().map(|(s, h)| (*s, h.as_str()))), Err(ChainBreak::Changed { seq: 3 }));
    }

    #[test]
    fn removed_entry_is_found() {
        let mut c = chain(5);
        let h = head(&c).map(|(s, h)| (s, h.to_owned()));
        c.remove(1);
        assert_eq!(
            verify_chain(&c, h.as_ref().map(|(s, h)| (*s, h.as_str()))),
            Err(ChainBreak::Missing { expected: 2, found: 3 })
        );
    }

    #[test]
    fn removed_tail_is_found_through_the_head() {
        let mut c = chain(5);
        let h = head(&c).map(|(s, h)| (s, h.to_owned()));
        c.pop();
        assert_eq!(
            verify_chain(&c, h.as_ref().map(|(s, h)| (*s, h.as_str()))),
            Err(ChainBreak::Truncated { last: 4, head: 5 })
        );
    }
}
