//! The agent as a Debian package (AGT-1), made on request from the agent
//! binary this server ships: binary, configuration pointing at this server,
//! a systemd unit, and maintainer scripts that enrol with a token (baked in
//! from `?token=`, or `LEITSTAND_ENROLL_TOKEN`) and start the agent.
//!
//! A `.deb` is an `ar` archive of `debian-binary`, `control.tar.gz` and
//! `data.tar.gz`; `dpkg-deb` reads what this writes (a test checks).

use flate2::write::GzEncoder;
use flate2::Compression;

/// What goes into one package.
pub struct DebInput<'a> {
    pub version: &'a str,
    pub server: &'a str,
    pub agent: &'a [u8],
    /// A single-use enrollment token to enrol with at install time.
    pub token: Option<&'a str>,
    /// The server's private CA, which the agent then pins.
    pub ca_pem: Option<&'a str>,
    /// Modification time of every file (seconds since the epoch).
    pub mtime: u64,
}

const UNIT: &str = "[Unit]
Description=Leitstand agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/bin/leitstand-agent --config /etc/leitstand/agent.toml run
Restart=always
RestartSec=10
Nice=10

[Install]
WantedBy=multi-user.target
";

const POSTINST: &str = r#"#!/bin/sh
# Enrols the host (once) and starts the agent.
set -e
if [ "$1" = configure ]; then
  mkdir -p /var/lib/leitstand
  chmod 0700 /var/lib/leitstand
  if [ ! -f /var/lib/leitstand/identity.toml ]; then
    TOKEN="${LEITSTAND_ENROLL_TOKEN:-}"
    if [ -z "$TOKEN" ] && [ -f /etc/leitstand/enroll.token ]; then TOKEN="$(cat /etc/leitstand/enroll.token)"; fi
    if [ -n "$TOKEN" ]; then
      /usr/bin/leitstand-agent --config /etc/leitstand/agent.toml enroll --token "$TOKEN" \
        || echo "leitstand: enrollment failed (see above); run: sudo leitstand-agent enroll --token <token>" >&2
    else
      echo "leitstand: installed, not enrolled; run: sudo leitstand-agent enroll --token <token from the dashboard>"
    fi
  fi
  rm -f /etc/leitstand/enroll.token
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable leitstand-agent >/dev/null 2>&1 || true
    systemctl restart leitstand-agent || true
  fi
fi
exit 0
"#;

const PRERM: &str = r#"#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now leitstand-agent >/dev/null 2>&1 || true
fi
exit 0
"#;

const POSTRM: &str = r#"#!/bin/sh
set -e
if [ "$1" = purge ]; then
  rm -rf /var/lib/leitstand /etc/leitstand
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
"#;

/// The package's file name.
pub fn file_name(version: &str) -> String {
    format!("leitstand-agent_{version}_amd64.deb")
}

/// Builds the package.
pub fn build(input: &DebInput) -> std::io::Result<Vec<u8>> {
    let mut config = format!(
        "# Leitstand agent configuration; every value is optional.\nserver = \"{}\"\ninterval_secs = 10\nstate_dir = \"/var/lib/leitstand\"\n",
        input.server
    );
    if input.ca_pem.is_some() {
        config.push_str("# Trust only the server's own CA.\nca_file = \"/etc/leitstand/ca.pem\"\n");
    }
    let mut data: Vec<(&str, Vec<u8>, u32)> = vec![
        ("./usr/bin/leitstand-agent", input.agent.to_vec(), 0o755),
        ("./lib/systemd/system/leitstand-agent.service", UNIT.as_bytes().to_vec(), 0o644),
        ("./etc/leitstand/agent.toml", config.into_bytes(), 0o644),
    ];
    if let Some(ca) = input.ca_pem {
        data.push(("./etc/leitstand/ca.pem", ca.as_bytes().to_vec(), 0o644));
    }
    if let Some(t) = input.token {
        data.push(("./etc/leitstand/enroll.token", format!("{t}\n").into_bytes(), 0o600));
    }
    let installed_kib = data.iter().map(|(_, b, _)| b.len() as u64).sum::<u64>().div_ceil(1024);
    let control = format!(
        "Package: leitstand-agent\nVersion: {}\nArchitecture: amd64\nMaintainer: Leitstand <agent@leitstand.invalid>\n\
         Installed-Size: {installed_kib}\nSection: admin\nPriority: optional\nHomepage: {}\n\
         Description: Leitstand agent\n Collects metrics of this host and sends them, signed, to the Leitstand\n server at {}.\n",
        input.version, input.server, input.server
    );
    let control_files: Vec<(&str, Vec<u8>, u32)> = vec![
        ("./control", control.into_bytes(), 0o644),
        ("./conffiles", b"/etc/leitstand/agent.toml\n".to_vec(), 0o644),
        ("./postinst", POSTINST.as_bytes().to_vec(), 0o755),
        ("./prerm", PRERM.as_bytes().to_vec(), 0o755),
        ("./postrm", POSTRM.as_bytes().to_vec(), 0o755),
    ];
    let mut out = b"!<arch>\n".to_vec();
    ar_member(&mut out, "debian-binary", b"2.0\n", input.mtime);
    ar_member(&mut out, "control.tar.gz", &tar_gz(&control_files, input.mtime)?, input.mtime);
    ar_member(&mut out, "data.tar.gz", &tar_gz(&data, input.mtime)?, input.mtime);
    Ok(out)
}

/// A gzipped tar with the directories each file needs, owned by root. Fast
/// compression: the package is made per request.
fn tar_gz(files: &[(&str, Vec<u8>, u32)], mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let mut dirs: Vec<String> = vec![];
    for (path, _, _) in files {
        let mut at = String::from(".");
        let parts: Vec<&str> = path.trim_start_matches("./").split('/').collect();
        for part in &parts[..parts.len() - 1] {
            at = format!("{at}/{part}");
            if !dirs.contains(&at) {
                dirs.push(at.clone());
            }
        }
    }
    for d in &dirs {
        let mut h = header(tar::EntryType::Directory, 0o755, 0, mtime);
        tar.append_data(&mut h, format!("{d}/"), std::io::empty())?;
    }
    for (path, bytes, mode) in files {
        let mut h = header(tar::EntryType::Regular, *mode, bytes.len() as u64, mtime);
        tar.append_data(&mut h, path, bytes.as_slice())?;
    }
    tar.into_inner()?.finish()
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    let _ = h.set_username("root");
    let _ = h.set_groupname("root");
    h
}

/// One member of an `ar` archive: a 60-byte header, the data, padding to
/// an even length.
fn ar_member(out: &mut Vec<u8>, name: &str, data: &[u8], mtime: u64) {
    out.extend_from_slice(
        format!("{name:<16}{mtime:<12}{:<6}{:<6}{:<8}{:<10}`\n", 0, 0, "100644", data.len()).as_bytes(),
    );
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_starts_with_the_debian_binary_member() {
        let deb = build(&DebInput {
            version: "0.1.0",
            server: "http://x",
            agent: b"bin",
            token: None,
            ca_pem: None,
            mtime: 0,
        })
        .expect("deb");
        assert!(deb.starts_with(b"!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"));
        assert_eq!(file_name("0.1.0"), "leitstand-agent_0.1.0_amd64.deb");
    }
}
