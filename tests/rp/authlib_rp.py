"""Authlib as the relying party and pysaml2 as the IdP, so that both sides of samlgate are
third-party code: run by scripts/dev --smoke against the dev server (SAMLGATE_URL).

pysaml2 (tests/fixtures/pysaml2_idp.py) is registered in the demo organisation through the
admin API and trusts samlgate's SP metadata; Authlib's OAuth2Session runs the code flow with
PKCE for a confidential (client_secret_basic) and a public client; Authlib validates the ID
token (signature from the discovered JWKS, iss, aud, exp, nonce) and calls userinfo. An
IdP-initiated logout from pysaml2 reaches a local back-channel endpoint as a logout_token
that Authlib validates (iss, aud, sid, the events claim, no nonce). A second organisation,
onboarded with `samlgate org create` as an operator would, is its own issuer: its ID token,
handed to a relying party configured for the demo organisation, fails Authlib's validation
(its keys are not in the demo organisation's JWKS, and its iss differs).
"""
import html
import http.server
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import warnings

import requests
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib.jose's deprecation notice (joserfc replaces it)
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

BASE = os.environ["SAMLGATE_URL"]
ISSUER = f"{BASE}/o/demo"
# The dev server's table (`samlgate dev --table`), for `samlgate org create`.
TABLE = os.environ.get("SAMLGATE_DEV_TABLE", "samlgate-dev")
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


class LogoutEndpoint:
    """The client's back-channel logout URI: a local server that keeps each logout_token."""

    def __init__(self):
        tokens = self.tokens = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                tokens.extend(urllib.parse.parse_qs(body).get("logout_token", []))
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def admin(method, path, body=None):
    answer = requests.request(method, BASE + path, json=body, timeout=30)
    assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
    return answer.json()


def sign_in(py, idp, discovery, client_id, secret, method, scope, org="demo"):
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
    answer = browser.post(f"{BASE}/o/{org}/idp/{idp}/acs", allow_redirects=False, timeout=30,
                          data={"SAMLResponse": idp_answer["saml_response"],
                                "RelayState": idp_answer["relay_state"]})
    assert answer.status_code == 302, (answer.status_code, answer.text)
    callback = answer.headers["location"]

    token = session.fetch_token(discovery["token_endpoint"], authorization_response=callback,
                                state=state, code_verifier=verifier)
    jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
    claims = validated(token["id_token"], jwks, discovery["issuer"], client_id, nonce)
    return session, token, claims, idp_answer["session_index"]


def validated(id_token, jwks, issuer, client_id, nonce=None):
    """An ID token as a relying party of `issuer` validates it with Authlib."""
    claims = jwt.decode(id_token, jwks, claims_cls=CodeIDToken,
                        claims_options={"iss": {"essential": True, "value": issuer},
                                        "aud": {"essential": True, "value": client_id}},
                        claims_params={"nonce": nonce, "client_id": client_id})
    claims.validate()
    return claims


def refused(check):
    """What Authlib raised for `check` (None: it accepted)."""
    try:
        check()
    except Exception as e:  # authlib.jose raises BadSignatureError, InvalidClaimError, ValueError …
        return e
    return None


def claim_error(error):
    """An invalid-claim refusal (Authlib's claims classes raise joserfc's InvalidClaimError)."""
    return type(error).__name__ == "InvalidClaimError"


