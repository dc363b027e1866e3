import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkTask } from '../../../lib/manifest/task.js';
import { buildDemoManifest, defaultDemoTasks, toNdjson } from '../../../local/demo/manifest.js';

const baseUrl = 'http://127.0.0.1:8080';

describe('buildDemoManifest', () => {
  it('is the same job every time, of the default size, with every share present', () => {
    const a = buildDemoManifest({ baseUrl });
    const b = buildDemoManifest({ baseUrl });
    expect(toNdjson(a)).toBe(toNdjson(b));
    expect(a.expected).toEqual({
      submitted: defaultDemoTasks + 3,
      succeeded: defaultDemoTasks - a.failingIds.size,
      deadLettered: a.failingIds.size,
      invalid: 3,
    });
    const urls = a.tasks.map((t) => String(t.url ?? ''));
    expect(urls.filter((u) => u.includes('throttle=1')).length).toBeGreaterThan(60);
    expect(urls.filter((u) => u.includes('fail=404')).length).toBeGreaterThan(10);
    expect(urls.filter((u) => u.includes('fail=500')).length).toBeGreaterThan(10);
    expect(a.tasks.filter((t) => t.mode === 'inline').length).toBeGreaterThan(400);
    const ms = urls.map((u) => Number(/ms=(\d+)/.exec(u)?.[1] ?? -1)).filter((v) => v >= 0);
    expect(Math.min(...ms)).toBeLessThan(10);
    expect(Math.max(...ms)).toBeGreaterThan(150);
  });

  it('accounts for every line against the real task schema: the malformed ones are exactly the invalid ones', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer(),
        (tasks, invalid, seed) => {
          const demo = buildDemoManifest({ baseUrl, tasks, invalid, seed });
          expect(demo.tasks).toHaveLength(tasks + invalid);
          let valid = 0;
          let bad = 0;
          for (const raw of demo.tasks) {
            const check = checkTask(raw, undefined);
            if (check.ok) valid++;
            else {
              bad++;
              expect(check.id).toMatch(/^demo-invalid-/);
            }
          }
          expect(valid).toBe(tasks);
          expect(bad).toBe(invalid);
          expect(demo.expected.succeeded + demo.expected.deadLettered + demo.expected.invalid).toBe(
            demo.expected.submitted,
          );
          expect(new Set(demo.tasks.map((t) => t.id)).size).toBe(tasks + invalid);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses bad options naming them', () => {
    expect(() => buildDemoManifest({ baseUrl: 'nope' })).toThrow(
      'Expected `baseUrl` to be an http(s) origin, got "nope"',
    );
    expect(() => buildDemoManifest({ baseUrl, tasks: 0 })).toThrow(
      'Expected `tasks` to be an integer >= 1, got 0',
    );
    expect(() => buildDemoManifest({ baseUrl, shares: { failing: 2 } })).toThrow(
      'Expected `shares.failing` to be a number between 0 and 1, got 2',
    );
  });
});
