import { parseExtensionSchema } from '../../shared/scim/schema-definition';
import { DirectorySchemas } from '../../shared/scim/schema-registry';
import { PATCH_OP_SCHEMA } from '../../shared/scim/schema-types';

/** The README's ActivTrak extension: Entra writes the UPN into `userPrincipalNames`. */
export const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** The schemas one directory sees, with the ActivTrak extension (and an immutable attribute to test mutability). */
export const directorySchemas = new DirectorySchemas({
  user: [
    {
      schema: parseExtensionSchema({
        id: ACTIVTRAK,
        name: 'ActivTrakUser',
        attributes: [
          {
            name: 'userPrincipalNames',
            type: 'complex',
            multiValued: true,
            subAttributes: [
              { name: 'value', type: 'string' },
              { name: 'type', type: 'string' },
            ],
          },
          { name: 'tracking', type: 'boolean' },
          { name: 'badgeId', type: 'string', mutability: 'immutable' },
        ],
      }).schema,
      required: false,
    },
  ],
  group: [],
});

/** A PatchOp request body. */
export const patchBody = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });
