import { CopyValue } from '../common/ui';
import type { AttributeMapping } from './api';

const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** What to know when adding one attribute in the identity provider, besides its name and type. */
function noteOf(mapping: AttributeMapping): string {
  const notes = [mapping.required ? 'Required.' : 'Optional.'];
  if (mapping.target.endsWith('[value eq null].value')) notes.push('Entra’s way of writing one value into a list: type it exactly as shown.');
  if (mapping.type === 'Boolean') notes.push('Map a source attribute whose value is true or false.');
  if (mapping.type === 'DateTime') notes.push('Map a source attribute holding a date and time.');
  if (mapping.target === `${ENTERPRISE_USER}:employeeNumber`) notes.push('Usually mapped from employeeId.');
  return notes.join(' ');
}

/** The last part of a target, to name its copy button for a screen reader ("Copy tracking"). */
const shortName = (target: string) =>
  target
    .replace(/\[value eq null\]\.value$/, '')
    .split(/[.:]/)
    .pop() ?? target;

/** The custom attributes to add and map, each as typed into the identity provider, with its type. */
export function MappingsTable({ mappings, caption }: { mappings: AttributeMapping[]; caption: string }) {
  return (
    <div className="table-wrap">
      <table className="mappings stack-on-mobile">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Target attribute</th>
            <th scope="col">Type</th>
            <th scope="col">Notes</th>
          </tr>
        </thead>
        <tbody>
          {mappings.map((m) => (
            <tr key={`${m.resourceType} ${m.target}`}>
              <td>
                <CopyValue value={m.target} label={`target attribute ${shortName(m.target)}`} />
              </td>
              <td data-label="Type">{m.type}</td>
              <td data-label="Notes">{noteOf(m)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
