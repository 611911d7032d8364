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
    let prefix = e.message[..start].trim();
    // Kernel lines may start with the uptime stamp "[ 123.456]".
    let prefix = prefix.rsplit(']').next().unwrap_or(prefix).trim().trim_end_matches(':').trim();
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
