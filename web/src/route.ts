import { useEffect, useState } from 'react';

/** Which view the page shows, from its address: `#/` the overview, `#/sessions[/<id>]` Claude Code sessions. */
export type Route = { view: 'overview' } | { view: 'sessions'; sessionId?: string };

export function parseRoute(hash: string): Route {
  const match = /^#\/sessions(?:\/(.+))?$/.exec(hash);
  if (!match) return { view: 'overview' };
  const id = match[1];
  return id === undefined ? { view: 'sessions' } : { view: 'sessions', sessionId: decoded(id) };
}

/** A link's id as it was encoded; a hand-typed one that is not valid percent-encoding, as it is. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A lone `%`: not encoded by this page.
    return text;
  }
}

/** The route, following the address as links and the browser's back and forward change it. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => {
      setRoute(parseRoute(location.hash));
    };
    window.addEventListener('hashchange', update);
    return () => {
      window.removeEventListener('hashchange', update);
    };
  }, []);
  return route;
}
