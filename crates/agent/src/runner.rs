//! Runs the server's signed actions off the collection loop: one at a time
//! on a thread of its own, each id once. An id is remembered in the state
//! directory before it starts, so an action the server sends again (it does,
//! until the report arrives) or one that was running when the agent
//! stopped is never run twice; the latter is reported as failed with a
//! note to check the host.

use crate::actions::{execute, package_tool};
use leitstand_proto::actions::{ActionReport, Outcome, SignedAction};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{SystemTime, UNIX_EPOCH};

/// Ids remembered at most (the oldest reported ones are forgotten).
const REMEMBERED: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Seen {
    Started,
    Reported,
}

/// What an action is checked against: the key from enrollment, this host,
/// the local allow-list, and the root the package manager works on.
#[derive(Debug, Clone)]
pub struct Context {
    pub action_key: Option<String>,
    pub host: i64,
    pub allow: Vec<String>,
    pub root: PathBuf,
}

pub struct Runner {
    file: PathBuf,
    seen: BTreeMap<i64, Seen>,
    queue: VecDeque<SignedAction>,
    running: Option<i64>,
    done_tx: Sender<ActionReport>,
    done_rx: Receiver<ActionReport>,
    /// Reports made without running (interrupted at the last stop).
    ready: Vec<ActionReport>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Runner {
    /// Reads what ran before from `state_dir`; actions that had started
    /// but not reported are reported as failed.
    pub fn open(state_dir: &Path) -> Runner {
        let file = state_dir.join("actions.json");
        let mut seen: BTreeMap<i64, Seen> =
            std::fs::read(&file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        let mut ready = vec![];
        for (id, s) in seen.iter_mut().filter(|(_, s)| **s == Seen::Started) {
            ready.push(ActionReport {
                id: *id,
                outcome: Outcome::Failed,
                detail: "the agent stopped while this action ran; check the host's packages (dpkg --audit)".into(),
                packages: vec![],
                finished_ms: now_ms(),
            });
            *s = Seen::Reported;
        }
        let (done_tx, done_rx) = channel();
        let runner = Runner { file, seen, queue: VecDeque::new(), running: None, done_tx, done_rx, ready };
        if !runner.ready.is_empty() {
            runner.save();
        }
        runner
    }

    fn save(&self) {
        let text = serde_json::to_vec(&self.seen).unwrap_or_default();
        let tmp = self.file.with_extension("tmp");
        let written = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &self.file));
        if let Err(e) = written {
            tracing::warn!(error = %e, file = %self.file.display(), "cannot remember which actions ran");
        }
    }

    /// Queues the actions not seen before.
    pub fn offer(&mut self, actions: &[SignedAction]) {
        for a in actions {
            let queued = self.queue.iter().any(|q| q.id == a.id) || self.running == Some(a.id);
            if !queued && !self.seen.contains_key(&a.id) {
                self.queue.push_back(a.clone());
            }
        }
    }

    /// Whether an action runs now.
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Reports of actions that ended since the last call, to be spooled.
    pub fn finished(&mut self) -> Vec<ActionReport> {
        let mut out = std::mem::take(&mut self.ready);
        while let Ok(r) = self.done_rx.try_recv() {
            if self.running == Some(r.id) {
                self.running = None;
            }
            self.seen.insert(r.id, Seen::Reported);
            out.push(r);
        }
        if !out.is_empty() {
            self.forget_old();
            self.save();
        }
        out
    }

    fn forget_old(&mut self) {
        while self.seen.len() > REMEMBERED {
            let Some(oldest) = self.seen.iter().find(|(_, s)| **s == Seen::Reported).map(|(id, _)| *id) else {
                break;
            };
            self.seen.remove(&oldest);
        }
    }

