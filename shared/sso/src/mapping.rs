//! Step 8 of DESIGN.md §5: from a verified assertion to the canonical identity (the IdP's
//! mapping), then the IdP's match rules. Reads only a [`VerifiedAssertion`], which the
//! verifier alone constructs; what the identity becomes is issued only with the assertion's
//! one-time record ([`samlgate_domain::one_time::FreshAssertion::record_with_login`]).

use saml::VerifiedAssertion;
use samlgate_domain::idp::{subject_regex, IdpSettings};

use crate::token::Identity;
use crate::SsoError;

/// Largest claim value copied into a token, bytes (a longer value is refused, not cut).
const MAX_CLAIM: usize = 1024;
/// Most groups copied into a token.
const MAX_GROUPS: usize = 256;

pub fn identity(
    assertion: &VerifiedAssertion,
    settings: &IdpSettings,
) -> Result<Identity, SsoError> {
    let mapping = &settings.mapping;
    let first = |name: &Option<String>| -> Result<Option<String>, SsoError> {
        match name {
            None => Ok(None),
            Some(name) => match assertion.attribute(name).and_then(|v| v.first()) {
                None => Ok(None),
                Some(value) => bounded(value).map(Some),
            },
        }
    };
    let subject = match &mapping.subject {
        None => Some(bounded(&assertion.name_id().value)?),
        Some(_) => first(&mapping.subject)?,
    }
    .filter(|s| !s.is_empty())
    .ok_or(SsoError::SubjectMissing)?;
    let groups = match &mapping.groups {
        None => Vec::new(),
        Some(name) => {
            let values = assertion.attribute(name).unwrap_or_default();
            if values.len() > MAX_GROUPS {
                return Err(SsoError::ClaimTooLarge);
            }
            values
                .iter()
                .map(|v| bounded(v))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(Identity {
        subject,
        email: first(&mapping.email)?,
        name: first(&mapping.name)?,
        groups,
    })
}

fn bounded(value: &str) -> Result<String, SsoError> {
    if value.len() > MAX_CLAIM {
        return Err(SsoError::ClaimTooLarge);
    }
    Ok(value.to_owned())
}

/// The IdP's match rules; the first one that fails decides the code.
pub fn check_rules(
    identity: &Identity,
    assertion: &VerifiedAssertion,
    settings: &IdpSettings,
) -> Result<(), SsoError> {
    let rules = &settings.rules;
    if let Some(pattern) = &rules.subject_pattern {
        let re =
            subject_regex(pattern).map_err(|_| SsoError::IdpConfig("subject_pattern".into()))?;
        if !re.is_match(&identity.subject) {
            return Err(SsoError::SubjectRejected);
        }
    }
    if let Some(group) = &rules.required_group {
        if !identity.groups.iter().any(|g| g == group) {
            return Err(SsoError::GroupRequired);
        }
    }
    if !rules.authn_context.is_empty() {
        let ok = assertion
            .authn_context()
            .is_some_and(|class| rules.authn_context.iter().any(|c| c == class));
        if !ok {
            return Err(SsoError::AuthnContextRejected);
        }
    }
    Ok(())
}
