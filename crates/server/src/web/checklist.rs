//! The hardening checklist in the console (RISK-1): one host's checks with
//! result, evidence and remedy, and the scores of every host and tenant.

use super::{csv, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::Ctx;
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_proto::checklist::{catalogue, score, CheckDef, Outcome};
use leitstand_store::{Host, HostChecklist, StoredCheck};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/app/hosts/{host}/checklist",
            P::HostsRead,
            Kind::Web,
            "A host's hardening checklist with evidence and remedy; CSV with format=csv.",
            host_page,
        ),
        route(
            M::GET,
            "/app/checklist",
            P::HostsRead,
            Kind::Web,
            "Hardening scores of every host and tenant; CSV with format=csv.",
            scores_page,
        ),
    ]
}

/// A check as shown: its catalogue entry in the reader's language and
/// its result on the host.
pub struct Row {
    pub id: String,
    pub topic: String,
    pub title: String,
    pub rationale: String,
    pub remedy: String,
    pub result: String,
    pub evidence: String,
}

/// Checks in catalogue order, failures first.
pub fn rows(lang: &str, checks: &[StoredCheck]) -> Vec<Row> {
    let cat = catalogue();
    let defs: BTreeMap<&str, (usize, &CheckDef)> =
        cat.check.iter().enumerate().map(|(i, d)| (d.id.as_str(), (i, d))).collect();
    let rank = |r: &str| match r {
        "fail" => 0,
        "error" => 1,
        "pass" => 2,
        _ => 3,
    };
    let mut out: Vec<(usize, usize, Row)> = checks
        .iter()
        .map(|c| {
            let (i, def) = defs.get(c.id.as_str()).map_or((usize::MAX, None), |(i, d)| (*i, Some(*d)));
            let text = |f: fn(&CheckDef) -> &leitstand_proto::checklist::Texts| {
                def.map_or_else(String::new, |d| f(d).get(lang).to_owned())
            };
            let row = Row {
                id: c.id.clone(),
                topic: def.map_or_else(String::new, |d| d.topic.clone()),
                title: def.map_or_else(|| c.id.clone(), |d| d.title.get(lang).to_owned()),
                rationale: text(|d| &d.rationale),
                remedy: text(|d| &d.remedy),
                result: c.result.clone(),
                evidence: c.evidence.clone(),
            };
            (rank(&c.result), i, row)
        })
        .collect();
    out.sort_by_key(|(rank, i, _)| (*rank, *i));
    out.into_iter().map(|(_, _, r)| r).collect()
}

/// Counts per result and the score of a list of checks.
pub fn tally(checks: &[StoredCheck]) -> (u64, u64, u64, u64, Option<u8>) {
    let n = |r: &str| checks.iter().filter(|c| c.result == r).count() as u64;
    let (pass, fail) = (n("pass"), n("fail"));
    (pass, fail, n("not_applicable"), n("error"), score(pass, fail))
}

#[derive(Deserialize, Default)]
struct HostForm {
    result: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "checklist.html")]
struct HostTpl {
    p: Page,
    host: Host,
    tab: &'static str,
    tab_host: i64,
    rows: Vec<Row>,
    result: String,
    results: Vec<(&'static str, String)>,
    pass: u64,
    fail: u64,
    not_applicable: u64,
    error: u64,
    score: Option<u8>,
    checked_at: Option<jiff::Timestamp>,
}

impl HostTpl {
    /// The remedy's text with its `code` spans apart: (is code, text).
    fn parts(&self, text: &str) -> Vec<(bool, String)> {
        text.split('`').enumerate().filter(|(_, t)| !t.is_empty()).map(|(i, t)| (i % 2 == 1, t.to_owned())).collect()
    }

    fn label(&self, result: &str) -> String {
        self.p.tk("label-check-", result)
    }

    fn class(&self, result: &str) -> &'static str {
        match result {
            "pass" => "on",
            "fail" => "off",
            "error" => "warn",
            _ => "na",
        }
    }

    fn csv_link(&self) -> String {
        format!("/app/hosts/{}/checklist?format=csv", self.host.id)
    }
}

async fn host_page(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(f): Query<HostForm>) -> WebResult {
    let a = ctx.actor()?;
    let host = s.services.host(a, HostId(id)).await?;
    let checks = s.services.host_checklist(a, host.id).await?;
    let p = page(&s, &ctx, "tab-checklist", None).await;
    let lang = p.lang.code();
    let (pass, fail, not_applicable, error, score) = tally(&checks);
    let checked_at = checks.iter().map(|c| c.checked_at).max();
    let result = f.result.unwrap_or_default();
    let mut rows = rows(lang, &checks);
    if !result.is_empty() {
        rows.retain(|r| r.result == result);
    }
    if f.format.as_deref() == Some("csv") {
        let header = ["id", "topic", "title", "result", "evidence", "remedy"].map(str::to_owned);
        let lines =
            rows.into_iter().map(|r| vec![r.id, r.topic, r.title, r.result, r.evidence, r.remedy]).collect::<Vec<_>>();
        return Ok(csv::response(&s, &format!("{}-checklist", host.name), &header, lines.into_iter()));
    }
    let results = Outcome::ALL.iter().map(|o| (o.as_str(), p.tk("label-check-", o.as_str()))).collect();
    Ok(render(&HostTpl {
        p,
        tab_host: host.id.0,
        host,
        tab: "checklist",
        rows,
        result,
        results,
        pass,
        fail,
        not_applicable,
        error,
        score,
        checked_at,
    }))
}

