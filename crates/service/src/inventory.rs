//! Inventories (INV-1 … INV-7): checks what agents report, and answers
//! the questions people ask of it, per host and across a tenant.

use crate::{Result, ServiceError};
use jiff::Timestamp;
use leitstand_proto::inventory::{Item, SectionReport};
use leitstand_store::InventoryUpdate;

/// Most items in one section report (the agent bounds itself lower).
pub const MAX_ITEMS_PER_REPORT: usize = 20_000;
/// Longest item key and longest item as JSON, in bytes.
const MAX_KEY: usize = 1024;
const MAX_ITEM_JSON: usize = 16 * 1024;
/// Longest collector error kept.
const MAX_ERROR: usize = 1024;

/// An inventory record from an agent, checked: every item belongs to the
/// section it came in and stays within the bounds.
pub(crate) fn checked(seq: u64, at_ms: i64, mut reports: Vec<SectionReport>) -> Result<InventoryUpdate> {
    let bad = |m: String| ServiceError::BadInput(format!("record {seq}: inventory: {m}"));
    let at = Timestamp::from_millisecond(at_ms).map_err(|_| bad(format!("time {at_ms} out of range")))?;
    for r in &mut reports {
        if r.items.len() + r.removed.len() > MAX_ITEMS_PER_REPORT {
            return Err(bad(format!(
                "{} items in section {}; at most {MAX_ITEMS_PER_REPORT}",
                r.items.len() + r.removed.len(),
                r.section.as_str()
            )));
        }
        if let Some(i) = r.items.iter().find(|i| i.section() != r.section) {
            return Err(bad(format!("a {} item in section {}", i.section().as_str(), r.section.as_str())));
        }
        let too_long = |k: &str| k.len() > MAX_KEY;
        if r.items.iter().any(|i| too_long(&i.key()) || json_len(i) > MAX_ITEM_JSON) || r.removed.iter().any(|k| too_long(k)) {
            return Err(bad(format!(
                "an item of section {} is longer than {MAX_ITEM_JSON} bytes or its key longer than {MAX_KEY}",
                r.section.as_str()
            )));
        }
        if let Some(e) = &mut r.error {
            if e.len() > MAX_ERROR {
                let mut cut = MAX_ERROR;
                while !e.is_char_boundary(cut) {
                    cut -= 1;
                }
                e.truncate(cut);
            }
        }
    }
    Ok(InventoryUpdate { seq, at, reports })
}

fn json_len(i: &Item) -> usize {
    serde_json::to_vec(i).map_or(usize::MAX, |v| v.len())
}
