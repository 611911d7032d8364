//! The route registry: every route with its method, path, required
//! permission and description, in one list. The router, the permission check,
//! the OpenAPI document and the route tests are all made from it, so a route
//! cannot exist without a permission.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use leitstand_domain::Permission;
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;

use crate::app::AppState;

/// Who a route answers: people (HTML), programs (JSON), or operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Web,
    Api,
    Ops,
}

pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub permission: Permission,
    pub kind: Kind,
    pub summary: &'static str,
    pub request: Option<(&'static str, SchemaFn)>,
    pub response: Option<(&'static str, SchemaFn)>,
    pub handler: MethodRouter<AppState>,
}

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        Method::PATCH => MethodFilter::PATCH,
        _ => MethodFilter::GET,
    }
}

/// Registers a route. The permission is not optional.
pub fn route<H, T>(
    method: Method,
    path: &'static str,
    permission: Permission,
    kind: Kind,
    summary: &'static str,
    handler: H,
) -> RouteDef
where
    H: Handler<T, AppState>,
    T: 'static,
{
    RouteDef {
        handler: on(filter(&method), handler),
        method,
        path,
        permission,
        kind,
        summary,
        request: None,
        response: None,
    }
}

impl RouteDef {
    /// Documents the JSON body the route takes.
    pub fn takes<T: schemars::JsonSchema>(mut self) -> Self {
        self.request = Some((std::any::type_name::<T>(), |g| g.subschema_for::<T>()));
        self
    }

    /// Documents the JSON the route answers with.
    pub fn gives<T: schemars::JsonSchema>(mut self) -> Self {
        self.response = Some((std::any::type_name::<T>(), |g| g.subschema_for::<T>()));
        self
    }
}

/// Every route of the server.
pub fn all() -> Vec<RouteDef> {
    let mut v = crate::web::routes();
    v.extend(crate::api::routes());
    v.extend(crate::ops::routes());
    v
}
