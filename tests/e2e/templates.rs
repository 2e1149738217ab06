//! The deployed templates against the code. The HttpApi's routes are the route table
//! the dev server uses; org-template.yaml's key policy is the text `samlgate org create`
//! renders, and the key-policy matrix holds for it; every role grants only what DESIGN.md §3
//! lets its function do; every function gets the environment its main.rs reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use samlgate_deploy::key_policy::{matrix_violations, render_from, PolicyInputs, TEMPLATE};
use samlgate_deploy::routes::{Auth, Function, ROUTES};
use samlgate_domain::ids::OrgId;
use serde_json::{json, Value};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A CloudFormation YAML template as JSON, short-form tags in their long form
/// (`!Sub x` → `{"Fn::Sub": x}`, `!Ref x` → `{"Ref": x}`, `!GetAtt a.b` → `{"Fn::GetAtt": [a, b]}`).
fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join(name)).expect("template");
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    to_json(yaml)
}

fn to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).expect("number"),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.as_str().expect("string key").to_owned(), to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(tagged.value);
            match tag {
                "Ref" => json!({ "Ref": inner }),
                "GetAtt" => {
                    let parts: Vec<Value> = inner
                        .as_str()
                        .expect("GetAtt a.b")
                        .splitn(2, '.')
                        .map(|p| json!(p))
                        .collect();
                    json!({ "Fn::GetAtt": parts })
                }
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"].as_object().expect("Resources")
}

/// `x` or `[x, …]` as strings.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        other => vec![other.to_string()],
    }
}

#[test]
fn http_api_routes_are_the_route_table() {
    let template = load("template.yaml");
    let mut deployed = BTreeSet::new();
    for (id, resource) in resources(&template) {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let function = match id.as_str() {
            "AcsFunction" => Function::Acs,
            "MetadataFunction" => Function::Metadata,
            "AdminFunction" => Function::Admin,
            _ => continue,
        };
        let events = resource["Properties"]["Events"].as_object();
        for event in events.into_iter().flat_map(|e| e.values()) {
            if event["Type"] != "HttpApi" {
                continue;
            }
            let p = &event["Properties"];
            let auth = match p["Auth"]["Authorizer"].as_str() {
                None => Auth::None,
                Some("AWS_IAM") => Auth::Iam,
                Some("OrgAdminJwt") => Auth::Jwt,
                Some(other) => panic!("unknown authorizer {other}"),
            };
            deployed.insert(format!(
                "{} {} {function:?} {auth:?}",
                p["Method"].as_str().expect("Method"),
                p["Path"].as_str().expect("Path"),
            ));
        }
    }
    let table: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} {} {:?} {:?}", r.method, r.path, r.function, r.auth))
        .collect();
    assert_eq!(
        deployed, table,
        "template.yaml's HttpApi events vs core::routes::ROUTES"
    );
}

/// org-template.yaml's KeyPolicy with each `!Sub` replaced by its text, and the provisioning
/// role's `${ProvisionRole.Arn}` by the code template's `${ProvisionRoleArn}`.
fn org_template_key_policy() -> Value {
    fn unsub(v: &Value) -> Value {
        match v {
            Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
                let text = map["Fn::Sub"].as_str().expect("Sub text");
                Value::String(text.replace("${ProvisionRole.Arn}", "${ProvisionRoleArn}"))
            }
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), unsub(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(unsub).collect()),
            other => other.clone(),
        }
    }
    let template = load("org-template.yaml");
    unsub(&resources(&template)["OrgKey"]["Properties"]["KeyPolicy"])
}

#[test]
fn org_template_key_policy_is_the_text_samlgate_org_create_renders() {
    let code: Value = serde_json::from_str(TEMPLATE).expect("org-key-policy.json");
    assert_eq!(org_template_key_policy(), code);
}