def other_organisation(py, demo_jwks):
    """Onboards a second organisation with the CLI, signs in there through the same pysaml2
    (a second SP to it), and hands that organisation's ID token to the demo organisation's
    relying party."""
    org = "authlib-b-" + secrets.token_hex(3)
    subprocess.run([os.path.join(ROOT, "target/debug/samlgate"), "org", "create", "--org", org,
                    "--name", "Authlib second organisation", "--table", TABLE],
                   check=True, stdout=subprocess.DEVNULL)
    admin("POST", f"/admin/orgs/{org}/idps", {
        "idp": "corp", "metadata_xml": py.ok(op="metadata")["xml"],
        "settings": {"mapping": {"email": "email"}}})
    admin("PUT", f"/admin/orgs/{org}/sso", {"default_idp": "corp"})
    py.ok(op="trust_sp", xml=requests.get(f"{BASE}/o/{org}/idp/corp/metadata", timeout=30).text)
    issuer = f"{BASE}/o/{org}"
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=30).json()
    assert discovery["issuer"] == issuer and discovery["jwks_uri"].startswith(issuer), discovery
    client = admin("POST", f"/admin/orgs/{org}/clients", {
        "name": "Authlib B", "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic"})
    _, token, claims, _ = sign_in(py, "corp", discovery, client["client_id"],
                                  client["client_secret"], "client_secret_basic", "openid",
                                  org=org)
    assert claims["iss"] == issuer and claims["org"] == org, claims
    b_jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
    demo_kids = {k.as_dict()["kid"] for k in demo_jwks.keys}
    assert demo_kids.isdisjoint(k.as_dict()["kid"] for k in b_jwks.keys), "shared token keys"
    id_token = token["id_token"]
    # The demo organisation's relying party: the demo JWKS and issuer. The same client_id is
    # given, so that only the organisation differs.
    error = refused(lambda: validated(id_token, demo_jwks, ISSUER, client["client_id"]))
    assert error is not None, "another organisation's ID token verified with the demo organisation's keys"
    assert not claim_error(error), f"refused for a claim, not its key: {error!r}"
    # Even a relying party that fetched the other organisation's keys refuses it for demo.
    error = refused(lambda: validated(id_token, b_jwks, ISSUER, client["client_id"]))
    assert claim_error(error) and "'iss'" in str(error), repr(error)
    print(f"    organisation {org}'s ID token is refused by Authlib configured for demo (keys and iss differ)")


