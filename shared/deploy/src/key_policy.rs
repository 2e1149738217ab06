//! The organisation key's policy (DESIGN.md §4), rendered from one template that uses
//! CloudFormation `Fn::Sub` placeholders, so `samlgate org create` (local) and org-template.yaml
//! (AWS) carry the same text. [`evaluate`] is our reading of IAM's evaluation for the subset of
//! policy language the template uses; it backs the key-policy matrix test. moto does not
//! enforce key policies: only AWS does.

use std::collections::BTreeMap;

use serde_json::Value;

use samlgate_domain::ids::OrgId;

/// The template, with `${OrgId}`, `${AWS::Partition}`, `${AWS::AccountId}` and the four role
/// ARNs as placeholders.
pub const TEMPLATE: &str = include_str!("org-key-policy.json");

/// The principals the policy names.
#[derive(Debug, Clone)]
pub struct PolicyInputs {
    pub partition: String,
    pub account_id: String,
    pub org: OrgId,
    pub provision_role_arn: String,
    pub acs_role_arn: String,
    pub admin_role_arn: String,
    pub rotate_role_arn: String,
}

impl PolicyInputs {
    /// The role names the platform stack gives its functions, in `account_id`; the provisioning
    /// role is per organisation.
    pub fn platform_defaults(account_id: &str, org: &OrgId) -> Self {
        let role = |name: &str| format!("arn:aws:iam::{account_id}:role/{name}");
        Self {
            partition: "aws".into(),
            account_id: account_id.into(),
            provision_role_arn: role(&format!("samlgate-provision-{org}")),
            acs_role_arn: role("samlgate-acs"),
            admin_role_arn: role("samlgate-admin"),
            rotate_role_arn: role("samlgate-rotate"),
            org: org.clone(),
        }
    }
}

pub fn render(inputs: &PolicyInputs) -> String {
    render_from(TEMPLATE, inputs)
}

/// [`render`] for another copy of the template's text (org-template.yaml's, in its test).
pub fn render_from(template: &str, inputs: &PolicyInputs) -> String {
    // Values are ARNs and an OrgId ([a-z0-9-]): nothing that needs JSON escaping, and no value
    // contains a placeholder, so the order of replacement does not matter.
    template
        .replace("${OrgId}", inputs.org.as_str())
        .replace("${AWS::Partition}", &inputs.partition)
        .replace("${AWS::AccountId}", &inputs.account_id)
        .replace("${ProvisionRoleArn}", &inputs.provision_role_arn)
        .replace("${AcsRoleArn}", &inputs.acs_role_arn)
        .replace("${AdminRoleArn}", &inputs.admin_role_arn)
        .replace("${RotateRoleArn}", &inputs.rotate_role_arn)
}

/// One request to the key: who, which action, which encryption context.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal_arn: &'a str,
    pub action: &'a str,
    pub context: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// IAM evaluation for one key policy: an explicit Deny wins, then any Allow, else deny.
