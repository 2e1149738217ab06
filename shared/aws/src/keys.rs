//! Every partition and sort key of the one table (DESIGN.md §7), in one place: what the
//! template's IAM conditions (`dynamodb:LeadingKeys`) and the adapters must agree on.

use samlgate_domain::ids::{sha256_hex, IdpId, OrgId};
use samlgate_domain::sp_key::SpKey;

/// An organisation's partition: its record, intake keys, credentials, SSO settings, IdPs, SP
/// and token keys (its audit items have their own, [`audit_pk`]).
pub fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// `ORG#{org}` / `ORG`: the organisation record.
pub const ORG_SK: &str = "ORG";

/// `ORG#{org}` / `INTAKE#{kid}`.
pub fn intake_sk(kid: &str) -> String {
    format!("INTAKE#{kid}")
}

/// `ORG#{org}` / `CRED#{id}`.
pub const CREDENTIAL_PREFIX: &str = "CRED#";
pub fn credential_sk(id: &str) -> String {
    format!("{CREDENTIAL_PREFIX}{id}")
}

/// `ORG#{org}` / `CLIENT#{client_id}`.
pub const CLIENT_PREFIX: &str = "CLIENT#";
pub fn client_sk(client_id: &str) -> String {
    format!("{CLIENT_PREFIX}{client_id}")
}

/// `ORG#{org}` / `SETUP#{id}`: a setup link.
pub const SETUP_PREFIX: &str = "SETUP#";
pub fn setup_sk(id: &str) -> String {
    format!("{SETUP_PREFIX}{id}")
}

/// `ORG#{org}` / `CONSOLE#{sha256 of the token}`: a console session.
pub fn console_sk(token_sha256: &str) -> String {
    format!("CONSOLE#{token_sha256}")
}

/// `ORG#{org}` / `TESTSIGNIN#{sha256 of the ticket}`: a test sign-in's diagnostic ticket.
pub fn diagnostic_ticket_sk(ticket_sha256: &str) -> String {
    format!("TESTSIGNIN#{ticket_sha256}")
}

/// `ORG#{org}` / `SSO`: the organisation's SSO settings.
pub const SSO_SK: &str = "SSO";

/// `ORG#{org}` / `IDP#{idp}`.
pub const IDP_PREFIX: &str = "IDP#";
pub fn idp_sk(idp: &IdpId) -> String {
    format!("{IDP_PREFIX}{idp}")
}

/// `ORG#{org}` / `SPKEY#{idp}#…` (an IdP's SP keys) or `SPKEY#-#…` (the token keys).
pub fn sp_key_prefix(idp: Option<&IdpId>) -> String {
    match idp {
        Some(idp) => format!("SPKEY#{idp}#"),
        None => "SPKEY#-#".to_owned(),
    }
}

/// `ORG#{org}` / `SPKEY#{idp or -}#{use}#{id}`.
pub fn sp_key_sk(key: &SpKey) -> String {
    format!(
        "{}{}#{}",
        sp_key_prefix(key.idp.as_ref()),
        key.usage.as_str(),
        key.id
    )
}

/// `AUDIT#{org}` / `{time}#{corr}#{seq}`: an organisation's audit items, in a partition of
/// their own so that IAM (`dynamodb:LeadingKeys`) can let a function write audit items
/// without letting it write configuration. `time` is sortable (a fixed-width RFC 3339
/// instant), `seq` a process-wide counter so that events of one request never share a key.
pub fn audit_pk(org: &OrgId) -> String {
    format!("AUDIT#{org}")
}
pub fn audit_sk(sortable_time: &str, correlation_id: &str, seq: u32) -> String {
    format!("{sortable_time}#{correlation_id}#{seq:08x}")
}
/// `AUDIT#{org}` / `{minute}#agg#{action}#{idp}#{reason}`: the aggregate of a minute's
/// anonymous failures (`AuditLog::count_failure`), in time order among the other items.
pub fn aggregate_sk(sortable_minute: &str, action: &str, idp: &str, reason: &str) -> String {
    format!("{sortable_minute}#agg#{action}#{idp}#{reason}")
}

