//! FortiGate (FortiOS) syslog: `key=value` pairs with `logid`, `type` and
//! `subtype` (Fortinet "Log Message Reference"). Traffic logs become network
//! events; login events (`type=event subtype=system|user`, `status=failed`)
//! become authentication events; UTM/IPS logs intrusion events.

use super::{firewall_action, ip, kv};
use crate::event::{Category, LogSource, Outcome, SecEvent};

pub fn looks_like(msg: &str) -> bool {
    msg.contains("logid=") && (msg.contains("devname=") || msg.contains("devid="))
}

pub fn parse(mut e: SecEvent) -> Option<SecEvent> {
    let p = kv::pairs(&e.message);
    let kind = kv::get(&p, "type")?.to_string();
    // The device's own time: `eventtime` (ns or µs since the epoch), else
    // date and time at its `tz` offset.
    let own = kv::get(&p, "eventtime")
        .and_then(|t| t.parse::<i64>().ok())
        .map(|t| if t > 10_i64.pow(17) { t / 1_000_000 } else { t / 1_000 })
        .or_else(|| {
            let offset = kv::get(&p, "tz").and_then(super::offset_of)?;
            super::local_time(kv::get(&p, "date")?, kv::get(&p, "time")?, offset)
        });
    if let Some(at) = own {
        e.at_ms = at;
    }
    let subtype = kv::get(&p, "subtype").unwrap_or_default().to_string();
    e.source_ip = kv::get(&p, "srcip").and_then(ip);
    e.destination_ip = kv::get(&p, "dstip").and_then(ip);
    e.source_port = kv::get(&p, "srcport").and_then(|v| v.parse().ok());
    e.destination_port = kv::get(&p, "dstport").and_then(|v| v.parse().ok());
    e.transport = kv::get(&p, "proto").map(|n| match n {
        "6" => "tcp".to_string(),
        "17" => "udp".to_string(),
        "1" => "icmp".to_string(),
        other => other.to_string(),
    });
    e.interface = kv::get(&p, "srcintf").map(str::to_string);
    e.rule = kv::get(&p, "policyid").map(str::to_string);
    e.user = kv::get(&p, "user").map(str::to_string);
    let action = kv::get(&p, "action").unwrap_or_default();
    match kind.as_str() {
        "traffic" => {
            e.category = Category::Network;
            e.action = Some(firewall_action(action).to_string());
        }
        "utm" => {
            e.category = Category::IntrusionDetection;
            e.action = Some(format!("{subtype}_{}", firewall_action(action)));
        }
        _ => {
            let status = kv::get(&p, "status").unwrap_or_default();
            if action == "login" || kv::get(&p, "logdesc").is_some_and(|d| d.to_ascii_lowercase().contains("login")) {
                e.category = Category::Authentication;
                e.action = Some("login".into());
                e.outcome = Some(if status == "success" { Outcome::Success } else { Outcome::Failure });
            } else {
                e.action = Some(action.to_string()).filter(|a| !a.is_empty());
            }
        }
    }
    for key in ["logid", "devname", "level", "service", "logdesc", "attack", "msg"] {
        if let Some(v) = kv::get(&p, key) {
            e.labels.push((key.to_string(), v.to_string()));
        }
    }
    e.labels.push(("type".into(), kind));
    e.labels.push(("subtype".into(), subtype));
    e.dataset = "fortinet".into();
    e.observer = Some("fortigate".into());
    let category = (e.category == Category::Network).then(|| "firewall".to_string());
    e.logsource = LogSource { category, product: Some("fortios".into()), service: None };
    Some(e)
}
