// `cdk synth` / `cdk deploy`: read the config from context, print the budget table on stderr (the template
// stays alone on stdout), build the stack, and check it with cdk-nag's AwsSolutions rules.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { formatBudgetTable } from '../lib/budget/budget-table.js';
import { BudgetError, planBudget } from '../lib/budget/index.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { configFromContext, planOptionsFromContext } from './context.js';
import { BoundedFanoutStack } from './stack.js';

const app = new App();
try {
  const config = configFromContext(app);
  process.stderr.write(`${formatBudgetTable(planBudget(config, planOptionsFromContext(app)))}\n\n`);
  new BoundedFanoutStack(app, 'BoundedFanout', { stackName: config.prefix, config });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  // A bad budget (or plan.* value) is the user's input, not a crash: the message names every problem.
  if (!(error instanceof BudgetError || error instanceof InvalidArgumentError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
