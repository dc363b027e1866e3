// Synthesizes the stack the way `cdk synth` does (cdk-nag's AwsSolutions checks included), into a temporary
// directory, for the stack tests. Bundling with esbuild is the slow part: only the synth that checks the bundle
// asks for it; the others skip it (the same switch `cdk synth --exclusively` uses).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BoundedFanoutStack } from '../../cdk/stack.js';
import type { FanoutConfig } from '../../lib/config.js';

export const fixtureHandler = fileURLToPath(new URL('./fixtures/handler.ts', import.meta.url));

interface ValidationReport {
  readonly pluginReports: readonly {
    readonly pluginName: string;
    readonly conclusion: string;
    readonly violations: readonly { readonly ruleName: string; readonly severity: string }[];
    readonly suppressedViolations?: readonly {
      readonly ruleName: string;
      readonly acknowledgedId: string;
      readonly reason: string;
    }[];
  }[];
}

export interface Synthesized {
  readonly app: App;
  readonly stack: BoundedFanoutStack;
  readonly template: Template;
  readonly outdir: string;
  readonly report: ValidationReport;
  readonly dispose: () => void;
}

export function synthesize(
  config: FanoutConfig,
  { bundle = false, extend }: { bundle?: boolean; extend?: (stack: BoundedFanoutStack) => void } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'bf-stack-'));
  const dispose = () => rmSync(outdir, { recursive: true, force: true });
  try {
    const app = new App({ outdir, context: bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
    const stack = new BoundedFanoutStack(app, 'Fanout', {
      config,
      entries: { orchestrator: fixtureHandler, worker: fixtureHandler },
    });
    extend?.(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const assembly = app.synth();
    const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
    const report = JSON.parse(
      readFileSync(join(outdir, 'validation-report.json'), 'utf8'),
    ) as ValidationReport;
    return { app, stack, template, outdir, report, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}
