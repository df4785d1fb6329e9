import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { topLevelKeys } from '../../shared/scim/json-text';

describe('topLevelKeys', () => {
  const cases: [string, string, string[] | undefined][] = [
    ['empty object', '{}', []],
    ['as PostgreSQL prints jsonb', '{"name": {"givenName": "Ada"}, "active": true, "userName": "ada"}', ['name', 'active', 'userName']],
    ['compact', '{"a":1,"b":[1,2,{"c":3}],"d":null}', ['a', 'b', 'd']],
    ['nested names are not top level', '{"x": {"urn:ext:User": {"y": 1}}, "z": [{"w": {}}]}', ['x', 'z']],
    ['a value that looks like a name', '{"a": "\\"b\\": 1, ", "c": 2}', ['a', 'c']],
    ['braces and brackets inside strings', '{"a": "}{][", "b": "{\\"c\\": 1}"}', ['a', 'b']],
    ['escaped backslash before a closing quote', '{"a": "x\\\\", "b": 1}', ['a', 'b']],
    ['a name with an escaped quote, as written', '{"a\\"b": 1}', ['a\\"b']],
    ['an extension object', '{"userName": "u", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "1"}}', ['userName', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']],
    ['surrounding whitespace', ' \n{"a": 1}\n ', ['a']],
    ['non-ASCII', '{"displayName": "Zoë 山田", "ü": "ß"}', ['displayName', 'ü']],
    ['an array is no object', '[1, 2]', undefined],
    ['a string is no object', '"{}"', undefined],
    ['unclosed object', '{"a": 1', undefined],
    ['unclosed string', '{"a": "1}', undefined],
    ['trailing text', '{"a": 1} {"b": 2}', undefined],
  ];
  for (const [name, text, keys] of cases) {
    it(`${name} › ${keys ? keys.join(', ') || 'no names' : 'undefined'}`, () => {
      assert.deepEqual(topLevelKeys(text), keys);
    });
  }
});
