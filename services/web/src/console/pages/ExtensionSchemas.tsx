import { type FormEvent, useId, useState } from 'react';
import { Alert, Badge, ConfirmButton, ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type Directory, type List, type Schema } from '../api';
import { ListTable } from '../list-table';
import { checkSchemaText, EXAMPLE_SCHEMA } from '../schema-check';

/**
 * The extension schemas at one admin path (`/schemas` for the platform, or a directory's), a
 * form to add one and a way to remove each.
 */
export function ExtensionSchemas({ path, reach }: { path: string; reach: 'platform' | 'directory' }) {
  const scope = reach === 'platform' ? 'every directory' : 'this directory';
  const schemas = useLoad(() => admin<List<Schema>>(path), [path]);
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<unknown>();
  const remove = async (schema: Schema) => {
    setError(undefined);
    setDone(undefined);
    try {
      await admin<void>(`${path}/${encodeURIComponent(schema.id)}`, { method: 'DELETE' });
      setDone(`Schema ${schema.name} removed from ${scope}.`);
      schemas.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <h3>Registered schemas</h3>
      {done ? <Alert kind="success">{done}</Alert> : null}
      <ErrorAlert error={error ?? schemas.error} />
      <ListTable
        list={schemas}
        loadingText="Loading schemas…"
        empty="No extension schemas yet: add one below, or start from the guides' example (Insert example)."
        showError={false}
        columns={[
          {
            header: 'Schema',
            cell: (s) => (
              <>
                <strong>{s.name}</strong>
                <br />
                <code>{s.id}</code>
              </>
            ),
          },
          {
            header: 'Applies to',
            cell: (s) => (
              <>
                {s.resourceType === 'User' ? 'Users' : 'Groups'} {s.required ? <Badge tone="warn">Required</Badge> : <Badge>Optional</Badge>}
              </>
            ),
          },
          {
            header: 'Attributes',
            cell: (s) => (
              <ul className="attribute-list">
                {s.attributes.map((a) => (
                  <li key={a.name}>
                    <code>{a.name}</code> <span className="hint">{describeAttribute(a)}</span>
                  </li>
                ))}
              </ul>
            ),
          },
          { header: 'Added', cell: (s) => <Time value={s.createdAt} /> },
          {
            header: 'Actions',
            hidden: true,
            cell: (s) => (
              <ConfirmButton label="Delete" title={`Delete ${s.name}?`} confirmLabel="Delete the schema" danger onConfirm={() => remove(s)}>
                <p>
                  <code>{s.id}</code> disappears from /Schemas and /ResourceTypes of {scope}, and its attributes are no longer accepted or returned.
                </p>
                <p>Identity providers mapping attributes to it (Entra's custom attribute mappings) will have those values refused.</p>
              </ConfirmButton>
            ),
          },
        ]}
      />
      <h3>Add a schema</h3>
      <SchemaForm
        path={path}
        onAdded={(s) => {
          setError(undefined);
          setDone(`Schema ${s.name} added to ${scope}.`);
          schemas.reload();
        }}
      />
    </>
  );
}

type Attribute = Schema['attributes'][number];

function describeAttribute(a: Attribute): string {
  const kind = a.multiValued ? `multi-valued ${a.type}` : a.type;
  const subs = a.subAttributes?.length ? `: ${a.subAttributes.map((s) => s.name).join(', ')}` : '';
  return `(${kind}${a.required ? ', required' : ''}${subs})`;
}

/** A JSON editor checked as it is typed, with the API's own parser; the server's refusal is shown too. */
function SchemaForm({ path, onAdded }: { path: string; onAdded: (s: Schema) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const statusId = useId();
  const check = checkSchemaText(text);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (check.state !== 'valid') return;
    setBusy(true);
    setError(undefined);
    try {
      onAdded(await admin<Schema>(path, { method: 'POST', body: check.body }));
      setText('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} className="schema-form">
      <ErrorAlert error={error} />
      <Field
        label="Schema (JSON)"
        hint="A SCIM Schema resource (RFC 7643 §7): an id (a urn:… URN), a name and its attributes. Checked as you type."
        error={check.state === 'invalid' ? check.error : undefined}
      >
        {({ id, describedBy, invalid }) => (
          <textarea
            id={id}
            value={text}
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            onChange={(e) => setText(e.target.value)}
            aria-invalid={invalid}
            aria-describedby={[describedBy, check.state === 'valid' ? statusId : undefined].filter(Boolean).join(' ') || undefined}
          />
        )}
      </Field>
      {check.state === 'valid' ? (
        <p className="field-ok" id={statusId}>
          Valid: {check.summary}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" disabled={busy || check.state !== 'valid'}>
          {busy ? 'Adding…' : 'Add schema'}
        </button>
        <button type="button" className="secondary" onClick={() => setText(JSON.stringify(EXAMPLE_SCHEMA, null, 2))}>
          Insert example
        </button>
      </div>
    </form>
  );
}

/** A directory's own extension schemas, on its page. */
export function DirectorySchemasSection({ directory }: { directory: Directory }) {
  return (
    <section className="card" aria-labelledby="directory-schemas">
      <h2 id="directory-schemas">Extension schemas of this directory</h2>
      <p className="hint">
        Schemas added here apply to this directory only; platform-wide ones apply to every directory. Both show on the directory's /Schemas and /ResourceTypes.
      </p>
      <ExtensionSchemas path={`/directories/${encodeURIComponent(directory.id)}/schemas`} reach="directory" />
    </section>
  );
}