#[test]
fn key_policy_matrix_holds_for_the_policy_as_written_in_org_template() {
    let org = OrgId::parse("globex").expect("org");
    let role = |name: &str| format!("arn:aws:iam::444455556666:role/{name}");
    let inputs = PolicyInputs {
        partition: "aws".into(),
        account_id: "444455556666".into(),
        provision_role_arn: role("samlgate-provision-globex"),
        acs_role_arn: role("samlgate-acs"),
        admin_role_arn: role("samlgate-admin"),
        rotate_role_arn: role("samlgate-rotate"),
        org,
    };
    let text = render_from(&org_template_key_policy().to_string(), &inputs);
    assert!(!text.contains("${"), "{text}");
    let policy: Value = serde_json::from_str(&text).expect("rendered policy");
    let wrong = matrix_violations(&policy, &inputs);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every statement of a role: its inline policies and any AWS::IAM::RolePolicy attached to
/// it, with both branches of an `Fn::If` (minus `AWS::NoValue`).
fn role_statements(template: &Value, role: &str) -> Vec<Value> {
    fn flatten(statement: &Value, out: &mut Vec<Value>) {
        if let Some(branches) = statement.get("Fn::If").and_then(Value::as_array) {
            for branch in &branches[1..] {
                if branch.get("Ref") != Some(&json!("AWS::NoValue")) {
                    flatten(branch, out);
                }
            }
        } else {
            out.push(statement.clone());
        }
    }
    let all = resources(template);
    let mut documents: Vec<&Value> = all[role]["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| &p["PolicyDocument"])
        .collect();
    for resource in all.values() {
        if resource["Type"] == "AWS::IAM::RolePolicy"
            && resource["Properties"]["RoleName"] == json!({"Ref": role})
        {
            documents.push(&resource["Properties"]["PolicyDocument"]);
        }
    }
    let mut out = Vec::new();
    for document in documents {
        for statement in document["Statement"].as_array().expect("Statement") {
            flatten(statement, &mut out);
        }
    }
    out
}

/// DESIGN.md §3, as the actions each role may have at all.
#[test]
fn every_role_grants_only_what_design_section_3_allows() {
    let logs = ["logs:CreateLogStream", "logs:PutLogEvents"];
    let allowed: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::from([
        (
            ("template.yaml", "AcsRole"),
            vec![
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                // Beyond DESIGN.md §3 (issue 18): a code's one redemption marks it redeemed
                // (so that a second one can revoke the token it issued).
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "kms:Decrypt",
            ],
        ),
        (
            ("template.yaml", "MetadataRole"),
            vec!["dynamodb:GetItem", "dynamodb:Query"],
        ),
        (
            ("template.yaml", "AdminRole"),
            vec![
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "kms:GenerateDataKey",
                "kms:Decrypt",
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:DeleteSecret",
                "secretsmanager:TagResource",
                // Beyond DESIGN.md §3 (issue 14): the organisations' provision functions,
                // synchronously, for POST …/credentials/{id}/provision.
                "lambda:InvokeFunction",
            ],
        ),
        (
            ("template.yaml", "RotateRole"),
            vec![
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:ConditionCheckItem",
                // Beyond DESIGN.md §3 (issue 18): a retired token key's JWKS entry, only
                // (LeadingKeys `JWKS`).
                "dynamodb:DeleteItem",
                "kms:GenerateDataKey",
            ],
        ),
        (
            ("org-template.yaml", "ProvisionRole"),
            vec![
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
        ),
    ]);
    let mut problems = Vec::new();
    for ((file, role), actions) in &allowed {
        let template = load(file);
        let statements = role_statements(&template, role);
        assert!(!statements.is_empty(), "{file} {role}: no statements");
        for s in &statements {
            assert_eq!(s["Effect"], "Allow", "{file} {role}: {s}");
            let sid = s["Sid"].as_str().unwrap_or("?");
            for action in strings(&s["Action"]) {
                if action.contains('*') {
                    problems.push(format!("{file} {role} {sid}: wildcard action {action}"));
                }
                if !actions.contains(&action.as_str()) && !logs.contains(&action.as_str()) {
                    problems.push(format!(
                        "{file} {role} {sid}: {action} is not in DESIGN.md §3"
                    ));
                }
                // "*" only where EC2 has no resource-level permissions.
                if s["Resource"] == "*" && !action.starts_with("ec2:Describe") {
                    problems.push(format!("{file} {role} {sid}: {action} on Resource *"));
                }
            }
            // Lambda: only the organisations' provision functions of this account and region.
            if strings(&s["Action"])
                .iter()
                .any(|a| a.starts_with("lambda:"))
            {
                let resource = s["Resource"].to_string();
                if !resource.contains(
                    ":lambda:${AWS::Region}:${AWS::AccountId}:function:samlgate-provision-*",
                ) {
                    problems.push(format!(
                        "{file} {role} {sid}: Lambda beyond the provision functions: {s}"
                    ));
                }
            }
            // Every KMS permission is pinned to a purpose (or to Secrets Manager's use of the
            // platform key for secrets at rest).
            if strings(&s["Action"]).iter().any(|a| a.starts_with("kms:")) {
                let condition = &s["Condition"]["StringEquals"];
                let purposes = strings(&condition["kms:EncryptionContext:purpose"]);
                let via = condition["kms:ViaService"].to_string();
                let ok = match *role {
                    "AcsRole" => purposes == ["sp-key"],
                    "RotateRole" => purposes == ["sp-key"],
                    // admin's only Decrypt is Secrets Manager's at-rest layer of the credential
                    // secrets, never an organisation key.
                    "AdminRole" => {
                        (purposes == ["credential", "intake", "sp-key"]
                            && strings(&s["Action"]) == ["kms:GenerateDataKey"])
                            || (via.contains("secretsmanager")
                                && s["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]
                                    .to_string()
                                    .contains("credentials/*"))
                    }
                    "ProvisionRole" => {
                        (purposes == ["credential", "intake"]
                            && condition["kms:EncryptionContext:org"] == json!({"Ref": "OrgId"}))
                            || via.contains("secretsmanager")
                    }
                    _ => false,
                };
                if !ok {
                    problems.push(format!(
                        "{file} {role} {sid}: KMS not pinned to its purpose: {s}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each environment variable a function's main.rs reads (through the settings it uses of
/// `samlgate_domain::config::Config`) is set for it by its template (SAMLGATE_LOCAL is for
/// local development only and must not be).
#[test]
fn every_function_gets_the_environment_its_main_reads() {
    let platform = load("template.yaml");
    let org = load("org-template.yaml");
    let globals: BTreeSet<String> = platform["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .expect("Globals variables")
        .keys()
        .cloned()
        .collect();
    let cases = [
        ("acs", &platform, "AcsFunction", true),
        ("metadata", &platform, "MetadataFunction", true),
        ("admin", &platform, "AdminFunction", true),
        ("rotate", &platform, "RotateFunction", true),
        ("provision", &org, "ProvisionFunction", false),
    ];
    use samlgate_domain::config::Config;
    let uses = regex_lite::Regex::new(r"\bsettings\.([a-z_]+)").expect("regex");
    for (crate_dir, template, id, uses_globals) in cases {
        let main =
            std::fs::read_to_string(root().join(format!("functions/{crate_dir}/src/main.rs")))
                .expect("main.rs");
        let mut set: BTreeSet<String> = resources(template)[id]["Properties"]["Environment"]
            ["Variables"]
            .as_object()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default();
        if uses_globals {
            set.extend(globals.iter().cloned());
        }
        assert!(!set.contains("SAMLGATE_LOCAL"), "{id} sets SAMLGATE_LOCAL");
        assert!(
            main.contains("Config::from_env()"),
            "{id}: main.rs reads its environment elsewhere"
        );
        assert!(
            !main.contains("env::var"),
            "{id}: main.rs reads the environment itself"
        );
        let mut used = 0;
        for field in uses.captures_iter(&main).map(|c| c[1].to_owned()) {
            let (_, names) = Config::SOURCES
                .iter()
                .find(|(f, _)| *f == field)
                .unwrap_or_else(|| {
                    panic!("{id}: settings.{field} has no entry in Config::SOURCES")
                });
            used += 1;
            for name in names.iter().filter(|n| **n != "SAMLGATE_LOCAL") {
                assert!(
                    set.contains(*name),
                    "{id}: main.rs reads {name}, the template does not set it"
                );
            }
        }
        assert!(used > 0, "{id}: main.rs uses no setting");
    }
}

/// provision reads only its organisation's partition and writes only its audit items
/// (`dynamodb:LeadingKeys`): whatever its code does, it cannot change configuration.
#[test]
fn provision_writes_only_its_organisations_audit_partition() {
    let org = load("org-template.yaml");
    let statements = role_statements(&org, "ProvisionRole");
    let leading =
        |s: &Value| s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"].to_string();
    for s in statements.iter().filter(|s| {
        strings(&s["Action"])
            .iter()
            .any(|a| a.starts_with("dynamodb:"))
    }) {
        let actions = strings(&s["Action"]);
        if actions.iter().any(|a| a == "dynamodb:PutItem") {
            assert_eq!(actions, ["dynamodb:PutItem"], "{s}");
            assert!(leading(s).contains("AUDIT#${OrgId}"), "{s}");
        } else {
            assert!(leading(s).contains("ORG#${OrgId}"), "{s}");
        }
    }
}

#[test]
fn the_table_is_the_one_the_code_expects() {
    let template = load("template.yaml");
    let table = &resources(&template)["Table"]["Properties"];
    assert_eq!(
        table["KeySchema"],
        json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    );
    // shared/aws/src/keys.rs: login state, replay entries and sessions expire by it.
    assert_eq!(
        table["TimeToLiveSpecification"],
        json!({"AttributeName": "expires_at", "Enabled": true})
    );
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        table["SSESpecification"]["KMSMasterKeyId"],
        json!({"Ref": "PlatformKey"})
    );
}

/// rotate deletes nothing but JWKS entries (a retired token key's).
#[test]
fn rotate_deletes_only_jwks_entries() {
    let template = load("template.yaml");
    for s in role_statements(&template, "RotateRole") {
        if strings(&s["Action"])
            .iter()
            .any(|a| a == "dynamodb:DeleteItem")
        {
            assert_eq!(strings(&s["Action"]), ["dynamodb:DeleteItem"], "{s}");
            assert_eq!(
                strings(&s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]),
                [samlgate_aws::keys::JWKS_PK],
                "{s}"
            );
        }
    }
}

/// acs reads configuration but writes only under its own key prefixes (`dynamodb:LeadingKeys`),
/// and those prefixes are exactly the keys its ports write (shared/aws/src/keys.rs), never a
/// configuration item's.
/// One partition key of each item the SSO runtime (acs) writes: logins, replay entries,
/// sessions and their subject index, codes, access tokens.
fn runtime_keys(org: &OrgId, idp: &samlgate_domain::ids::IdpId) -> [String; 6] {
    use samlgate_aws::keys;
    [
        keys::login_pk(&"a".repeat(32)),
        keys::replay_pk(org, "https://idp", "_a"),
        keys::session_pk("s-1"),
        keys::subject_pk(org, idp, "alice"),
        keys::code_pk("h"),
        keys::access_pk("h"),
    ]
}

#[test]
fn acs_writes_only_its_own_key_prefixes() {
    use samlgate_aws::keys;
    use samlgate_domain::ids::IdpId;
    let template = load("template.yaml");
    let statements = role_statements(&template, "AcsRole");
    let mut prefixes = Vec::new();
    for s in statements.iter().filter(|s| {
        strings(&s["Action"])
            .iter()
            .any(|a| a.starts_with("dynamodb:"))
    }) {
        let actions = strings(&s["Action"]);
        let writes = actions
            .iter()
            .any(|a| a != "dynamodb:GetItem" && a != "dynamodb:Query");
        if writes {
            assert!(
                actions.iter().all(|a| [
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem"
                ]
                .contains(&a.as_str())),
                "{s}"
            );
            prefixes.extend(strings(
                &s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            ));
            assert!(!prefixes.is_empty(), "acs writes without LeadingKeys: {s}");
        }
    }
    let matches = |key: &str| {
        prefixes
            .iter()
            .any(|p| key.starts_with(p.trim_end_matches('*')))
    };
    let org = OrgId::parse("acme").unwrap();
    let idp = IdpId::parse("okta").unwrap();
    for written in runtime_keys(&org, &idp)
        .into_iter()
        .chain([keys::audit_pk(&org)])
    {
        assert!(matches(&written), "acs cannot write {written}");
    }
    for configuration in [
        keys::org_pk(&org),
        keys::DIRECTORY_PK.to_owned(),
        keys::JWKS_PK.to_owned(),
    ] {
        assert!(!matches(&configuration), "acs may write {configuration}");
    }
}

/// BYOK (issue 17 §5): the grant manager's role may create exactly the grants its function
/// makes: each grantee only its operation and purposes, always constrained (EncryptionContext
/// subset) to this organisation. A role that allowed any grantee or purpose would let the
/// function (or whoever runs as it) hand Decrypt on credentials to anyone.
#[test]
fn the_grant_manager_may_create_exactly_the_grants_it_makes() {
    use std::collections::BTreeSet;
    let org = load("org-template.yaml");
    let name = |v: &Value| -> String {
        if let Some(r) = v.get("Ref").and_then(Value::as_str) {
            r.to_owned()
        } else if let Some(parts) = v.get("Fn::GetAtt").and_then(Value::as_array) {
            strings(&Value::Array(parts.clone())).join(".")
        } else {
            v.as_str().unwrap_or_default().to_owned()
        }
    };
    let made: BTreeSet<(String, String, String)> = resources(&org)["ByokGrants"]["Properties"]
        ["Grants"]
        .as_array()
        .expect("Grants")
        .iter()
        .map(|g| (name(&g[0]), name(&g[1]), name(&g[2])))
        .collect();
    let mut allowed = BTreeSet::new();
    for statement in role_statements(&org, "GrantManagerRole") {
        if !strings(&statement["Action"]).contains(&"kms:CreateGrant".to_owned()) {
            continue;
        }
        let sid = statement["Sid"].clone();
        let equals = &statement["Condition"]["StringEquals"];
        assert_eq!(
            equals["kms:EncryptionContext:org"],
            json!({"Ref": "OrgId"}),
            "{sid}: grants are constrained to this organisation"
        );
        assert_eq!(
            equals["kms:GrantConstraintType"], "EncryptionContextSubset",
            "{sid}: a grant must carry the encryption-context constraint"
        );
        let grantee = name(&equals["kms:GranteePrincipal"]);
        assert!(!grantee.is_empty(), "{sid}: names no grantee");
        let operations =
            strings(&statement["Condition"]["ForAllValues:StringEquals"]["kms:GrantOperations"]);
        let purposes = strings(&equals["kms:EncryptionContext:purpose"]);
        assert!(
            !operations.is_empty() && !purposes.is_empty(),
            "{sid}: operations and purposes must be named"
        );
        for operation in &operations {
            for purpose in &purposes {
                allowed.insert((grantee.clone(), operation.clone(), purpose.clone()));
            }
        }
    }
    assert_eq!(allowed, made);
}

/// Issue 17 §1: rotate writes only configuration (`ORG#…`), JWKS entries and audit items:
/// never a login, session, code or access token, never the organisation directory.
#[test]
fn rotate_writes_only_configuration_jwks_and_audit_partitions() {
    use samlgate_aws::keys;
    let template = load("template.yaml");
    for s in role_statements(&template, "RotateRole") {
        let actions = strings(&s["Action"]);
        if actions
            .iter()
            .any(|a| a == "dynamodb:PutItem" || a == "dynamodb:ConditionCheckItem")
        {
            assert_eq!(
                strings(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]),
                ["ORG#*", keys::JWKS_PK, "AUDIT#*"],
                "{s}"
            );
        }
    }
}

/// Whether `role`'s statements (as written in `file`) allow the DynamoDB `action` on an item
/// whose partition key is `pk`. The only condition understood is `dynamodb:LeadingKeys`
/// (`ForAllValues:StringEquals` or `:StringLike`); any other makes the test fail rather than
/// guess. `${OrgId}` (org-template) is the organisation `acme`.
fn table_allows(file: &str, role: &str, action: &str, pk: &str) -> bool {
    let template = load(file);
    let resolve = |v: &Value| -> String {
        match v.get("Fn::Sub").and_then(Value::as_str) {
            Some(text) => text.replace("${OrgId}", "acme"),
            None => v.as_str().unwrap_or_default().to_owned(),
        }
    };
    role_statements(&template, role).iter().any(|s| {
        if s["Effect"] != "Allow" || !strings(&s["Action"]).iter().any(|a| a == action) {
            return false;
        }
        let Some(conditions) = s["Condition"].as_object() else {
            return true;
        };
        conditions.iter().all(|(operator, keys)| {
            let keys = keys.as_object().expect("condition keys");
            assert!(
                keys.keys().all(|k| k == "dynamodb:LeadingKeys"),
                "{role}: a condition this evaluator does not know: {s}"
            );
            let patterns: Vec<String> = match &keys["dynamodb:LeadingKeys"] {
                Value::Array(items) => items.iter().map(resolve).collect(),
                other => vec![resolve(other)],
            };
            match operator.as_str() {
                "ForAllValues:StringEquals" => patterns.iter().any(|p| p == pk),
                "ForAllValues:StringLike" => patterns.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => pk.starts_with(prefix),
                    None => p == pk,
                }),
                other => panic!("{role}: operator {other} in {s}"),
            }
        })
    })
}

/// Issue 17 §1: the (function, action, key) matrix, evaluated against the roles as written
/// in the templates: each row is a partition a function must reach, or one it must not.
#[test]
fn the_table_access_matrix_holds_for_the_roles_as_written() {
    use samlgate_aws::keys;
    use samlgate_domain::ids::IdpId;
    let org = OrgId::parse("acme").unwrap();
    let other = OrgId::parse("globex").unwrap();
    let idp = IdpId::parse("okta").unwrap();
    let (config, audit, jwks, directory) = (
        keys::org_pk(&org),
        keys::audit_pk(&org),
        keys::JWKS_PK.to_owned(),
        keys::DIRECTORY_PK.to_owned(),
    );
    let runtime = runtime_keys(&org, &idp);
    let t = "template.yaml";
    let o = "org-template.yaml";
    let mut rows: Vec<(&str, &str, &str, String, bool)> = Vec::new();
    // acs: reads configuration; writes only its runtime prefixes and audit.
    rows.push((t, "AcsRole", "dynamodb:GetItem", config.clone(), true));
    for pk in runtime.iter().chain([&audit]) {
        rows.push((t, "AcsRole", "dynamodb:PutItem", pk.clone(), true));
    }
    // The aggregate of anonymous login failures is an UpdateItem (`ADD count`) on AUDIT#.
    rows.push((t, "AcsRole", "dynamodb:UpdateItem", audit.clone(), true));
    for action in [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ] {
        for pk in [&config, &jwks, &directory] {
            rows.push((t, "AcsRole", action, pk.clone(), false));
        }
    }
    // metadata: reads only.
    for pk in [&config, &jwks] {
        rows.push((t, "MetadataRole", "dynamodb:GetItem", pk.clone(), true));
        rows.push((t, "MetadataRole", "dynamodb:Query", pk.clone(), true));
    }
    for action in [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ] {
        rows.push((t, "MetadataRole", action, config.clone(), false));
        rows.push((t, "MetadataRole", action, keys::session_pk("s-1"), false));
    }
    // rotate: configuration, JWKS and audit; deletes only JWKS entries; no runtime item.
    for pk in [&config, &jwks, &audit] {
        rows.push((t, "RotateRole", "dynamodb:PutItem", pk.clone(), true));
    }
    rows.push((t, "RotateRole", "dynamodb:DeleteItem", jwks.clone(), true));
    rows.push((
        t,
        "RotateRole",
        "dynamodb:DeleteItem",
        config.clone(),
        false,
    ));
    rows.push((
        t,
        "RotateRole",
        "dynamodb:PutItem",
        directory.clone(),
        false,
    ));
    for pk in &runtime {
        rows.push((t, "RotateRole", "dynamodb:PutItem", pk.clone(), false));
        rows.push((t, "RotateRole", "dynamodb:DeleteItem", pk.clone(), false));
    }
    // admin: configuration, the directory, JWKS entries and audit; deletes only inside an
    // organisation's partition; no runtime item.
    for pk in [&config, &jwks, &directory, &audit] {
        rows.push((t, "AdminRole", "dynamodb:PutItem", pk.clone(), true));
    }
    rows.push((t, "AdminRole", "dynamodb:DeleteItem", config.clone(), true));
    for pk in [&jwks, &directory, &audit] {
        rows.push((t, "AdminRole", "dynamodb:DeleteItem", pk.clone(), false));
    }
    for pk in &runtime {
        rows.push((t, "AdminRole", "dynamodb:PutItem", pk.clone(), false));
        rows.push((t, "AdminRole", "dynamodb:DeleteItem", pk.clone(), false));
    }
    // provision: reads its organisation's partition, writes only its own audit items.
    for (action, pk, allowed) in [
        ("dynamodb:GetItem", config.clone(), true),
        ("dynamodb:GetItem", keys::org_pk(&other), false),
        ("dynamodb:PutItem", audit.clone(), true),
        ("dynamodb:PutItem", keys::audit_pk(&other), false),
        ("dynamodb:PutItem", config.clone(), false),
        ("dynamodb:DeleteItem", config.clone(), false),
    ] {
        rows.push((o, "ProvisionRole", action, pk, allowed));
    }

    let wrong: Vec<String> = rows
        .iter()
        .filter(|(file, role, action, pk, allowed)| {
            table_allows(file, role, action, pk) != *allowed
        })
        .map(|(file, role, action, pk, allowed)| {
            format!(
                "{file} {role} {action} {pk}: expected {}",
                if *allowed { "allow" } else { "deny" }
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(rows.len() > 50, "{} rows", rows.len());
}
