// The budget's entry (bounded-fanout/budget): validateBudget and planBudget with the names they work with.
// lib/budget/budget.ts holds the functions; the table (budget-table.ts) is for the CLI and the stack alone.
export * from './budget.js';
