// Where the console is: #/o/{org}/{section}[/{item}][?filters]

export interface Route {
  org: string;
  section: string;
  item?: string;
  params: URLSearchParams;
}

export const ORG_ID = /^[a-z][a-z0-9-]{0,31}$/;

export function link(org: string, section: string, item?: string, params?: Record<string, string>): string {
  const q = params && Object.keys(params).length ? `?${new URLSearchParams(params)}` : '';
  const tail = item ? `/${encodeURIComponent(item)}` : '';
  return `#/o/${encodeURIComponent(org)}/${section}${tail}${q}`;
}

export function parse(hash: string): Route | null {
  const [path, query = ''] = hash.replace(/^#/, '').split('?', 2);
  let parts: string[];
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return null;
  }
  if (parts[0] !== 'o' || !parts[1] || !ORG_ID.test(parts[1])) return null;
  return { org: parts[1], section: parts[2] ?? 'overview', item: parts[3], params: new URLSearchParams(query) };
}
