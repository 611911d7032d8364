//! Helpers of the agent's package-manager tests (apt.rs, dnf.rs).

use leitstand_proto::actions::{Action, SignedAction};
use std::process::Command;

/// Runs a command that must succeed; its output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Whether the tests run as root (package managers in a prepared root need it).
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// An `apply_updates` action for these packages, signed with `key`.
pub fn signed_update(
    key: &ed25519_dalek::SigningKey,
    id: i64,
    host: i64,
    not_after_ms: i64,
    packages: &[&str],
) -> SignedAction {
    use ed25519_dalek::Signer;
    let action = Action::ApplyUpdates { packages: packages.iter().map(|p| (*p).to_owned()).collect() };
    let input = SignedAction::signing_input(id, host, not_after_ms, &action);
    SignedAction { id, host, not_after_ms, action, signature: hex::encode(key.sign(input.as_bytes()).to_bytes()) }
}
