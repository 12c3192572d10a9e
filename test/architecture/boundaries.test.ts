import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The dependency rules the Nx project tags stand for, checked on real imports: a service may
 * import the shared contracts and libraries, never another service; libraries never import
 * services or apps. (Nx's own boundary lint plugin is not available for the Nx version that runs
 * on Node 20 here, so the rule lives in this test and in eslint's no-restricted-imports.)
 */
const root = path.resolve(import.meta.dirname, '..', '..');

interface Project {
  name: string;
  root: string;
  tags: string[];
}

const allowed: Record<string, string[]> = {
  'type:contracts': [],
  'type:platform': ['type:contracts'],
  'type:lib': ['type:contracts', 'type:platform', 'type:lib'],
  'type:service': ['type:contracts', 'type:platform', 'type:lib'],
  'type:app': ['type:contracts', 'type:platform', 'type:lib', 'type:app', 'type:service'],
};

function projects(): Project[] {
  const roots = ['gateway', 'workflows', ...fs.readdirSync(path.join(root, 'services')).map((d) => `services/${d}`)];
  return roots
    .filter((r) => fs.existsSync(path.join(root, r, 'project.json')))
    .map((r) => {
      const pj = JSON.parse(fs.readFileSync(path.join(root, r, 'project.json'), 'utf8'));
      return { name: pj.name, root: r, tags: pj.tags };
    });
}

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [full] : [];
  });
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

describe('project boundaries', () => {
  const all = projects();
  const byPackage = new Map<string, Project>();
  for (const p of all) {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, p.root, 'package.json'), 'utf8'));
    byPackage.set(pkg.name, p);
  }
  const owner = (file: string) => all.find((p) => file.startsWith(path.join(root, p.root) + path.sep));
  const typeOf = (p: Project) => p.tags.find((t) => t.startsWith('type:'))!;

  it('every project declares a type tag', () => {
    for (const p of all) expect(p.tags.some((t) => t.startsWith('type:')), p.name).toBe(true);
  });

  it('no production import crosses a forbidden boundary', () => {
    const violations: string[] = [];
    for (const project of all) {
      for (const file of sourceFiles(path.join(root, project.root, 'src'))) {
        const text = fs.readFileSync(file, 'utf8');
        for (const match of text.matchAll(IMPORT)) {
          const spec = match[1] ?? match[2]!;
          const target = spec.startsWith('.') ? owner(path.resolve(path.dirname(file), spec)) : byPackage.get(spec.split('/').slice(0, 2).join('/'));
          if (!target || target === project) continue;
          const from = typeOf(project);
          if (!allowed[from]?.includes(typeOf(target))) violations.push(`${path.relative(root, file)} imports ${spec} (${from} → ${typeOf(target)})`);
          if (from === 'type:service' && typeOf(target) === 'type:service') violations.push(`${path.relative(root, file)} imports another service`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
