// The EventBridge event whoever ends a run puts on the account's default bus. The stack's grant allows
// PutEvents with this source only (cdk/grants.ts), so the function and the grant share these names.

export const RUN_FINISHED_EVENT = {
  source: 'bounded-fanout',
  detailType: 'Run Finished',
  /** The account's default event bus: users add rules to it, no bus of ours to create or find. */
  eventBusName: 'default',
} as const;
