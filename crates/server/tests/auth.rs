//! Sign-in, invitations, passwords, sessions, TOTP, throttling and CSRF, over
//! HTTP as a browser speaks it.

mod common;

use common::{csrf_of, TestApp, PASSWORD};
use jiff::SignedDuration;
use leitstand_domain::{totp, Clock};
use leitstand_store::AuditFilter;

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

async fn post_form(
    c: &reqwest::Client,
    app: &TestApp,
    page: &str,
    to: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = csrf_of(c, &app.at(page)).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("_csrf", &csrf));
    c.post(app.at(to)).form(&form).send().await.expect("post")
}

#[tokio::test]
async fn invitation_link_sets_the_password_once_and_signs_in() {
    let app = TestApp::spawn().await;
    let inv = app.services.bootstrap("Provider GmbH", "admin").await.expect("bootstrap").expect("first");
    assert!(app.services.bootstrap("Provider GmbH", "admin").await.expect("again").is_none(), "bootstrap runs once");
    let path = inv.link.trim_start_matches(&app.url).to_owned();
    let c = app.browser();
    let page = c.get(app.at(&path)).send().await.expect("get");
    assert_eq!(page.status(), 200);
    // Too short a password is refused with a message at the field.
    let r = post_form(&c, &app, &path, &path, &[("password", "short"), ("repeat", "short")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.expect("body").contains("12"));
    let r = post_form(&c, &app, &path, &path, &[("password", PASSWORD), ("repeat", PASSWORD)]).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/app"));
    assert_eq!(c.get(app.at("/app")).send().await.expect("app").status(), 200, "signed in after setting the password");
    // Used up.
    let again = app.browser().get(app.at(&path)).send().await.expect("get");
    assert_eq!(again.status(), 422);
}

#[tokio::test]
async fn invitation_links_expire_after_72_hours() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let a = app.tenant(&admin, "Kunde A").await;
    let input = leitstand_service::NewUserInput {
        tenant: a,
        name: "late".into(),
        display_name: String::new(),
        email: None,
        role: "customer_member".into(),
    };
    let (_, inv) = app.services.create_user(&admin, &input).await.expect("user");
    app.clock.advance(SignedDuration::from_hours(73));
    let token = inv.link.rsplit('/').next().expect("token");
    assert!(app.services.invitation(token).await.is_err());
}

