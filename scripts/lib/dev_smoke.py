"""scripts/dev --smoke: the browser login of the README, done with the standard library.

Home page → "Sign in" (the demo app, an OIDC client, sends the browser to samlgate's
authorize endpoint with PKCE, state and nonce) → samlgate sets its browser-binding cookie and
redirects to the demo IdP with a signed AuthnRequest → the IdP's user picker → its auto-posted
SAMLResponse to samlgate's ACS, from the same browser → samlgate's redirect with a one-time code
to the demo app, which redeems it and verifies the ID token → RP-initiated logout → a second
sign-in, then the demo IdP's "sign out everywhere", which reaches the demo app as a
back-channel logout token.
"""
import html
import http.cookiejar
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

base = sys.argv[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    """An opener with its own cookie jar, which does not follow redirects."""
    return urllib.request.build_opener(
        NoRedirect, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


opener = browser()


def fetch(url, data=None, using=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with (using or opener).open(urllib.request.Request(url, data=body), timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def location(headers):
    return headers.get("Location") or headers.get("location")


def form(page):
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', page).group(1))
    fields = {html.unescape(n): html.unescape(v)
              for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page)}
    return urllib.parse.urljoin(base, action), fields


def saml_response(using, say=lambda _: None):
    """Home → Sign in → authorize → the demo IdP as alice: where the IdP's page posts, and what."""
    status, _, home = fetch(base + "/", using=using)
    assert status == 200, status
    login = html.unescape(re.search(r'<a href="([^"]*login[^"]*)"', home).group(1))
    status, headers, _ = fetch(urllib.parse.urljoin(base, login), using=using)
    assert status == 302, (status, headers)
    authorize = location(headers)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(authorize).query)
    assert "/o/demo/authorize" in authorize and query["code_challenge_method"] == ["S256"], authorize
    say("    the demo app sends the browser to samlgate's authorize endpoint (code + PKCE)")
    status, headers, _ = fetch(authorize, using=using)
    assert status == 302, (status, headers)
    cookie = headers.get("Set-Cookie") or headers.get("set-cookie") or ""
    assert cookie.startswith("samlgate-login=") and "HttpOnly" in cookie, cookie
    idp = location(headers)
    assert "Signature=" in idp and "SigAlg=" in idp, idp
    say("    authorize binds the login to this browser and redirects to the demo IdP with a signed AuthnRequest")
    status, _, picker = fetch(idp, using=using)
    assert status == 200, (status, picker)
    action, fields = form(picker)
    fields["user"] = "alice"
    status, _, autopost = fetch(action, fields, using=using)
    assert status == 200, (status, autopost)
    acs, fields = form(autopost)
    assert "SAMLResponse" in fields, autopost
    say(f"    the demo IdP posts a signed Response to {acs}")
    return acs, fields


# Login CSRF: an attacker signs in with their own account and has the victim's browser post
# the attacker's Response. The victim's browser lacks the binding cookie of the attacker's
# login: refused.
acs, attackers = saml_response(browser())
acs, fields = saml_response(opener, print)
status, headers, refused = fetch(acs, attackers)
assert status == 400 and "Sign-in failed" in refused and not location(headers), (status, refused)
print("    another browser's Response posted from this one is refused (login CSRF)")
saml_post = dict(fields)
status, headers, _ = fetch(acs, fields)
assert status == 302, (status, headers)
callback = location(headers)
assert callback.startswith(base + "/app/callback?") and "code=" in callback, callback
print("    samlgate redirects to the demo app with a one-time code and the app's state")
status, _, page = fetch(callback)
assert status == 200 and "<h1>Signed in</h1>" in page, page
assert "alice@demo.samlgate.test" in page and "admins" in page and "demo:alice" in page, page
print("    the demo app redeemed the code and verified the ID token: signed in as demo:alice")
status, _, again = fetch(callback)
assert status == 400, (status, again)
print("    the code and state cannot be used twice")
# The same SAMLResponse a second time: the login state is used up, samlgate refuses and the
# browser sees only the generic page with a reference.
status, _, again = fetch(acs, saml_post)
assert status == 400 and "Sign-in failed" in again, (status, again)
print("    posting the same SAMLResponse again is refused (generic page, reference only)")
sign_out = html.unescape(re.search(r'<a href="([^"]*/logout\?[^"]*)">Sign out</a>', page).group(1))
status, headers, _ = fetch(urllib.parse.urljoin(base, sign_out))
assert status == 302 and location(headers) == base + "/?state=signed-out", (status, headers)
print("    sign out (RP-initiated logout with the ID token as hint) ends the session and returns with the state")
status, headers, _ = fetch(urllib.parse.urljoin(base, sign_out))
assert status == 302 and location(headers) == base + "/?state=signed-out", (status, headers)
print("    signing out again finds nothing to end and returns the same way")

# Back-channel logout: sign in again, then "Sign out everywhere" at the demo IdP sends samlgate
# a signed LogoutRequest; samlgate tells the demo app, which lists the session it was told of.
acs, fields = saml_response(opener)
status, headers, _ = fetch(acs, fields)
status, _, page = fetch(location(headers))
assert status == 200 and "<h1>Signed in</h1>" in page, page
sid = re.search(r'&quot;sid&quot;: &quot;([^&]*)&quot;', page).group(1)
status, _, idp_home = fetch(base + "/demo-idp/")
indexes = re.findall(r'<button name="index" value="(\d+)">Sign out everywhere</button>', idp_home)
assert status == 200 and indexes, idp_home
status, headers, _ = fetch(base + "/demo-idp/logout", {"index": indexes[-1]})
assert status == 302 and "/o/demo/idp/demo/slo?SAMLRequest=" in location(headers), (status, headers)
status, _, done = fetch(location(headers))
assert status == 200 and "Signed out" in done, (status, done)
status, _, home = fetch(base + "/")
assert sid in home and "Back-channel logouts received" in home, home
print(f"    the demo IdP's sign out everywhere reached the demo app by back-channel logout (session {sid})")
