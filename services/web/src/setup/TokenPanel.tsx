import { useState } from 'react';
import { ApiError } from '../common/api';
import { Alert, ConfirmButton, CopyValue, ErrorAlert, Time } from '../common/ui';
import type { IssuedToken, SetupApi, SetupToken } from './api';

/**
 * "Generate secret token", as the guides describe the vendor's key: shown once with a copy
 * button; if lost, regenerated, which revokes the old one, so it asks first.
 */
export function TokenPanel({
  api,
  existing,
  idp,
  onChanged,
}: {
  api: SetupApi;
  /** The live token generated here before, as the directory lists it. */
  existing: SetupToken | null;
  /** The identity provider's short name ("Entra"). */
  idp: string;
  /** Called after a token was generated or found, to reload the directory's token state. */
  onChanged: () => void;
}) {
  const [issued, setIssued] = useState<IssuedToken>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();

  const generate = async (confirm: boolean) => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      setIssued(await api.generateToken(confirm));
      onChanged();
    } catch (e) {
      // Someone generated one meanwhile (another tab, a colleague): show it rather than replace it unasked.
      if (e instanceof ApiError && e.status === 409) {
        setNotice('A token was generated on this page meanwhile (in another tab or by a colleague). If you do not have it, regenerate it below.');
        onChanged();
      } else {
        setError(e);
      }
    } finally {
      setBusy(false);
    }
  };

  const current = issued ?? existing;
  return (
    <div className="setup-panel">
      <h3 id="secret-token">Secret token</h3>
      <ErrorAlert error={error} />
      {notice ? <Alert kind="info">{notice}</Alert> : null}
      {issued ? (
        <>
          <Alert kind="warning">
            <strong>Copy the token now: it is not shown again.</strong> Paste it into {idp}’s Secret Token field, then click Test connection.
            {issued.revoked ? ` The previous token (${issued.revoked.prefix}) no longer works.` : ''}
          </Alert>
          <CopyValue value={issued.token} label="Secret Token" secret />
        </>
      ) : null}
      {current ? (
        <div className="token-state">
          <p>
            {issued ? 'This token' : 'A token'} (<code>{current.prefix}</code>) was generated here <Time value={current.createdAt} />.{' '}
            {issued ? null : (
              <>
                Last used: <Time value={current.lastUsedAt} />.
              </>
            )}
          </p>
          {issued ? null : (
            <p className="hint">It is shown only when generated. If you no longer have it, regenerate it: the current one then stops working.</p>
          )}
          <ConfirmButton
            label="Regenerate secret token"
            title="Regenerate the secret token?"
            confirmLabel="Regenerate token"
            danger
            disabled={busy}
            onConfirm={() => generate(true)}
          >
            <p>
              The current token (<code>{current.prefix}</code>) stops working at once. {idp} is refused until you paste the new token into its Secret Token
              field and click Save.
            </p>
          </ConfirmButton>
        </div>
      ) : (
        <div className="actions">
          <button type="button" disabled={busy} onClick={() => generate(false)}>
            {busy ? 'Generating…' : 'Generate secret token'}
          </button>
          <span className="hint">It is shown once: have {idp}’s Secret Token field open.</span>
        </div>
      )}
    </div>
  );
}
