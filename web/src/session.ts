// The signed-in session: tokens kept in localStorage, one refresh in flight at a time (a refresh token works
// once: sending it twice ends the whole session, docs/api.md#authentication).

export interface Session {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
  user: { id: string; username: string };
}

const KEY = 'insta.session';
/** Refresh this long before the access token expires, so requests rarely meet an expired one. */
const EARLY_MS = 30_000;

const REFRESH = `mutation RefreshSession($token: String!) {
  refreshToken(refreshToken: $token) { accessToken refreshToken accessTokenExpiresAt user { id username } }
}`;

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let current: Session | null = load();
let refreshing: Promise<Session | null> | null = null;

function load(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  return current;
}

export function setSession(session: Session | null): void {
  current = session;
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
  for (const listener of listeners) listener(session);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Exchanges the refresh token for a new pair; concurrent callers share the one request. A refused refresh
 * (the session ended or was signed out) signs out here; a network failure keeps the session for a later try.
 */
export function refreshSession(): Promise<Session | null> {
  const session = current;
  if (!session) return Promise.resolve(null);
  refreshing ??= (async () => {
    const response = await fetch(new URL('/graphql', location.href), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: REFRESH, variables: { token: session.refreshToken } }),
    });
    const body = (await response.json()) as { data?: { refreshToken?: Session } | null };
    const next = body.data?.refreshToken ?? null;
    // Signed out meanwhile, or signed in as someone else: that session wins.
    if (current?.refreshToken !== session.refreshToken) return current;
    setSession(next);
    return next;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** The access token to send now: refreshed first when it expires within 30 s. */
export async function freshAccessToken(): Promise<string | null> {
  const session = current;
  if (!session) return null;
  if (Date.parse(session.accessTokenExpiresAt) - Date.now() > EARLY_MS) return session.accessToken;
  return (await refreshSession().catch(() => session))?.accessToken ?? null;
}
