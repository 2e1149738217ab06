"""scripts/dev --smoke: the browser login of the README, done with the standard library.

Home page → "Sign in" (samlgate's /login redirects to the demo IdP with a signed
AuthnRequest) → the demo IdP's user picker → its auto-posted SAMLResponse to samlgate's ACS →
samlgate's auto-posted token to the demo app, which verifies it and shows the claims.
"""
import html
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

base = sys.argv[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def fetch(url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(urllib.request.Request(url, data=body), timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def form(page):
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', page).group(1))
    fields = {html.unescape(n): html.unescape(v)
              for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page)}
    return urllib.parse.urljoin(base, action), fields


status, _, home = fetch(base + "/")
assert status == 200, status
login = html.unescape(re.search(r'<a href="([^"]*login[^"]*)"', home).group(1))
status, headers, _ = fetch(urllib.parse.urljoin(base, login))
assert status == 302, (status, headers)
location = headers["Location"] if "Location" in headers else headers["location"]
assert "Signature=" in location and "SigAlg=" in location, location
print(f"    /login redirected to the demo IdP with a signed AuthnRequest")
status, _, picker = fetch(location)
assert status == 200, (status, picker)
action, fields = form(picker)
fields["user"] = "alice"
status, _, autopost = fetch(action, fields)
assert status == 200, (status, autopost)
acs, fields = form(autopost)
assert "SAMLResponse" in fields, autopost
print(f"    the demo IdP posts a signed Response to {acs}")
saml_post = dict(fields)
status, headers, autopost = fetch(acs, fields)
assert status == 200, (status, autopost)
callback, fields = form(autopost)
assert "id_token" in fields, autopost
print(f"    samlgate posts a token to {callback}")
status, _, page = fetch(callback, fields)
assert status == 200 and "<h1>Signed in</h1>" in page, page
assert "alice@demo.samlgate.test" in page and "admins" in page, page
print("    the demo app verified the token: signed in as alice@demo.samlgate.test")
# The same SAMLResponse a second time: the login state is used up, samlgate refuses and the
# browser sees only the generic page with a reference.
status, _, again = fetch(acs, saml_post)
assert status == 400 and "Sign-in failed" in again, (status, again)
print("    posting the same SAMLResponse again is refused (generic page, reference only)")
sign_out = html.unescape(re.search(r'<a href="([^"]*/slo\?[^"]*)">Sign out</a>', page).group(1))
status, headers, _ = fetch(urllib.parse.urljoin(base, sign_out))
location = headers.get("Location") or headers.get("location")
assert status == 302 and location == base + "/", (status, headers)
print("    sign out ends the session and returns to the app")
status, _, again = fetch(urllib.parse.urljoin(base, sign_out))
assert status == 400 and "Sign-in failed" in again, (status, again)
