import type { PeerCertificate } from 'node:tls';

/**
 * The names a verified client certificate answers to, in order: its subject CN, then each DNS
 * and URI subject alternative name. The API key file's `clients` entries match one of them.
 */
export function certificateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn = cert.subject.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*(DNS|URI):(.+)$/.exec(part);
    if (m?.[2] !== undefined) names.push(m[2].trim());
  }
  return names;
}
