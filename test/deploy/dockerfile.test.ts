import { readFileSync } from 'node:fs';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';

const text = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const froms = dockerfile.getFROMs();
const stageNames = froms.map(from => from.getBuildStage()?.toLowerCase());
const lastFrom = instructions.findLastIndex(i => i.getKeyword() === 'FROM');
const finalStage = instructions.slice(lastFrom + 1);

function args(instruction: Instruction): string {
  return instruction.getArgumentsContent() ?? '';
}

function inFinalStage(keyword: string): Instruction[] {
  return finalStage.filter(i => i.getKeyword() === keyword);
}

function execForm(instruction: Instruction): string[] {
  const parsed: unknown = JSON.parse(args(instruction));
  if (!Array.isArray(parsed) || !parsed.every(part => typeof part === 'string')) {
    throw new Error(`${instruction.getKeyword()} is not in exec form: ${args(instruction)}`);
  }
  return parsed;
}

describe('Dockerfile', () => {
  it('builds in at least two stages', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
  });

  it('pins every base image to a tag other than latest', () => {
    for (const from of froms) {
      const image = from.getImageName()?.toLowerCase();
      if (stageNames.includes(image)) continue; // FROM <earlier stage>
      const pinned = from.getImageTag() ?? from.getImageDigest();
      expect(pinned, `FROM ${args(from)}`).toBeTruthy();
      expect(from.getImageTag(), `FROM ${args(from)}`).not.toBe('latest');
    }
  });

  it('installs dependencies with npm ci and prunes dev dependencies', () => {
    const runs = instructions.filter(i => i.getKeyword() === 'RUN').map(args);
    expect(runs.some(run => /\bnpm ci\b/.test(run))).toBe(true);
    expect(runs.some(run => /\bnpm install\b/.test(run))).toBe(false);
    expect(runs.some(run => /\bnpm prune --omit=dev\b/.test(run))).toBe(true);
  });

  it('runs the final stage as a non-root user', () => {
    const users = inFinalStage('USER').map(args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it('copies the application owned by that user', () => {
    // Flags are not arguments to dockerfile-ast, so read the whole instruction.
    const copies = inFinalStage('COPY').map(copy => copy.getTextContent());
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) expect(copy).toContain('--chown=node:node');
  });

  it('sets NODE_ENV=production in the final stage', () => {
    expect(inFinalStage('ENV').map(args).join('\n')).toMatch(/\bNODE_ENV=production\b/);
  });

  it('checks health against /livez', () => {
    const checks = inFinalStage('HEALTHCHECK').map(args);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toContain('/livez');
  });

  it('starts node directly in exec form, not through npm', () => {
    const cmds = inFinalStage('CMD');
    expect(cmds).toHaveLength(1);
    const [cmd] = cmds.map(execForm);
    expect(cmd?.[0]).toBe('node');
    expect(cmd).not.toContain('npm');
  });

  it('uses tini as the entrypoint', () => {
    const entrypoints = inFinalStage('ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    const [entrypoint] = entrypoints.map(execForm);
    expect(entrypoint?.[0]).toMatch(/(^|\/)tini$/);
    expect(entrypoint).toContain('--');
  });

  it('keeps apt lean in the final stage', () => {
    for (const run of inFinalStage('RUN')
      .map(args)
      .filter(r => r.includes('apt-get install'))) {
      expect(run).toContain('--no-install-recommends');
      expect(run).toContain('rm -rf /var/lib/apt/lists/*');
    }
  });
});
