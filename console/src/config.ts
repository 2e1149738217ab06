// The console's runtime settings, written next to it by the deployment (scripts/deploy-console
// writes console/config.json; the dev server serves its own), never baked into the bundle:
// `issuer_base`, the PublicBaseUrl the organisations' issuers live under. Sign-in navigates
// there (authorize, logout) and redeems its code there (the token endpoint answers CORS).

interface ConsoleConfig {
  issuer_base: string;
}

let config: ConsoleConfig = { issuer_base: location.origin };

export async function loadConfig(): Promise<void> {
  try {
    const answer = await fetch('/console/config.json', { cache: 'no-store' });
    if (!answer.ok) return;
    const read = (await answer.json()) as Partial<ConsoleConfig>;
    if (typeof read.issuer_base === 'string' && /^https?:\/\/[^/]+$/.test(read.issuer_base)) {
      config = { issuer_base: read.issuer_base };
    }
  } catch {
    // No settings: everything is on this origin.
  }
}

/** The organisation's issuer (`{PublicBaseUrl}/o/{org}`). */
export const issuer = (org: string): string => `${config.issuer_base}/o/${encodeURIComponent(org)}`;
