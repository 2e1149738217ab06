//! The organisation key's policy (DESIGN.md §4), rendered from one template that uses
//! CloudFormation `Fn::Sub` placeholders, so `samlgate org create` (local) and org-template.yaml
//! (AWS) carry the same text. [`evaluate`] is our reading of IAM's evaluation for the subset of
//! policy language the template uses; it backs the key-policy matrix test. moto does not
//! enforce key policies: only AWS does.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::OrgId;

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
    // Values are ARNs and an OrgId ([a-z0-9-]): nothing that needs JSON escaping, and no value
    // contains a placeholder, so the order of replacement does not matter.
    TEMPLATE
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

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    fn policy() -> Value {
        let org = OrgId::parse("acme").unwrap();
        serde_json::from_str(&render(&PolicyInputs::platform_defaults(ACCOUNT, &org))).unwrap()
    }

    fn role(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }

    fn ctx(org: &str, purpose: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("org".into(), org.into()),
            ("purpose".into(), purpose.into()),
            ("id".into(), "x".into()),
        ])
    }

    #[test]
    fn rendered_policy_is_json_with_no_placeholder_left() {
        let org = OrgId::parse("acme").unwrap();
        let text = render(&PolicyInputs::platform_defaults(ACCOUNT, &org));
        assert!(!text.contains("${"), "{text}");
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }

    /// Issue 4 §5: (principal, action, context) → decision, for every principal that matters.
    #[test]
    fn key_policy_matrix() {
        use Decision::*;
        let p = policy();
        let provision = role("samlgate-provision-acme");
        let other_provision = role("samlgate-provision-globex");
        let acs = role("samlgate-acs");
        let admin = role("samlgate-admin");
        let rotate = role("samlgate-rotate");
        let root = format!("arn:aws:iam::{ACCOUNT}:root");
        let account_admin = role("Admin");
        let stranger = "arn:aws:iam::999988887777:role/attacker".to_string();
        let none = BTreeMap::new();
        #[rustfmt::skip]
        let rows: Vec<(&str, &str, BTreeMap<String, String>, Decision)> = vec![
            (&provision, "kms:Decrypt", ctx("acme", "credential"), Allow),
            (&provision, "kms:Decrypt", ctx("acme", "intake"), Allow),
            (&provision, "kms:Decrypt", ctx("acme", "sp-key"), ImplicitDeny),
            (&provision, "kms:Decrypt", ctx("globex", "credential"), ExplicitDeny),
            (&provision, "kms:Decrypt", none.clone(), ExplicitDeny),
            (&provision, "kms:GenerateDataKey", ctx("acme", "credential"), ImplicitDeny),
            (&provision, "kms:ReEncryptFrom", ctx("acme", "credential"), ImplicitDeny),
            (&other_provision, "kms:Decrypt", ctx("acme", "credential"), ExplicitDeny),
            (&other_provision, "kms:Decrypt", ctx("globex", "credential"), ExplicitDeny),
            (&acs, "kms:Decrypt", ctx("acme", "sp-key"), Allow),
            (&acs, "kms:Decrypt", ctx("acme", "credential"), ImplicitDeny),
            (&acs, "kms:Decrypt", ctx("acme", "intake"), ImplicitDeny),
            (&acs, "kms:GenerateDataKey", ctx("acme", "sp-key"), ImplicitDeny),
            (&admin, "kms:GenerateDataKey", ctx("acme", "credential"), Allow),
            (&admin, "kms:GenerateDataKey", ctx("acme", "intake"), Allow),
            (&admin, "kms:GenerateDataKey", ctx("acme", "sp-key"), Allow),
            (&admin, "kms:GenerateDataKey", ctx("globex", "credential"), ExplicitDeny),
            (&admin, "kms:GenerateDataKey", none.clone(), ExplicitDeny),
            (&admin, "kms:Decrypt", ctx("acme", "credential"), ExplicitDeny),
            (&admin, "kms:Decrypt", ctx("acme", "intake"), ExplicitDeny),
            (&rotate, "kms:GenerateDataKey", ctx("acme", "sp-key"), Allow),
            (&rotate, "kms:GenerateDataKey", ctx("acme", "credential"), ImplicitDeny),
            (&rotate, "kms:Decrypt", ctx("acme", "sp-key"), ExplicitDeny),
            (&root, "kms:Decrypt", ctx("acme", "credential"), ExplicitDeny),
            (&root, "kms:ReEncryptFrom", ctx("acme", "credential"), ExplicitDeny),
            (&root, "kms:PutKeyPolicy", none.clone(), Allow),
            (&root, "kms:ScheduleKeyDeletion", none.clone(), Allow),
            (&root, "kms:GenerateDataKey", ctx("acme", "credential"), ImplicitDeny),
            (&root, "kms:CreateGrant", none.clone(), ImplicitDeny),
            (&account_admin, "kms:Decrypt", ctx("acme", "credential"), ExplicitDeny),
            (&account_admin, "kms:DisableKey", none.clone(), Allow),
            (&stranger, "kms:Decrypt", ctx("acme", "credential"), ExplicitDeny),
            (&stranger, "kms:GenerateDataKey", ctx("acme", "credential"), ImplicitDeny),
            (&stranger, "kms:DescribeKey", none.clone(), ImplicitDeny),
        ];
        let mut wrong = Vec::new();
        for (principal, action, context, want) in rows {
            let got = evaluate(
                &p,
                &Request {
                    principal_arn: principal,
                    action,
                    context: context.clone(),
                },
            );
            if got != want {
                wrong.push(format!(
                    "{principal} {action} {context:?}: got {got:?}, want {want:?}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