    /// Starts the next queued action on its own thread, unless one runs.
    /// Its id is saved as started first.
    pub fn start_next(&mut self, ctx: &Context) {
        if self.running.is_some() {
            return;
        }
        let Some(action) = self.queue.pop_front() else { return };
        let id = action.id;
        self.seen.insert(id, Seen::Started);
        self.save();
        self.running = Some(id);
        let (tx, ctx) = (self.done_tx.clone(), ctx.clone());
        let spawned = std::thread::Builder::new().name(format!("action-{id}")).spawn(move || {
            tracing::info!(id = action.id, action = action.action.name(), "running an action from the server");
            let tool = package_tool(&ctx.root);
            let mut report = execute(&action, ctx.action_key.as_deref(), ctx.host, now_ms(), &ctx.allow, tool.as_ref());
            report.finished_ms = now_ms();
            tracing::info!(id = report.id, outcome = report.outcome.as_str(), "action ended");
            let _ = tx.send(report);
        });
        if let Err(e) = spawned {
            self.running = None;
            let report = ActionReport {
                id,
                outcome: Outcome::Failed,
                detail: format!("the agent could not start a thread for the action: {e}"),
                packages: vec![],
                finished_ms: now_ms(),
            };
            let _ = self.done_tx.send(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;
    use leitstand_proto::actions::Action;

    fn signed(key: &ed25519_dalek::SigningKey, id: i64, host: i64) -> SignedAction {
        let action = Action::ApplyUpdates { packages: vec!["openssl".into()] };
        let not_after_ms = now_ms() + 60_000;
        let input = SignedAction::signing_input(id, host, not_after_ms, &action);
        let signature = hex::encode(key.sign(input.as_bytes()).to_bytes());
        SignedAction { id, host, not_after_ms, action, signature }
    }

    fn wait(r: &mut Runner) -> Vec<ActionReport> {
        for _ in 0..500 {
            let done = r.finished();
            if !done.is_empty() {
                return done;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the action did not end");
    }

    #[test]
    fn each_action_runs_once_even_when_sent_again_or_after_a_restart() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let server = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let ctx = Context {
            action_key: Some(hex::encode(server.verifying_key().as_bytes())),
            host: 4,
            allow: vec![],
            root: root.path().to_owned(),
        };
        let mut r = Runner::open(state.path());
        let a = signed(&server, 11, 4);
        r.offer(&[a.clone(), a.clone()]);
        r.start_next(&ctx);
        assert!(r.busy());
        r.offer(std::slice::from_ref(&a));
        let done = wait(&mut r);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].outcome, Outcome::Refused, "not allow-listed: {}", done[0].detail);
        assert!(done[0].detail.contains("allow_actions"));
        assert!(!r.busy());
        r.offer(std::slice::from_ref(&a));
        r.start_next(&ctx);
        assert!(!r.busy(), "reported ids are not run again");
        let mut again = Runner::open(state.path());
        again.offer(&[a]);
        again.start_next(&ctx);
        assert!(!again.busy() && again.finished().is_empty(), "remembered across restarts");
    }

    #[test]
    fn an_action_cut_off_by_a_stop_is_reported_failed_once() {
        let state = tempfile::tempdir().unwrap();
        std::fs::write(state.path().join("actions.json"), r#"{"5":"started","6":"reported"}"#).unwrap();
        let mut r = Runner::open(state.path());
        let done = r.finished();
        assert_eq!(done.iter().map(|d| (d.id, d.outcome)).collect::<Vec<_>>(), vec![(5, Outcome::Failed)]);
        assert!(done[0].detail.contains("stopped"));
        assert!(Runner::open(state.path()).finished().is_empty(), "reported once");
    }

    #[test]
    fn an_allowed_action_runs_against_the_given_root_only() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let server = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let ctx = Context {
            action_key: Some(hex::encode(server.verifying_key().as_bytes())),
            host: 4,
            allow: vec!["apply_updates".into()],
            root: root.path().to_owned(),
        };
        let mut r = Runner::open(state.path());
        r.offer(&[signed(&server, 12, 4)]);
        r.start_next(&ctx);
        let done = wait(&mut r);
        // An empty root has no package installed: nothing changes, nothing to restore.
        assert_eq!(done[0].outcome, Outcome::RolledBack, "{}", done[0].detail);
        assert!(done[0].detail.contains("openssl: not installed"), "{}", done[0].detail);
    }
}
