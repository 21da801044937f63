import type { z } from 'zod';
import { InvalidInputError, type FieldError } from '../domain/errors.js';

/**
 * Parses `value` with `schema` or throws {@link InvalidInputError} with one JSON pointer per
 * problem, rooted at `where` ("/body", "/params", "/query", "/headers").
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map(issue => {
    const path =
      issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path;
    return {
      pointer: `${where}${path.map(p => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`,
      detail: issue.message,
    };
  });
  const first = errors[0];
  throw new InvalidInputError(
    first === undefined ? 'the request is invalid' : `${first.pointer}: ${first.detail}`,
    errors,
  );
}
