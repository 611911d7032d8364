//! Linux netfilter `LOG` / nftables `log` lines from the kernel:
//! `PREFIX IN=eth0 OUT= SRC=… DST=… PROTO=TCP SPT=… DPT=…`. The action is
//! read from the prefix the administrator chose (DROP, REJECT, ACCEPT …).

use super::{firewall_action, ip, kv};
use crate::event::{Category, LogSource, SecEvent};

pub fn looks_like(msg: &str) -> bool {
    msg.contains(" SRC=") && msg.contains(" DST=") && msg.contains("IN=")
}

pub fn parse(mut e: SecEvent) -> Option<SecEvent> {
    let start = e.message.find("IN=")?;
    let prefix = log_prefix(&e.message[..start]);
    let p = kv::pairs(&e.message[start..]);
    e.source_ip = Some(ip(kv::get(&p, "SRC")?)?);
    e.destination_ip = Some(ip(kv::get(&p, "DST")?)?);
    e.source_port = kv::get(&p, "SPT").and_then(|v| v.parse().ok());
    e.destination_port = kv::get(&p, "DPT").and_then(|v| v.parse().ok());
    e.transport = kv::get(&p, "PROTO").map(str::to_ascii_lowercase);
    e.interface = kv::get(&p, "IN").map(str::to_string);
    let lower = prefix.to_ascii_lowercase();
    let action = ["drop", "reject", "block", "deny", "accept", "allow", "pass"]
        .into_iter()
        .find(|w| lower.contains(w))
        .map(firewall_action)
        .unwrap_or("log");
    e.action = Some(action.to_string());
    e.rule = Some(prefix.to_string()).filter(|s| !s.is_empty());
    e.dataset = "netfilter".into();
    e.category = Category::Network;
    e.observer = Some("netfilter".into());
    e.logsource = LogSource { category: Some("firewall".into()), product: Some("linux".into()), service: None };
    Some(e)
}

/// The administrator's log prefix before `IN=`: without the kernel's uptime
/// stamp (`[ 123.456]`), a trailing colon, and the brackets UFW puts around
/// its own (`[UFW BLOCK]`).
fn log_prefix(head: &str) -> &str {
    let mut p = head.trim();
    if let Some(rest) = p.strip_prefix('[') {
        let stamp = rest.split_once(']').filter(|(t, _)| t.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.'));
        if let Some((_, after)) = stamp {
            p = after.trim();
        }
    }
    let p = p.trim_end_matches(':').trim();
    p.strip_prefix('[').and_then(|q| q.strip_suffix(']')).unwrap_or(p).trim()
}

#[cfg(test)]
mod tests {
    use super::log_prefix;

    #[test]
    fn prefixes_lose_the_uptime_stamp_colon_and_brackets() {
        assert_eq!(log_prefix("[172834.511234] IPTABLES-DROP: "), "IPTABLES-DROP");
        assert_eq!(log_prefix("[ 2789.657937] [UFW BLOCK] "), "UFW BLOCK");
        assert_eq!(log_prefix("[UFW LIMIT BLOCK] "), "UFW LIMIT BLOCK");
        assert_eq!(log_prefix("nft-accept "), "nft-accept");
        assert_eq!(log_prefix("[ 1.5] "), "");
        assert_eq!(log_prefix(""), "");
    }
}
