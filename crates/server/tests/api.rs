//! The JSON API and the operations endpoints: bad input gets a clear error,
//! never a 500; OpenAPI describes every API route.

mod common;

use common::{world, TestApp};
use leitstand_server::routes::{self, Kind};
use serde_json::{json, Value};

#[tokio::test]
async fn malformed_json_gets_400_or_422_with_a_message() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let t = app.token("admin").await;
    let c = app.api();
    let r = c
        .post(app.at("/api/v1/tenants"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "bad_request");
    assert!(!body["message"].as_str().unwrap_or("").is_empty());
    let r = c.post(app.at("/api/v1/tenants")).bearer_auth(&t).json(&json!({ "nom": "x" })).send().await.expect("post");
    assert_eq!(r.status(), 422);
    let r = c
        .post(app.at("/api/v1/tenants"))
        .bearer_auth(&t)
        .json(&json!({ "name": "x", "security": "platinum", "soc": "7", "time_zone": "Mars/Olympus" }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.expect("json");
    let fields: Vec<&str> =
        body["fields"].as_array().expect("fields").iter().map(|f| f["field"].as_str().unwrap_or("")).collect();
    for f in ["name", "security", "soc", "time_zone"] {
        assert!(fields.contains(&f), "missing error for {f}: {body}");
    }
    assert!(body["fields"][0]["message"].as_str().unwrap_or("").len() > 5, "each field error has a readable message");
}

#[tokio::test]
async fn duplicates_conflict_and_unknown_things_are_404() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let t = app.token("admin").await;
    let c = app.api();
    let new = json!({ "name": "Kunde A", "security": "advanced", "soc": "2", "managed_service": true });
    let r = c.post(app.at("/api/v1/tenants")).bearer_auth(&t).json(&new).send().await.expect("post");
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.expect("json");
    assert_eq!(created["plan"]["security"], "advanced");
    assert_eq!(created["time_zone"], "Europe/Berlin");
    let r = c.post(app.at("/api/v1/tenants")).bearer_auth(&t).json(&new).send().await.expect("post");
    assert_eq!(r.status(), 422, "a taken name is a field error");
    assert_eq!(c.get(app.at("/api/v1/tenants/999999")).bearer_auth(&t).send().await.expect("get").status(), 404);
    let r = c.get(app.at("/api/v1/tenants/abc")).bearer_auth(&t).send().await.expect("get");
    assert_eq!(r.status(), 400);
    let r = c.get(app.at("/api/v1/no-such-thing")).bearer_auth(&t).send().await.expect("get");
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "not_found");
    let r = app.browser().get(app.at("/no-such-page")).header("accept-language", "de").send().await.expect("get");
    assert_eq!(r.status(), 404);
    let html = r.text().await.expect("html");
    assert!(html.contains("<html") && html.contains("gibt es nicht"));
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let t = app.token("admin").await;
    let bearer = format!("Bearer {t}");
    let big = 2 * 1024 * 1024;
    let json = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    assert_eq!(common::announced_post_status(&app, "/api/v1/tenants", &json, big).await, 413);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    assert_eq!(common::announced_post_status(&app, "/app/tenants", &form, big).await, 413);
    // Just under the limit is no 413: the request is read and judged on its content.
    let r = app
        .api()
        .post(app.at("/api/v1/tenants"))
        .bearer_auth(&t)
        .json(&serde_json::json!({ "name": "x".repeat(1000) }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn openapi_document_lists_every_api_route_with_its_permission() {
    let app = TestApp::spawn().await;
    let doc: Value =
        app.api().get(app.at("/api/v1/openapi.json")).send().await.expect("get").json().await.expect("json");
    assert_eq!(doc["openapi"], "3.0.3");
    for r in routes::all().into_iter().filter(|r| r.kind == Kind::Api) {
        let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
        assert!(op.is_object(), "{} {} missing from OpenAPI", r.method, r.path);
        assert_eq!(op["x-permission"], r.permission.as_str());
    }
    assert!(doc["components"]["schemas"]["TenantDto"].is_object());
    assert!(doc["paths"]["/api/v1/tenants"]["post"]["requestBody"].is_object());
}

#[tokio::test]
async fn api_and_web_share_the_use_cases() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let t = app.token("anna").await;
    let c = app.api();
    let r = c
        .post(app.at("/api/v1/users"))
        .bearer_auth(&t)
        .json(&json!({ "tenant": w.a.0, "name": "neu", "role": "customer_member", "email": "neu@example.de" }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert!(body["invitation"]["link"].as_str().expect("link").contains("/invite/"));
    // A customer admin cannot make staff, nor users in another tenant.
    let r = c
        .post(app.at("/api/v1/users"))
        .bearer_auth(&t)
        .json(&json!({ "tenant": w.a.0, "name": "boss", "role": "provider_admin" }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let r = c
        .post(app.at("/api/v1/users"))
        .bearer_auth(&t)
        .json(&json!({ "tenant": w.b.0, "name": "mole", "role": "customer_member" }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404);
    // The web page shows the user the API made.
    let browser = app.sign_in("anna").await;
    let page = browser.get(app.at("/app/users")).send().await.expect("get").text().await.expect("html");
    assert!(page.contains(">neu<"));
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let c = app.api();
    assert_eq!(c.get(app.at("/healthz")).send().await.expect("get").text().await.expect("body"), "ok\n");
    assert_eq!(c.get(app.at("/readyz")).send().await.expect("get").status(), 200);
    c.get(app.at("/login")).send().await.expect("get");
    let m = c.get(app.at("/metrics")).send().await.expect("get").text().await.expect("body");
    assert!(m.contains("leitstand_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"} 1"), "{m}");
    assert!(m.contains("leitstand_http_request_duration_seconds_bucket{route=\"/login\""));
    assert!(m.contains("leitstand_db_pool_connections{backend=\"sqlite\""));
}

#[tokio::test]
async fn pages_speak_german_by_default_and_english_on_request() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let de = app.browser().get(app.at("/login")).send().await.expect("get").text().await.expect("html");
    assert!(de.contains("Anmelden") && de.contains("lang=\"de\""));
    let en = app
        .browser()
        .get(app.at("/login"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(en.contains("Sign in") && en.contains("lang=\"en\""));
    // A signed-in user's choice is kept.
    let c = app.sign_in("admin").await;
    let csrf = common::csrf_of(&c, &app.at("/app")).await;
    c.post(app.at("/language")).form(&[("lang", "en"), ("back", "/app"), ("_csrf", &csrf)]).send().await.expect("post");
    let page =
        c.get(app.at("/app")).header("accept-language", "de").send().await.expect("get").text().await.expect("html");
    assert!(page.contains("Overview"));
}

#[tokio::test]
async fn a_page_the_role_may_not_see_says_so_in_the_readers_language() {
    let app = TestApp::spawn().await;
    world(&app).await;
    let anna = app.sign_in("anna").await;
    let r = anna.get(app.at("/app/settings")).send().await.expect("get");
    assert_eq!(r.status(), 403);
    let html = r.text().await.expect("html");
    assert!(html.contains("Dafür fehlt Ihrer Rolle die Berechtigung"), "{html}");
    let r = anna.get(app.at("/app/users/999999")).send().await.expect("get");
    assert_eq!(r.status(), 404);
    assert!(r.text().await.expect("html").contains("gibt es nicht"));
}
