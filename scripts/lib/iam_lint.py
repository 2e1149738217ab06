"""IAM linting of every policy document in the CloudFormation templates (least privilege, DESIGN.md §3).

Reads each template with cfn-lint's decoder (which understands the short-form tags), finds
every policy document (role trust and inline policies, AWS::IAM::RolePolicy, KMS key
policies, Secrets Manager resource policies, VPC endpoint policies), resolves the intrinsic
functions to example values (a parameter becomes a plausible ARN or name; `Fn::If` is
checked on both branches), and runs parliament on it.

parliament reads every document as an identity policy. Two of its findings are therefore
inherent to resource policies and are not reported for them: RESOURCE_STAR in a key,
secret or endpoint policy ("Resource": "*" there means that one key, secret or endpoint),
and MALFORMED "neither Resource nor NotResource" in a role's trust policy (trust policies
have no Resource). Everything else is reported.

A finding can be suppressed only in the template, next to the policy, with a reason:

    Metadata:
      parliament:
        ignore:
          - issue: RESOURCE_STAR
            comment: why this one is fine

Exit status 1 if any finding is not suppressed, or a suppression has no comment.
"""

import json
import re
import sys

from cfnlint.decode import decode
from parliament import analyze_policy_string

ACCOUNT = "111122223333"
REGION = "eu-west-1"

# Example values for parameters and resources, by the shape of their names.
def example(name):
    lowered = name.lower()
    if lowered.endswith("rolearn"):
        return f"arn:aws:iam::{ACCOUNT}:role/{name[:-3].lower()}"
    if "keyarn" in lowered:
        return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    if lowered.endswith("tablearn"):
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/samlgate"
    if lowered.endswith("secretarn"):
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:samlgate/fle-private-key-AbCdEf"
    if lowered == "orgid":
        return "acme"
    return name.lower()


def resource_arn(logical_id, attribute, resources):
    kind = resources.get(logical_id, {}).get("Type", "")
    if kind == "AWS::IAM::Role":
        return f"arn:aws:iam::{ACCOUNT}:role/{logical_id.lower()}"
    if kind == "AWS::KMS::Key":
        return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical_id.lower()}"
    if kind == "AWS::DynamoDB::Table":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical_id.lower()}"
    if kind == "AWS::Logs::LogGroup":
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/samlgate/{logical_id.lower()}:*"
    if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id.lower()}"
    if kind == "AWS::SecretsManager::Secret":
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{logical_id.lower()}-AbCdEf"
    return f"{logical_id.lower()}-{attribute.lower()}" if attribute else logical_id.lower()


def resolve(value, resources, branch):
    """Intrinsics → example strings. `branch` picks Fn::If's side (0 true, 1 false)."""
    if isinstance(value, list):
        return [resolve(v, resources, branch) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            if arg.startswith("AWS::"):
                return {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT,
                        "AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com",
                        "AWS::StackName": "samlgate"}.get(arg, arg)
            if arg in resources:
                return resource_arn(arg, "", resources)
            return example(arg)
        if key == "Fn::GetAtt":
            logical, _, attribute = (arg if isinstance(arg, str) else ".".join(arg)).partition(".")
            return resource_arn(logical, attribute, resources)
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            def sub(match):
                name = match.group(1)
                if "." in name:
                    logical, _, attribute = name.partition(".")
                    return resource_arn(logical, attribute, resources)
                return resolve({"Ref": name}, resources, branch)
            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if key == "Fn::If":
            return resolve(arg[1 + branch], resources, branch)
        if key == "Fn::Join":
            return arg[0].join(resolve(arg[1], resources, branch))
    return {k: resolve(v, resources, branch) for k, v in value.items()}


def drop_novalue(value):
    if isinstance(value, list):
        return [drop_novalue(v) for v in value if v != "AWS::NoValue"]
    if isinstance(value, dict):
        return {k: drop_novalue(v) for k, v in value.items() if v != "AWS::NoValue"}
    return value


# label → parliament issues that cannot apply to that kind of document (see the docstring).
INHERENT = {
    "trust policy": {"MALFORMED"},
    "key policy": {"RESOURCE_STAR"},
    "resource policy": {"RESOURCE_STAR"},
    "endpoint policy": {"RESOURCE_STAR"},
}


def inherent(label, finding):
    if finding.issue not in INHERENT.get(label, set()):
        return False
    return finding.issue != "MALFORMED" or "neither Resource nor NotResource" in str(finding.detail)


def documents(resource):
    """(label, document) for each policy document of one resource."""
    kind, props = resource.get("Type", ""), resource.get("Properties", {})
    if kind == "AWS::IAM::Role":
        yield "trust policy", props.get("AssumeRolePolicyDocument")
        for policy in props.get("Policies", []):
            yield f"policy {policy.get('PolicyName')}", policy.get("PolicyDocument")
    elif kind in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        yield "policy", props.get("PolicyDocument")
    elif kind == "AWS::KMS::Key":
        yield "key policy", props.get("KeyPolicy")
    elif kind == "AWS::SecretsManager::ResourcePolicy":
        yield "resource policy", props.get("ResourcePolicy")
    elif kind == "AWS::EC2::VPCEndpoint" and "PolicyDocument" in props:
        yield "endpoint policy", props.get("PolicyDocument")


def main(paths):
    failures = 0
    checked = 0
    for path in paths:
        template, matches = decode(path)
        if matches:
            print(f"{path}: cannot read: {matches}")
            return 1
        resources = template.get("Resources", {})
        for logical_id, resource in resources.items():
            ignores = {}
            for entry in resource.get("Metadata", {}).get("parliament", {}).get("ignore", []):
                if not str(entry.get("comment", "")).strip():
                    print(f"{path} {logical_id}: suppression of {entry.get('issue')} has no comment")
                    failures += 1
                ignores[entry.get("issue")] = entry.get("comment")
            for label, document in documents(resource):
                if document is None:
                    continue
                seen = set()
                for branch in (0, 1):
                    resolved = json.dumps(drop_novalue(resolve(document, resources, branch)))
                    if resolved in seen:
                        continue
                    seen.add(resolved)
                    checked += 1
                    policy = analyze_policy_string(resolved, ignore_private_auditors=True)
                    for finding in policy.findings:
                        if finding.issue in ignores or inherent(label, finding):
                            continue
                        failures += 1
                        print(f"{path} {logical_id} ({label}): {finding.issue} "
                              f"{finding.detail} {finding.location}")
    print(f"iam lint: {checked} policy documents, {failures} unsuppressed findings")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
