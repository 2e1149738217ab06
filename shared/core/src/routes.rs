//! The HTTP API's one route table: which function serves which method and path. The dev
//! server dispatches with it, and the template check (issue 6) compares `template.yaml`'s
//! HttpApi events against it, so local and deployed routing cannot drift apart.

/// A Lambda function behind the HttpApi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Acs,
    Metadata,
    Admin,
}

/// One HttpApi route, in API Gateway syntax (`{name}` one segment, `{proxy+}` the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
}

const fn route(method: &'static str, path: &'static str, function: Function) -> Route {
    Route {
        method,
        path,
        function,
    }
}

pub const ROUTES: &[Route] = &[
    route("GET", "/o/{org}/login", Function::Acs),
    route("POST", "/o/{org}/idp/{idp}/acs", Function::Acs),
    route("GET", "/o/{org}/idp/{idp}/slo", Function::Acs),
    route("POST", "/o/{org}/idp/{idp}/slo", Function::Acs),
    route("GET", "/o/{org}/idp/{idp}/metadata", Function::Metadata),
    route("GET", "/.well-known/jwks.json", Function::Metadata),
    route("ANY", "/admin/{proxy+}", Function::Admin),
];

/// The function serving `method` `path`, if any route matches.
pub fn resolve(method: &str, path: &str) -> Option<Function> {
    ROUTES
        .iter()
        .find(|r| (r.method == "ANY" || r.method == method) && matches(r.path, path))
        .map(|r| r.function)
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
            resolve("GET", "/.well-known/jwks.json"),
            Some(Function::Metadata)
        );
        assert_eq!(
            resolve("PUT", "/admin/orgs/acme/sso"),
            Some(Function::Admin)
        );
        assert_eq!(resolve("GET", "/admin"), None);
        assert_eq!(resolve("GET", "/o//login"), None);
        assert_eq!(resolve("GET", "/o/acme/login/x"), None);
    }
}
