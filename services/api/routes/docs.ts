import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { enterpriseUserSchema, groupSchema, userSchema } from '../../../shared/scim/core-schemas';
import type { SchemaDef } from '../../../shared/scim/schema-types';
import type { OpenApiDocument } from './admin/openapi';
import { serviceProviderConfig, type DiscoveryLimits } from './discovery';
import { adminApiHtml } from './docs-admin-api';
import { escapeHtml } from './html';

export interface DocsPageOptions {
  /** External base URL, as in ServiceProviderConfig's documentationUri. */
  readonly publicBaseUrl: string;
  readonly limits: DiscoveryLimits;
  /** The admin API's OpenAPI document (routes/admin/openapi.ts), for the Admin API section; asked for on the first request. */
  readonly adminApi: () => OpenApiDocument;
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#f3f3f3;padding:0 .2em;overflow-wrap:anywhere}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}h4{margin-bottom:.3em}';
// Nothing may load or run but the one inline style, named by its hash: the page needs nothing
// else, so the policy costs nothing and still holds if an escape ever slips.
const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const yesNo = (supported: boolean) => (supported ? 'yes' : 'no');

const schemaItem = (s: SchemaDef) => `<li><code>${escapeHtml(s.id)}</code>: ${s.attributes.map((a) => `<code>${escapeHtml(a.name)}</code>`).join(', ')}</li>`;

/**
 * The page ServiceProviderConfig's documentationUri advertises (GET /docs): plain HTML with no
 * scripts or third-party assets, built from the same discovery data and the admin API's OpenAPI
 * document, so it cannot drift from what /ServiceProviderConfig and the routes say. Public like
 * the discovery it describes: no directory data.
 */
export function docsPage(options: DocsPageOptions): RequestHandler {
  const base = options.publicBaseUrl;
  const spc = serviceProviderConfig(options.limits, base);
  const scimUrl = `${base}/scim/v1`;
  const render = () => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SCIM Platform: SCIM 2.0 endpoint</title>
<style>${STYLE}</style>
</head>
<body>
<h1>SCIM 2.0 endpoint</h1>
<p>This service is a SCIM 2.0 service provider (RFC 7643, RFC 7644). Each directory has its own
API key; the key alone decides which directory a request reads and writes.</p>

<h2>Base URL and authentication</h2>
<ul>
<li>Tenant URL: <code>${escapeHtml(scimUrl)}</code> (<code>${escapeHtml(base)}/scim/v2</code> is the same API).</li>
<li>Every request: <code>Authorization: Bearer &lt;the directory's key&gt;</code> (RFC 6750).</li>
<li>Endpoints: <code>/Users</code>, <code>/Groups</code>, <code>/Bulk</code>, <code>/.search</code> on each resource,
<code>/ServiceProviderConfig</code>, <code>/ResourceTypes</code>, <code>/Schemas</code>.</li>
</ul>

<h2>What the endpoint supports</h2>
<table>
<tr><th>feature</th><th>supported</th><th>limits</th></tr>
<tr><td>PATCH</td><td>${yesNo(spc.patch.supported)}</td><td></td></tr>
<tr><td>Bulk</td><td>${yesNo(spc.bulk.supported)}</td><td>${spc.bulk.maxOperations} operations, ${spc.bulk.maxPayloadSize} bytes per request</td></tr>
<tr><td>Filter</td><td>${yesNo(spc.filter.supported)}</td><td>at most ${spc.filter.maxResults} results per page</td></tr>
<tr><td>Sort</td><td>${yesNo(spc.sort.supported)}</td><td></td></tr>
<tr><td>ETag</td><td>${yesNo(spc.etag.supported)}</td><td></td></tr>
<tr><td>Change password</td><td>${yesNo(spc.changePassword.supported)}</td><td></td></tr>
</table>

<h2>Schemas</h2>
<ul>
${[userSchema, enterpriseUserSchema, groupSchema].map(schemaItem).join('\n')}
</ul>
<p>A directory may also have extension schemas registered by the operator; its <code>/Schemas</code>
and <code>/ResourceTypes</code> list them.</p>

<h2>Connecting Microsoft Entra ID</h2>
<ol>
<li>Enterprise applications, New application, Create your own application, "Integrate any other
application you don't find in the gallery", then Provisioning, Automatic.</li>
<li>Tenant URL: the directory's <code>scimUrl</code>, which ends in <code>/scim/v1</code>
(here <code>${escapeHtml(scimUrl)}</code>).</li>
<li>Secret Token: the directory's key. Press Test connection, then Save.</li>
</ol>

${adminApiHtml(options.adminApi(), `${base}/admin/v1/openapi.json`)}
</body>
</html>
`;
  let html: string | undefined;
  return (_req, res) => {
    html ??= render();
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', CSP);
    res.send(html);
  };
}
