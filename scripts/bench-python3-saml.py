"""Baseline for scripts/bench: OneLogin python3-saml validating the same Response.

Prints one JSON line: {"python3_saml_us": <mean microseconds per validation>, "iterations": N}.
The clock is frozen at the fixture's instant (python3-saml reads OneLogin_Saml2_Utils.now()),
and the run first asserts that the Response is valid, so every timed call does the full work.
"""

import base64
import json
import sys
import time
from pathlib import Path

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

FIXTURES = Path(__file__).resolve().parent.parent / "shared/saml/tests/fixtures"
SP = "https://sp.example.com/saml/metadata"
ACS = "https://sp.example.com/o/acme/idp/okta/acs"
IDP = "https://idp.example.com/saml"
NOW = 1767225660  # 2026-01-01T00:01:00Z, the fixtures' "now"


def main() -> int:
    case = next(c for c in json.loads((FIXTURES / "manifest.json").read_text()) if c["name"] == sys.argv[1])
    response_b64 = base64.b64encode((FIXTURES / case["response"]).read_bytes()).decode()
    cert_pem = (FIXTURES / "keys/idp-rsa.crt").read_text()
    cert = "".join(line for line in cert_pem.splitlines() if "CERTIFICATE" not in line)

    OneLogin_Saml2_Utils.now = staticmethod(lambda: NOW)
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": SP,
                "assertionConsumerService": {"url": ACS, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
            },
            "idp": {
                "entityId": IDP,
                "singleSignOnService": {"url": "https://idp.example.com/sso/redirect",
                                        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
                "x509cert": cert,
            },
            "security": {"rejectDeprecatedAlgorithm": True},
        },
        sp_validation_only=True,
    )
    request = {"https": "on", "http_host": "sp.example.com", "script_name": "/o/acme/idp/okta/acs",
               "get_data": {}, "post_data": {"SAMLResponse": response_b64}}

    def validate() -> bool:
        response = OneLogin_Saml2_Response(settings, response_b64)
        return response.is_valid(request, case["request_id"], raise_exceptions=True)

    assert validate(), "python3-saml must accept the fixture for the comparison to mean anything"
    iterations = 0
    start = time.perf_counter()
    while time.perf_counter() - start < 3.0:
        validate()
        iterations += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"python3_saml_us": elapsed / iterations * 1e6, "iterations": iterations}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
