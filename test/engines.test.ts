// A fresh `npm install` on the oldest Node we support prints no engine warning: every package the lockfile
// installs accepts this Node. (npm warns, EBADENGINE, and carries on; the package may then crash at import,
// as undici 8 and fauxqs 2 do on Node 20.) Ranges are read from package-lock.json, as npm reads them.
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  readonly version?: string;
  readonly engines?: { readonly node?: string } | readonly string[];
  readonly optional?: boolean;
}

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockEntry>;
};
const project = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
};

describe('engines', () => {
  it('every locked package accepts the Node this runs on', () => {
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : (entry.engines as { node?: string })?.node;
      if (!path || !range) continue;
      if (!semver.satisfies(process.version, range, { includePrerelease: true })) {
        refused.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version}: node ${range}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it("the project's own engines range holds this Node", () => {
    expect(semver.satisfies(process.version, project.engines.node)).toBe(true);
  });
});