/// A statement whose principal is the account root (`arn:…:root`) is taken to match every
/// principal of that account, i.e. we assume the worst IAM policy (`kms:*` on `*`) exists.
/// Unknown operators or condition keys make a statement match for Deny and not for Allow.
pub fn evaluate(policy: &Value, request: &Request<'_>) -> Decision {
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    let mut allowed = false;
    for s in &statements {
        let deny = s["Effect"] == "Deny";
        if !principal_matches(&s["Principal"], request.principal_arn)
            || !strings(&s["Action"])
                .iter()
                .any(|a| glob(a, request.action))
        {
            continue;
        }
        match conditions_match(&s["Condition"], request) {
            Some(true) if deny => return Decision::ExplicitDeny,
            Some(true) => allowed = true,
            None if deny => return Decision::ExplicitDeny,
            _ => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn glob(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

fn principal_matches(principal: &Value, arn: &str) -> bool {
    if principal == "*" {
        return true;
    }
    strings(&principal["AWS"]).iter().any(|p| {
        p == "*"
            || p == arn
            || (p.ends_with(":root") && account_of(p).is_some() && account_of(p) == account_of(arn))
    })
}

/// `Some(true)` if every condition holds, `Some(false)` if one does not, `None` if the
/// statement uses something this evaluator does not know.
fn conditions_match(conditions: &Value, request: &Request<'_>) -> Option<bool> {
    let Some(ops) = conditions.as_object() else {
        return Some(true);
    };
    for (op, keys) in ops {
        for (key, wanted) in keys.as_object()? {
            let actual = if key == "aws:PrincipalArn" {
                Some(request.principal_arn.to_owned())
            } else if let Some(name) = key.strip_prefix("kms:EncryptionContext:") {
                request.context.get(name).cloned()
            } else {
                return None;
            };
            let wanted = strings(wanted);
            let any_equal = actual.as_ref().is_some_and(|a| wanted.contains(a));
            let holds = match op.as_str() {
                "StringEquals" | "ArnEquals" => any_equal,
                // Negated operators hold when the key is absent (IAM's rule).
                "StringNotEquals" | "ArnNotEquals" => !any_equal,
                _ => return None,
            };
            if !holds {
                return Some(false);
            }
        }
    }
    Some(true)
}

/// The key-policy matrix: what the organisation key's policy must decide for
/// every principal that matters, as (principal, action, encryption context) → decision.
/// Returns one line per row the policy gets wrong. It runs against the text `render` produces
/// and against org-template.yaml's KeyPolicy (tests/e2e/templates.rs).
pub fn matrix_violations(policy: &Value, inputs: &PolicyInputs) -> Vec<String> {
    use Decision::*;
    let org = inputs.org.as_str();
    let other = if org == "other-org" {
        "another-org"
    } else {
        "other-org"
    };
    let role = |name: &str| {
        format!(
            "arn:{}:iam::{}:role/{name}",
            inputs.partition, inputs.account_id
        )
    };
    let ctx = |org: &str, purpose: &str| {
        BTreeMap::from([
            ("org".to_owned(), org.to_owned()),
            ("purpose".to_owned(), purpose.to_owned()),
            ("id".to_owned(), "x".to_owned()),
        ])
    };
    let provision = inputs.provision_role_arn.as_str();
    let other_provision = role(&format!("samlgate-provision-{other}"));
    let acs = inputs.acs_role_arn.as_str();
    let admin = inputs.admin_role_arn.as_str();
    let rotate = inputs.rotate_role_arn.as_str();
    let root = format!("arn:{}:iam::{}:root", inputs.partition, inputs.account_id);
    let account_admin = role("Admin");
    let stranger = "arn:aws:iam::999988887777:role/attacker";
    let none = BTreeMap::new();
    #[rustfmt::skip]
    let rows: Vec<(&str, &str, BTreeMap<String, String>, Decision)> = vec![
        (provision, "kms:Decrypt", ctx(org, "credential"), Allow),
        (provision, "kms:Decrypt", ctx(org, "intake"), Allow),
        (provision, "kms:Decrypt", ctx(org, "sp-key"), ImplicitDeny),
        (provision, "kms:Decrypt", ctx(other, "credential"), ExplicitDeny),
        (provision, "kms:Decrypt", none.clone(), ExplicitDeny),
        (provision, "kms:GenerateDataKey", ctx(org, "credential"), ImplicitDeny),
        (provision, "kms:ReEncryptFrom", ctx(org, "credential"), ImplicitDeny),
        (&other_provision, "kms:Decrypt", ctx(org, "credential"), ExplicitDeny),
        (&other_provision, "kms:Decrypt", ctx(other, "credential"), ExplicitDeny),
        (acs, "kms:Decrypt", ctx(org, "sp-key"), Allow),
        (acs, "kms:Decrypt", ctx(org, "credential"), ImplicitDeny),
        (acs, "kms:Decrypt", ctx(org, "intake"), ImplicitDeny),
        (acs, "kms:GenerateDataKey", ctx(org, "sp-key"), ImplicitDeny),
        (admin, "kms:GenerateDataKey", ctx(org, "credential"), Allow),
        (admin, "kms:GenerateDataKey", ctx(org, "intake"), Allow),
        (admin, "kms:GenerateDataKey", ctx(org, "sp-key"), Allow),
        (admin, "kms:GenerateDataKey", ctx(other, "credential"), ExplicitDeny),
        (admin, "kms:GenerateDataKey", none.clone(), ExplicitDeny),
        (admin, "kms:Decrypt", ctx(org, "credential"), ExplicitDeny),
        (admin, "kms:Decrypt", ctx(org, "intake"), ExplicitDeny),
        (rotate, "kms:GenerateDataKey", ctx(org, "sp-key"), Allow),
        (rotate, "kms:GenerateDataKey", ctx(org, "credential"), ImplicitDeny),
        (rotate, "kms:Decrypt", ctx(org, "sp-key"), ExplicitDeny),
        (&root, "kms:Decrypt", ctx(org, "credential"), ExplicitDeny),
        (&root, "kms:ReEncryptFrom", ctx(org, "credential"), ExplicitDeny),
        (&root, "kms:PutKeyPolicy", none.clone(), Allow),
        (&root, "kms:ScheduleKeyDeletion", none.clone(), Allow),
        (&root, "kms:GenerateDataKey", ctx(org, "credential"), ImplicitDeny),
        (&root, "kms:CreateGrant", none.clone(), ImplicitDeny),
        (&account_admin, "kms:Decrypt", ctx(org, "credential"), ExplicitDeny),
        (&account_admin, "kms:DisableKey", none.clone(), Allow),
        (stranger, "kms:Decrypt", ctx(org, "credential"), ExplicitDeny),
        (stranger, "kms:GenerateDataKey", ctx(org, "credential"), ImplicitDeny),
        (stranger, "kms:DescribeKey", none.clone(), ImplicitDeny),
    ];
    rows.into_iter()
        .filter_map(|(principal, action, context, want)| {
            let got = evaluate(
                policy,
                &Request {
                    principal_arn: principal,
                    action,
                    context: context.clone(),
                },
            );
            (got != want)
                .then(|| format!("{principal} {action} {context:?}: got {got:?}, want {want:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    fn policy() -> Value {
        let org = OrgId::parse("acme").unwrap();
        serde_json::from_str(&render(&PolicyInputs::platform_defaults(ACCOUNT, &org))).unwrap()
    }

    #[test]
    fn rendered_policy_is_json_with_no_placeholder_left() {
        let org = OrgId::parse("acme").unwrap();
        let text = render(&PolicyInputs::platform_defaults(ACCOUNT, &org));
        assert!(!text.contains("${"), "{text}");
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }

    /// (principal, action, context) → decision, for every principal that matters.
    #[test]
    fn key_policy_matrix() {
        let org = OrgId::parse("acme").unwrap();
        let inputs = PolicyInputs::platform_defaults(ACCOUNT, &org);
        let wrong = matrix_violations(&policy(), &inputs);
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_matrix_catches_a_policy_without_the_deny() {
        let org = OrgId::parse("acme").unwrap();
        let inputs = PolicyInputs::platform_defaults(ACCOUNT, &org);
        let mut weakened = policy();
        let statements = weakened["Statement"].as_array_mut().unwrap();
        statements.retain(|s| s["Sid"] != "DenyDecryptToEveryoneElse");
        statements[0]["Action"] = serde_json::json!("kms:*");
        assert!(!matrix_violations(&weakened, &inputs).is_empty());
    }

    #[test]
    fn unknown_condition_operator_fails_closed() {
        let p: Value = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        ]});
        let r = Request {
            principal_arn: "arn:aws:iam::1:role/x",
            action: "kms:Decrypt",
            context: BTreeMap::new(),
        };
        assert_eq!(evaluate(&p, &r), Decision::ImplicitDeny);
    }
}
