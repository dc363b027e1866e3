// The job ledger's entry (bounded-fanout/ledger): the JobLedger interface that bounded-fanout/aws's
// JobLedgerTable implements, the run record it keeps and the rules it applies, and the Run Finished event's
// names. Pure: no AWS SDK (the DynamoDB store is lib/aws/job-ledger-table.ts). docs/ledger.md tells the rest.
export * from './job-ledger.js';
export * from './run-finished-event.js';
export * from './run-record.js';
export * from './run-rules.js';
