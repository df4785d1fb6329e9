import { type FormEvent, useState } from 'react';
import { ErrorAlert, Field } from '../common/ui';
import { type Session, session } from './api';

/** The operator's sign-in: the admin token, posted once for an HttpOnly session cookie. */
export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await session.signIn(token));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="page-narrow">
      <div className="card">
        <h1>SCIM Platform console</h1>
        <p className="subtitle">Sign in with the platform's admin token (ADMIN_TOKEN).</p>
        <ErrorAlert error={error} />
        <form onSubmit={submit}>
          <Field label="Admin token">
            {({ id, describedBy }) => (
              <input
                id={id}
                type="password"
                autoComplete="current-password"
                required
                // biome-ignore lint/a11y/noAutofocus: the only thing to do on this page is to type the token.
                autoFocus
                value={token}
                onChange={(e) => setToken(e.target.value)}
                aria-describedby={describedBy}
              />
            )}
          </Field>
          <button type="submit" disabled={busy || !token}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="hint">Scripts use the admin API directly with Authorization: Bearer $ADMIN_TOKEN.</p>
      </div>
    </main>
  );
}
