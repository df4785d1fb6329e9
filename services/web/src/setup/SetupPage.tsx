import { type ReactNode, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError } from '../common/api';
import { ErrorAlert, Time, useLoad } from '../common/ui';
import { linkSecret, type SetupApi, type SetupDirectory, setupApi } from './api';
import { LiveStatusSection } from './LiveStatusSection';
import { StepsSection } from './StepsSection';
import { useLiveStatus } from './use-live-status';

/**
 * The customer's setup page, opened from a setup link (`/setup#<secret>`): the provider's steps
 * with this directory's Tenant URL and token, the attribute mappings to add, and the live status
 * of what the identity provider sent. A link that is cut short, unknown, expired or revoked gets
 * one clear message instead of the page.
 */
export function SetupPage() {
  const secret = useMemo(linkSecret, []);
  const api = useMemo(() => setupApi(secret), [secret]);
  const directory = useLoad(() => (secret ? api.directory() : Promise.reject(new MissingSecret())), [api]);
  const [refused, setRefused] = useState<ApiError>();

  if (!secret || directory.error instanceof MissingSecret) {
    return (
      <LinkProblem title="This setup link is incomplete">
        <p>The address you opened is missing its secret part (everything after the “#”). Open the link exactly as you received it, or ask for a new one.</p>
      </LinkProblem>
    );
  }
  const rejection = refused ?? (directory.error instanceof ApiError && directory.error.status === 401 ? directory.error : undefined);
  if (rejection) {
    return (
      <LinkProblem title="This setup link no longer works">
        <p className="lead">{sentence(rejection.detail)}</p>
        <p>
          Setup links expire after a few days and can be revoked. Ask the person who sent you this link for a new one. Whatever you set up with it keeps
          working: a token you generated stays valid.
        </p>
      </LinkProblem>
    );
  }
  if (directory.data) return <SetupView api={api} setup={directory.data} reload={directory.reload} onRefused={setRefused} />;
  if (directory.error) {
    return (
      <Frame>
        <main id="main" className="page-narrow">
          <h1>Connect your identity provider</h1>
          <ErrorAlert error={directory.error} />
          <button type="button" onClick={directory.reload}>
            Try again
          </button>
        </main>
      </Frame>
    );
  }
  return (
    <Frame>
      <main id="main" className="page-narrow" aria-busy="true">
        <h1>Connect your identity provider</h1>
        <p className="hint">Loading your setup…</p>
      </main>
    </Frame>
  );
}

class MissingSecret extends Error {}

/** The API's details start lower-case ("this setup link is unknown, …"); shown alone, they read as sentences. */
const sentence = (text: string) => {
  const capitalised = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
};

function Frame({ children }: { children: ReactNode }) {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Provisioning setup</span>
      </header>
      {children}
    </>
  );
}

function LinkProblem({ title, children }: { title: string; children: ReactNode }) {
  const main = useRef<HTMLElement>(null);
  // The page may replace itself while open (the link was revoked): a screen reader is taken to the news.
  useEffect(() => {
    document.title = title;
    main.current?.focus();
  }, [title]);
  return (
    <Frame>
      <main id="main" className="page-narrow link-problem-page" ref={main} tabIndex={-1}>
        <div className="card link-problem">
          <h1>{title}</h1>
          {children}
        </div>
      </main>
    </Frame>
  );
}

function SetupView({ api, setup, reload, onRefused }: { api: SetupApi; setup: SetupDirectory; reload: () => void; onRefused: (error: ApiError) => void }) {
  const live = useLiveStatus(api, onRefused);
  const { directory, tenant, link } = setup;
  const idp = directory.provider === 'entra' ? 'Entra' : directory.providerName;
  useEffect(() => {
    document.title = `Connect ${directory.providerName} · ${directory.name}`;
  }, [directory.providerName, directory.name]);
  return (
    <Frame>
      <main id="main" className="page-narrow setup-page">
        <div className="page-header">
          <div>
            <p className="eyebrow">{tenant.name}</p>
            <h1>Connect {directory.providerName}</h1>
            <p className="subtitle">
              Provisioning into <strong>{directory.name}</strong>. This link expires <Time value={link.expiresAt} />.
            </p>
          </div>
        </div>
        <p className="setup-intro">
          Follow these steps in {directory.providerName}. Keep this link to yourself: anyone who has it can generate this directory’s secret token.
        </p>
        <StepsSection api={api} setup={setup} status={live.status} idp={idp} reload={reload} />
        <LiveStatusSection live={live} idp={idp} />
        <div className="visually-hidden" aria-live="polite">
          {live.announcement}
        </div>
      </main>
    </Frame>
  );
}
