import { PageHeader } from '../layout';
import { ExtensionSchemas } from './ExtensionSchemas';

/** Platform-wide extension schemas: the vendor's own attributes, in every directory. */
export function SchemasPage() {
  return (
    <>
      <PageHeader
        title="Extension schemas"
        subtitle="Platform-wide: every directory lists them on /Schemas and /ResourceTypes, and its users carry them. A directory's own schemas are on its page."
      />
      <section className="card" aria-labelledby="platform-schemas">
        <h2 id="platform-schemas">Platform-wide schemas</h2>
        <ExtensionSchemas path="/schemas" reach="platform" />
      </section>
    </>
  );
}
