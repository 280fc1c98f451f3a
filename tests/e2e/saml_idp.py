"""A SAML 2.0 identity provider for idbridge's tests.

Real sign-ins go through pysaml2's IdP (`saml2.server.Server`), which signs
with Debian's xmlsec1: it parses idbridge's HTTP-Redirect AuthnRequest and
answers with an auto-posting form, as Okta or Entra ID would. `/forge`
builds the responses no honest IdP sends (unsigned, wrong key, wrapped,
wrong audience, expired...) from a template, signed by the xmlsec1 command.

Started by the tests with PORT set; prints nothing it needs to. Routes:
  GET  /metadata        the IdP's metadata
  POST /sp              register idbridge's SP metadata (the body)
  POST /user            JSON {email, groups, overage?}: who signs in next
  GET  /sso             SP-initiated: SAMLRequest (+ RelayState) -> form
  GET  /idp-initiated   ?sp=<entity id>&relay=<path>: unsolicited response form
  POST /forge           JSON options -> {"SAMLResponse": base64}
"""

import base64
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import uuid
import zlib
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
import saml2.entity
import saml2.sigver
from saml2.server import Server
from saml2.sigver import pre_encryption_part
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

# pysaml2 encrypts with 3DES unless told otherwise: AES as the real IdPs do
# (Entra ID AES-256-CBC, Okta AES-128/256), the content cipher per request.
CIPHER = {"msg": "aes128-cbc"}
saml2.entity.pre_encryption_part = lambda **kw: pre_encryption_part(
    msg_enc=f"http://www.w3.org/2001/04/xmlenc#{CIPHER['msg']}", **kw
)
_encrypt = saml2.sigver.SecurityContext.encrypt_assertion
saml2.sigver.SecurityContext.encrypt_assertion = (
    lambda self, statement, enc_key, template, key_type=None, node_xpath=None: _encrypt(
        self, statement, enc_key, template, "aes-" + CIPHER["msg"][3:6], node_xpath
    )
)

PORT = int(os.environ["PORT"])
BASE = f"http://127.0.0.1:{PORT}"
ENTITY_ID = f"{BASE}/metadata"
WORK = tempfile.mkdtemp(prefix="saml-idp-")
ENTRA_GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
ENTRA_OVERAGE = "http://schemas.microsoft.com/claims/groups.link"


def key_pair(name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(WORK, f"{name}.key")
    cert_path = os.path.join(WORK, f"{name}.crt")
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


IDP_KEY, IDP_CERT = key_pair("idp")
OTHER_KEY, OTHER_CERT = key_pair("other")


def cert_b64(path):
    with open(path) as f:
        return "".join(l for l in f.read().splitlines() if not l.startswith("-----"))


def config(sp_metadata):
    cfg = IdPConfig()
    cfg.load(
        {
            "entityid": ENTITY_ID,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{BASE}/sso", BINDING_HTTP_REDIRECT)]
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
                    "sign_response": False,
                    "sign_assertion": True,
                    "want_authn_requests_signed": False,
                }
            },
            "key_file": IDP_KEY,
            "cert_file": IDP_CERT,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
        }
    )
    return cfg


STATE = {"server": None, "user": {"email": "ann@corp.example", "groups": []}, "sps": {}}
LOCK = threading.Lock()


def idp_metadata():
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{ENTITY_ID}">
<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64(IDP_CERT)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:NameIDFormat>{NAMEID_FORMAT_EMAILADDRESS}</md:NameIDFormat>
<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="{BASE}/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"""


def identity(user):
    ava = {"mail": [user["email"]]}
    if user.get("overage"):
        ava[ENTRA_OVERAGE] = ["https://graph.microsoft.com/v1.0/users/x/getMemberObjects"]
    elif user.get("entra"):
        ava[ENTRA_GROUPS] = user.get("groups", [])
    else:
        ava["groups"] = user.get("groups", [])
    return ava


def real_response(sp_entity_id, acs, in_response_to):
    """A response made and signed by pysaml2's IdP."""
    with LOCK:
        server, user = STATE["server"], dict(STATE["user"])
    name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["email"])
    # Encrypted for the SP's encryption certificate (from its metadata), as
    # Okta does (the Response signed over the EncryptedAssertion, AES-128) or
    # as Entra ID does (the assertion signed, then encrypted, AES-256).
    encrypt = user.get("encrypt")
    CIPHER["msg"] = "aes256-cbc" if encrypt == "assertion" else "aes128-cbc"
    resp = server.create_authn_response(
        identity(user),
        in_response_to,
        acs,
        sp_entity_id,
        name_id=name_id,
        sign_assertion=not encrypt or encrypt == "assertion",
        sign_response=encrypt == "response",
        encrypt_assertion=bool(encrypt),
        encrypt_assertion_self_contained=True,
        # SHA-256 unless the test asks for SHA-1, which idbridge must refuse.
        sign_alg=SIG_RSA_SHA1 if user.get("sha1") else SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA1 if user.get("sha1") else DIGEST_SHA256,
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
    )
    return base64.b64encode(str(resp).encode()).decode()


def form(acs, saml_response, relay_state):
    relay = f'<input type="hidden" name="RelayState" value="{escape(relay_state)}"/>' if relay_state else ""
    return f"""<html><body onload="document.forms[0].submit()">
<form method="post" action="{escape(acs)}">
<input type="hidden" name="SAMLResponse" value="{saml_response}"/>{relay}
<input type="submit" value="Continue"/></form></body></html>"""


