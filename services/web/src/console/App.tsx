import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../common/api';
import { ErrorAlert } from '../common/ui';
import { type Session, session, setSessionToken } from './api';
import { Link, match, usePath } from './router';
import { ROUTES } from './routes';
import { SignIn } from './SignIn';

type SessionState = { status: 'checking' } | { status: 'signed-out' } | { status: 'signed-in'; session: Session } | { status: 'failed'; error: unknown };

/** The console: the operator's session, then the shell with the page the path names. */
export function App() {
  const [state, setState] = useState<SessionState>({ status: 'checking' });
  useEffect(() => {
    session.current().then(
      (s) => setState({ status: 'signed-in', session: s }),
      (error: unknown) => setState(error instanceof ApiError && error.status === 401 ? { status: 'signed-out' } : { status: 'failed', error }),
    );
  }, []);
  if (state.status === 'checking') return null;
  if (state.status === 'failed') {
    return (
      <main className="page-narrow">
        <ErrorAlert error={state.error} />
      </main>
    );
  }
  if (state.status === 'signed-out') {
    return <SignIn onSignedIn={(s) => (returnAfterSignIn() ? undefined : setState({ status: 'signed-in', session: s }))} />;
  }
  setSessionToken(state.session.csrfToken);
  return <Shell session={state.session} onSignOut={() => setState({ status: 'signed-out' })} />;
}

/** The queue dashboard sends a browser here to sign in, with where to return in ?next=. */
function returnAfterSignIn(): boolean {
  const next = new URLSearchParams(window.location.search).get('next');
  if (!next || !/^\/admin\/[\w\-./]*$/.test(next) || next.includes('..')) return false;
  window.location.assign(next);
  return true;
}

function Shell({ session: current, onSignOut }: { session: Session; onSignOut: () => void }) {
  const path = usePath();
  const main = useRef<HTMLElement>(null);
  // A new page is announced like a page load: focus moves to its main region.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each navigation.
  useEffect(() => {
    main.current?.focus();
  }, [path]);
  const signOut = async () => {
    await session.signOut().catch(() => undefined);
    onSignOut();
  };
  const found = ROUTES.map((route) => ({ route, params: match(route.pattern, path) })).find((m) => m.params);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          SCIM Platform
        </Link>
        <span className="spacer" />
        <button type="button" className="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <div className="shell">
        <nav className="sidenav" aria-label="Console">
          <ul>
            <li>
              <Link to="/" section={(path) => path === '/' || path.startsWith('/tenants/') || path.startsWith('/directories/')}>
                Tenants
              </Link>
            </li>
            <li>
              <Link to="/schemas">Extension schemas</Link>
            </li>
          </ul>
          <p className="nav-heading">Operations</p>
          <ul>
            <li>
              <a href="/admin/queues/">Queue dashboard</a>
            </li>
            {current.links.traces ? (
              <li>
                <a href={current.links.traces}>Traces</a>
              </li>
            ) : null}
            <li>
              <a href="/docs">API documentation</a>
            </li>
          </ul>
        </nav>
        <main id="main" ref={main} tabIndex={-1}>
          {found ? found.route.render(found.params!) : <NotFound />}
        </main>
      </div>
    </>
  );
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to the tenants</Link>
      </p>
    </>
  );
}
