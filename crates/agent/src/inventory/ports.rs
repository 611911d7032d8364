//! Listening sockets (INV-4): TCP in LISTEN and unconnected UDP from
//! `proc/net/{tcp,tcp6,udp,udp6}`, with the owning process found through
//! the socket links in `proc/[pid]/fd`.

use super::processes::pids;
use super::InventoryCollector;
use crate::collect::CollectError;
use leitstand_proto::inventory::{Item, Listener, Section};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

pub struct Ports;

impl InventoryCollector for Ports {
    fn section(&self) -> Section {
        Section::Ports
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        let mut sockets = vec![];
        let mut read_any = false;
        for proto in ["tcp", "tcp6", "udp", "udp6"] {
            let rel = format!("proc/net/{proto}");
            // A kernel without IPv6 has no tcp6: that is no error.
            let Some(text) = super::read_optional("ports", root, &rel)? else { continue };
            read_any = true;
            sockets.extend(parse_net(proto, &text));
        }
        if !read_any {
            return Err(crate::collect::bad("ports", root, "proc/net/tcp", "no socket tables under proc/net"));
        }
        let owners = socket_owners(root);
        Ok(sockets
            .into_iter()
            .map(|(mut l, inode)| {
                if let Some((pid, name)) = owners.get(&inode) {
                    l.pid = Some(*pid);
                    l.process.clone_from(name);
                }
                Item::Listener(l)
            })
            .collect())
    }
}

/// Listening sockets of one table with their inode.
pub fn parse_net(proto: &str, text: &str) -> Vec<(Listener, u64)> {
    let tcp = proto.starts_with("tcp");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (local, remote, state, inode) = (f.get(1)?, f.get(2)?, f.get(3)?, f.get(9)?);
            let listening = if tcp { *state == "0A" } else { *state == "07" && remote.ends_with(":0000") };
            if !listening {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            Some((
                Listener {
                    protocol: proto.to_owned(),
                    address: hex_address(addr)?,
                    port: u16::from_str_radix(port, 16).ok()?,
                    pid: None,
                    process: String::new(),
                },
                inode.parse().ok()?,
            ))
        })
        .collect()
}

/// The kernel writes addresses as 32-bit words in host (little-endian) order.
fn hex_address(hex: &str) -> Option<String> {
    let words: Vec<u32> =
        (0..hex.len() / 8).map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()).collect::<Option<_>>()?;
    match words[..] {
        [w] => Some(Ipv4Addr::from(w.swap_bytes()).to_string()),
        [a, b, c, d] => {
            let bytes: Vec<u8> = [a, b, c, d].iter().flat_map(|w| w.to_le_bytes()).collect();
            Some(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string())
        }
        _ => None,
    }
}

/// socket inode → (pid, process name), from `proc/[pid]/fd/*` links of the
/// form `socket:[inode]`.
fn socket_owners(root: &Path) -> BTreeMap<u64, (u32, String)> {
    let mut owners = BTreeMap::new();
    for pid in pids(root) {
        let dir = root.join("proc").join(pid.to_string());
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else { continue };
        let name = std::fs::read_to_string(dir.join("comm")).map(|s| s.trim().to_owned()).unwrap_or_default();
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let target = target.to_string_lossy();
            if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')?.parse().ok()) {
                owners.entry(inode).or_insert_with(|| (pid, name.clone()));
            }
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0\n   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   117        0 2222 1 0 100 0 0 10 0\n   2: 0100007F:1538 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   117        0 3333 1 0 100 0 0 10 0\n";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:0D3D 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0 100 0 0 10 0\n";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  1: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5555 2 0 0\n";

    #[test]
    fn listening_sockets_with_their_process() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        testroot::write(
            root,
            &[
                ("proc/net/tcp", TCP),
                ("proc/net/tcp6", TCP6),
                ("proc/net/udp", UDP),
                ("proc/812/comm", "sshd\n"),
                ("proc/812/stat", "812 (sshd) S 1"),
            ],
        );
        std::fs::create_dir_all(root.join("proc/812/fd")).expect("fd dir");
        std::os::unix::fs::symlink("socket:[1111]", root.join("proc/812/fd/3")).expect("link");
        std::os::unix::fs::symlink("/dev/null", root.join("proc/812/fd/0")).expect("link");
        let items = Ports.collect(root).expect("collect");
        let l: Vec<&Listener> = items
            .iter()
            .map(|i| match i {
                Item::Listener(l) => l,
                _ => panic!("listener"),
            })
            .collect();
        assert_eq!(l.len(), 4, "the established connection is not listed: {l:?}");
        assert_eq!(
            (l[0].address.as_str(), l[0].port, l[0].pid, l[0].process.as_str()),
            ("0.0.0.0", 22, Some(812), "sshd")
        );
        assert_eq!((l[1].address.as_str(), l[1].port, l[1].pid), ("127.0.0.1", 5432, None));
        assert_eq!((l[2].protocol.as_str(), l[2].address.as_str(), l[2].port), ("tcp6", "::1", 3389));
        assert_eq!((l[3].protocol.as_str(), l[3].port), ("udp", 68));
    }

    #[test]
    fn this_machine_has_listeners_with_owners() {
        let items = Ports.collect(Path::new("/")).expect("collect");
        // PostgreSQL listens on this machine (CI and development); only root
        // may read other users' fd links.
        let root = std::fs::read_dir("/proc/1/fd").is_ok();
        assert!(
            items.iter().any(|i| matches!(i, Item::Listener(l) if l.port == 5432 && (l.pid.is_some() || !root))),
            "{items:?}"
        );
    }
}