def iso(offset_secs):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_secs)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def forged_assertion(o, assertion_id):
    email = escape(o.get("email", "ann@corp.example"))
    groups = "".join(
        f"<saml:AttributeValue>{escape(g)}</saml:AttributeValue>" for g in o.get("groups", [])
    )
    irt = f' InResponseTo="{escape(o["in_response_to"])}"' if o.get("in_response_to") else ""
    return f"""<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" IssueInstant="{iso(o.get('issued', 0))}" Version="2.0"><saml:Issuer>{escape(o.get('issuer', ENTITY_ID))}</saml:Issuer><saml:Subject><saml:NameID Format="{NAMEID_FORMAT_EMAILADDRESS}">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{irt} NotOnOrAfter="{iso(o.get('not_on_or_after', 300))}" Recipient="{escape(o['recipient'])}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{iso(o.get('not_before', -60))}" NotOnOrAfter="{iso(o.get('not_on_or_after', 300))}"><saml:AudienceRestriction><saml:Audience>{escape(o['audience'])}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{iso(0)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups">{groups}</saml:Attribute></saml:AttributeStatement></saml:Assertion>"""


SIGNATURE_TEMPLATE = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"""


def sign(xml, element_id, key, cert):
    """Signs the element with this ID in place, with the xmlsec1 command."""
    path = os.path.join(WORK, f"{uuid.uuid4().hex}.xml")
    with open(path, "w") as f:
        f.write(xml)
    try:
        out = subprocess.run(
            [
                "xmlsec1", "--sign", "--privkey-pem", f"{key},{cert}",
                "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                path,
            ],
            capture_output=True, check=True,
        )
    finally:
        os.unlink(path)
    return out.stdout.decode()


def forge(o):
    """A response built to the test's order; see the module docstring."""
    aid = o.get("assertion_id") or f"_{uuid.uuid4().hex}"
    assertion = forged_assertion(o, aid)
    signed_by = o.get("key", "idp")
    if signed_by != "none":
        # Enveloped signature right after the assertion's Issuer, as the schema wants.
        assertion = assertion.replace("</saml:Issuer>", "</saml:Issuer>" + SIGNATURE_TEMPLATE.format(id=aid), 1)
    rid = f"_{uuid.uuid4().hex}"
    irt = f' InResponseTo="{escape(o["in_response_to"])}"' if o.get("in_response_to") else ""
    response = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{iso(o.get('issued', 0))}" Destination="{escape(o.get('destination', o['recipient']))}"{irt}><saml:Issuer>{ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"""
    if signed_by != "none":
        key, cert = (IDP_KEY, IDP_CERT) if signed_by == "idp" else (OTHER_KEY, OTHER_CERT)
        response = sign(response, aid, key, cert)
    if o.get("wrap"):
        # A second, unsigned assertion naming someone else beside the signed one.
        evil = dict(o, email=o.get("wrap_email", "mallory@corp.example"))
        evil_assertion = forged_assertion(evil, f"_{uuid.uuid4().hex}")
        response = response.replace("</samlp:Status>", "</samlp:Status>" + evil_assertion, 1)
    return base64.b64encode(response.encode()).decode()


def parse_request(saml_request):
    xml = zlib.decompress(base64.b64decode(saml_request), -15).decode()
    rid = re.search(r'\sID="([^"]+)"', xml).group(1)
    acs = re.search(r'AssertionConsumerServiceURL="([^"]+)"', xml).group(1)
    issuer = re.search(r"<(?:\w+:)?Issuer[^>]*>([^<]+)</", xml).group(1)
    return rid, acs, issuer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="text/html"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/metadata":
                return self.answer(200, idp_metadata(), "application/samlmetadata+xml")
            if url.path == "/sso":
                # pysaml2 checks the request: the SP must be registered.
                req = STATE["server"].parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
                msg = req.message
                acs = msg.assertion_consumer_service_url
                resp = real_response(msg.issuer.text, acs, msg.id)
                return self.answer(200, form(acs, resp, q.get("RelayState")))
            if url.path == "/idp-initiated":
                sp = q["sp"]
                acs = STATE["sps"][sp]
                return self.answer(200, form(acs, real_response(sp, acs, None), q.get("relay")))
        except Exception as e:  # the test reads the reason
            return self.answer(500, f"{type(e).__name__}: {e}", "text/plain")
        self.answer(404, "not found", "text/plain")

    def do_POST(self):
        try:
            if self.path == "/sp":
                md = self.body()
                entity = re.search(r'entityID="([^"]+)"', md).group(1)
                acs = re.search(r'AssertionConsumerService[^>]*Location="([^"]+)"', md).group(1)
                with LOCK:
                    STATE["sps"][entity] = acs
                    STATE["server"] = Server(config=config(md))
                return self.answer(204, "")
            if self.path == "/user":
                with LOCK:
                    STATE["user"] = json.loads(self.body())
                return self.answer(204, "")
            if self.path == "/forge":
                return self.answer(200, json.dumps({"SAMLResponse": forge(json.loads(self.body()))}), "application/json")
            if self.path == "/parse-request":
                rid, acs, issuer = parse_request(self.body())
                return self.answer(200, json.dumps({"id": rid, "acs": acs, "issuer": issuer}), "application/json")
        except Exception as e:
            return self.answer(500, f"{type(e).__name__}: {e}", "text/plain")
        self.answer(404, "not found", "text/plain")


if __name__ == "__main__":
    STATE["server"] = Server(config=config(None))
    print(f"listening {BASE}", file=sys.stderr, flush=True)
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
