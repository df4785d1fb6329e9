import { type MouseEvent, type ReactNode, useEffect, useState } from 'react';

/** Where the console lives; its pages are paths below it. */
export const BASE = '/admin/console';

const listeners = new Set<() => void>();

/** Moves to another console page without reloading. */
export function navigate(to: string): void {
  window.history.pushState(null, '', `${BASE}${to}`);
  for (const listener of listeners) listener();
}

/** The current page's path below BASE, e.g. "/tenants/3f…". */
export function usePath(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const update = () => setPath(currentPath());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/**
 * The current page's query string (e.g. "?type=user.created"), kept in step with navigate() and
 * Back/Forward, for a page whose state lives in its URL so it can be shared and bookmarked.
 */
export function useSearch(): string {
  const [search, setSearch] = useState(() => window.location.search);
  useEffect(() => {
    const update = () => setSearch(window.location.search);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return search;
}

function currentPath(): string {
  const rest = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : '/';
  return rest === '' ? '/' : rest;
}

/**
 * A link to a console page: a real <a href> (open in a new tab works), followed in place on a
 * plain click. `section` marks it as the current page's for every path it accepts (a navigation
 * entry stays current on the pages below it); by default only its own path is.
 */
export function Link({ to, children, className, section }: { to: string; children: ReactNode; className?: string; section?: (path: string) => boolean }) {
  const current = section ? section(currentPath()) : currentPath() === to;
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={`${BASE}${to}`} onClick={onClick} className={className} aria-current={current ? 'page' : undefined}>
      {children}
    </a>
  );
}

/** Matches "/tenants/:tenantId" against a path; the params, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.replace(/\/$/, '').split('/');
  if (pattern === '/') return path === '/' || path === '' ? {} : undefined;
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}
