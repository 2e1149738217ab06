// Per-vendor setup guides for an IdP's admin: where to click, which samlgate value goes where
// (with the IdP's own values and copy fields), the attribute names to map in samlgate, and the
// settings that commonly break a login. Menus move between releases: the field names are the
// part to rely on.

import type { IdpView } from './api';
import { field, h, input, select } from './dom';

/** A samlgate value the IdP needs, by what the IdP's form calls it. */
type Needs = 'acs' | 'entity' | 'metadata' | 'slo';

interface Guide {
  name: string;
  steps: string[];
  /** The IdP form's field name for each samlgate value it needs. */
  values: [string, Needs][];
  /** Attribute names to enter in samlgate's mapping (email, name, groups). */
  mapping: [string, string][];
  /** What the IdP's metadata is: where to find it, and how to register it here. */
  metadata: string;
  pitfalls: string[];
}

export const GUIDES: Record<string, Guide> = {
  okta: {
    name: 'Okta',
    steps: [
      'Admin Console → Applications → Applications → Create App Integration → SAML 2.0.',
      'General Settings: a name. Configure SAML: the values below.',
      'Name ID format: EmailAddress (or Persistent); Application username: Email.',
      'Attribute Statements: email = user.email, displayName = user.displayName. Group Attribute Statements: groups, with a filter (Matches regex .* for all).',
      'Assign the app to the people or groups who may sign in.',
    ],
    values: [
      ['Single sign-on URL (check "Use this for Recipient URL and Destination URL")', 'acs'],
      ['Audience URI (SP Entity ID)', 'entity'],
      ['Single Logout URL (Advanced settings, "Allow application to initiate Single Logout")', 'slo'],
    ],
    mapping: [
      ['email', 'email'],
      ['name', 'displayName'],
      ['groups', 'groups'],
    ],
    metadata: 'Sign On tab → SAML 2.0 → Metadata URL: register the IdP here by that URL (it is refreshed daily).',
    pitfalls: [
      'Single Logout needs samlgate\'s signing certificate uploaded as the "Signature Certificate" (from the SP metadata).',
      'Encrypted assertions: "Assertion Encryption: Encrypted" with samlgate\'s encryption certificate; keep AES-256-GCM or AES-128-GCM.',
    ],
  },
  entra: {
    name: 'Microsoft Entra ID',
    steps: [
      'Entra admin center → Enterprise applications → New application → Create your own application → "Integrate any other application you don\'t find in the gallery".',
      'Single sign-on → SAML → Basic SAML Configuration: the values below.',
      'Attributes & Claims: keep the defaults; Add a group claim (Groups assigned to the application, with the source attribute you want: object IDs by default, or sAMAccountName for synced groups).',
      'Users and groups: assign who may sign in.',
    ],
    values: [
      ['Identifier (Entity ID)', 'entity'],
      ['Reply URL (Assertion Consumer Service URL)', 'acs'],
      ['Logout Url', 'slo'],
    ],
    mapping: [
      ['email', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
      ['name', 'http://schemas.microsoft.com/identity/claims/displayname'],
      ['groups', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups'],
    ],
    metadata: 'SAML Certificates → App Federation Metadata Url: register the IdP here by that URL.',
    pitfalls: [
      'Groups arrive as object IDs (GUIDs) unless the group claim says otherwise: an admin group setting must use the same form.',
      'Entra signs the assertion (not the Response) by default: samlgate accepts that.',
    ],
  },
  google: {
    name: 'Google Workspace',
    steps: [
      'Admin console → Apps → Web and mobile apps → Add app → Add custom SAML app.',
      'Google Identity Provider details: Download Metadata (an XML file).',
      'Service provider details: the values below; Name ID format EMAIL, Name ID: Basic Information > Primary email.',
      'Attribute mapping: Primary email → email, First name / Last name as you like; Group membership → groups.',
      'User access: turn the app ON for the organisational units or groups who may sign in.',
    ],
    values: [
      ['ACS URL', 'acs'],
      ['Entity ID', 'entity'],
    ],
    mapping: [
      ['email', 'email'],
      ['groups', 'groups'],
    ],
    metadata: 'Google publishes no metadata URL: register the IdP here with the downloaded XML ("Metadata XML file"). It is not refreshed: renew it when Google\'s certificate is replaced.',
    pitfalls: ['Google Workspace has no SAML Single Logout: signing out ends the samlgate session only.'],
  },
  adfs: {
    name: 'AD FS',
    steps: [
      'AD FS Management → Relying Party Trusts → Add Relying Party Trust → Claims aware.',
      'Import data about the relying party published online: the SP metadata URL below.',
      'Edit Claim Issuance Policy → Add Rule → Send LDAP Attributes as Claims: E-Mail-Addresses → E-Mail Address, Display-Name → Name, Token-Groups - Unqualified Names → Group.',
      'Add Rule → Transform an Incoming Claim: E-Mail Address → Name ID (Email).',
    ],
    values: [['Federation metadata address (Import data about the relying party published online)', 'metadata']],
    mapping: [
      ['email', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
      ['name', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
      ['groups', 'http://schemas.xmlsoap.org/claims/Group'],
    ],
    metadata: 'https://{your AD FS host}/FederationMetadata/2007-06/FederationMetadata.xml: register the IdP here by that URL.',
    pitfalls: [
      'AD FS encrypts with AES-256-CBC and signs only the assertion: samlgate refuses AES-CBC outside a verified Response signature (a padding oracle). Sign the message too: Set-AdfsRelyingPartyTrust -TargetName <name> -SamlResponseSignature MessageAndAssertion. Or allow the aes-cbc exception on this IdP, with its warning.',
      'Older trusts use SHA-1: Set-AdfsRelyingPartyTrust -TargetName <name> -SignatureAlgorithm http://www.w3.org/2001/04/xmldsig-more#rsa-sha256, rather than the rsa-sha1 and sha1 exceptions.',
    ],
  },
  keycloak: {
    name: 'Keycloak',
    steps: [
      'Your realm → Clients → Import client: the SP metadata (download it from the SP metadata URL below), or Create client → Client type SAML with the values below.',
      'Client scopes → the client\'s dedicated scope → Add mapper → By configuration: User Property email → SAML Attribute Name email; Group list → groups (Full group path off).',
      'Keys: keep "Client signature required" on (samlgate signs its AuthnRequests).',
    ],
    values: [
      ['Client ID', 'entity'],
      ['Master SAML Processing URL / Assertion Consumer Service POST Binding URL', 'acs'],
      ['Logout Service POST Binding URL', 'slo'],
    ],
    mapping: [
      ['email', 'email'],
      ['groups', 'groups'],
    ],
    metadata: 'https://{your Keycloak}/realms/{realm}/protocol/saml/descriptor: register the IdP here by that URL.',
    pitfalls: [
      'Signature & Encryption: Include AuthnStatement must be on (samlgate requires an AuthnStatement).',
      'Signature algorithm RSA_SHA256 (older realms default to RSA_SHA1, which needs the rsa-sha1 and sha1 exceptions).',
    ],
  },
  shibboleth: {
    name: 'Shibboleth IdP',
    steps: [
      'metadata-providers.xml: a FileBackedHTTPMetadataProvider for the SP metadata URL below.',
      'attribute-filter.xml: release mail, displayName and your group attribute (eduPersonEntitlement or memberOf) to samlgate\'s entity ID.',
      'relying-party.xml: keep the SAML2.SSO profile defaults (the Response is signed).',
    ],
    values: [
      ['metadataURL of the metadata provider', 'metadata'],
      ['Requester of the attribute filter policy', 'entity'],
    ],
    mapping: [
      ['email', 'urn:oid:0.9.2342.19200300.100.1.3'],
      ['name', 'urn:oid:2.16.840.1.113730.3.1.241'],
      ['groups', 'urn:oid:1.3.6.1.4.1.5923.1.1.1.7'],
    ],
    metadata: 'https://{your IdP}/idp/shibboleth, or your federation\'s aggregate or MDQ service ("From a federation" above).',
    pitfalls: [
      'If assertions are encrypted with AES-CBC, keep the Response signed (the default) or switch to AES-GCM; otherwise samlgate needs the aes-cbc exception.',
    ],
  },
  ping: {
    name: 'PingFederate / PingOne',
    steps: [
      'PingOne: Applications → Add application → SAML Application → Import metadata (the SP metadata URL below) or enter the values. PingFederate: SP Connections → Create Connection → Browser SSO → import the SP metadata URL.',
      'Attribute mapping: saml_subject = Email Address; add email, displayName and groups (memberOfGroupNames).',
      'Signing: sign the Response or the Assertion with RSA-SHA256.',
    ],
    values: [
      ['ACS URLs', 'acs'],
      ['Entity ID', 'entity'],
      ['SLO endpoint', 'slo'],
    ],
    mapping: [
      ['email', 'email'],
      ['name', 'displayName'],
      ['groups', 'groups'],
    ],
    metadata: 'PingOne: the application\'s Configuration tab → IdP Metadata URL. PingFederate: https://{host}/pf/federation_metadata.ping?PartnerSpId={SP entity ID}. Register the IdP here by that URL.',
    pitfalls: ['Encryption: choose AES-256-GCM or AES-128-GCM when you encrypt the assertion with samlgate\'s encryption certificate.'],
  },
  onelogin: {
    name: 'OneLogin',
    steps: [
      'Applications → Add App → SAML Custom Connector (Advanced).',
      'Configuration: the values below; SAML signature element: Both; SAML nameID format: Email.',
      'Parameters: add email (Email), displayName (Name) and groups (MemberOf or User Roles), each with "Include in SAML assertion".',
    ],
    values: [
      ['Audience (EntityID)', 'entity'],
      ['Recipient and ACS (Consumer) URL', 'acs'],
      ['ACS (Consumer) URL Validator (the ACS URL as a regular expression)', 'acs'],
      ['Single Logout URL', 'slo'],
    ],
    mapping: [
      ['email', 'email'],
      ['name', 'displayName'],
      ['groups', 'groups'],
    ],
    metadata: 'SSO tab → Issuer URL: register the IdP here by that URL.',
    pitfalls: ['SAML signature algorithm: SHA-256 (older connectors default to SHA-1, which needs the rsa-sha1 and sha1 exceptions).'],
  },
  jumpcloud: {
    name: 'JumpCloud',
    steps: [
      'SSO Applications → Add New Application → Custom SAML App.',
      'SSO tab: IdP Entity ID (any stable URI of yours), the values below; SAMLSubject NameID: email; Signature Algorithm: RSA-SHA256; Sign: Assertion (or Response).',
      'Attributes: add email and name; enable "Include group attribute" named groups.',
      'User Groups: bind the groups who may sign in. Then Export Metadata.',
    ],
    values: [
      ['SP Entity ID', 'entity'],
      ['ACS URLs (Default URL)', 'acs'],
    ],
    mapping: [
      ['email', 'email'],
      ['groups', 'groups'],
    ],
    metadata: 'Export Metadata downloads an XML file: register the IdP here with it ("Metadata XML file"); renew it when the certificate changes.',
    pitfalls: ['The IdP Entity ID you typed is the Issuer samlgate expects: changing it later breaks every login (issuer_mismatch) until the metadata is registered again.'],
  },
  auth0: {
    name: 'Auth0',
    steps: [
      'Applications → Create Application (Regular Web Application) → Addons → SAML2 Web App.',
      'Settings: the Application Callback URL below, and in the Settings JSON audience, recipient and destination (below), "signatureAlgorithm": "rsa-sha256", "digestAlgorithm": "sha256", "signResponse": true.',
      'Groups: add them to the SAML assertion with an Action (post-login) that sets api.samlResponse.setAttribute("groups", …).',
    ],
    values: [
      ['Application Callback URL, "recipient" and "destination"', 'acs'],
      ['"audience"', 'entity'],
      ['"logout": {"callback": …}', 'slo'],
    ],
    mapping: [
      ['email', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
      ['name', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
      ['groups', 'groups'],
    ],
    metadata: 'Addons → SAML2 Web App → Usage → Identity Provider Metadata (https://{tenant}/samlp/metadata/{client ID}): register the IdP here by that URL.',
    pitfalls: [
      'Auth0 signs with RSA-SHA1 and SHA-1 digests unless the Settings JSON says otherwise: set rsa-sha256 and sha256 rather than allowing the rsa-sha1 and sha1 exceptions (each login that needs one is flagged in the audit log).',
    ],
  },
};

function value(idp: IdpView | null, needs: Needs): string {
  if (!idp) return { acs: 'the ACS URL', entity: 'the SP entity ID', metadata: 'the SP metadata URL', slo: 'the single logout URL' }[needs];
  return { acs: idp.acs_url, entity: idp.sp_entity_id, metadata: idp.sp_metadata_url, slo: idp.slo_url }[needs];
}

/** The guide section: a vendor picker and the chosen vendor's guide, with this IdP's values
 * (or, before one is registered, their names). */
export function guides(idp: IdpView | null): HTMLElement {
  const picker = select(
    'guide-vendor',
    [['', 'Choose your IdP product'], ...Object.entries(GUIDES).map(([id, g]) => [id, g.name] as [string, string])],
  );
  const body = h('div', { id: 'guide' });
  const show = () => {
    const g = GUIDES[picker.value];
    if (!g) {
      body.replaceChildren();
      return;
    }
    body.replaceChildren(
      h('h3', {}, g.name),
      h('ol', {}, ...g.steps.map((s) => h('li', {}, s))),
      h('h4', {}, `What to enter at ${g.name}`),
      ...g.values.map(([label, needs], i) => {
        const el = input(`guide-value-${i}`, { readonly: true, value: value(idp, needs), class: 'copy' });
        el.addEventListener('focus', () => el.select());
        return field(label, el);
      }),
      h('h4', {}, 'Attribute mapping in samlgate'),
      h('ul', {}, ...g.mapping.map(([claim, attribute]) => h('li', {}, `${claim}: `, h('code', {}, attribute)))),
      h('h4', {}, 'IdP metadata'),
      h('p', {}, g.metadata),
      h('h4', {}, 'What commonly breaks a login'),
      h('ul', { class: 'pitfalls' }, ...g.pitfalls.map((p) => h('li', {}, p))),
    );
  };
  picker.addEventListener('change', show);
  return h(
    'section',
    { id: 'guides' },
    h('h2', {}, 'Set up your IdP'),
    h('p', {}, 'Step by step for your IdP product, with the values samlgate needs from it and the settings that often break a first login.'),
    field('IdP product', picker),
    body,
  );
}
