"""Reading one IdP out of a large signed federation aggregate: time and peak memory.

    .venv/bin/python scripts/lib/aggregate_bench.py SAMLGATE_BINARY [--entities 20000] [--max-rss-ratio R]

Generates an aggregate the size of a national federation's (EntitiesDescriptor of N entities:
IdPs and SPs with mdui, scopes, certificates and endpoints, the fixture IdP in the middle),
signs it with libxmlsec1 (python-xmlsec, the federation fixture key) and verifies it with
libxmlsec1 as the third-party baseline, then runs `samlgate validate --entity-id …
--metadata-signer …` on a fixture Response, and the same validation against the IdP's own
metadata (the single-entity baseline). Peak memory is the child's ru_maxrss (wait4). Prints one
table; exits 1 when samlgate's peak exceeds R times the aggregate's size (default 8).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import xmlsec
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "shared/saml/tests/fixtures"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
PROTOCOL = 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"'


def cert_b64(name):
    lines = (FIXTURES / "keys" / f"{name}.crt").read_text().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


CERTS = [cert_b64(n) for n in ("idp-rsa-next", "attacker", "sp-other", "sp-enc")]


def key_descriptor(i, use):
    return (f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f'{CERTS[i % len(CERTS)]}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>')


def member(i):
    host = f"member{i}.federation.example"
    ui = (f'<md:Extensions><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui">'
          f'<mdui:DisplayName xml:lang="en">Member {i} University</mdui:DisplayName>'
          f'<mdui:Description xml:lang="en">Identity service of member {i} of the example federation.</mdui:Description>'
          f'<mdui:Logo height="64" width="64">https://{host}/logo.png</mdui:Logo></mdui:UIInfo>'
          f'<shibmd:Scope xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" regexp="false">{host}</shibmd:Scope>'
          f'</md:Extensions>')
    org = (f'<md:Organization><md:OrganizationName xml:lang="en">Member {i}</md:OrganizationName>'
           f'<md:OrganizationDisplayName xml:lang="en">Member {i} University</md:OrganizationDisplayName>'
           f'<md:OrganizationURL xml:lang="en">https://{host}/</md:OrganizationURL></md:Organization>'
           f'<md:ContactPerson contactType="technical"><md:EmailAddress>mailto:it@{host}</md:EmailAddress></md:ContactPerson>')
    if i % 2:
        return (f'<md:EntityDescriptor entityID="https://{host}/sp"><md:SPSSODescriptor {PROTOCOL}>{ui}'
                f'{key_descriptor(i, "signing")}{key_descriptor(i + 1, "encryption")}'
                f'<md:AssertionConsumerService Binding="{POST}" Location="https://{host}/Shibboleth.sso/SAML2/POST" index="0"/>'
                f'</md:SPSSODescriptor>{org}</md:EntityDescriptor>\n')
    return (f'<md:EntityDescriptor entityID="https://{host}/idp"><md:IDPSSODescriptor {PROTOCOL}>{ui}'
            f'{key_descriptor(i, "signing")}'
            f'<md:SingleLogoutService Binding="{REDIRECT}" Location="https://{host}/idp/profile/SAML2/Redirect/SLO"/>'
            f'<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>'
            f'<md:SingleSignOnService Binding="{REDIRECT}" Location="https://{host}/idp/profile/SAML2/Redirect/SSO"/>'
            f'<md:SingleSignOnService Binding="{POST}" Location="https://{host}/idp/profile/SAML2/POST/SSO"/>'
            f'</md:IDPSSODescriptor>{org}</md:EntityDescriptor>\n')


def generate(entities, path):
    ours = (FIXTURES / "metadata/idp.xml").read_text().replace(f' xmlns:md="{MD}"', "")
    parts = [f'<md:EntitiesDescriptor xmlns:md="{MD}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
             'ID="_aggregate" Name="urn:example:federation" validUntil="2030-01-01T00:00:00Z">\n']
    for i in range(entities):
        parts.append(ours if i == entities // 2 else member(i))
    parts.append("</md:EntitiesDescriptor>\n")
    root = etree.fromstring("".join(parts).encode(), etree.XMLParser(huge_tree=True))
    started = time.perf_counter()
    signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    root.insert(0, signature)
    ref = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri="#_aggregate")
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(str(FIXTURES / "keys/federation.key"), xmlsec.KeyFormat.PEM)
    ctx.register_id(root, "ID")
    ctx.sign(signature)
    signed_s = time.perf_counter() - started
    data = etree.tostring(root)
    path.write_bytes(data)
    # Third-party baseline: libxmlsec1 parses and verifies the written file.
    started = time.perf_counter()
    root = etree.fromstring(data, etree.XMLParser(huge_tree=True))
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(str(FIXTURES / "keys/federation.crt"), xmlsec.KeyFormat.CERT_PEM)
    ctx.register_id(root, "ID")
    ctx.verify(root.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    verified_s = time.perf_counter() - started
    return len(data), signed_s, verified_s


def measured(command):
    """Wall time and peak RSS (KiB) of one run of `command`."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = child.stdout.read(), child.stderr.read()
    return os.waitstatus_to_exitcode(status), out, err, elapsed, usage.ru_maxrss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("samlgate")
    parser.add_argument("--entities", type=int, default=20000)
    parser.add_argument("--max-rss-ratio", type=float, default=8.0)
    parser.add_argument("--generate-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        print(json.dumps(generate(args.entities, Path(args.generate_into))))
        return
    out_dir = ROOT / "target/aggregate"
    out_dir.mkdir(parents=True, exist_ok=True)
    aggregate = out_dir / f"aggregate-{args.entities}.xml"
    print(f"generating and signing a {args.entities}-entity aggregate (libxmlsec1) …", flush=True)
    # In a child process: a forked child's ru_maxrss starts from its parent's, so this process
    # stays small (the baseline row shows the floor that leaves).
    generated = subprocess.run([sys.executable, __file__, args.samlgate, "--entities", str(args.entities),
                                "--generate-into", str(aggregate)], check=True, capture_output=True, text=True)
    size, signed_s, verified_s = json.loads(generated.stdout)
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    response = FIXTURES / next(c["response"] for c in manifest if c["name"] == "response_signed")
    common = ["--sp-entity-id", "https://sp.example.com/saml/metadata",
              "--acs-url", "https://sp.example.com/o/acme/idp/okta/acs",
              "--now", "2026-01-01T00:01:00Z", "--request-id", "_req-4f6c1b2e", str(response)]
    single = [args.samlgate, "validate", "--idp-metadata", str(FIXTURES / "metadata/idp.xml")] + common
    federated = [args.samlgate, "validate", "--idp-metadata", str(aggregate),
                 "--entity-id", "https://idp.example.com/saml",
                 "--metadata-signer", str(FIXTURES / "keys/federation.crt")] + common
    rows = []
    for name, command in (("one IdP's metadata (baseline)", single), ("aggregate, signature checked", federated)):
        best = None
        for _ in range(3):
            code, out, err, elapsed, rss = measured(command)
            if code != 0 or b'"status":"valid"' not in out:
                sys.exit(f"{name}: exit {code}: {out.decode()} {err.decode()}")
            best = (elapsed, rss) if best is None or elapsed < best[0] else best
        rows.append((name, *best))
    mib = size / 2**20
    print()
    print(f"aggregate: {args.entities} entities, {mib:.1f} MiB")
    print(f"{'libxmlsec1: sign (python-xmlsec)':<40} {signed_s * 1000:>9.0f} ms")
    print(f"{'libxmlsec1: parse + verify':<40} {verified_s * 1000:>9.0f} ms")
    for name, elapsed, rss in rows:
        print(f"{'samlgate validate, ' + name:<56} {elapsed * 1000:>9.0f} ms   peak {rss / 1024:>7.1f} MiB")
    peak = rows[1][2] / 1024
    ratio = peak / mib
    ok = ratio <= args.max_rss_ratio
    print()
    print(f"{'PASS' if ok else 'MISS'}  peak memory {peak:.0f} MiB = {ratio:.1f}x the aggregate (target <= {args.max_rss_ratio:g}x)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
