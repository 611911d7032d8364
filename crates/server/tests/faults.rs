//! Faults while running: the database goes away and comes back.

mod common;

use common::relay;
use common::TestApp;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

fn host_port(url: &str) -> Option<String> {
    let after = url.split('@').nth(1)?;
    Some(after.split('/').next()?.to_owned())
}

#[tokio::test]
async fn lost_database_gives_503_with_retry_hint_and_recovers_without_restart() {
    let Some(db) = leitstand_store_postgres::testing::TestDb::create().await else { return };
    let target = host_port(&db.url).expect("host:port in the test URL");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let relay_addr = listener.local_addr().expect("addr");
    let mut relay_task = tokio::spawn(relay(listener, target.clone()));
    let url = db.url.replace(&target, &relay_addr.to_string());
    let store = leitstand_store_postgres::open(&url).await.expect("open through the relay");
    let app = TestApp::spawn_with(Arc::new(store), tempfile::tempdir().expect("dir"), Some(db)).await;
    app.bootstrap().await;
    let token = app.token("admin").await;
    let c = app.api();
    let get = || c.get(app.at("/api/v1/tenants")).bearer_auth(&token).send();
    assert_eq!(get().await.expect("get").status(), 200);

    relay_task.abort(); // the network to the database is gone
    let _ = (&mut relay_task).await;
    let r = get().await.expect("get");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"], "unavailable");
    assert_eq!(c.get(app.at("/readyz")).send().await.expect("ready").status(), 503);

    let listener = TcpListener::bind(relay_addr).await.expect("rebind");
    let _relay = tokio::spawn(relay(listener, target));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = get().await.expect("get").status();
        if s == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery after the database came back (last {s})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(c.get(app.at("/readyz")).send().await.expect("ready").status(), 200);
}

#[tokio::test]
async fn two_replicas_on_one_postgres_share_sessions_tokens_and_throttling() {
    let Some(db) = leitstand_store_postgres::testing::TestDb::create().await else { return };
    let url = db.url.clone();
    let one = TestApp::spawn_with(
        Arc::new(leitstand_store_postgres::open(&url).await.expect("one")),
        tempfile::tempdir().expect("dir"),
        Some(db),
    )
    .await;
    let two = TestApp::spawn_with(
        Arc::new(leitstand_store_postgres::open(&url).await.expect("two")),
        tempfile::tempdir().expect("dir"),
        None,
    )
    .await;
    one.bootstrap().await;
    // A token made on one replica works on the other.
    let token = one.token("admin").await;
    let me = two.get_json(&token, "/api/v1/me").await;
    assert_eq!(me["user"]["name"], "admin");
    // A session started on one replica is valid on the other.
    let jar_cookie = {
        let c = one.browser();
        let csrf = common::csrf_of(&c, &one.at("/login")).await;
        let r = c
            .post(one.at("/login"))
            .form(&[("name", "admin"), ("password", common::PASSWORD), ("_csrf", &csrf)])
            .send()
            .await
            .expect("login");
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("ls_session="))
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned()
    };
    let r = two.api().get(two.at("/app")).header("cookie", jar_cookie).send().await.expect("get");
    assert_eq!(r.status(), 200, "the session is known to the second replica");
    // Failed sign-ins count across replicas.
    for (i, app) in [&one, &two, &one, &two, &one].into_iter().enumerate() {
        let c = app.browser();
        let csrf = common::csrf_of(&c, &app.at("/login")).await;
        let r = c
            .post(app.at("/login"))
            .form(&[("name", "admin"), ("password", "wrong wrong wrong"), ("_csrf", &csrf)])
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let c = two.browser();
    let csrf = common::csrf_of(&c, &two.at("/login")).await;
    let r = c
        .post(two.at("/login"))
        .form(&[("name", "admin"), ("password", common::PASSWORD), ("_csrf", &csrf)])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 429, "five failures on two replicas throttle both");
}
