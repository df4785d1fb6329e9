import { CopyValue } from '../common/ui';
import type { SetupApi, SetupDirectory, SetupStep, SetupStatus } from './api';
import { TestConnectionState } from './LiveStatusSection';
import { MappingsTable } from './MappingsTable';
import { TokenPanel } from './TokenPanel';

interface StepContext {
  readonly api: SetupApi;
  readonly setup: SetupDirectory;
  readonly status?: SetupStatus;
  readonly idp: string;
  readonly reload: () => void;
}

/** The widget a step carries (services/api's SetupStep: a value to copy, or an action). */
function StepWidget({ step, context }: { step: SetupStep; context: StepContext }) {
  const { api, setup, status, idp, reload } = context;
  if (step.copy) {
    return (
      <div className="setup-panel">
        <h3 id={`step-${step.id}`}>{step.copy.label}</h3>
        <CopyValue value={step.copy.value} label={step.copy.label} />
      </div>
    );
  }
  switch (step.action) {
    case 'generateToken':
      return <TokenPanel api={api} existing={setup.token} idp={idp} onChanged={reload} />;
    case 'testConnection':
      return <TestConnectionState status={status} idp={idp} />;
    case 'userMappings': {
      const users = setup.attributeMappings.filter((m) => m.resourceType === 'User');
      return (
        <div className="setup-panel">
          <h3 id="attribute-mappings">Custom attribute mappings to add in {idp}</h3>
          {users.length === 0 ? (
            <p className="empty">None: the default mappings are all this directory needs.</p>
          ) : (
            <>
              <p className="hint">Add each target attribute with its type in Edit attribute list, then map a source attribute to it.</p>
              <MappingsTable mappings={users} caption={`User attributes to add in ${idp}`} />
            </>
          )}
        </div>
      );
    }
    case 'groupMappings': {
      const groups = setup.attributeMappings.filter((m) => m.resourceType === 'Group');
      return (
        <div className="setup-panel">
          <h3 id="group-mappings">Group mappings</h3>
          <ul className="notes">
            {setup.groupMappingNotes.map((note) => (
              <li key={note}>{note}</li>
            ))}
          </ul>
          {groups.length > 0 ? <MappingsTable mappings={groups} caption={`Group attributes to add in ${idp}`} /> : null}
        </div>
      );
    }
    default:
      return null;
  }
}

/** The provider's steps, numbered, each with what to copy or do beside it. */
export function StepsSection(context: StepContext) {
  const { setup } = context;
  return (
    <section className="card" aria-labelledby="steps">
      <h2 id="steps">Steps in {setup.directory.providerName}</h2>
      <ol className="setup-steps">
        {setup.steps.map((step) => (
          <li key={step.id}>
            <p>{step.text}</p>
            <StepWidget step={step} context={context} />
          </li>
        ))}
      </ol>
    </section>
  );
}
