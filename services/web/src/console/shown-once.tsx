import { type ReactNode, useEffect, useRef } from 'react';
import { Alert, CopyValue } from '../common/ui';

/**
 * A secret the API answers with once (a key's token, a setup link): copy it now or never. The
 * block takes focus when it appears, so keyboard and screen-reader users land on it.
 */
export function ShownOnce({ title, level = 3, children }: { title: string; level?: 2 | 3; children: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const Heading = level === 2 ? 'h2' : 'h3';
  useEffect(() => {
    heading.current?.focus();
  }, []);
  return (
    <div className="shown-once">
      <Heading ref={heading} tabIndex={-1}>
        {title}
      </Heading>
      {children}
    </div>
  );
}

/** One labelled value of a ShownOnce block; a secret one carries the "not shown again" warning. */
export function OnceValue({
  label,
  value,
  secret = false,
  warning = 'Copy it now: it is not shown again. If it is lost, regenerate it.',
  note,
}: {
  label: string;
  value: string;
  secret?: boolean;
  warning?: ReactNode;
  note?: ReactNode;
}) {
  return (
    <div className="once-value">
      <p className="once-label">{label}</p>
      <CopyValue value={value} label={label} secret={secret} />
      {secret ? <Alert kind="warning">{warning}</Alert> : null}
      {note ? <p className="hint">{note}</p> : null}
    </div>
  );
}
