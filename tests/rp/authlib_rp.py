"""Authlib as the relying party and pysaml2 as the IdP, so that both sides of samlgate are
third-party code: run by scripts/dev --smoke against the dev server (SAMLGATE_URL).

pysaml2 (tests/fixtures/pysaml2_idp.py) is registered in the demo organisation through the
admin API and trusts samlgate's SP metadata; Authlib's OAuth2Session runs the code flow with
PKCE for a confidential (client_secret_basic) and a public client; Authlib validates the ID
token (signature from the discovered JWKS, iss, aud, exp, nonce) and calls userinfo.
"""
import json
import os
import secrets
import subprocess
import sys
import tempfile
import warnings

import requests
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib.jose's deprecation notice (joserfc replaces it)
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

BASE = os.environ["SAMLGATE_URL"]
ISSUER = f"{BASE}/o/demo"
REDIRECT = f"{BASE}/rp/authlib/callback"  # nothing listens: the browser reads the redirect
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PySaml2:
    """The pysaml2 IdP process, one JSON object per line each way."""

    def __init__(self, name):
        self.workdir = tempfile.mkdtemp(prefix="samlgate-authlib-")
        base = f"https://idp-{name}.pysaml2.test"
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests/fixtures/pysaml2_idp.py"),
             "--entity-id", f"{base}/metadata", "--base-url", base, "--workdir", self.workdir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ok(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert answer["ok"], answer
        return answer

    def close(self):
        self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.process.stdin.flush()
        self.process.wait(timeout=10)


def admin(method, path, body=None):
    answer = requests.request(method, BASE + path, json=body, timeout=30)
    assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
    return answer.json()


def sign_in(py, idp, discovery, client_id, secret, method, scope):
    session = OAuth2Session(client_id, secret, scope=scope, redirect_uri=REDIRECT,
                            code_challenge_method="S256", token_endpoint_auth_method=method)
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, idp=idp)

    # The browser: authorize (binding cookie) → pysaml2 → the ACS with the same cookie jar.
    browser = requests.Session()
    answer = browser.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, (answer.status_code, answer.text)
    assert "samlgate-login" in browser.cookies, answer.headers
    idp_answer = py.ok(op="authn", binding="redirect", url=answer.headers["location"],
                       user={"name_id": "alice@example.com",
                             "attributes": {"email": ["alice@example.com"],
                                            "displayName": ["Alice"], "groups": ["staff"]}},
                       encrypt=False, sign_response=True, sign_assertion=True)
    answer = browser.post(f"{BASE}/o/demo/idp/{idp}/acs", allow_redirects=False, timeout=30,
                          data={"SAMLResponse": idp_answer["saml_response"],
                                "RelayState": idp_answer["relay_state"]})
    assert answer.status_code == 302, (answer.status_code, answer.text)
    callback = answer.headers["location"]

    token = session.fetch_token(discovery["token_endpoint"], authorization_response=callback,
                                state=state, code_verifier=verifier)
    jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
    claims = jwt.decode(token["id_token"], jwks, claims_cls=CodeIDToken,
                        claims_options={"iss": {"essential": True, "value": ISSUER},
                                        "aud": {"essential": True, "value": client_id}},
                        claims_params={"nonce": nonce, "client_id": client_id})
    claims.validate()
    return session, token, claims


def main():
    discovery = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=30).json()
    assert discovery["issuer"] == ISSUER, discovery
    idp = "authlib-" + secrets.token_hex(4)
    py = PySaml2(idp)
    try:
        admin("POST", "/admin/orgs/demo/idps", {
            "idp": idp, "metadata_xml": py.ok(op="metadata")["xml"],
            "settings": {"mapping": {"email": "email", "name": "displayName", "groups": "groups"}}})
        sp = requests.get(f"{BASE}/o/demo/idp/{idp}/metadata", timeout=30)
        py.ok(op="trust_sp", xml=sp.text)
        print(f"    pysaml2 registered as IdP {idp} of the demo organisation; it trusts samlgate's SP metadata")

        client = admin("POST", "/admin/orgs/demo/clients", {
            "name": "Authlib confidential", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic"})
        session, token, claims = sign_in(py, idp, discovery, client["client_id"],
                                         client["client_secret"], "client_secret_basic",
                                         "openid email profile groups")
        assert claims["sub"] == f"{idp}:alice@example.com", claims
        assert claims["email"] == "alice@example.com" and claims["groups"] == ["staff"], claims
        info = session.get(discovery["userinfo_endpoint"], timeout=30)
        assert info.status_code == 200 and info.json()["sub"] == claims["sub"], info.text
        print(f"    Authlib (client_secret_basic, PKCE) validated the ID token: sub {claims['sub']}; userinfo agrees")

        public = admin("POST", "/admin/orgs/demo/clients", {
            "name": "Authlib public", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none"})
        assert "client_secret" not in public or public["client_secret"] is None, public
        _, _, claims = sign_in(py, idp, discovery, public["client_id"], None, "none", "openid")
        assert "email" not in claims and "groups" not in claims, claims
        print("    Authlib (public client, PKCE only, scope openid) validated the ID token: no email or groups")

        tampered = token["id_token"][:-4] + ("AAAA" if not token["id_token"].endswith("AAAA") else "BBBB")
        jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
        try:
            jwt.decode(tampered, jwks)
        except Exception:  # authlib raises BadSignatureError
            print("    a tampered ID token fails Authlib's signature check")
        else:
            raise AssertionError("a tampered ID token verified")
    finally:
        py.close()


if __name__ == "__main__":
    main()