/// A tenant's score: the mean of its hosts' scores.
pub struct TenantScore {
    pub tenant: TenantId,
    pub name: String,
    pub hosts: usize,
    pub score: Option<u8>,
}

pub fn tenant_scores(hosts: &[HostChecklist], names: &BTreeMap<TenantId, String>) -> Vec<TenantScore> {
    let mut by: BTreeMap<TenantId, Vec<u8>> = BTreeMap::new();
    let mut count: BTreeMap<TenantId, usize> = BTreeMap::new();
    for h in hosts {
        *count.entry(h.tenant).or_default() += 1;
        if let Some(s) = score(h.pass, h.fail) {
            by.entry(h.tenant).or_default().push(s);
        }
    }
    count
        .into_iter()
        .map(|(tenant, n)| {
            let scores = by.get(&tenant).cloned().unwrap_or_default();
            let mean = (!scores.is_empty()).then(|| {
                ((scores.iter().map(|s| u32::from(*s)).sum::<u32>() as f64) / scores.len() as f64).round() as u8
            });
            TenantScore { tenant, name: names.get(&tenant).cloned().unwrap_or_default(), hosts: n, score: mean }
        })
        .collect()
}

#[derive(Deserialize, Default)]
struct ScoresForm {
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "checklist_scores.html")]
struct ScoresTpl {
    p: Page,
    tenants: Vec<TenantScore>,
    hosts: Vec<(HostChecklist, Option<u8>)>,
}

async fn scores_page(State(s): State<AppState>, ctx: Ctx, Query(f): Query<ScoresForm>) -> WebResult {
    let a = ctx.actor()?;
    let hosts = s.services.checklist_counts(a, ctx.selected_tenant).await?;
    let names: BTreeMap<TenantId, String> =
        s.services.tenants(a).await.unwrap_or_default().into_iter().map(|t| (t.id, t.name)).collect();
    let tenants = tenant_scores(&hosts, &names);
    if f.format.as_deref() == Some("csv") {
        let header =
            ["host", "tenant", "score", "pass", "fail", "not_applicable", "error", "checked_at_utc"].map(str::to_owned);
        let lines: Vec<Vec<String>> = hosts
            .iter()
            .map(|h| {
                vec![
                    h.host_name.clone(),
                    names.get(&h.tenant).cloned().unwrap_or_default(),
                    score(h.pass, h.fail).map(|s| s.to_string()).unwrap_or_default(),
                    h.pass.to_string(),
                    h.fail.to_string(),
                    h.not_applicable.to_string(),
                    h.error.to_string(),
                    h.checked_at.to_string(),
                ]
            })
            .collect();
        return Ok(csv::response(&s, "checklist-scores", &header, lines.into_iter()));
    }
    let p = page(&s, &ctx, "page-checklist", None).await;
    let hosts = hosts.into_iter().map(|h| (score(h.pass, h.fail), h)).map(|(s, h)| (h, s)).collect();
    Ok(render(&ScoresTpl { p, tenants, hosts }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(tenant: i64, pass: u64, fail: u64) -> HostChecklist {
        HostChecklist {
            host: HostId(1),
            host_name: "h".into(),
            tenant: TenantId(tenant),
            pass,
            fail,
            not_applicable: 0,
            error: 0,
            checked_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_tenants_score_is_the_mean_of_its_hosts() {
        let names = BTreeMap::from([(TenantId(1), "A".to_owned())]);
        let t = tenant_scores(&[counts(1, 10, 0), counts(1, 5, 5), counts(2, 0, 0)], &names);
        assert_eq!((t[0].name.as_str(), t[0].hosts, t[0].score), ("A", 2, Some(75)));
        assert_eq!((t[1].hosts, t[1].score), (1, None));
    }

    #[test]
    fn failures_come_first_and_texts_follow_the_language() {
        let at = jiff::Timestamp::UNIX_EPOCH;
        let c = |id: &str, r: &str| StoredCheck {
            id: id.into(),
            result: r.into(),
            evidence: String::new(),
            checked_at: at,
        };
        let r =
            rows("de", &[c("ssh-root-login", "pass"), c("no-hosts-equiv", "fail"), c("from-a-newer-agent", "error")]);
        assert_eq!(
            r.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["no-hosts-equiv", "from-a-newer-agent", "ssh-root-login"]
        );
        assert!(r[0].title.contains("hosts.equiv") && r[0].remedy.contains("löschen"));
        assert_eq!(r[1].title, "from-a-newer-agent", "an unknown check shows its id");
    }
}
