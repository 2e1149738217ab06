"""Seeds for the fuzz targets whose inputs no test fixture already is, made by third-party code:
the Python AWS Encryption SDK (esdk_header), and zlib plus `cryptography` for Redirect-binding
messages (logout_redirect, redirect_decoder). The other targets start from
shared/saml/tests/fixtures (scripts/fuzz names them). Run: .venv/bin/python fuzz/seeds/generate.py
"""
import base64
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KEYS = ROOT / "shared/saml/tests/fixtures/keys"
IDP = "https://idp.example.com/saml"
SLO = "https://sp.example.com/o/acme/idp/okta/slo"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def deflate(xml: str) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml.encode()) + compressor.flush()).decode()


def redirect_query(name: str, xml: str, relay: str | None) -> str:
    """Bindings §3.4.4.1: the signed octets are the query as sent, in this order."""
    query = f"{name}={quote(deflate(xml), safe='')}"
    if relay is not None:
        query += f"&RelayState={quote(relay, safe='')}"
    query += f"&SigAlg={quote(RSA_SHA256, safe='')}"
    key = serialization.load_pem_private_key((KEYS / "idp-rsa.key").read_bytes(), None)
    signature = key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
    return query + f"&Signature={quote(base64.b64encode(signature).decode(), safe='')}"


LOGOUT_REQUEST = (
    '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr-1" Version="2.0" '
    f'IssueInstant="2026-01-01T00:00:00Z" Destination="{SLO}">'
    f"<saml:Issuer>{IDP}</saml:Issuer><saml:NameID>alice@example.com</saml:NameID>"
    "<samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>"
)
LOGOUT_RESPONSE = (
    '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lresp-1" Version="2.0" '
    f'IssueInstant="2026-01-01T00:00:30Z" Destination="{SLO}" InResponseTo="_lr-sp-1">'
    f"<saml:Issuer>{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode "
    'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>'
)
AUTHN_REQUEST = (
    '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_req-1" Version="2.0" '
    'IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example.com/sso" '
    'AssertionConsumerServiceURL="https://sp.example.com/o/acme/idp/okta/acs" '
    'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
    "<saml:Issuer>https://sp.example.com/saml/metadata</saml:Issuer>"
    '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" '
    'AllowCreate="true"/></samlp:AuthnRequest>'
)


def write(target: str, name: str, data: bytes) -> None:
    folder = HERE / target
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)


def main() -> None:
    write("logout_redirect", "request_signed", redirect_query("SAMLRequest", LOGOUT_REQUEST, "r1").encode())
    write("logout_redirect", "request_signed_no_relay", redirect_query("SAMLRequest", LOGOUT_REQUEST, None).encode())
    write("logout_redirect", "response_signed", redirect_query("SAMLResponse", LOGOUT_RESPONSE, "r2").encode())
    write("redirect_decoder", "authn_request", deflate(AUTHN_REQUEST).encode())
    write("redirect_decoder", "logout_request", deflate(LOGOUT_REQUEST).encode())
    # ESDK messages from the Python AWS Encryption SDK: v1 (non-committing, as CloudFront
    # field-level encryption writes) and v2 (committing), to a throwaway RSA key.
    with tempfile.TemporaryDirectory() as tmp:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = Path(tmp) / "intake.pem"
        pem.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        for name, extra in [("v1_message", []), ("v2_message", ["committing"])]:
            out = subprocess.run(
                [sys.executable, str(ROOT / "tests/fixtures/esdk_encrypt.py"), str(pem),
                 "samlgate-intake", "org-acme/intake-1", *extra],
                input=b"not a secret: a fuzz seed", check=True, capture_output=True)
            write("esdk_header", name, base64.b64decode(out.stdout))


if __name__ == "__main__":
    main()
