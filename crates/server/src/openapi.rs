//! The OpenAPI 3.0 document of `/api/v1`, generated from the route registry
//! and the request and response types (schemars), so it cannot drift from
//! the code.

use crate::routes::{self, Kind};
use schemars::gen::SchemaSettings;
use serde_json::{json, Map, Value};

pub fn document() -> Value {
    let mut gen = SchemaSettings::openapi3().into_generator();
    let error_schema = gen.subschema_for::<crate::http::ApiErrorBody>();
    let mut paths = Map::new();
    for r in routes::all().into_iter().filter(|r| r.kind == Kind::Api) {
        let mut op = Map::new();
        op.insert("summary".into(), json!(r.summary));
        op.insert("x-permission".into(), json!(r.permission.as_str()));
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "integer", "format": "int64" } }))
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some((_, f)) = r.request {
            let schema = f(&mut gen);
            op.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": schema } } }),
            );
        }
        let ok = match r.response {
            Some((_, f)) => {
                json!({ "description": "OK", "content": { "application/json": { "schema": f(&mut gen) } } })
            }
            None => json!({ "description": "OK" }),
        };
        let err = json!({ "description": "Error", "content": { "application/json": { "schema": error_schema } } });
        op.insert("responses".into(), json!({ "200": ok, "default": err }));
        if r.permission != leitstand_domain::Permission::Public {
            op.insert("security".into(), json!([{ "bearer": [] }]));
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(m) = entry {
            m.insert(r.method.as_str().to_lowercase(), Value::Object(op));
        }
    }
    let schemas = gen.take_definitions();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Leitstand API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The customer interface of Leitstand as JSON. Authenticate with a personal API token \
                            (profile page) as `Authorization: Bearer lst_…`; a token has the rights of its user."
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}
