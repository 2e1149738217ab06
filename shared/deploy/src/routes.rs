//! The HTTP API's one route table: which function serves which method and path. The dev
//! server dispatches with it, and the template test (tests/e2e/templates.rs) compares
//! `template.yaml`'s HttpApi events against it, so local and deployed routing cannot drift
//! apart.

/// A Lambda function behind the HttpApi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Acs,
    Metadata,
    Admin,
}

/// Who API Gateway lets through to the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Public: the SAML protocol endpoints and metadata (the function verifies what it needs).
    None,
    /// SigV4, the HttpApi's IAM authorizer: the platform operator and automation.
    Iam,
    /// The organisation admins' OIDC tokens (the `OrgAdminJwt` authorizer; `org` claim).
    Jwt,
}

/// One HttpApi route, in API Gateway syntax (`{name}` one segment, `{proxy+}` the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    pub auth: Auth,
}

const fn route(method: &'static str, path: &'static str, function: Function, auth: Auth) -> Route {
    Route {
        method,
        path,
        function,
        auth,
    }
}

/// API Gateway picks the most specific route; [`resolve`] takes the first match, so a
/// specific route comes before the `{proxy+}` that would also match it.
pub const ROUTES: &[Route] = &[
    route("GET", "/o/{org}/authorize", Function::Acs, Auth::None),
    route("POST", "/o/{org}/token", Function::Acs, Auth::None),
    route("OPTIONS", "/o/{org}/token", Function::Acs, Auth::None),
    route("GET", "/o/{org}/userinfo", Function::Acs, Auth::None),
    route("POST", "/o/{org}/userinfo", Function::Acs, Auth::None),
    route("OPTIONS", "/o/{org}/userinfo", Function::Acs, Auth::None),
    route("GET", "/o/{org}/logout", Function::Acs, Auth::None),
    route("POST", "/o/{org}/logout", Function::Acs, Auth::None),
    route("GET", "/o/{org}/login", Function::Acs, Auth::None),
    route("POST", "/o/{org}/idp/{idp}/acs", Function::Acs, Auth::None),
    route("GET", "/o/{org}/idp/{idp}/slo", Function::Acs, Auth::None),
    route("POST", "/o/{org}/idp/{idp}/slo", Function::Acs, Auth::None),
    route(
        "GET",
        "/o/{org}/idp/{idp}/metadata",
        Function::Metadata,
        Auth::None,
    ),
    route(
        "GET",
        "/o/{org}/.well-known/openid-configuration",
        Function::Metadata,
        Auth::None,
    ),
    route(
        "GET",
        "/o/{org}/.well-known/jwks.json",
        Function::Metadata,
        Auth::None,
    ),
    // Credential intake as a form, behind CloudFront field-level encryption: SigV4 cannot
    // survive CloudFront rewriting the body, so this one route takes an org admin's JWT.
    route(
        "POST",
        "/admin/orgs/{org}/credentials/form",
        Function::Admin,
        Auth::Jwt,
    ),
    route("ANY", "/admin/{proxy+}", Function::Admin, Auth::Iam),
    // The console's API: admin authenticates the console session itself.
    route("ANY", "/console-api/{proxy+}", Function::Admin, Auth::None),
];

/// The function serving `method` `path`, if any route matches.
pub fn resolve(method: &str, path: &str) -> Option<Function> {
    route_of(method, path).map(|r| r.function)
}

/// The route serving `method` `path`, if any.
pub fn route_of(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| (r.method == "ANY" || r.method == method) && matches(r.path, path))
}

fn matches(template: &str, path: &str) -> bool {
    let mut want = template.split('/').skip(1);
    let mut have = path.split('/').skip(1);
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) if w.ends_with("+}") => return !h.is_empty(),
            (Some(w), Some(h)) if w.starts_with('{') => {
                if h.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_every_route_and_nothing_else() {
        assert_eq!(resolve("GET", "/o/acme/login"), Some(Function::Acs));
        assert_eq!(resolve("POST", "/o/acme/idp/okta/acs"), Some(Function::Acs));
        assert_eq!(resolve("GET", "/o/acme/idp/okta/acs"), None);
        assert_eq!(
            resolve("GET", "/o/acme/idp/okta/metadata"),
            Some(Function::Metadata)
        );
        assert_eq!(
            resolve("GET", "/o/acme/.well-known/jwks.json"),
            Some(Function::Metadata)
        );
        assert_eq!(
            resolve("GET", "/o/acme/.well-known/openid-configuration"),
            Some(Function::Metadata)
        );
        assert_eq!(resolve("GET", "/.well-known/jwks.json"), None);
        assert_eq!(
            resolve("PUT", "/admin/orgs/acme/sso"),
            Some(Function::Admin)
        );
        assert_eq!(resolve("GET", "/admin"), None);
        assert_eq!(
            route_of("POST", "/admin/orgs/acme/credentials/form").map(|r| r.auth),
            Some(Auth::Jwt)
        );
        assert_eq!(
            route_of("GET", "/admin/orgs/acme/credentials/form").map(|r| r.auth),
            Some(Auth::Iam)
        );
        assert_eq!(resolve("GET", "/o//login"), None);
        assert_eq!(resolve("GET", "/o/acme/login/x"), None);
    }
}