def demo_app_signs_out_at_the_idp_it_signed_in_with(py, idp):
    """The dev server's demo app, signed in through pysaml2 (not the demo IdP): its Sign out is
    RP-initiated logout, which sends pysaml2 a signed LogoutRequest, and pysaml2's
    LogoutResponse brings the browser back to the demo app."""
    browser = requests.Session()
    answer = browser.get(f"{BASE}/app/login?idp={idp}", allow_redirects=False, timeout=30)
    answer = browser.get(answer.headers["location"], allow_redirects=False, timeout=30)
    assert answer.status_code == 302, (answer.status_code, answer.text)
    idp_answer = py.ok(op="authn", binding="redirect", url=answer.headers["location"],
                       user={"name_id": "bob@example.com",
                             "attributes": {"email": ["bob@example.com"]}},
                       encrypt=False, sign_response=True, sign_assertion=True)
    answer = browser.post(f"{BASE}/o/demo/idp/{idp}/acs", allow_redirects=False, timeout=30,
                          data={"SAMLResponse": idp_answer["saml_response"],
                                "RelayState": idp_answer["relay_state"]})
    assert answer.status_code == 302, (answer.status_code, answer.text)
    page = browser.get(answer.headers["location"], timeout=30)
    assert page.status_code == 200 and f"{idp}:bob@example.com" in page.text, page.text
    link = re.search(r'<a href="([^"]*/logout\?[^"]*)">Sign out</a>', page.text)
    answer = browser.get(BASE + html.unescape(link.group(1)), allow_redirects=False, timeout=30)
    location = answer.headers.get("location", "")
    assert answer.status_code == 302 and location.startswith(
        f"https://idp-{idp}.pysaml2.test/slo/redirect?"), (answer.status_code, location)
    logout = py.ok(op="sp_logout_request", url=location)
    assert logout["name_id"] == "bob@example.com", logout
    answer = browser.get(logout["url"], allow_redirects=False, timeout=30)
    assert answer.status_code == 302 and answer.headers["location"] == f"{BASE}/?state=signed-out", (
        answer.status_code, answer.headers)
    print(f"    the demo app signed in through {idp} and its Sign out went to {idp}'s SLO (pysaml2 "
          "checked the signed LogoutRequest) and back")


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

        demo_app_signs_out_at_the_idp_it_signed_in_with(py, idp)

        client = admin("POST", "/admin/orgs/demo/clients", {
            "name": "Authlib confidential", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic"})
        session, token, claims, _ = sign_in(py, idp, discovery, client["client_id"],
                                         client["client_secret"], "client_secret_basic",
                                         "openid email profile groups")
        assert claims["sub"] == f"{idp}:alice@example.com", claims
        assert claims["email"] == "alice@example.com" and claims["groups"] == ["staff"], claims
        info = session.get(discovery["userinfo_endpoint"], timeout=30)
        assert info.status_code == 200 and info.json()["sub"] == claims["sub"], info.text
        print(f"    Authlib (client_secret_basic, PKCE) validated the ID token: sub {claims['sub']}; userinfo agrees")

        jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
        # Back-channel logout: pysaml2 sends an IdP-initiated LogoutRequest; samlgate ends the
        # session and POSTs a logout_token to the client, which Authlib validates.
        endpoint = LogoutEndpoint()
        try:
            told = admin("POST", "/admin/orgs/demo/clients", {
                "name": "Authlib back-channel", "redirect_uris": [REDIRECT],
                "backchannel_logout_uri": endpoint.url,
                "token_endpoint_auth_method": "client_secret_basic"})
            _, _, told_claims, session_index = sign_in(py, idp, discovery, told["client_id"],
                                                   told["client_secret"], "client_secret_basic",
                                                   "openid")
            request = py.ok(op="idp_logout_request",
                            sp_entity_id=f"{BASE}/o/demo/idp/{idp}/metadata",
                            name_id="alice@example.com",
                            session_index=session_index)
            answer = requests.get(request["url"], allow_redirects=False, timeout=30)
            assert answer.status_code == 302, (answer.status_code, answer.text)
            logout = py.ok(op="check_logout_response", url=answer.headers["location"])
            assert logout["status"].endswith(":Success") and logout["sub_status"] is None, logout
            assert len(endpoint.tokens) == 1, endpoint.tokens
            logout_claims = jwt.decode(
                endpoint.tokens[0], jwks,
                claims_options={"iss": {"essential": True, "value": ISSUER},
                                "aud": {"essential": True, "value": told["client_id"]},
                                "iat": {"essential": True}, "jti": {"essential": True},
                                "sid": {"essential": True, "value": told_claims["sid"]},
                                "events": {"essential": True}})
            logout_claims.validate()
            event = "http://schemas.openid.net/event/backchannel-logout"
            assert logout_claims["events"] == {event: {}}, logout_claims
            assert "nonce" not in logout_claims, logout_claims
            assert jwt.decode(endpoint.tokens[0], jwks).header["typ"] == "logout+jwt"
            print(f"    pysaml2's LogoutRequest reached the client as a logout_token Authlib validated (sid {told_claims['sid']}, events, no nonce)")
        finally:
            endpoint.close()

        public = admin("POST", "/admin/orgs/demo/clients", {
            "name": "Authlib public", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none"})
        assert "client_secret" not in public or public["client_secret"] is None, public
        _, _, claims, _ = sign_in(py, idp, discovery, public["client_id"], None, "none", "openid")
        assert "email" not in claims and "groups" not in claims, claims
        print("    Authlib (public client, PKCE only, scope openid) validated the ID token: no email or groups")

        tampered = token["id_token"][:-4] + ("AAAA" if not token["id_token"].endswith("AAAA") else "BBBB")
        assert refused(lambda: jwt.decode(tampered, jwks)), "a tampered ID token verified"
        print("    a tampered ID token fails Authlib's signature check")

        other_organisation(py, jwks)
    finally:
        py.close()


if __name__ == "__main__":
    main()
