import { useEffect, useState } from 'react';

/** Hash routes, so the gateway serves one page for every view: #/, #/upload, #/notifications, #/u/<username>. */
export type Route =
  | { view: 'feed' }
  | { view: 'upload' }
  | { view: 'notifications' }
  | { view: 'requests' }
  | { view: 'profile'; username: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  const profile = /^\/u\/([^/]+)$/.exec(path);
  if (profile?.[1]) return { view: 'profile', username: decodeURIComponent(profile[1]) };
  if (path === '/upload') return { view: 'upload' };
  if (path === '/notifications') return { view: 'notifications' };
  if (path === '/requests') return { view: 'requests' };
  return { view: 'feed' };
}

export const profileHref = (username: string) => `#/u/${encodeURIComponent(username)}`;

export function navigate(hash: string): void {
  location.hash = hash;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
