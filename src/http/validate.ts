import type { z } from 'zod';
import { InvalidInputError, type FieldError } from '../domain/errors.js';

/**
 * Parses `value` with `schema` or throws {@link InvalidInputError} with one JSON pointer per
 * problem, rooted at `where` ("/body", "/params", "/query", "/headers"). A required field that is
 * absent says "is required" (not zod's "expected string, received undefined").
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
): z.output<S> {
  // reportInput: a field whose input is undefined was left out, and is reported as required.
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map(issue => {
    const path =
      issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path;
    return {
      pointer: `${where}${path.map(p => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`,
      detail:
        issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message,
    };
  });
  const first = errors[0];
  throw new InvalidInputError(
    first === undefined ? 'the request is invalid' : `${first.pointer}: ${first.detail}`,
    errors,
  );
}
