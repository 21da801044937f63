/** Test PKI made with the openssl command: a CA, and server or client certificates it signs. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Paths of one certificate and its private key. */
export interface CertFiles {
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

/** A fresh CA (P-256, valid one day) in `dir` under the name `name`. */
export function makeCa(dir: string, name: string): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      files.key,
      '-out',
      files.cert,
      '-subj',
      `/CN=${name}`,
      '-days',
      '1',
    ],
    dir,
  );
  return files;
}

/**
 * A certificate signed by `ca` for `cn`, with subject alternative names `san` (e.g.
 * `IP:127.0.0.1`), usable for `purpose` ("server" or "client").
 */
export function makeCert(
  dir: string,
  ca: CertFiles,
  name: string,
  cn: string,
  san: string[],
  purpose: 'server' | 'client' | 'both' = 'server',
): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const usage = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[
    purpose
  ];
  writeFileSync(
    ext,
    [
      `extendedKeyUsage=${usage}`,
      ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
    ].join('\n'),
  );
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      files.key,
      '-out',
      csr,
      '-subj',
      `/CN=${cn}`,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-out',
      files.cert,
      '-days',
      '1',
      '-extfile',
      ext,
    ],
    dir,
  );
  return files;
}