#[tokio::test]
async fn wrong_password_is_refused_audited_and_then_throttled() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.browser();
    for _ in 0..5 {
        let r = post_form(&c, &app, "/login", "/login", &[("name", "admin"), ("password", "wrong password!")]).await;
        assert_eq!(r.status(), 401);
        assert!(r.text().await.expect("body").contains("Benutzername oder Passwort ist falsch"));
    }
    // Even the right password is refused now, with a message that says when.
    let r = post_form(&c, &app, "/login", "/login", &[("name", "admin"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    assert!(r.text().await.expect("body").contains("15 Minuten"));
    // Unknown names are throttled the same way and look the same.
    let failures = app
        .store
        .audit_entries(
            &leitstand_store::TenantScope::All,
            &AuditFilter { action: Some("auth.sign_in_failed".into()), limit: 100, ..Default::default() },
        )
        .await
        .expect("audit");
    assert_eq!(failures.len(), 5);
    assert!(failures.iter().all(|e| e.source == "127.0.0.1"));
    // After the window, the right password works again.
    app.clock.advance(SignedDuration::from_mins(16));
    let r = post_form(&c, &app, "/login", "/login", &[("name", "admin"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.sign_in("admin").await;
    let r = c
        .post(app.at("/app/tenants"))
        .form(&[("name", "Evil Corp"), ("security", "basic"), ("soc", "none")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    let r = c
        .post(app.at("/app/tenants"))
        .form(&[("name", "Evil Corp"), ("security", "basic"), ("soc", "none"), ("_csrf", "forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    assert!(r.text().await.expect("page").contains("Das Formular ist abgelaufen"), "a page that says what to do");
    let admin = app.services.cli_actor().await.expect("admin");
    assert_eq!(app.services.tenants(&admin).await.expect("tenants").len(), 1, "no tenant was created");
    // Anonymous forms need the cookie token too.
    let r = app
        .browser()
        .post(app.at("/login"))
        .form(&[("name", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_rotates_the_session() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.sign_in("admin").await;
    let other = app.sign_in("admin").await;
    let new = "another long passphrase";
    let r = post_form(
        &c,
        &app,
        "/app/profile",
        "/app/profile/password",
        &[("current", "not it at all"), ("new", new), ("repeat", new)],
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post_form(
        &c,
        &app,
        "/app/profile",
        "/app/profile/password",
        &[("current", PASSWORD), ("new", new), ("repeat", new)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(r.headers().get_all("set-cookie").iter().any(|v| v.to_str().unwrap_or("").starts_with("ls_session=")));
    assert_eq!(c.get(app.at("/app")).send().await.expect("get").status(), 200, "this browser keeps a new session");
    assert_eq!(other.get(app.at("/app")).send().await.expect("get").status(), 303, "other sessions end");
    let fresh = app.browser();
    let r = post_form(&fresh, &app, "/login", "/login", &[("name", "admin"), ("password", new)]).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn session_cookie_is_http_only_and_rotated_at_sign_in() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.browser();
    c.get(app.at("/login")).send().await.expect("get");
    let r = post_form(&c, &app, "/login", "/login", &[("name", "admin"), ("password", PASSWORD)]).await;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ls_session="))
        .expect("session cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let first = cookie.split(';').next().expect("value").to_owned();
    let r = post_form(&app.browser(), &app, "/login", "/login", &[("name", "admin"), ("password", PASSWORD)]).await;
    let second = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ls_session="))
        .expect("cookie");
    assert_ne!(first, second.split(';').next().expect("value"), "every sign-in makes a new session id");
}

#[tokio::test]
async fn totp_enrolment_and_sign_in_with_a_code_and_a_recovery_code() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.sign_in("admin").await;
    let page = c.get(app.at("/app/profile/totp")).send().await.expect("get").text().await.expect("body");
    let field = |name: &str| -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let i = page.find(&marker).expect(name) + marker.len();
        page[i..].split('"').next().expect("value").replace("&amp;", "&")
    };
    let (sealed, secret, uri) = (field("sealed"), field("secret"), field("uri"));
    assert!(page.contains("<svg"), "a QR code is shown");
    let key = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).expect("base32");
    let wrong = post_form(
        &c,
        &app,
        "/app/profile",
        "/app/profile/totp",
        &[("sealed", &sealed), ("secret", &secret), ("uri", &uri), ("code", "000000")],
    )
    .await;
    assert_eq!(wrong.status(), 422);
    let code = totp::code(&key, app.now());
    let r = post_form(
        &c,
        &app,
        "/app/profile",
        "/app/profile/totp",
        &[("sealed", &sealed), ("secret", &secret), ("uri", &uri), ("code", &code)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    let codes: Vec<String> =
        body.split("<li><code>").skip(1).map(|s| s.split('<').next().expect("code").to_owned()).collect();
    assert_eq!(codes.len(), 10);

    // Password alone is not enough now.
    let b = app.browser();
    let r = post_form(&b, &app, "/login", "/login", &[("name", "admin"), ("password", PASSWORD)]).await;
    assert!(location(&r).starts_with("/login/totp"));
    assert_eq!(b.get(app.at("/app")).send().await.expect("get").status(), 303);
    // The code used during set-up cannot be replayed.
    let r = post_form(&b, &app, "/login/totp", "/login/totp", &[("code", &code)]).await;
    assert_eq!(r.status(), 401);
    app.clock.advance(SignedDuration::from_secs(30));
    let next = totp::code(&key, app.now());
    let r = post_form(&b, &app, "/login/totp", "/login/totp", &[("code", &next)]).await;
    assert_eq!(r.status(), 303, "a fresh code signs in");
    assert_eq!(b.get(app.at("/app")).send().await.expect("get").status(), 200);

    // A recovery code works once.
    for expected in [303, 401] {
        let r2 = app.browser();
        post_form(&r2, &app, "/login", "/login", &[("name", "admin"), ("password", PASSWORD)]).await;
        let r = post_form(&r2, &app, "/login/totp", "/login/totp", &[("code", &codes[0])]).await;
        assert_eq!(r.status(), expected);
    }
}

#[tokio::test]
async fn mandatory_totp_sends_staff_to_set_up_first() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let provider = app.store.provider().await.expect("provider").expect("exists").id;
    let a = app.tenant(&admin, "Kunde A").await;
    app.user(&admin, provider, "soc", "soc_analyst").await;
    app.user(&admin, a, "anna", "customer_admin").await;
    app.services.set_totp_required_for_staff(&admin, true).await.expect("policy");
    let soc = app.sign_in("soc").await;
    let r = soc.get(app.at("/app")).send().await.expect("get");
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/app/profile/totp");
    assert_eq!(soc.get(app.at("/app/profile/totp")).send().await.expect("get").status(), 200);
    // Customers are not staff: the policy leaves them alone.
    let anna = app.sign_in("anna").await;
    assert_eq!(anna.get(app.at("/app")).send().await.expect("get").status(), 200);
    // Nor can a staff token go around it.
    let t = app.token("soc").await;
    let r = app.api().get(app.at("/api/v1/me")).bearer_auth(t).send().await.expect("get");
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn api_tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.sign_in("admin").await;
    let r =
        post_form(&c, &app, "/app/profile", "/app/profile/tokens", &[("label", "Monitoring"), ("days", "30")]).await;
    let body = r.text().await.expect("body");
    let token = body.split("id=\"new-token\">").nth(1).expect("shown").split('<').next().expect("token").to_owned();
    assert!(token.starts_with("lst_"));
    let me: serde_json::Value =
        app.api().get(app.at("/api/v1/me")).bearer_auth(&token).send().await.expect("me").json().await.expect("json");
    assert_eq!(me["user"]["name"], "admin");
    let list: serde_json::Value = app
        .api()
        .get(app.at("/api/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let text = list.to_string();
    assert!(!text.contains(&token), "the secret is never listed");
    let id = list[0]["id"].as_i64().expect("id");
    let r = app.api().delete(app.at(&format!("/api/v1/tokens/{id}"))).bearer_auth(&token).send().await.expect("revoke");
    assert_eq!(r.status(), 200);
    assert_eq!(app.api().get(app.at("/api/v1/me")).bearer_auth(&token).send().await.expect("me").status(), 401);
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.sign_in("admin").await;
    let r = post_form(&c, &app, "/app", "/logout", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(c.get(app.at("/app")).send().await.expect("get").status(), 303);
    let _ = app.clock.now();
}

#[tokio::test]
async fn signing_in_returns_to_the_page_asked_for() {
    let app = TestApp::spawn().await;
    app.bootstrap().await;
    let c = app.browser();
    let r = c.get(app.at("/app/audit?action=auth.")).send().await.expect("get");
    assert_eq!(location(&r), "/login?next=/app/audit%3Faction%3Dauth.");
    let r = post_form(
        &c,
        &app,
        "/login",
        "/login",
        &[("name", "admin"), ("password", PASSWORD), ("next", "/app/audit?action=auth.")],
    )
    .await;
    assert_eq!(location(&r), "/app/audit?action=auth.");
    // Only paths on this site are followed.
    let r = post_form(
        &app.browser(),
        &app,
        "/login",
        "/login",
        &[("name", "admin"), ("password", PASSWORD), ("next", "//evil.example/")],
    )
    .await;
    assert_eq!(location(&r), "/app");
}
