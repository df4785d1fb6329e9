import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { ApiError } from './api';

/** A value the user copies into another system (Tenant URL, token), with a button that says when it worked. */
export function CopyValue({ value, label, secret = false }: { value: string; label: string; secret?: boolean }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | undefined>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(undefined), 2500);
    return () => clearTimeout(timer);
  }, [copied]);
  const action = copied === 'yes' ? 'Copied' : copied === 'failed' ? 'Select and copy' : 'Copy';
  return (
    <div className={secret ? 'copy-value secret' : 'copy-value'}>
      <code>{value}</code>
      {/* The name starts with the visible text, which changes once copied (WCAG 2.5.3, label in name). */}
      <button type="button" className="secondary" onClick={copy} aria-label={`${action} ${label}`}>
        {action}
      </button>
      <span className="visually-hidden" role="status">
        {copied === 'yes' ? `${label} copied to the clipboard` : ''}
      </span>
    </div>
  );
}

export function Alert({ kind, children }: { kind: 'error' | 'success' | 'info' | 'warning'; children: ReactNode }) {
  return (
    <div className={`alert ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** A failed call, in the API's own words. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  const text = error instanceof ApiError ? error.detail : 'Something went wrong. Try again.';
  return <Alert kind="error">{text}</Alert>;
}

export function Badge({ tone, children }: { tone?: 'ok' | 'danger' | 'warn' | 'info'; children: ReactNode }) {
  return <span className={tone ? `badge ${tone}` : 'badge'}>{children}</span>;
}

/** A date as the reader's locale writes it, with the exact instant in the title and datetime. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="empty">never</span>;
  const date = new Date(value);
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {date.toLocaleString()}
    </time>
  );
}

/**
 * A confirmation in a native modal <dialog>: focus moves into it (to Cancel when `danger`) and
 * stays there, Escape cancels, and focus returns to the button that opened it.
 */
export function ConfirmButton({
  label,
  title,
  children,
  confirmLabel,
  onConfirm,
  danger = false,
  disabled = false,
}: {
  label: string;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void | Promise<void>;
  danger?: boolean;
  disabled?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  // A destructive action is never one Enter away: its dialog opens with Cancel focused.
  const open = () => {
    dialog.current?.showModal();
    if (danger) cancel.current?.focus();
  };
  const confirm = async () => {
    dialog.current?.close();
    await onConfirm();
  };
  return (
    <>
      <button type="button" className={danger ? 'danger' : 'secondary'} disabled={disabled} onClick={open}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <h2 id={titleId}>{title}</h2>
        {children}
        <div className="actions">
          <button type="button" className={danger ? 'danger' : undefined} onClick={confirm}>
            {confirmLabel}
          </button>
          <button type="button" className="secondary" ref={cancel} onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
    </>
  );
}

/** A labelled form control with its hint and error tied to it for screen readers. */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: ReactNode;
  error?: string;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => ReactNode;
}) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}{' '}
        {hint ? (
          <span className="hint" id={hintId}>
            {hint}
          </span>
        ) : null}
      </label>
      {children({ id, describedBy, invalid: Boolean(error) })}
      {error ? (
        <div className="field-error" id={errorId}>
          {error}
        </div>
      ) : null}
    </div>
  );
}

/** A load that the page waits on: loading, failed or done, and a way to load again. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [version, setVersion] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names what the load depends on.
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, version]);
  return { ...state, reload: () => setVersion((v) => v + 1) };
}
