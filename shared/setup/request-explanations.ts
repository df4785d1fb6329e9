/**
 * Failed SCIM requests explained in plain words for the customer's IT admin, each with the fix,
 * from what the setup page stores of a request: method, route template, status, scimType and
 * the schema attribute the error named. Known cases first, then one answer per status class.
 */

export interface Explanation {
  /** What happened, in a sentence. */
  readonly summary: string;
  /** What to do about it. */
  readonly fix: string;
}

export interface ExplainedRequest {
  readonly method: string;
  /** A route template, e.g. `/scim/v1/Users/:id`. */
  readonly route: string;
  readonly status: number;
  readonly scimType?: string | null;
  readonly attribute?: string | null;
}

/** "user" or "group" as the route names it, for sentences. */
function resourceOf(route: string): 'user' | 'group' | undefined {
  if (/\/Users(\/|$)/.test(route)) return 'user';
  if (/\/Groups(\/|$)/.test(route)) return 'group';
  return undefined;
}

/** `idp` may start a sentence: "the identity provider" does so capitalised. */
const cap = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const bareName = (attribute: string) => attribute.slice(attribute.lastIndexOf(':') + 1);

type Rule = (r: ExplainedRequest, idp: string) => Explanation | undefined;

const RULES: readonly Rule[] = [
  (r, idp) => {
    if (r.status !== 409) return undefined;
    const name = r.attribute ? bareName(r.attribute) : undefined;
    if (name === 'userName') {
      return {
        summary: `Two users in ${idp} map to the same userName, so the second one could not be created or renamed.`,
        fix: `Find the two users in ${idp}: make the source attribute of userName (userPrincipalName by default) unique between them, or assign only one of them. The next provisioning cycle retries.`,
      };
    }
    if (name === 'externalId') {
      return {
        summary: `Two ${resourceOf(r.route) ?? 'user'}s in ${idp} map to the same externalId.`,
        fix: `Make the source attribute of externalId unique (in Entra it is mailNickname by default; objectId is always unique), or assign only one of them.`,
      };
    }
    if (name === 'displayName' && resourceOf(r.route) === 'group') {
      return {
        summary: 'Two groups have the same displayName; group names must be unique in this directory.',
        fix: `Rename one of the groups in ${idp}, or assign only one of them.`,
      };
    }
    if (name) {
      return {
        summary: `Another ${resourceOf(r.route) ?? 'resource'} already has the same ${name}, which must be unique.`,
        fix: `Make the source attribute mapped to ${name} unique in ${idp}.`,
      };
    }
    return {
      summary: 'The request conflicts with a resource that already exists.',
      fix: 'If it repeats, contact the vendor’s support with the time shown.',
    };
  },
  (r, idp) =>
    r.status === 401
      ? {
          summary: `The Secret Token ${idp} sent was revoked or is wrong.`,
          fix: `Generate a new token on this page, paste it into ${idp}'s Secret Token field (Provisioning → Admin Credentials in Entra), click Test connection, then Save.`,
        }
      : undefined,
  (r, idp) =>
    r.status === 400 && r.scimType === 'invalidFilter'
      ? {
          summary: `${cap(idp)} looked ${resourceOf(r.route) ?? 'resource'}s up with a filter this service could not read${r.attribute ? ` (on ${bareName(r.attribute)})` : ''}.`,
          fix: 'Check the matching attribute in the mappings (Matching precedence): match users on userName or externalId, and groups on displayName.',
        }
      : undefined,
  (r) =>
    r.status === 400 && r.scimType === 'invalidValue' && r.attribute === 'members'
      ? {
          summary: 'A group’s members included a group; this directory’s groups hold users only.',
          fix: 'In the group mappings, under Advanced options → Edit attribute list, uncheck Group for the Referenced Object Attribute of members, so that only User remains.',
        }
      : undefined,
  (r, idp) =>
    r.status === 400 && r.scimType === 'invalidValue' && r.attribute
      ? {
          summary: `${cap(idp)} sent a value for ${r.attribute} that does not fit its type (for example text where true or false is expected).`,
          fix: `Check the mapping whose target is ${r.attribute}: its source attribute must give values of the type listed for it on this page.`,
        }
      : undefined,
  (r, idp) =>
    r.status === 400 && r.scimType === 'invalidValue'
      ? {
          summary: `${cap(idp)} sent a value this service refused.`,
          fix: 'Check the custom attribute mappings listed on this page, their types in particular.',
        }
      : undefined,
  (r, idp) =>
    r.status === 400 && (r.scimType === 'invalidPath' || r.scimType === 'noTarget')
      ? {
          summary: `${cap(idp)} wrote to ${r.attribute ? `the attribute ${r.attribute}, in a way` : 'an attribute'} this directory does not support.`,
          fix: 'Compare the mappings’ target attributes with the ones listed on this page; remove or correct the one that differs.',
        }
      : undefined,
  (r, idp) =>
    r.status === 400 && r.scimType === 'mutability'
      ? {
          summary: `${cap(idp)} tried to change ${r.attribute ? r.attribute : 'an attribute'}, which cannot be changed.`,
          fix: `Remove the mapping to ${r.attribute ?? 'that attribute'}.`,
        }
      : undefined,
  (r) =>
    r.status === 404 && /\/:id$/.test(r.route) && r.method !== 'GET'
      ? {
          summary: `The ${resourceOf(r.route) ?? 'resource'} to ${r.method === 'DELETE' ? 'delete' : 'update'} no longer exists here (it was deleted outside the identity provider).`,
          fix:
            r.method === 'DELETE'
              ? 'Nothing to do: it is gone already.'
              : 'Restart provisioning (Provisioning → Restart provisioning in Entra): the next cycle creates it again.',
        }
      : undefined,
  (r) =>
    r.status === 404 && /\/:id$/.test(r.route)
      ? {
          summary: `The ${resourceOf(r.route) ?? 'resource'} looked up no longer exists here.`,
          fix: 'Nothing to do unless it repeats; then restart provisioning so the identity provider forgets it.',
        }
      : undefined,
  (r) =>
    r.status === 404
      ? {
          summary: 'A request went to an address this service does not have.',
          fix: 'Check the Tenant URL: copy it from this page; it ends in /scim/v1.',
        }
      : undefined,
  (r) =>
    r.status === 413
      ? {
          summary: 'A request was larger than this service accepts, usually a group whose many members changed at once.',
          fix: 'If it repeats, contact the vendor’s support with the time shown: the limit can be raised.',
        }
      : undefined,
  (r, idp) =>
    r.status === 429
      ? {
          summary: `${cap(idp)} sent more requests than this directory's limit allows; those were refused for a moment.`,
          fix: `Nothing to do: ${idp} retries them later. If it persists, ask the vendor to raise the directory's limit.`,
        }
      : undefined,
  (r, idp) =>
    r.status >= 500
      ? {
          summary: `The service could not answer (an error on its side); ${idp} retries the request.`,
          fix: 'Nothing to do unless it repeats; then contact the vendor’s support with the time shown.',
        }
      : undefined,
  (r, idp) =>
    r.status >= 400
      ? {
          summary: `The service refused a request ${idp} sent (${r.status}${r.scimType ? ` ${r.scimType}` : ''}).`,
          fix: 'If it repeats, check the mappings against this page, or contact the vendor’s support with the time shown.',
        }
      : undefined,
];

/**
 * The explanation of a failed request, or undefined for one that succeeded. `idp` names the
 * identity provider in sentences ("Entra").
 */
export function explainRequest(request: ExplainedRequest, idp: string): Explanation | undefined {
  for (const rule of RULES) {
    const explained = rule(request, idp);
    if (explained) return explained;
  }
  return undefined;
}
