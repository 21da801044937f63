import type { Request, RequestHandler } from 'express';
import { DomainError, InvalidInputError } from '../domain/errors.js';

const jsonType = /^application\/(?:[\w.+-]+\+)?json$/i;

/**
 * Parses a JSON request body into `req.body` (at most `limitBytes`, an object or array at the top):
 * 400 `invalid_input` for malformed JSON, 413 `payload_too_large` beyond the limit, 415
 * `unsupported_media_type` for a charset other than UTF-8 or any Content-Encoding. Requests
 * without a body, or whose body is not JSON, pass with `req.body` unset (the handlers answer 415
 * for a body that is not JSON). Written for the hot path: one buffer, one `JSON.parse`.
 */
export function jsonBody(opts: {
  limitBytes: number;
  limitText: string;
  /** Requests whose route reads its body itself (with another limit). */
  except?: (req: Request) => boolean;
}): RequestHandler {
  return (req, _res, next) => {
    if (req.body !== undefined || opts.except?.(req) === true) {
      next();
      return;
    }
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if ((length === undefined || length === '0') && !chunked) {
      next();
      return;
    }
    const contentType = req.headers['content-type'] ?? '';
    const semi = contentType.indexOf(';');
    const mediaType = (semi < 0 ? contentType : contentType.slice(0, semi)).trim();
    if (!jsonType.test(mediaType)) {
      next();
      return;
    }
    const tooLarge = () =>
      new DomainError(
        'payload_too_large',
        `the request body is larger than ${opts.limitText}; nothing was changed`,
      );
    const unsupported = unsupportedEncoding(contentType, req.headers['content-encoding']);
    // 413 and 415 leave the rest of the body unread: the error handler closes the connection.
    if (unsupported !== undefined) {
      next(new DomainError('unsupported_media_type', unsupported));
      return;
    }
    if (length !== undefined && Number(length) > opts.limitBytes) {
      next(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      next(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > opts.limitBytes) {
        req.pause();
        finish(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString(
        'utf8',
      );
      try {
        req.body = parseStrict(text);
        finish();
      } catch (err) {
        finish(
          new InvalidInputError(`the request body is not valid JSON: ${(err as Error).message}`, [
            { pointer: '/body', detail: 'expected a JSON object' },
          ]),
        );
      }
    };
    const onError = (err: Error) => {
      finish(
        new DomainError('invalid_input', `the request body could not be read: ${err.message}`),
      );
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };
}

/**
 * The parser of the operations that take a JSON body (16 KiB). Only those routes use it, so an
 * operation without a body never reads one and never answers 413 or 415 for it.
 */
export const jsonRequestBody: RequestHandler = jsonBody({
  limitBytes: 16 * 1024,
  limitText: '16 KiB',
});

/** JSON.parse that accepts only an object or an array at the top (an empty body is `{}`). */
function parseStrict(text: string): unknown {
  const first = /\S/.exec(text)?.[0];
  if (first === undefined) return {};
  if (first !== '{' && first !== '[') {
    throw new Error('the top level must be an object or an array');
  }
  return JSON.parse(text) as unknown;
}

/** Why the body's charset or encoding cannot be read, if it cannot. */
function unsupportedEncoding(
  contentType: string,
  encoding: string | undefined,
): string | undefined {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return `unsupported charset "${charset.toUpperCase()}": send the body as UTF-8`;
  }
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    return `unsupported content encoding "${encoding}": send the body uncompressed`;
  }
  return undefined;
}