/// `ORGS` / `ORG#{org}`: the organisation directory the daily jobs walk.
pub const DIRECTORY_PK: &str = "ORGS";
pub const DIRECTORY_PREFIX: &str = "ORG#";
pub fn directory_sk(org: &OrgId) -> String {
    format!("{DIRECTORY_PREFIX}{org}")
}

/// `JWKS` / `{org}#{kid}`: the organisations' public token keys, read per organisation.
pub const JWKS_PK: &str = "JWKS";
pub fn jwks_prefix(org: &OrgId) -> String {
    format!("{org}#")
}
pub fn jwks_sk(org: &OrgId, kid: &str) -> String {
    format!("{}{kid}", jwks_prefix(org))
}

/// `REQ#{relay state}` / `REQ`: a login or logout in flight.
pub fn login_pk(relay_state: &str) -> String {
    format!("REQ#{relay_state}")
}
pub const LOGIN_SK: &str = "REQ";

/// `REPLAY#{org}#{sha256(issuer, 0, assertion id)}` / `R`. Issuer and ID come from the message
/// and key attributes are bounded in size, so they are hashed into the key.
pub fn replay_pk(org: &OrgId, issuer: &str, assertion_id: &str) -> String {
    let mut material = Vec::with_capacity(issuer.len() + assertion_id.len() + 1);
    material.extend_from_slice(issuer.as_bytes());
    material.push(0);
    material.extend_from_slice(assertion_id.as_bytes());
    format!("REPLAY#{org}#{}", sha256_hex(&material))
}
pub const REPLAY_SK: &str = "R";

/// `CODE#{sha256(code)}` / `C`: an authorization code, redeemed once.
pub fn code_pk(hash: &str) -> String {
    format!("CODE#{hash}")
}
pub const CODE_SK: &str = "C";

/// `ACCESS#{sha256(token)}` / `A`: an access token.
pub fn access_pk(hash: &str) -> String {
    format!("ACCESS#{hash}")
}
pub const ACCESS_SK: &str = "A";

/// `SESS#{id}` / `S`.
pub fn session_pk(id: &str) -> String {
    format!("SESS#{id}")
}
pub const SESSION_SK: &str = "S";

/// `SUBJ#{org}#{idp}#{sha256(NameID)}` / `{session id}`: a subject's sessions at one IdP, for
/// IdP-initiated logout (the NameID is hashed: key attributes are bounded).
pub fn subject_pk(org: &OrgId, idp: &IdpId, name_id: &str) -> String {
    format!("SUBJ#{org}#{idp}#{}", sha256_hex(name_id.as_bytes()))
}
/// The subject index's sort key: the session it points at.
pub fn subject_sk(session_id: &str) -> String {
    session_id.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Advisory regression (issue 17 §6): an over-long or odd assertion ID is as good a replay
    /// key as any. DynamoDB limits a partition key to 2048 bytes, and a key built by
    /// concatenation would let (issuer `a`, ID `b#c`) and (issuer `a#b`, ID `c`) collide.
    #[test]
    fn replay_keys_are_bounded_and_unambiguous_whatever_the_assertion_id() {
        let org = OrgId::parse("acme").unwrap();
        let long = "_".to_owned() + &"x".repeat(100_000);
        let odd = "_\u{4e2d}\u{e9}#R\u{200b}";
        for id in [long.as_str(), odd, ""] {
            let key = replay_pk(&org, "https://idp.example.com", id);
            assert!(key.len() < 128, "{} bytes", key.len());
            assert!(key.is_ascii());
        }
        assert_ne!(
            replay_pk(&org, "https://a", "b#c"),
            replay_pk(&org, "https://a#b", "c")
        );
        assert_ne!(
            replay_pk(&org, "https://a", "bc"),
            replay_pk(&org, "https://ab", "c")
        );
        let other = OrgId::parse("globex").unwrap();
        assert_ne!(
            replay_pk(&org, "https://a", "b"),
            replay_pk(&other, "https://a", "b")
        );
    }
}
