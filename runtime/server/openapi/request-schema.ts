import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';

/** A function's request body as JSON Schema, or why there is none. */
export type RequestSchema =
  { schema: Record<string, unknown>; exported: true } | { schema: Record<string, unknown>; exported: false; reason: string };

/**
 * The JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) of what a handler's input schema accepts.
 *
 * Asked through Standard JSON Schema (`~standard.jsonSchema.input`), the export that zod 4 and arktype
 * implement, so no library is special-cased. A schema without that export (valibot without its
 * to-json-schema adapter, a hand-written Standard Schema), or one whose library cannot express it (a zod
 * `transform`, a custom refinement), gets `{}`, any JSON, with the reason in its description: the
 * operation is still documented and callable, and the runtime still validates every call with the
 * schema itself.
 */
export function requestSchemaOf(input: StandardSchemaV1): RequestSchema {
  const converter = (input['~standard'] as Partial<StandardJSONSchemaV1.Props>).jsonSchema;
  const vendor = input['~standard']?.vendor ?? 'unknown';
  if (!converter) return unexported(`the ${vendor} schema has no Standard JSON Schema export`);
  try {
    const { $schema: _dialect, ...schema } = converter.input({ target: 'draft-2020-12' });
    return { schema, exported: true };
  } catch (err) {
    return unexported(`the ${vendor} schema could not be exported to JSON Schema: ${(err as Error).message}`);
  }
}

function unexported(reason: string): RequestSchema {
  return {
    schema: { description: `Any JSON here: ${reason}. The runtime still validates the body with the handler's own schema.` },
    exported: false,
    reason,
  };
}
