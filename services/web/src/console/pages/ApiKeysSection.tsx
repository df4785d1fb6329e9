import { type FormEvent, useState } from 'react';
import { Alert, Badge, ConfirmButton, ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type ApiKey, type Directory, type IssuedKey, type List } from '../api';
import { ListTable } from '../list-table';
import { OnceValue, ShownOnce } from '../shown-once';

type Outcome = { kind: 'issued' | 'regenerated'; key: IssuedKey } | { kind: 'revoked'; key: ApiKey };

/** A directory's API keys: several may be live at once, so a customer rotates without a gap. */
export function ApiKeysSection({ directory }: { directory: Directory }) {
  const base = `/directories/${encodeURIComponent(directory.id)}/keys`;
  const keys = useLoad(() => admin<List<ApiKey>>(base), [base]);
  const [name, setName] = useState('');
  const [outcome, setOutcome] = useState<Outcome>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const act = async (run: () => Promise<Outcome>) => {
    setBusy(true);
    setError(undefined);
    setOutcome(undefined);
    try {
      setOutcome(await run());
      keys.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const issue = (event: FormEvent) => {
    event.preventDefault();
    void act(async () => {
      const key = await admin<IssuedKey>(base, { method: 'POST', body: { name } });
      setName('');
      return { kind: 'issued', key };
    });
  };
  const regenerate = (key: ApiKey) =>
    act(async () => ({ kind: 'regenerated', key: await admin<IssuedKey>(`${base}/${key.id}/regenerate`, { method: 'POST' }) }));
  const revoke = (key: ApiKey) =>
    act(async () => {
      await admin<void>(`${base}/${key.id}`, { method: 'DELETE' });
      return { kind: 'revoked', key };
    });
  const entra = directory.provider === 'entra';
  return (
    <section className="card" aria-labelledby="api-keys">
      <h2 id="api-keys">API keys</h2>
      <p className="hint">
        Each key is a secret token that resolves to this directory. Issue a second key before retiring the first, so the customer rotates without a gap.
      </p>
      <ErrorAlert error={error} />
      {outcome?.kind === 'revoked' ? <Alert kind="success">Key “{outcome.key.name}” revoked: its token is refused from now on.</Alert> : null}
      {outcome && outcome.kind !== 'revoked' ? (
        <ShownOnce key={outcome.key.id} title={outcome.kind === 'issued' ? `Key “${outcome.key.name}” issued` : `Key “${outcome.key.name}” regenerated`}>
          <OnceValue
            label="Secret token"
            value={outcome.key.token}
            secret
            note={
              outcome.kind === 'regenerated'
                ? `The old token no longer works: paste this one into ${entra ? "Entra's Secret Token field and save" : 'the identity provider'}.`
                : undefined
            }
          />
        </ShownOnce>
      ) : null}
      <form className="inline-form" onSubmit={issue}>
        <Field label="New key's name" hint="e.g. Entra (rotated March)">
          {({ id, describedBy }) => (
            <input id={id} type="text" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} aria-describedby={describedBy} />
          )}
        </Field>
        <button type="submit" disabled={busy || !name.trim()}>
          Issue key
        </button>
      </form>
      <ListTable
        list={keys}
        loadingText="Loading keys…"
        empty="No keys: issue one for the identity provider to connect with."
        caption={`API keys of ${directory.name}`}
        columns={[
          { header: 'Name', cell: (key) => key.name },
          { header: 'Prefix', cell: (key) => <code className="nowrap">{key.prefix}…</code> },
          { header: 'Created', cell: (key) => <Time value={key.createdAt} /> },
          { header: 'Last used', cell: (key) => <Time value={key.lastUsedAt} /> },
          {
            header: 'Status',
            cell: (key) =>
              key.revokedAt ? (
                <>
                  <Badge tone="danger">Revoked</Badge> <Time value={key.revokedAt} />
                </>
              ) : (
                <Badge tone="ok">Active</Badge>
              ),
          },
          {
            header: 'Actions',
            hidden: true,
            cell: (key) =>
              key.revokedAt ? null : (
                <div className="actions">
                  <ConfirmButton
                    label="Regenerate"
                    title={`Regenerate “${key.name}”?`}
                    confirmLabel="Regenerate the token"
                    disabled={busy}
                    onConfirm={() => regenerate(key)}
                  >
                    <p>A new token replaces this key's token, which stops working at once.</p>
                    <p>
                      {entra
                        ? 'Entra’s provisioning is refused (401) until the customer pastes the new token into Provisioning → Admin Credentials → Secret Token and saves.'
                        : 'The identity provider is refused (401) until the new token is entered there.'}
                    </p>
                  </ConfirmButton>
                  <ConfirmButton
                    label="Revoke"
                    title={`Revoke “${key.name}”?`}
                    confirmLabel="Revoke the key"
                    danger
                    disabled={busy}
                    onConfirm={() => revoke(key)}
                  >
                    <p>The token stops working at once and cannot be restored.</p>
                    <p>
                      {entra
                        ? 'If Entra still uses it, every provisioning cycle fails with 401 until another key’s token is pasted into Entra.'
                        : 'Anything still using it is refused (401) until it is given another key’s token.'}{' '}
                      Issue another key first if this one is in use.
                    </p>
                  </ConfirmButton>
                </div>
              ),
          },
        ]}
      />
    </section>
  );
}
