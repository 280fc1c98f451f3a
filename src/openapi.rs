//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "idbridge management API",
        description = "Roles, environments, group mappings, account features, support access, account groups, access decisions and audit for a Boomi-style account. Authenticate with `Authorization: Bearer <api key>` or a session cookie."
    ),
    paths(
        crate::api::accounts::privileges,
        crate::api::accounts::get_account,
        crate::api::accounts::patch_account,
        crate::api::accounts::set_parent,
        crate::api::accounts::clear_parent,
        crate::api::roles::list,
        crate::api::roles::create,
        crate::api::roles::get,
        crate::api::roles::update,
        crate::api::roles::delete,
        crate::api::environments::list,
        crate::api::environments::create,
        crate::api::environments::get,
        crate::api::environments::update,
        crate::api::environments::delete,
        crate::api::mappings::list,
        crate::api::mappings::create,
        crate::api::mappings::delete,
        crate::api::users::get_roles,
        crate::api::users::put_roles,
        crate::api::users::access,
        crate::api::authorize::authorize,
        crate::api::audit_log::list,
        crate::api::tokens::list,
        crate::api::tokens::create,
        crate::api::tokens::revoke,
        crate::api::api_keys::list,
        crate::api::api_keys::create,
        crate::api::api_keys::revoke,
        crate::api::sso_settings::get,
        crate::api::sso_settings::put,
        crate::api::connections::list,
        crate::api::events::list,
        crate::api::webhooks::list,
        crate::api::webhooks::create,
        crate::api::webhooks::update,
        crate::api::webhooks::remove,
        crate::api::webhooks::deliveries,
        crate::api::webhooks::redeliver,
        crate::api::users::search,
        crate::api::users::end_sessions,
        crate::api::accounts::status,
        crate::api::mappings::preview,
        crate::api::connections::create,
        crate::api::connections::get,
        crate::api::connections::update,
        crate::api::connections::remove,
        crate::api::connections::add_domain,
        crate::api::connections::verify_domain,
        crate::api::connections::remove_domain,
        crate::api::connections::get_mode,
        crate::api::connections::put_mode,
        crate::api::support::list,
        crate::api::support::grant,
        crate::api::support::disable,
        crate::api::account_groups::list,
        crate::api::account_groups::create,
        crate::api::account_groups::get,
        crate::api::account_groups::remove,
        crate::api::account_groups::add_child,
        crate::api::account_groups::remove_child,
        crate::api::account_groups::assign,
        crate::api::account_groups::unassign,
        crate::api::account_groups::inherited,
    )
)]
struct ApiDoc;

/// The document with every management path under `/api/v1`, where they are mounted.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(k, v)| (format!("/api/v1{k}"), v))
        .collect();
    doc
}
